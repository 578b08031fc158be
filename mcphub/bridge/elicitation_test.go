package bridge

//lint:file-ignore SA1019 elicitation is deprecated in 2026-07-28 but initialize-era peers use it: MCP Tray bridges both eras

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
)

// elicitingIDE is an initialize-era IDE that accepts url-mode
// elicitations and records what it is told.
type elicitingIDE struct {
	mu       sync.Mutex
	messages []string
	complete chan string   // elicitation IDs said complete
	changed  chan struct{} // a tools list_changed arrived
}

func (e *elicitingIDE) options() *mcp.ClientOptions {
	return &mcp.ClientOptions{
		Capabilities: &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{Form: &mcp.FormElicitationCapabilities{}, URL: &mcp.URLElicitationCapabilities{}}},
		ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			e.mu.Lock()
			e.messages = append(e.messages, req.Params.Message)
			e.mu.Unlock()
			return &mcp.ElicitResult{Action: "accept"}, nil
		},
		ElicitationCompleteHandler: func(_ context.Context, req *mcp.ElicitationCompleteNotificationRequest) {
			e.complete <- req.Params.ElicitationID
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case e.changed <- struct{}{}:
			default:
			}
		},
	}
}

func newElicitingIDE() *elicitingIDE {
	return &elicitingIDE{complete: make(chan string, 8), changed: make(chan struct{}, 1)}
}

// A server's url-mode elicitation reaches the IDE whose call it belongs
// to, its message naming the server in the aggregated view and unchanged
// in the server's own; the server's notifications/elicitation/complete,
// sent during the call or long after it, goes to that IDE only (LC-21).
func TestURLElicitationCompleteReachesTheAskingIDE(t *testing.T) {
	u := newUpstream(t, "signer")
	finish := make(chan struct{})
	u.AddTool(&mcp.Tool{Name: "sign_up", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		for _, id := range []string{"during", "after"} {
			res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Mode: "url", Message: "finish in the browser", URL: "https://example.test/" + id, ElicitationID: id})
			if err != nil || res.Action != "accept" {
				return nil, err
			}
		}
		if err := req.Session.NotifyElicitationComplete(ctx, &mcp.ElicitationCompleteParams{ElicitationID: "during"}); err != nil {
			return nil, err
		}
		go func() {
			<-finish
			_ = req.Session.NotifyElicitationComplete(context.Background(), &mcp.ElicitationCompleteParams{ElicitationID: "after"})
		}()
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "signed up"}}}, nil
	})
	r := newRig(t, cfgServers("signer", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"signer": status.Connected})

	for server, prefix := range map[string]string{"": "signer__", "signer": ""} {
		for _, ide := range ides(r, server) {
			if ide.name != "http-2025-11-25" && ide.name != "stdio-2025-11-25" {
				continue // 2026-07-28 has no notifications/elicitation/complete
			}
			t.Run("view-"+server+"/"+ide.name, func(t *testing.T) {
				finish = make(chan struct{})
				asker, bystander := newElicitingIDE(), newElicitingIDE()
				cs := ide.connect(t, asker.options())
				ide.connect(t, bystander.options())
				if got := text(t, callTool(t, cs, prefix+"sign_up", nil)); got != "signed up" {
					t.Fatalf("sign_up: %q", got)
				}
				want := "finish in the browser"
				if server == "" {
					want = "[signer] " + want
				}
				asker.mu.Lock()
				if !slices.Equal(asker.messages, []string{want, want}) {
					t.Errorf("the IDE was asked %q, want %q twice", asker.messages, want)
				}
				asker.mu.Unlock()
				close(finish)
				for _, id := range []string{"during", "after"} {
					select {
					case got := <-asker.complete:
						if got != id {
							t.Errorf("complete for %q, want %q", got, id)
						}
					case <-time.After(30 * time.Second):
						t.Fatalf("the IDE was not told %q is complete", id)
					}
				}
				// A change every IDE hears comes after anything the
				// bystander was sent before it.
				u.AddTool(&mcp.Tool{Name: "extra_" + ide.name[:4] + server, InputSchema: json.RawMessage(`{"type":"object"}`)}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					return &mcp.CallToolResult{}, nil
				})
				select {
				case <-bystander.changed:
				case <-time.After(30 * time.Second):
					t.Fatal("the other IDE heard no list_changed")
				}
				select {
				case id := <-bystander.complete:
					t.Errorf("the other IDE was told %q is complete", id)
				default:
				}
			})
		}
	}
}
