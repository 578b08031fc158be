package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
)

// rawSchema has everything a re-encoding loses: key order, $schema, $defs,
// additionalProperties, unusual spacing.
const rawSchema = `{"type":"object","$schema":"https://json-schema.org/draft/2020-12/schema","properties":{"item":{"$ref":"#/$defs/item"}},"$defs":{"item":{"type":"string","enum":["a","b"]}},"additionalProperties":false,"required":["item"]}`

type whoamiOut struct {
	Session string `json:"session"`
	Server  string `json:"server"`
}

// addWhoami: a tool that reports the upstream session it ran in.
func addWhoami(u *upstreamServer, name string) {
	mcp.AddTool(u.Server, &mcp.Tool{Name: "whoami", Description: "which session am I"},
		func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoamiOut, error) {
			return nil, whoamiOut{Session: req.Session.ID(), Server: name}, nil
		})
}

func twoUpstreams(t *testing.T) (*upstreamServer, *upstreamServer) {
	alpha, beta := newUpstream(t, "alpha"), newUpstream(t, "beta")
	addWhoami(alpha, "alpha")
	addWhoami(beta, "beta")
	alpha.AddTool(&mcp.Tool{Name: "schema", InputSchema: json.RawMessage(rawSchema)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
		})
	for _, u := range []*upstreamServer{alpha, beta} {
		name := u.URL
		u.AddResource(&mcp.Resource{URI: "file:///shared", Name: "shared"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "from " + name}}}, nil
		})
	}
	beta.AddResource(&mcp.Resource{URI: "file:///only-beta", Name: "only"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "beta's own"}}}, nil
	})
	beta.AddPrompt(&mcp.Prompt{Name: "greet"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hello from beta"}}}}, nil
	})
	return alpha, beta
}

func legacy(url string) string {
	return fmt.Sprintf(`{"url": %q, "protocolVersion": "2025-11-25"}`, url)
}

func TestAggregatedCatalog(t *testing.T) {
	alpha, beta := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL), "beta", legacy(beta.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected, "beta": status.Connected})

	for _, era := range eras {
		t.Run(era, func(t *testing.T) {
			cs := r.connectHTTP(t, "/mcp", "", era, nil)
			tools := toolNames(t, cs)
			for _, want := range []string{"alpha__whoami", "beta__whoami", "alpha__schema", usageToolName} {
				if tools[want] == nil {
					t.Errorf("%s missing from %v", want, keys(tools))
				}
			}
			if len(tools) != 4 {
				t.Errorf("tools = %v", keys(tools))
			}
			var out whoamiOut
			res := callTool(t, cs, "beta__whoami", map[string]any{})
			if err := remarshal(res.StructuredContent, &out); err != nil || out.Server != "beta" {
				t.Errorf("beta__whoami ran on %+v (%v)", out, err)
			}
			// Resources keep their URIs; a URI both offer belongs to the
			// first server in the configuration.
			ctx := context.Background()
			rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "file:///shared"})
			if err != nil || rr.Contents[0].Text != "from "+alpha.URL {
				t.Errorf("shared resource: %+v, %v", rr, err)
			}
			rr, err = cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "file:///only-beta"})
			if err != nil || rr.Contents[0].Text != "beta's own" {
				t.Errorf("beta's resource: %+v, %v", rr, err)
			}
			var uris []string
			for res, err := range cs.Resources(ctx, nil) {
				if err != nil {
					t.Fatal(err)
				}
				uris = append(uris, res.URI)
			}
			if strings.Join(uris, " ") != "file:///shared file:///only-beta" {
				t.Errorf("resources = %v", uris)
			}
			gp, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "beta__greet"})
			if err != nil || gp.Messages[0].Content.(*mcp.TextContent).Text != "hello from beta" {
				t.Errorf("prompt: %+v, %v", gp, err)
			}
		})
	}

	// One server, transparent: names unchanged.
	cs := r.connectHTTP(t, "/servers/beta/mcp", "", "2025-11-25", nil)
	tools := toolNames(t, cs)
	if len(tools) != 1 || tools["whoami"] == nil {
		t.Errorf("beta's own view: %v", keys(tools))
	}
}

// A tool that may only be called as a task (execution.taskSupport
// "required") is not listed, in either view, as MCP Tray runs no tasks
// (LC-20); a call to it by name is answered -32601 saying so, and never
// reaches the server. A tool for which tasks are optional is listed and
// called as usual.
func TestTaskOnlyToolsAreNotListed(t *testing.T) {
	var mu sync.Mutex
	called := map[string]int{}
	raw := startRawUpstreamWith(t, func(method string, params json.RawMessage) (string, bool) {
		switch method {
		case "tools/list":
			return `{"tools":[{"name":"quick","inputSchema":{"type":"object"}},` +
				`{"name":"long","inputSchema":{"type":"object"},"execution":{"taskSupport":"required"}},` +
				`{"name":"either","inputSchema":{"type":"object"},"execution":{"taskSupport":"optional"}}]}`, true
		case "tools/call":
			var p struct {
				Name string `json:"name"`
			}
			_ = json.Unmarshal(params, &p)
			mu.Lock()
			called[p.Name]++
			mu.Unlock()
			return `{"content":[{"type":"text","text":"ran"}]}`, true
		}
		return "", false
	})
	r := newRig(t, cfgServers("raw", fmt.Sprintf(`{"url": %q}`, raw)), rigOptions{})
	r.wait(t, map[string]status.State{"raw": status.Connected})
	// The status counts what can be called, as the window shows it.
	if c, ok := r.hub.Conn("raw"); !ok {
		t.Fatal("no connection raw")
	} else if n := c.Status().Counts.Tools; n != 2 {
		t.Errorf("the status counts %d tools, want 2 (not the task-only one)", n)
	}
	for server, prefix := range map[string]string{"": "raw__", "raw": ""} {
		for _, ide := range ides(r, server) {
			t.Run("view-"+server+"/"+ide.name, func(t *testing.T) {
				cs := ide.connect(t, nil)
				tools := toolNames(t, cs)
				if tools[prefix+"long"] != nil || tools[prefix+"quick"] == nil || tools[prefix+"either"] == nil {
					t.Errorf("listed: %v, want %squick and %seither, not %slong", keys(tools), prefix, prefix, prefix)
				}
				if got := text(t, callTool(t, cs, prefix+"either", nil)); got != "ran" {
					t.Errorf("%seither: %q", prefix, got)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: prefix + "long", Arguments: map[string]any{}})
				var werr *jsonrpc.Error
				if !errors.As(err, &werr) || werr.Code != -32601 || !strings.Contains(werr.Message, "can only be run as a task, which MCP Tray does not support") {
					t.Errorf("calling %slong: %v, want -32601 saying it needs tasks", prefix, err)
				}
			})
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if called["long"] != 0 {
		t.Errorf("the server was called %d times for the tool that needs a task", called["long"])
	}
}

// Every page of an upstream's list is fetched, and IDEs get the whole list
// in one answer, with no nextCursor; a cursor the bridge never gave out is
// -32602, an empty one is none (LC-13).
func TestListsAreWholeAndCursorsInvalid(t *testing.T) {
	raw := startRawUpstreamWith(t, func(method string, params json.RawMessage) (string, bool) {
		if method != "tools/list" {
			return "", false
		}
		if strings.Contains(string(params), `"cursor":"page 2"`) {
			return `{"tools":[{"name":"second","inputSchema":{"type":"object"}}]}`, true
		}
		return `{"tools":[{"name":"first","inputSchema":{"type":"object"}}],"nextCursor":"page 2"}`, true
	})
	r := newRig(t, cfgServers("raw", fmt.Sprintf(`{"url": %q}`, raw)), rigOptions{})
	r.wait(t, map[string]status.State{"raw": status.Connected})
	for server, prefix := range map[string]string{"": "raw__", "raw": ""} {
		for _, ide := range ides(r, server) {
			t.Run("view-"+server+"/"+ide.name, func(t *testing.T) {
				cs := ide.connect(t, nil)
				ctx := context.Background()
				res, err := cs.ListTools(ctx, &mcp.ListToolsParams{Cursor: ""})
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, tool := range res.Tools {
					if strings.HasPrefix(tool.Name, prefix) {
						names = append(names, tool.Name)
					}
				}
				if res.NextCursor != "" || !slices.Equal(names, []string{prefix + "first", prefix + "second"}) {
					t.Errorf("tools/list: %q, nextCursor %q; want both pages' tools, no cursor", names, res.NextCursor)
				}
				for _, cursor := range []string{"page 2", "x"} {
					_, err = cs.ListTools(ctx, &mcp.ListToolsParams{Cursor: cursor})
					var werr *jsonrpc.Error
					if !errors.As(err, &werr) || werr.Code != -32602 || !strings.Contains(werr.Message, "invalid cursor") {
						t.Errorf("tools/list with cursor %q: %v, want -32602", cursor, err)
					}
				}
				if _, err := cs.ListPrompts(ctx, &mcp.ListPromptsParams{Cursor: "x"}); err == nil {
					t.Error("prompts/list took a cursor it never gave out")
				}
			})
		}
	}
	// A cursor that is not even a string is no cursor the bridge gave.
	resp, _ := post(t, r.url+"/mcp", nil, initializeBody)
	session := map[string]string{"Mcp-Session-Id": resp.Header.Get("Mcp-Session-Id"), "Mcp-Protocol-Version": "2025-11-25"}
	if _, body := post(t, r.url+"/mcp", session, `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":5}}`); !strings.Contains(body, `"code":-32602`) {
		t.Errorf("tools/list with cursor 5: %s", body)
	}
}

// A 2026-07-28 server's tool whose output is not an object reaches an
// initialize-era IDE as that era allows (LC-17): listed without its
// outputSchema, and its results without structuredContent, whose JSON is
// the text when the server sent none. A 2026-07-28 IDE gets both as sent,
// and an object output stays for every IDE.
func TestNonObjectOutputForInitializeEraIDEs(t *testing.T) {
	u := newModernUpstream(t, "modern")
	u.AddTool(&mcp.Tool{Name: "series", InputSchema: json.RawMessage(`{"type":"object"}`),
		OutputSchema: json.RawMessage(`{"type":"array","items":{"type":"number"}}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{StructuredContent: []any{1, 2, 3}}, nil
		})
	u.AddTool(&mcp.Tool{Name: "pair", InputSchema: json.RawMessage(`{"type":"object"}`),
		OutputSchema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"number"}}}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{StructuredContent: map[string]any{"a": 1}, Content: []mcp.Content{&mcp.TextContent{Text: `{"a":1}`}}}, nil
		})
	r := newRig(t, cfgServers("modern", fmt.Sprintf(`{"url": %q}`, u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"modern": status.Connected})
	for server, prefix := range map[string]string{"": "modern__", "modern": ""} {
		for _, ide := range ides(r, server) {
			t.Run("view-"+server+"/"+ide.name, func(t *testing.T) {
				legacyIDE := !strings.HasSuffix(ide.name, "2026-07-28")
				cs := ide.connect(t, nil)
				tools := toolNames(t, cs)
				series, pair := tools[prefix+"series"], tools[prefix+"pair"]
				if series == nil || pair == nil {
					t.Fatalf("listed: %v", keys(tools))
				}
				if (series.OutputSchema == nil) != legacyIDE || pair.OutputSchema == nil {
					t.Errorf("outputSchema of series %v, of pair %v", series.OutputSchema, pair.OutputSchema)
				}
				res := callTool(t, cs, prefix+"series", nil)
				if legacyIDE {
					if res.StructuredContent != nil || text(t, res) != "[1,2,3]" {
						t.Errorf("series: structuredContent %v, text %q", res.StructuredContent, text(t, res))
					}
				} else if got, _ := json.Marshal(res.StructuredContent); string(got) != "[1,2,3]" {
					t.Errorf("series: structuredContent %s", got)
				}
				res = callTool(t, cs, prefix+"pair", nil)
				if got, _ := json.Marshal(res.StructuredContent); string(got) != `{"a":1}` {
					t.Errorf("pair: structuredContent %s", got)
				}
			})
		}
	}
}

// oddTool is the raw upstream's tool: a non-object schema, members in an
// order of their own, and characters json.Marshal would escape.
const oddTool = `{"description":"<b>odd</b> & \u00e9","name":"odd","inputSchema":{"type":"string"},"annotations":{"title":"A <tag>"}}`

// The upstream's schema bytes reach the IDE as they were sent; in the
// aggregated list the tool's bytes too, but for its prefixed name.
func TestSchemasPassThroughByteForByte(t *testing.T) {
	alpha, _ := twoUpstreams(t)
	raw := startRawUpstream(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL), "raw", fmt.Sprintf(`{"url": %q}`, raw)), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected, "raw": status.Connected})

	body := listModern(t, r.url+"/mcp")
	var resp struct {
		Result struct {
			Tools []map[string]json.RawMessage `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	var whole struct {
		Result struct {
			Tools []json.RawMessage `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &whole); err != nil {
		t.Fatal(err)
	}
	schemas := map[string]string{}
	for i, tool := range resp.Result.Tools {
		var name string
		_ = json.Unmarshal(tool["name"], &name)
		schemas[name] = string(tool["inputSchema"])
		if want := strings.Replace(oddTool, `"name":"odd"`, `"name":"raw__odd"`, 1); name == "raw__odd" && string(whole.Result.Tools[i]) != want {
			t.Errorf("raw__odd was re-encoded:\n%s\nwant\n%s", whole.Result.Tools[i], want)
		}
	}
	if schemas["alpha__schema"] != rawSchema {
		t.Errorf("alpha__schema's schema was re-encoded:\n%s\nwant\n%s", schemas["alpha__schema"], rawSchema)
	}
	// A non-object schema is odd but must not break the list or the call.
	if schemas["raw__odd"] != `{"type":"string"}` {
		t.Errorf("the odd schema is %q", schemas["raw__odd"])
	}
	cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", nil)
	if got := text(t, callTool(t, cs, "raw__odd", nil)); got != "odd ok" {
		t.Errorf("raw__odd = %q", got)
	}
}

// listModern lists tools with one stateless 2026-07-28 request, returning
// the response bytes as sent.
func listModern(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := postModern(context.Background(), url, "tools/list", "", `{"_meta":{`+
		`"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("tools/list: %s %s", resp.Status, body)
	}
	return body
}

// postModern sends one stateless 2026-07-28 request (name: the Mcp-Name
// header, if any) with its headers as a client sends them.
func postModern(ctx context.Context, url, method, name, params string) (*http.Response, error) {
	return http.DefaultClient.Do(modernRequest(ctx, url, method, name, params))
}

// modernRequest is postModern's request.
func modernRequest(ctx context.Context, url, method, name, params string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"`+method+`","params":`+params+`}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", method)
	if name != "" {
		req.Header.Set("Mcp-Name", name)
	}
	return req
}

func TestSharedUpstreamSession(t *testing.T) {
	alpha, beta := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL), "beta", legacy(beta.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected, "beta": status.Connected})
	ides := []*mcp.ClientSession{
		r.connectHTTP(t, "/mcp", "", "2025-11-25", nil),
		r.connectHTTP(t, "/mcp", "", "2026-07-28", nil),
		r.connectStream(t, "", "2025-11-25", nil),
		r.connectStream(t, "alpha", "2026-07-28", nil),
	}
	sessions := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, cs := range ides {
		name := "alpha__whoami"
		if i == 3 {
			name = "whoami"
		}
		wg.Go(func() {
			var out whoamiOut
			_ = remarshal(callTool(t, cs, name, nil).StructuredContent, &out)
			mu.Lock()
			sessions[out.Session] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(sessions) != 1 || sessions[""] {
		t.Errorf("four IDEs ran in upstream sessions %v, want one", sessions)
	}
	if n := alpha.inits.Load(); n != 1 {
		t.Errorf("alpha saw %d initialize requests, want 1", n)
	}
}

func TestListChangedReachesIDEs(t *testing.T) {
	alpha, beta := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected})

	changed := make(chan string, 16)
	opts := &mcp.ClientOptions{ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- "tools" }}
	ides := []*mcp.ClientSession{r.connectHTTP(t, "/mcp", "", "2025-11-25", opts), r.connectStream(t, "", "2025-11-25", opts)}
	for _, cs := range ides {
		toolNames(t, cs)
	}
	expect := func(what string) {
		t.Helper()
		for range ides {
			select {
			case <-changed:
			case <-time.After(30 * time.Second):
				t.Fatalf("no tools list_changed after %s", what)
			}
		}
	}
	// A catalog change upstream.
	alpha.AddTool(&mcp.Tool{Name: "fresh", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
	expect("a new upstream tool")
	for _, cs := range ides {
		if toolNames(t, cs)["alpha__fresh"] == nil {
			t.Error("alpha__fresh not listed after list_changed")
		}
	}
	// A server joins.
	writeConfig(t, r.path, cfgServers("alpha", legacy(alpha.URL), "beta", legacy(beta.URL)))
	if err := r.hub.Reload(); err != nil {
		t.Fatal(err)
	}
	expect("a new server")
	for _, cs := range ides {
		if toolNames(t, cs)["beta__whoami"] == nil {
			t.Error("beta's tools not listed after it connected")
		}
	}
}

func TestSlowServerDoesNotBlockOthers(t *testing.T) {
	alpha, beta := twoUpstreams(t)
	release := make(chan struct{})
	started := make(chan struct{})
	alpha.AddTool(&mcp.Tool{Name: "slow", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			close(started)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "slow done"}}}, nil
		})
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL), "beta", legacy(beta.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected, "beta": status.Connected})
	for _, cs := range []*mcp.ClientSession{r.connectHTTP(t, "/mcp", "", "2025-11-25", nil), r.connectStream(t, "", "2025-11-25", nil)} {
		done := make(chan string, 1)
		go func() { done <- text(t, callTool(t, cs, "alpha__slow", nil)) }()
		<-started
		// alpha's call is stuck; beta's (and alpha's own other tools) answer.
		callTool(t, cs, "beta__whoami", nil)
		callTool(t, cs, "alpha__whoami", nil)
		close(release)
		if got := <-done; got != "slow done" {
			t.Errorf("slow = %q", got)
		}
		release, started = make(chan struct{}), make(chan struct{})
	}
}

func TestDownServerFailsAtOnceWithAdvice(t *testing.T) {
	alpha, beta := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL), "beta", legacy(beta.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected, "beta": status.Connected})
	cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", nil)
	one := r.connectHTTP(t, "/servers/alpha/mcp", "", "2025-11-25", nil)
	alpha.close()
	if err := r.hub.Reconnect("alpha"); err != nil {
		t.Fatal(err)
	}
	r.wait(t, map[string]status.State{"alpha": status.Error})

	for _, c := range []struct {
		cs   *mcp.ClientSession
		tool string
	}{{cs, "alpha__whoami"}, {one, "whoami"}} {
		start := time.Now()
		res := callTool(t, c.cs, c.tool, nil)
		msg := text(t, res)
		if !res.IsError || !strings.Contains(msg, "alpha is unavailable") || !strings.Contains(msg, "mcptray reconnect alpha") {
			t.Errorf("%s on a down server: %+v", c.tool, msg)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the answer took %v; it should not wait for the server", d)
		}
	}
	// The other server is untouched.
	callTool(t, cs, "beta__whoami", nil)

	// Each call that met the outage is in the records, as one.
	r.db.Flush()
	calls, err := r.db.RecentCalls(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	down := 0
	for _, c := range calls {
		if c.Server == "alpha" && c.Outcome == outcomeUnavailable && c.Item == "whoami" {
			down++
		}
	}
	if down != 2 {
		t.Errorf("records: %+v, want two unavailable calls of alpha's whoami", calls)
	}
}

// A server that has just connected takes calls at once, before the
// bridge has rebuilt its lists from the hub's events (here it never hears
// them): an IDE that knew the server's tools from before it went down may
// call one, or read one of its resources, the moment it is back.
func TestCallRightAfterConnectIsTaken(t *testing.T) {
	alpha := newUpstream(t, "alpha")
	addWhoami(alpha, "alpha")
	alpha.AddResource(&mcp.Resource{URI: "test://alpha/note", Name: "note"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "alpha's note"}}}, nil
		})
	cfg := func(disabled bool) string {
		return cfgServers("alpha", fmt.Sprintf(`{"url": %q, "protocolVersion": "2025-11-25", "disabled": %t}`, alpha.URL, disabled))
	}
	r := newRig(t, cfg(true), rigOptions{deaf: true})
	r.wait(t, map[string]status.State{"alpha": status.Disabled})
	cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", nil)
	if res := callTool(t, cs, "alpha__whoami", nil); !res.IsError || !strings.Contains(text(t, res), "alpha is disabled") {
		t.Fatalf("a call to the disabled server: %+v", res)
	}

	if err := os.WriteFile(r.path, []byte(cfg(false)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.hub.Reload(); err != nil {
		t.Fatal(err)
	}
	r.wait(t, map[string]status.State{"alpha": status.Connected})
	if toolNames(t, cs)["alpha__whoami"] == nil {
		t.Error("a list just after alpha connected has none of its tools")
	}
	if got := text(t, callTool(t, cs, "alpha__whoami", nil)); !strings.Contains(got, `"server":"alpha"`) {
		t.Errorf("a call just after alpha connected: %q", got)
	}
	res, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "test://alpha/note"})
	if err != nil || len(res.Contents) != 1 || res.Contents[0].Text != "alpha's note" {
		t.Errorf("a read just after alpha connected: %+v, %v", res, err)
	}
}

// Tools and prompts are looked up alike: a name of a server that is down
// says so, a name of no server says it is unknown, each naming the name.
func TestUnlistedNamesSayWhy(t *testing.T) {
	alpha, beta := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL), "beta", legacy(beta.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected, "beta": status.Connected})
	changed := make(chan struct{}, 16)
	cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} }})
	toolNames(t, cs)
	alpha.close()
	if err := r.hub.Reconnect("alpha"); err != nil {
		t.Fatal(err)
	}
	r.wait(t, map[string]status.State{"alpha": status.Error})
	// The bridge hears of it on its own: its list_changed says its catalog
	// no longer has alpha's tools.
	select {
	case <-changed:
	case <-time.After(30 * time.Second):
		t.Fatal("no tools list_changed after alpha went down")
	}
	if toolNames(t, cs)["alpha__whoami"] != nil {
		t.Fatal("alpha's tools are still listed")
	}
	ctx := context.Background()

	if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "alpha__greet"}); err == nil || !strings.Contains(err.Error(), "alpha is unavailable") {
		t.Errorf("a prompt of a down server: %v", err)
	}
	if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "gamma__greet"}); err == nil || !strings.Contains(err.Error(), "Unknown prompt: gamma__greet") {
		t.Errorf("a prompt of no server: %v", err)
	}
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "beta__nothing"}); err == nil || !strings.Contains(err.Error(), "Unknown tool: beta__nothing") {
		t.Errorf("a tool the server does not have: %v", err)
	}
	res, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "beta__greet"})
	if err != nil || len(res.Messages) != 1 {
		t.Fatalf("the other server's prompt: %+v, %v", res, err)
	}
}

func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	if err := atomicWrite(path, content); err != nil {
		t.Fatal(err)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func remarshal(from, to any) error {
	data, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, to)
}

// withName replaces only the top-level "name", wherever it stands and
// however the server spaced it, and leaves a value it cannot read alone.
func TestWithName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"name":"a","x":1}`, `{"name":"s__a","x":1}`},
		{"{\n  \"annotations\": {\"name\": \"keep\"},\n  \"name\" :\t\"a\"\n}", "{\n  \"annotations\": {\"name\": \"keep\"},\n  \"name\" :\t\"s__a\"\n}"},
		{`{"inputSchema":{"properties":{"name":{"type":"string"}}},"name":"a"}`, `{"inputSchema":{"properties":{"name":{"type":"string"}}},"name":"s__a"}`},
		{`{"x":1}`, `{"x":1}`},
		{`[1]`, `[1]`},
		{`{"name":`, `{"name":`},
	} {
		if got := string(withName(json.RawMessage(tc.in), "s__a")); got != tc.want {
			t.Errorf("withName(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// askedBy prefixes a relayed elicitation's message with the server and
// keeps every other byte of the server's JSON; a message it cannot read
// stays as it was.
func TestAskedByKeepsTheServersJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"mode":"form","message":"Your name?","requestedSchema":{"type":"object"}}`, `{"mode":"form","message":"[s] Your name?","requestedSchema":{"type":"object"}}`},
		{`{"requestedSchema":{"properties":{"message":{"type":"string"}}},"message":"a <b>"}`, `{"requestedSchema":{"properties":{"message":{"type":"string"}}},"message":"[s] a <b>"}`},
		{`{"message":7}`, `{"message":7}`},
		{`{"mode":"url"}`, `{"mode":"url"}`},
	} {
		got := askedBy("s", json.RawMessage(tc.in))
		if string(got.(json.RawMessage)) != tc.want {
			t.Errorf("askedBy(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// A list is answered in the client's era from the snapshot: as encoded for
// an initialize-era client, and for a 2026-07-28 client wrapped once
// (TS-20) and the same bytes after, however many clients ask at once.
func TestListsInEachEra(t *testing.T) {
	b := New(Options{Version: "test"})
	s := &snapshot{
		toolsList:       []byte(`{"tools":[{"name":"a__t","inputSchema":{"type":"object"}}]}`),
		legacyToolsList: []byte(`{"tools":[{"name":"a__t","inputSchema":{"type":"object"}}],"legacy":true}`),
		promptsList:     []byte(`{"prompts":[]}`),
		resList:         []byte(`{"resources":[]}`),
		templateList:    []byte(`{"resourceTemplates":[]}`),
	}
	legacy := []string{string(s.legacyToolsList), string(s.promptsList), string(s.resList), string(s.templateList)}
	for i, method := range listMethods {
		if got := string(b.list(s, i, false)); got != legacy[i] {
			t.Errorf("%s, initialize era: %s, want %s", method, got, legacy[i])
		}
		want := string(b.modernResult(method, s.encodedList(i)))
		var wg sync.WaitGroup
		got := make([]json.RawMessage, 8)
		for c := range got {
			wg.Go(func() { got[c] = b.list(s, i, true) })
		}
		wg.Wait()
		for _, g := range got {
			if string(g) != want || &g[0] != &got[0][0] {
				t.Fatalf("%s, 2026-07-28: %s, want %s made once", method, g, want)
			}
		}
		if !strings.Contains(want, `"resultType":"complete"`) || !strings.Contains(want, `"ttlMs":0`) ||
			!strings.HasSuffix(want, string(s.encodedList(i)[1:])) {
			t.Errorf("%s, 2026-07-28: %s does not wrap the list", method, want)
		}
	}
	if string(b.list(s, 0, false)) != legacy[0] {
		t.Error("a 2026-07-28 answer changed the initialize-era one")
	}
}
