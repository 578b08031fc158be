package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
)

// The test binary is also a stdio upstream, started by the hub with
// stdioUpstreamEnv set: a transport that cannot say which call a server's
// request belongs to.
const stdioUpstreamEnv = "MCPTRAY_BRIDGE_TEST_UPSTREAM"

func TestMain(m *testing.M) {
	if os.Getenv(stdioUpstreamEnv) == "stdio" {
		serveStdioUpstream()
		return
	}
	os.Exit(m.Run())
}

// serveStdioUpstream serves two tools over stdin and stdout: hold, which
// runs until an ask has asked its question, and ask, which waits for a
// hold to be running, then elicits and returns what it was answered. So
// an ask's question is always asked with a hold in flight.
func serveStdioUpstream() {
	holding, release := make(chan struct{}, 16), make(chan struct{}, 16)
	s := mcp.NewServer(&mcp.Implementation{Name: "stdio", Version: "1"}, nil)
	type noArgs struct{}
	mcp.AddTool(s, &mcp.Tool{Name: "hold"}, func(ctx context.Context, _ *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
		holding <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "held"}}}, nil, nil
	})
	mcp.AddTool(s, &mcp.Tool{Name: "ask"}, func(ctx context.Context, req *mcp.CallToolRequest, _ noArgs) (*mcp.CallToolResult, any, error) {
		<-holding
		defer func() { release <- struct{}{} }()
		res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "the asker's question",
			RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{}}})
		txt := ""
		if err != nil {
			txt = "elicit error: " + err.Error()
		} else {
			txt = "answered: " + res.Action
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: txt}}}, nil, nil
	})
	_ = s.Run(context.Background(), &mcp.StdioTransport{})
}

func stdioUpstream() string {
	env, _ := json.Marshal(map[string]string{stdioUpstreamEnv: "stdio"})
	return fmt.Sprintf(`{"command": %q, "env": %s, "protocolVersion": "2025-11-25"}`, os.Args[0], env)
}

// A stdio server's request carries no call tag. It goes to the IDE whose
// calls are in flight when they are all one IDE's; with calls of two IDEs
// in flight it is refused, not shown to whichever IDE called last. A tag
// whose call is over finds no IDE at all.
func TestUntaggedRequestsReachOnlyTheirCaller(t *testing.T) {
	r := newRig(t, cfgServers("st", stdioUpstream()), rigOptions{})
	r.wait(t, map[string]status.State{"st": status.Connected})
	var mu sync.Mutex
	seen := map[string][]string{} // IDE -> questions it was asked
	stale := make(chan error, 1)
	var probed atomic.Bool
	opts := func(who string) *mcp.ClientOptions {
		return &mcp.ClientOptions{
			Capabilities: &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{Form: &mcp.FormElicitationCapabilities{}}},
			ElicitationHandler: func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				mu.Lock()
				seen[who] = append(seen[who], req.Params.Message)
				mu.Unlock()
				if who == "A" && probed.CompareAndSwap(false, true) {
					// A's calls are in flight; a request tagged with a call
					// that is over must not reach A anyway.
					_, err := r.bridge.Request(ctx, "st", "elicitation/create", &mcp.ElicitParams{Message: "a stale question"}, "c-over")
					stale <- err
				}
				return &mcp.ElicitResult{Action: "decline"}, nil
			},
		}
	}
	a := r.connectHTTP(t, "/mcp", "", "2025-11-25", opts("A"))
	b := r.connectHTTP(t, "/mcp", "", "2025-11-25", opts("B"))

	t.Run("one IDE", func(t *testing.T) {
		var wg sync.WaitGroup
		wg.Go(func() { callTool(t, a, "st__hold", nil) })
		if got := text(t, callTool(t, a, "st__ask", nil)); got != "answered: decline" {
			t.Errorf("ask with only the same IDE's calls in flight: %q", got)
		}
		wg.Wait()
		if err := <-stale; err == nil || !strings.Contains(err.Error(), "no IDE request") {
			t.Errorf("a request tagged with a call that is over: %v", err)
		}
	})
	t.Run("two IDEs", func(t *testing.T) {
		var wg sync.WaitGroup
		wg.Go(func() { callTool(t, b, "st__hold", nil) })
		if got := text(t, callTool(t, a, "st__ask", nil)); !strings.Contains(got, "several clients have calls in flight") {
			t.Errorf("ask with another IDE's call in flight: %q", got)
		}
		wg.Wait()
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen["B"]) != 0 || len(seen["A"]) != 1 || seen["A"][0] != "[st] the asker's question" {
		t.Errorf("questions seen: %q", seen)
	}
}
