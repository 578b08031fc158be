package bridge

//lint:file-ignore SA1019 sampling, elicitation and logging are deprecated in 2026-07-28 but initialize-era peers use them: MCP Tray bridges both eras

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
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

// recordingUpstream is an in-process go-sdk server on loopback that
// records the method of every request sent to it, as it arrives (before
// go-sdk reads it).
type recordingUpstream struct {
	*mcp.Server
	URL     string
	mu      sync.Mutex
	methods map[string]int
}

func newRecordingUpstream(t *testing.T, name string, opts *mcp.ServerOptions, stateless bool) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{Server: mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, opts), methods: map[string]int{}}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return u.Server }, &mcp.StreamableHTTPOptions{Stateless: stateless})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			var msg struct {
				Method string `json:"method"`
			}
			if json.Unmarshal(body, &msg) == nil && msg.Method != "" {
				u.mu.Lock()
				u.methods[msg.Method]++
				u.mu.Unlock()
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h.ServeHTTP(w, r)
	}))
	u.URL = srv.URL + "/mcp"
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return u
}

// got is how many requests of method the server was sent.
func (u *recordingUpstream) got(method string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.methods[method]
}

// The bridge asks a server only what it declared (LC-03): a subscription
// to a resource of a server without resources.subscribe is refused with
// an error that names it, a completion for a server without completions
// is empty, and logging/setLevel goes to no server that did not declare
// logging nor to any of 2026-07-28 (which has no such method). None of
// these requests reaches the servers.
func TestUndeclaredServerCapabilitiesAreNotUsed(t *testing.T) {
	// plain offers a prompt and a resource, and declares nothing else.
	plain := newRecordingUpstream(t, "plain", &mcp.ServerOptions{Capabilities: &mcp.ServerCapabilities{}}, false)
	plain.AddPrompt(&mcp.Prompt{Name: "greet", Arguments: []*mcp.PromptArgument{{Name: "who"}}},
		func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hi"}}}}, nil
		})
	plain.AddResource(&mcp.Resource{URI: "file:///plain", Name: "plain"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "p"}}}, nil
	})
	// modern speaks 2026-07-28 and declares logging (go-sdk's default).
	modern := newRecordingUpstream(t, "modern", nil, true)
	r := newRig(t, cfgServers("plain", legacy(plain.URL), "modern", fmt.Sprintf(`{"url": %q}`, modern.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"plain": status.Connected, "modern": status.Connected})
	if v := serverStatus(r, "modern").ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("modern connected with %s", v)
	}

	for _, ide := range ides(r, "") {
		t.Run(ide.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cs := ide.connect(t, nil)
			res, err := cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/prompt", Name: "plain__greet"},
				Argument: mcp.CompleteParamsArgument{Name: "who", Value: "a"}})
			if err != nil || res.Completion.Values == nil || len(res.Completion.Values) != 0 {
				t.Errorf("completion from plain: %v %+v, want an empty one", err, res)
			}
			if strings.HasSuffix(ide.name, "2026-07-28") {
				return // no resources/subscribe nor logging/setLevel in this era
			}
			err = cs.Subscribe(ctx, &mcp.SubscribeParams{URI: "file:///plain"})
			var werr *jsonrpc.Error
			if !errors.As(err, &werr) || werr.Code != -32602 || !strings.Contains(werr.Message, "plain does not support subscriptions") {
				t.Errorf("subscribing to plain's resource: %v, want -32602 saying plain does not support subscriptions", err)
			}
			if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
				t.Errorf("setLevel: %v", err)
			}
		})
	}
	// A 2026-07-28 IDE's listen for plain's resource is acknowledged
	// without it.
	ide, lines := stdioLines(t, r)
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["file:///plain"]},`+modernMeta+`}}`)
	if ack := nextLine(t, lines, "notifications/subscriptions/acknowledged"); strings.Contains(ack, "file:///plain") {
		t.Errorf("the listen acknowledged plain's resource: %s", ack)
	}

	for _, m := range []string{"resources/subscribe", "completion/complete", "logging/setLevel"} {
		if n := plain.got(m); n != 0 {
			t.Errorf("plain, which did not declare it, got %s %d times", m, n)
		}
	}
	if n := modern.got("logging/setLevel"); n != 0 {
		t.Errorf("the 2026-07-28 server got logging/setLevel %d times", n)
	}
}

// capsOf reads each declaration as parseCaps does, one it saw before and
// a new one alike, so clients that declare differently never get each
// other's capabilities; clients taking turns find theirs kept, and the
// ones kept are bounded.
func TestCapsOfFollowsEachDeclaration(t *testing.T) {
	b := New(Options{})
	declarations := []string{`{"sampling":{}}`, `{"sampling":{}}`, `{"roots":{},"elicitation":{"url":{}}}`, `{}`, `{"sampling":{}}`, ``}
	for i := range 2 * recentCapsKept {
		declarations = append(declarations, fmt.Sprintf(`{"roots":{},"n":%d}`, i), `{"elicitation":{}}`)
	}
	for _, raw := range declarations {
		if got, want := b.capsOf(json.RawMessage(raw)), parseCaps(json.RawMessage(raw)); got != want {
			t.Errorf("%s: %+v, want %+v", raw, got, want)
		}
	}
	if n := len(*b.recentCaps.Load()); n != recentCapsKept {
		t.Errorf("%d declarations kept, want %d", n, recentCapsKept)
	}
	// Two clients taking turns: neither's declaration is parsed again.
	b = New(Options{})
	b.capsOf(json.RawMessage(`{"sampling":{}}`))
	b.capsOf(json.RawMessage(`{"roots":{}}`))
	kept := b.recentCaps.Load()
	for range 4 {
		b.capsOf(json.RawMessage(`{"sampling":{}}`))
		b.capsOf(json.RawMessage(`{"roots":{}}`))
	}
	if b.recentCaps.Load() != kept {
		t.Error("clients taking turns had their declarations parsed again")
	}
}
