package bridge

import (
	"context"
	"fmt"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/status"
)

// Per-call cost of the bridge in one process, against the go-sdk fixture:
// for profiling (go test -bench Call -cpuprofile); the goals are measured
// end to end by app's BenchmarkBridgeVsDirect.
func BenchmarkCall(b *testing.B) {
	peer, modern := testpeers.StartEverythingHTTP(b), testpeers.StartEverythingModern(b)
	r := newRig(b, cfgServers("ev", fmt.Sprintf(`{"url": %q}`, peer.URL), "evm", fmt.Sprintf(`{"url": %q}`, modern.URL)), rigOptions{})
	r.wait(b, map[string]status.State{"ev": status.Connected, "evm": status.Connected})
	args := map[string]any{}
	run := func(b *testing.B, cs *mcp.ClientSession, tool string) {
		for b.Loop() {
			if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("direct", func(b *testing.B) {
		run(b, connectClient(b, &mcp.StreamableClientTransport{Endpoint: peer.URL}, "", nil), "test_simple_text")
	})
	b.Run("bridge-http", func(b *testing.B) { run(b, r.connectHTTP(b, "/servers/ev/mcp", "", "", nil), "test_simple_text") })
	// 2026-07-28 on both hops: the same fixture, stateless.
	b.Run("direct-2026", func(b *testing.B) {
		run(b, connectClient(b, &mcp.StreamableClientTransport{Endpoint: modern.URL}, "2026-07-28", nil), "test_simple_text")
	})
	b.Run("bridge-http-2026", func(b *testing.B) {
		run(b, r.connectHTTP(b, "/servers/evm/mcp", "", "2026-07-28", nil), "test_simple_text")
	})
	// An initialize-era IDE calling a 2026-07-28 server.
	b.Run("bridge-http-2025-to-2026", func(b *testing.B) {
		run(b, r.connectHTTP(b, "/servers/evm/mcp", "", "2025-11-25", nil), "test_simple_text")
	})
	// IDEs such as VS Code send a progress token with every call: the
	// bridge maps it for the upstream hop and forgets it after the call.
	b.Run("bridge-http-progress-token", func(b *testing.B) {
		cs := r.connectHTTP(b, "/servers/ev/mcp", "", "", nil)
		for b.Loop() {
			params := &mcp.CallToolParams{Name: "test_simple_text", Arguments: args}
			params.SetProgressToken("p")
			if _, err := cs.CallTool(context.Background(), params); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bridge-stream", func(b *testing.B) { run(b, r.connectStream(b, "ev", "", nil), "test_simple_text") })
	// A stream that has had a notification (here a progress) writes every
	// later frame in order with its notifications (outQueue).
	b.Run("bridge-stream-after-progress", func(b *testing.B) {
		cs := r.connectStream(b, "ev", "", nil)
		params := &mcp.CallToolParams{Name: "test_tool_with_progress", Arguments: args}
		params.SetProgressToken("p")
		if _, err := cs.CallTool(context.Background(), params); err != nil {
			b.Fatal(err)
		}
		run(b, cs, "test_simple_text")
	})
}
