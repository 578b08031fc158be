// The race detector makes copying 50 MB take minutes: this test runs
// without it (make test runs it on its own).

//go:build !race

package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
)

// An upstream that floods: 10,000 tools are listed, a 50 MB result
// arrives whole, one over the 64 MB limit is refused with the limit named,
// memory is given back, and another server still answers at once.
func TestFloodingUpstream(t *testing.T) {
	flood := newUpstream(t, "flood")
	obj := json.RawMessage(`{"type":"object"}`)
	flood.AddTool(&mcp.Tool{Name: "big", InputSchema: obj}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct{ MB int }
		_ = json.Unmarshal(req.Params.Arguments, &args)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.Repeat("x", args.MB<<20)}}}, nil
	})
	for i := range 10000 {
		flood.AddTool(&mcp.Tool{Name: fmt.Sprintf("t%05d", i), InputSchema: obj}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
	}
	beta := newUpstream(t, "beta")
	addWhoami(beta, "beta")
	r := newRig(t, cfgServers("flood", legacy(flood.URL), "beta", legacy(beta.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"flood": status.Connected, "beta": status.Connected})

	cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", nil)
	list, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for tools := list.Tools; ; {
		for _, tl := range tools {
			if strings.HasPrefix(tl.Name, "flood__t") {
				n++
			}
		}
		if list.NextCursor == "" {
			break
		}
		if list, err = cs.ListTools(context.Background(), &mcp.ListToolsParams{Cursor: list.NextCursor}); err != nil {
			t.Fatal(err)
		}
		tools = list.Tools
	}
	if n != 10000 {
		t.Errorf("%d of 10,000 tools listed", n)
	}

	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	res := callTool(t, cs, "flood__big", map[string]any{"MB": 50})
	if got := len(text(t, res)); got != 50<<20 {
		t.Errorf("a 50 MB result arrived as %d bytes", got)
	}
	res, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "flood__big", Arguments: map[string]any{"MB": 70}})
	msg := fmt.Sprint(err)
	if err == nil {
		msg = text(t, res)
	}
	if !strings.Contains(msg, "64 MB") || !strings.Contains(msg, "flood") {
		t.Errorf("a 70 MB result: %.200s", msg)
	}
	// The upstream runs in this process: its copy of the 70 MB answer is
	// freed once its write to the refused connection fails, a moment
	// after the bridge gave up (there is no event for that). So the heap
	// is looked at until it has let go, for a few seconds at most.
	var grown int64
	for deadline := time.Now().Add(5 * time.Second); ; {
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if grown = int64(after.HeapAlloc) - int64(before.HeapAlloc); grown <= 100<<20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if grown > 100<<20 {
		t.Errorf("the heap kept %d MB after the big results", grown>>20)
	}

	// Meanwhile another server answers at once.
	start := time.Now()
	if got := text(t, callTool(t, cs, "beta__whoami", nil)); !strings.Contains(got, `"server":"beta"`) || time.Since(start) > 2*time.Second {
		t.Errorf("beta after the flood: %q in %v", got, time.Since(start))
	}
}
