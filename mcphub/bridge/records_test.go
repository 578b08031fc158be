package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
)

// A 2026-07-28 IDE calls a tool of an initialize-era server that asks for
// input mid-call (the bridge answers input_required, the IDE retries),
// and the tool then fails: the call is recorded once, when it ends, as a
// tool error, with the whole time it took.
func TestASuspendedCallIsRecordedWhenItEnds(t *testing.T) {
	const work = 300 * time.Millisecond // the tool's own time after the answer
	s := mcp.NewServer(&mcp.Implementation{Name: "asker", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "ask_fail", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if _, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "sure?", RequestedSchema: json.RawMessage(`{"type":"object","properties":{}}`)}); err != nil {
				return nil, err
			}
			time.Sleep(work)
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "it broke"}}}, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })

	r := newRig(t, withTokens(fmt.Sprintf(`"asker": %s`, legacy(srv.URL+"/mcp"))), rigOptions{})
	r.wait(t, map[string]status.State{"asker": status.Connected})
	ide := r.token(t, "ide")
	one := r.url + "/servers/asker/mcp"
	first := modernCall(t, one, ide, "tools/call", "ask_fail", `{"name":"ask_fail","arguments":{},"_meta":{`+askMeta+`}}`)
	retry := retryParams(inputRequiredOf(t, first[len(first)-1]))
	modernCall(t, one, ide, "tools/call", "ask_fail", `{"name":"ask_fail","arguments":{},`+retry+`}`)

	r.db.Flush()
	calls, err := r.db.RecentCalls(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Outcome != "tool_error" || calls[0].Duration < work || calls[0].Item != "ask_fail" {
		t.Errorf("records: %+v, want one tool_error of ask_fail lasting at least %v", calls, work)
	}
}
