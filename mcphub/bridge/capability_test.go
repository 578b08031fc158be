package bridge

//lint:file-ignore SA1019 sampling and elicitation are deprecated in 2026-07-28 but initialize-era peers use them: MCP Tray bridges both eras

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/status"
)

// A server asks only what the IDE declared, down to the mode (LC-21,
// LC-22): a url-mode elicitation to an IDE that declared form only, or a
// sampling request with tools to one that declared plain sampling, is
// answered -32602 by the bridge, and the IDE is never asked.
func TestRequestsBeyondTheIDEsModesAreRefused(t *testing.T) {
	u := newUpstream(t, "asker")
	obj := json.RawMessage(`{"type":"object"}`)
	u.AddTool(&mcp.Tool{Name: "url", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		_, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Mode: "url", Message: "sign in there", URL: "https://example.com/consent", ElicitationID: "e1"})
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprint("answer: ", err)}}}, nil
	})
	u.AddTool(&mcp.Tool{Name: "tools", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		_, err := req.Session.CreateMessageWithTools(ctx, &mcp.CreateMessageWithToolsParams{
			Messages:  []*mcp.SamplingMessageV2{{Role: "user", Content: []mcp.Content{&mcp.TextContent{Text: "hi"}}}},
			MaxTokens: 10,
			Tools:     []*mcp.Tool{{Name: "lookup", InputSchema: obj}},
		})
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprint("answer: ", err)}}}, nil
	})
	r := newRig(t, cfgServers("asker", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"asker": status.Connected})

	var asked atomic.Int32
	for _, ide := range ides(r, "") {
		t.Run(ide.name, func(t *testing.T) {
			cs := ide.connect(t, &mcp.ClientOptions{ // declares elicitation {form} and sampling without tools
				ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					asked.Add(1)
					return &mcp.ElicitResult{Action: "accept"}, nil
				},
				CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
					asked.Add(1)
					return &mcp.CreateMessageResult{Model: "m", Role: "assistant", Content: &mcp.TextContent{Text: "x"}}, nil
				},
			})
			for tool, want := range map[string]string{
				"asker__url":   `the IDE did not declare elicitation mode "url", which asker asked for`,
				"asker__tools": `the IDE did not declare sampling with tools, which asker asked for`,
			} {
				if got := text(t, callTool(t, cs, tool, nil)); !strings.Contains(got, want) {
					t.Errorf("%s: %q, want it to contain %q", tool, got, want)
				}
			}
		})
	}
	if n := asked.Load(); n != 0 {
		t.Errorf("the IDE was asked %d times", n)
	}
}

// An IDE that has not sent notifications/initialized is asked nothing
// (LC-02): the server's sampling request is refused, not relayed.
func TestNoRequestsBeforeInitialized(t *testing.T) {
	peer := testpeers.StartEverythingHTTP(t)
	r := newRig(t, cfgServers("ev", legacy(peer.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"ev": status.Connected})
	init := strings.Replace(initializeBody, `"capabilities":{}`, `"capabilities":{"sampling":{}}`, 1)
	resp, _ := post(t, r.url+"/mcp", nil, init)
	sid := resp.Header.Get("Mcp-Session-Id")
	// No notifications/initialized.
	_, body := post(t, r.url+"/mcp", map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25"},
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ev__test_sampling","arguments":{"prompt":"hi"}}}`)
	if strings.Contains(body, `"method":"sampling/createMessage"`) || !strings.Contains(body, "has not finished initializing") {
		t.Errorf("a call before initialized:\n%s", body)
	}
}
