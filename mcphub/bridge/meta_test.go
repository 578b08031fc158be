package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
)

// metaReporter is an upstream whose tool, prompt, resource and
// completions answer with the _meta their request arrived with, as JSON.
func metaReporter(t *testing.T, name string, httpOpts *mcp.StreamableHTTPOptions) *upstreamServer {
	report := func(m mcp.Meta) string {
		data, _ := json.Marshal(m)
		return string(data)
	}
	u := newUpstreamWith(t, name, &mcp.ServerOptions{
		CompletionHandler: func(_ context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{report(req.Params.Meta)}}}, nil
		},
	}, httpOpts)
	uri := "meta://" + name
	u.AddTool(&mcp.Tool{Name: "meta", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: report(req.Params.Meta)}}}, nil
		})
	u.AddPrompt(&mcp.Prompt{Name: "meta"}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: report(req.Params.Meta)}}}}, nil
	})
	u.AddResource(&mcp.Resource{URI: uri, Name: "meta"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, Text: report(req.Params.Meta)}}}, nil
	})
	return u
}

// An IDE's own _meta members (a trace context, a vendor's keys) reach the
// server its request goes to, whichever the eras of the two hops and
// whichever way the bridge makes the request (tools/call on its raw
// path; prompts/get, resources/read and completion/complete through
// go-sdk's session). The
// members that belong to one hop do not pass: the progress token is the
// bridge's own upstream, the keys MCP reserves are the bridge's to set,
// and an IDE cannot set MCP Tray's own (io.mcptray/call marks which call
// a server's request belongs to).
func TestIDEMetaReachesTheServer(t *testing.T) {
	old, modern := metaReporter(t, "old", nil), metaReporter(t, "new", &mcp.StreamableHTTPOptions{Stateless: true})
	r := newRig(t, cfgServers("old", legacy(old.URL), "new", fmt.Sprintf(`{"url": %q}`, modern.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"old": status.Connected, "new": status.Connected})
	if v := serverStatus(r, "new").ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("new connected with %s", v)
	}

	trace := json.RawMessage(`{"flags":[1,2],"span":"a1"}`) // in key order: the server reports a map
	sent := func(progress bool) mcp.Meta {
		m := mcp.Meta{
			"traceparent":                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"com.example/trace":                    trace,
			"io.mcptray/call":                      "c1", // MCP Tray's own
			"io.modelcontextprotocol/related-task": map[string]any{"taskId": "t1"},
			"dev.mcp/anything":                     true,
		}
		if progress {
			m["progressToken"] = "ide-token"
		}
		return m
	}
	check := func(t *testing.T, what, got string, progress bool) {
		t.Helper()
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(got), &m); err != nil {
			t.Fatalf("%s: the server's report %q: %v", what, got, err)
		}
		if string(m["traceparent"]) != `"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"` {
			t.Errorf("%s: traceparent %s, want the IDE's", what, m["traceparent"])
		}
		if string(m["com.example/trace"]) != string(trace) {
			t.Errorf("%s: com.example/trace %s, want %s", what, m["com.example/trace"], trace)
		}
		for _, k := range []string{"io.mcptray/call", "io.modelcontextprotocol/related-task", "dev.mcp/anything"} {
			if v, ok := m[k]; ok {
				t.Errorf("%s: the server got the IDE's %s: %s", what, k, v)
			}
		}
		tok, ok := m["progressToken"]
		switch {
		case progress && !ok:
			t.Errorf("%s: no progress token upstream", what)
		case ok && string(tok) == `"ide-token"`:
			t.Errorf("%s: the IDE's own progress token went upstream, not one of the bridge's", what)
		}
	}

	for _, ide := range ides(r, "") {
		t.Run(ide.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cs := ide.connect(t, nil)
			for _, up := range []string{"old", "new"} {
				for _, progress := range []bool{false, true} {
					res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: up + "__meta", Arguments: map[string]any{}, Meta: sent(progress)})
					if err != nil || res.IsError {
						t.Fatalf("tools/call %s__meta: %v %+v", up, err, res)
					}
					check(t, fmt.Sprintf("tools/call to %s (progress %v)", up, progress), text(t, res), progress)
				}
				pr, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: up + "__meta", Meta: sent(false)})
				if err != nil {
					t.Fatalf("prompts/get %s__meta: %v", up, err)
				}
				check(t, "prompts/get to "+up, pr.Messages[0].Content.(*mcp.TextContent).Text, false)
				rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "meta://" + up, Meta: sent(false)})
				if err != nil {
					t.Fatalf("resources/read meta://%s: %v", up, err)
				}
				check(t, "resources/read to "+up, rr.Contents[0].Text, false)
				cr, err := cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/prompt", Name: up + "__meta"},
					Argument: mcp.CompleteParamsArgument{Name: "x", Value: "a"}, Meta: sent(false)})
				if err != nil || len(cr.Completion.Values) != 1 {
					t.Fatalf("completion/complete for %s__meta: %v %+v", up, err, cr)
				}
				check(t, "completion/complete to "+up, cr.Completion.Values[0], false)
			}
		})
	}
}

// passedMeta keeps the IDE's own members, in key order, and leaves out
// those of one hop; the raw path writes them as go-sdk's session would.
func TestPassedMeta(t *testing.T) {
	x := &exchange{meta: map[string]json.RawMessage{
		"progressToken": json.RawMessage(`1`), "z.example/b": json.RawMessage(`2`), "a<b": json.RawMessage(`"x"`),
		"io.modelcontextprotocol/clientInfo": json.RawMessage(`{}`), "modelcontextprotocol.io/x": json.RawMessage(`1`),
		"io.mcptray/call": json.RawMessage(`"c"`), "mcp/plain": json.RawMessage(`3`), "mcpish.dev/k": json.RawMessage(`4`),
	}}
	got := passedMeta(x)
	var keys []string
	for _, m := range got {
		keys = append(keys, m.key)
	}
	if want := `["a\u003cb","mcpish.dev/k","z.example/b"]`; mustJSON(keys) != want {
		t.Errorf("passed %s, want %s", mustJSON(keys), want)
	}
	params := toolCallParams("t", nil, "p1", got)
	var decoded struct {
		Name      string
		Arguments map[string]any
		Meta      map[string]any `json:"_meta"`
	}
	if err := json.Unmarshal(params, &decoded); err != nil {
		t.Fatalf("%s: %v", params, err)
	}
	if want := `{"a\u003cb":"x","mcpish.dev/k":4,"progressToken":"p1","z.example/b":2}`; mustJSON(decoded.Meta) != want {
		t.Errorf("_meta %s, want %s (params %s)", mustJSON(decoded.Meta), want, params)
	}
	if passedMeta(&exchange{}) != nil || string(toolCallParams("t", nil, nil, nil)) != `{"name":"t","arguments":{}}` {
		t.Errorf("no _meta: %s", toolCallParams("t", nil, nil, nil))
	}
}
