package bridge

//lint:file-ignore SA1019 logging is deprecated in 2026-07-28 but still works there, and initialize-era peers use it: MCP Tray bridges both eras

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
)

// seenCall is a tools/call as a server received it.
type seenCall struct {
	id                    string
	method, name, version string // the Mcp-Method, Mcp-Name and MCP-Protocol-Version headers
	meta                  map[string]json.RawMessage
	arguments             json.RawMessage
	inputResponses        bool
}

// A 2026-07-28 client's tools/call to a server of that era takes the raw
// path (the bridge's own request, not go-sdk's), and the server gets
// what that era asks of every request (TC-10, TS-17): the method and tool
// in headers, the protocol version and client info in _meta, and the
// capabilities the IDE declared, no more (LC-03: this IDE declares
// elicitation, not sampling). The answer passes
// through, progress and an input_required round trip included. An
// initialize-era client's call takes the raw path too, the answer made
// that era's (TestNonObjectOutputForInitializeEraIDEs has the rest).
func TestModernCallsTakeTheRawPath(t *testing.T) {
	u := newModernUpstream(t, "new")
	u.AddTool(&mcp.Tool{Name: "echo", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if tok := req.Params.GetProgressToken(); tok != nil {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Message: "half way"})
			}
			var args struct{ Say string }
			_ = json.Unmarshal(req.Params.Arguments, &args)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "said " + args.Say}}}, nil
		})
	u.AddTool(&mcp.Tool{Name: "ask", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			answer, ok := req.Params.InputResponses["who"].(*mcp.ElicitResult)
			if !ok {
				return &mcp.CallToolResult{RequestState: "asked", InputRequests: mcp.InputRequestMap{"who": &mcp.ElicitParams{Message: "who are you?",
					RequestedSchema: json.RawMessage(`{"type":"object","properties":{"username":{"type":"string"}}}`)}}}, nil
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("hello %v", answer.Content["username"])}}}, nil
		})
	var mu sync.Mutex
	var seen []seenCall
	r := rigBehind(t, u, "new", func(_ http.ResponseWriter, r *http.Request, body []byte) bool {
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params struct {
				Meta           map[string]json.RawMessage `json:"_meta"`
				Arguments      json.RawMessage            `json:"arguments"`
				InputResponses json.RawMessage            `json:"inputResponses"`
			} `json:"params"`
		}
		if json.Unmarshal(body, &msg) == nil && msg.Method == "tools/call" {
			mu.Lock()
			seen = append(seen, seenCall{id: string(msg.ID), method: r.Header.Get("Mcp-Method"), name: r.Header.Get("Mcp-Name"),
				version: r.Header.Get("Mcp-Protocol-Version"), meta: msg.Params.Meta, arguments: msg.Params.Arguments,
				inputResponses: msg.Params.InputResponses != nil})
			mu.Unlock()
		}
		return false
	})
	last := func() seenCall {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			t.Fatal("the server got no tools/call")
		}
		return seen[len(seen)-1]
	}

	for _, via := range []string{"http", "stdio"} {
		t.Run(via, func(t *testing.T) {
			progress := make(chan string, 1)
			opts := &mcp.ClientOptions{
				ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"username": "ada"}}, nil
				},
				ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
					select {
					case progress <- req.Params.Message:
					default:
					}
				},
			}
			var cs *mcp.ClientSession
			if via == "http" {
				cs = r.connectHTTP(t, "/servers/new/mcp", "", "2026-07-28", opts)
			} else {
				cs = r.connectStream(t, "new", "2026-07-28", opts)
			}
			params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"say": "hi"}}
			params.SetProgressToken("p1")
			res, err := cs.CallTool(context.Background(), params)
			if err != nil || text(t, res) != "said hi" {
				t.Fatalf("echo: %v %+v", err, res)
			}
			select {
			case got := <-progress:
				if got != "half way" {
					t.Errorf("progress: %q", got)
				}
			case <-time.After(10 * time.Second):
				t.Error("no progress notification reached the IDE")
			}
			c := last()
			if !strings.HasPrefix(c.id, `"mcptray-r`) {
				t.Errorf("the call did not take the raw path: its id is %s", c.id)
			}
			if c.method != "tools/call" || c.name != "echo" || c.version != "2026-07-28" {
				t.Errorf("headers: Mcp-Method %q, Mcp-Name %q, MCP-Protocol-Version %q", c.method, c.name, c.version)
			}
			var caps map[string]json.RawMessage
			_ = json.Unmarshal(c.meta[metaClientCaps], &caps)
			if string(c.meta["io.modelcontextprotocol/protocolVersion"]) != `"2026-07-28"` ||
				!bytes.Contains(c.meta["io.modelcontextprotocol/clientInfo"], []byte(`"name"`)) ||
				caps["elicitation"] == nil || caps["sampling"] != nil || c.meta["progressToken"] == nil {
				t.Errorf("_meta: %s", mustJSON(c.meta))
			}
			if string(c.arguments) != `{"say":"hi"}` {
				t.Errorf("arguments: %s", c.arguments)
			}

			// The round trip: input_required passes to the IDE, whose retry
			// (on the session path, which holds the state) completes it.
			res = callTool(t, cs, "ask", map[string]any{})
			if got := text(t, res); got != "hello ada" {
				t.Errorf("ask: %q", got)
			}
			if c := last(); !c.inputResponses {
				t.Errorf("the last call to the server was not the retry with the answers: %+v", c)
			}
		})
	}

	// An initialize-era IDE's call takes the raw path too, and its round
	// trip is the bridge's: the IDE is asked, the server gets the answers.
	cs := r.connectHTTP(t, "/servers/new/mcp", "", "2025-11-25", &mcp.ClientOptions{
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"username": "grace"}}, nil
		},
	})
	if res := callTool(t, cs, "echo", map[string]any{"say": "hi"}); text(t, res) != "said hi" {
		t.Fatalf("echo from an initialize-era IDE: %+v", res)
	}
	if c := last(); !strings.HasPrefix(c.id, `"mcptray-r`) {
		t.Errorf("an initialize-era IDE's call did not take the raw path: id %s", c.id)
	}
	if res := callTool(t, cs, "ask", map[string]any{}); text(t, res) != "hello grace" {
		t.Errorf("ask from an initialize-era IDE: %q", text(t, res))
	}
}

// rigBehind serves u's server statelessly (2026-07-28) behind see, which
// sees each request first, its body read (and left to read again), and
// answers it itself by returning true; and a rig with it as server name.
func rigBehind(t *testing.T, u *upstreamServer, name string, see func(w http.ResponseWriter, r *http.Request, body []byte) bool) *rig {
	t.Helper()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return u.Server }, &mcp.StreamableHTTPOptions{Stateless: true})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !see(w, r, body) {
			h.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	r := newRig(t, cfgServers(name, fmt.Sprintf(`{"url": %q}`, srv.URL+"/mcp")), rigOptions{})
	r.wait(t, map[string]status.State{name: status.Connected})
	return r
}

func mustJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

// A 2026-07-28 server answers some JSON-RPC errors with HTTP 400 or 404,
// after its tool ran (SEP-2575): the IDE gets that error, and the tool
// runs once, not once more on the session path. A tool whose arguments
// go in headers, nested ones too (TC-11), is called once, with them.
func TestModernErrorsAndHeaderArgumentsCallOnce(t *testing.T) {
	var runs atomic.Int32
	u := newModernUpstream(t, "new")
	u.AddTool(&mcp.Tool{Name: "charge", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			runs.Add(1)
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "amount over the limit"}
		})
	u.AddTool(&mcp.Tool{Name: "route", InputSchema: json.RawMessage(
		`{"type":"object","properties":{"where":{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}}}}}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "routed"}}}, nil
		})
	var mu sync.Mutex
	var regions []string // Mcp-Param-Region of each tools/call POST for route
	r := rigBehind(t, u, "new", func(_ http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.Header.Get("Mcp-Name") == "route" {
			mu.Lock()
			regions = append(regions, r.Header.Get("Mcp-Param-Region"))
			mu.Unlock()
		}
		return false
	})
	cs := r.connectHTTP(t, "/servers/new/mcp", "", "2026-07-28", nil)

	_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "charge", Arguments: map[string]any{}})
	if err == nil || !strings.Contains(err.Error(), "amount over the limit") {
		t.Errorf("the server's error did not reach the IDE: %v", err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the tool ran %d times for one call", n)
	}

	// The IDE mirrors the argument into a header too, once it has listed
	// the tool's schema.
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	res := callTool(t, cs, "route", map[string]any{"where": map[string]any{"region": "eu"}})
	if text(t, res) != "routed" {
		t.Errorf("route: %+v", res)
	}
	mu.Lock()
	if len(regions) != 1 || regions[0] != "eu" {
		t.Errorf("the server got route with Mcp-Param-Region %q, want one call with \"eu\"", regions)
	}
	mu.Unlock()

	// The bridge validates a nested argument's header as a 2026-07-28
	// server must (TS-17): wrong or missing is HeaderMismatch, and the
	// call goes no further.
	for header, want := range map[string]int{"eu": 200, "us": 400, "": 400} {
		req := modernRequest(context.Background(), r.url+"/servers/new/mcp", "tools/call", "route",
			`{"name":"route","arguments":{"where":{"region":"eu"}},`+modernMeta+`}`)
		if header != "" {
			req.Header.Set("Mcp-Param-Region", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || want == 400 && !strings.Contains(string(body), `"code":-32020`) ||
			want == 200 && !strings.Contains(string(body), "routed") {
			t.Errorf("Mcp-Param-Region %q for where.region \"eu\": %s %s, want %d", header, resp.Status, body, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(regions) != 2 {
		t.Errorf("route reached the server %d times, want 2 (the call above, and the one with the right header)", len(regions))
	}
}

// What a 2026-07-28 server answers to tools/call, by tool name (%s: the id).
var answersForOldIDEs = map[string]string{
	"nullsc":      `{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"x"}],"structuredContent":null,"resultType":"complete"}}`,
	"contentnull": `{"jsonrpc":"2.0","id":%s,"result":{"content":null,"structuredContent":{"a":1},"resultType":"complete"}}`,
	"nocontent":   `{"jsonrpc":"2.0","id":%s,"result":{"structuredContent":{"a":1},"resultType":"complete"}}`,
	"dupsc":       `{"jsonrpc":"2.0","id":%s,"result":{"content":[],"structuredContent":{"a":1},"structuredContent":[1,2],"resultType":"complete"}}`,
	"irnotype":    `{"jsonrpc":"2.0","id":%s,"result":{"inputRequests":{"who":{"method":"elicitation/create","params":{"message":"who?","requestedSchema":{"type":"object","properties":{}}}}},"requestState":"s"}}`,
}

// An initialize-era IDE gets a 2026-07-28 server's tool result, read on
// the raw path, in its era's shape (schema 2025-11-25: content an array,
// structuredContent one object or absent; LC-17), and an input request
// is the bridge's to run (LC-26), whatever odd form the server sent.
func TestInitializeEraIDEsGetTheirEra(t *testing.T) {
	u := newModernUpstream(t, "m")
	for name := range answersForOldIDEs {
		u.AddTool(&mcp.Tool{Name: name, InputSchema: json.RawMessage(`{"type":"object"}`)}, nil)
	}
	r := rigBehind(t, u, "m", func(w http.ResponseWriter, _ *http.Request, body []byte) bool {
		var msg struct {
			ID     json.RawMessage       `json:"id"`
			Method string                `json:"method"`
			Params struct{ Name string } `json:"params"`
		}
		if json.Unmarshal(body, &msg) != nil || msg.Method != "tools/call" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, answersForOldIDEs[msg.Params.Name], msg.ID)
		return true
	})
	resp, _ := post(t, r.url+"/servers/m/mcp", nil, initializeBody) // declares no capabilities
	hd := map[string]string{"Mcp-Session-Id": resp.Header.Get("Mcp-Session-Id"), "Mcp-Protocol-Version": "2025-11-25"}
	post(t, r.url+"/servers/m/mcp", hd, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	for _, name := range []string{"nullsc", "contentnull", "nocontent", "dupsc", "irnotype"} {
		t.Run(name, func(t *testing.T) {
			_, body := post(t, r.url+"/servers/m/mcp", hd, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"`+name+`","arguments":{}}}`)
			var m struct {
				Result map[string]json.RawMessage `json:"result"`
				Error  json.RawMessage            `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if m.Error != nil {
				return // the round trip ran: this IDE declared no elicitation
			}
			if c := string(m.Result["content"]); !strings.HasPrefix(c, "[") {
				t.Errorf("content is %q, not an array: %s", c, body)
			}
			if sc, ok := m.Result["structuredContent"]; ok && !strings.HasPrefix(string(sc), "{") {
				t.Errorf("structuredContent is no object: %s", body)
			}
			if bytes.Count([]byte(body), []byte(`"structuredContent"`)) > 1 {
				t.Errorf("structuredContent twice (JSON.parse keeps the last, an array): %s", body)
			}
			if _, ok := m.Result["inputRequests"]; ok {
				t.Errorf("inputRequests passed to an initialize-era IDE (LC-26: the bridge asks it): %s", body)
			}
		})
	}
}

// A 2026-07-28 server sends log messages only for a request that names a
// level (LC-24). The bridge names the one its IDE asked for, with
// logging/setLevel (initialize era) or in the request's _meta (2026-07-28),
// on the raw path (tools/call) and on the session path (prompts/get). The
// messages reach the IDE that asked, and no other IDE: go-sdk hands them
// over after the answer, when the request is over, and they were once
// sent to every IDE that had set a level instead.
func TestModernServersLogAtTheLevelTheIDEAskedFor(t *testing.T) {
	u := newModernUpstream(t, "m")
	logTwice := func(ctx context.Context, ss *mcp.ServerSession) {
		_ = ss.Log(ctx, &mcp.LoggingMessageParams{Level: "debug", Data: "too fine"})
		_ = ss.Log(ctx, &mcp.LoggingMessageParams{Level: "warning", Data: "worth knowing"})
	}
	u.AddTool(&mcp.Tool{Name: "chatty", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			logTwice(ctx, req.Session)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil
		})
	u.AddPrompt(&mcp.Prompt{Name: "chatty"}, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		logTwice(ctx, req.Session)
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "done"}}}}, nil
	})
	var mu sync.Mutex
	var levels []string // the level each tools/call and prompts/get named
	r := rigBehind(t, u, "m", func(_ http.ResponseWriter, r *http.Request, body []byte) bool {
		if m := r.Header.Get("Mcp-Method"); m == "tools/call" || m == "prompts/get" {
			var req struct {
				Params struct {
					Meta map[string]any `json:"_meta"`
				}
			}
			_ = json.Unmarshal(body, &req)
			mu.Lock()
			levels = append(levels, fmt.Sprint(req.Params.Meta["io.modelcontextprotocol/logLevel"]))
			mu.Unlock()
		}
		return false
	})
	others := make(chan string, 10)
	bystander := r.connectHTTP(t, "/servers/m/mcp", "", "2025-11-25", &mcp.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) { others <- fmt.Sprint(req.Params.Data) },
	})
	if err := bystander.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
		t.Fatal(err)
	}
	for _, era := range []string{"2025-11-25", "2026-07-28"} {
		logs := make(chan string, 10)
		cs := r.connectHTTP(t, "/servers/m/mcp", "", era, &mcp.ClientOptions{
			LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) { logs <- fmt.Sprint(req.Params.Data) },
		})
		var meta mcp.Meta
		if era == "2026-07-28" {
			meta = mcp.Meta{"io.modelcontextprotocol/logLevel": "info"}
		} else if err := cs.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "chatty", Arguments: map[string]any{}, Meta: meta}); err != nil {
				t.Fatalf("%s: tools/call: %v", era, err)
			}
			if _, err := cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: "chatty", Meta: meta}); err != nil {
				t.Fatalf("%s: prompts/get: %v", era, err)
			}
		}
		for i := range 6 {
			select {
			case got := <-logs:
				if got != "worth knowing" {
					t.Errorf("%s: log message %d is %q, want the warning only", era, i, got)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: %d of 6 warnings reached the IDE", era, i)
			}
		}
	}
	mu.Lock()
	if want := slices.Repeat([]string{"info"}, 12); !slices.Equal(levels, want) {
		t.Errorf("the server was asked for levels %v, want %v", levels, want)
	}
	mu.Unlock()
	// Nothing tells that a message will not come: the bystander is given
	// the time the others' messages took, and more.
	select {
	case got := <-others:
		t.Errorf("an IDE that made no request got the log message %q", got)
	case <-time.After(300 * time.Millisecond):
	}
}

// A request whose 2026-07-28 response broke off is sent again (TC-12), and
// the new run's progress starts over: the IDE gets only progress that goes
// up, as the spec wants of progress.
func TestProgressOnlyGoesUpAcrossAResend(t *testing.T) {
	u := newModernUpstream(t, "m")
	u.AddTool(&mcp.Tool{Name: "slow", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "unused"}}}, nil
		})
	var posts atomic.Int32
	r := rigBehind(t, u, "m", func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.Header.Get("Mcp-Method") != "tools/call" {
			return false
		}
		var req struct {
			ID     json.RawMessage
			Params struct {
				Meta struct {
					ProgressToken json.RawMessage `json:"progressToken"`
				} `json:"_meta"`
			}
		}
		_ = json.Unmarshal(body, &req)
		progress := func(n int) {
			fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":%s,\"progress\":%d,\"total\":10}}\n\n",
				req.Params.Meta.ProgressToken, n)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		if posts.Add(1) == 1 {
			progress(5)
			return true // the stream ends without the answer
		}
		progress(1)
		progress(6)
		fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"done\"}],\"resultType\":\"complete\"}}\n\n", req.ID)
		return true
	})
	for _, era := range []string{"2025-11-25", "2026-07-28"} {
		posts.Store(0)
		arrived := make(chan float64, 10)
		cs := r.connectHTTP(t, "/servers/m/mcp", "", era, &mcp.ClientOptions{
			ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
				arrived <- req.Params.Progress
			},
		})
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{}, Meta: mcp.Meta{"progressToken": "t1"}})
		if err != nil || text(t, res) != "done" || posts.Load() != 2 {
			t.Fatalf("%s: %v, %v after %d POSTs, want done after 2", era, res, err, posts.Load())
		}
		// 1, had it been sent, came between 5 and 6.
		var got []float64
		for !slices.Contains(got, 5) || !slices.Contains(got, 6) {
			select {
			case p := <-arrived:
				got = append(got, p)
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: the IDE got progress %v, want 5 and 6", era, got)
			}
		}
		if slices.Contains(got, 1) {
			t.Errorf("%s: the IDE got progress %v: 1 went back", era, got)
		}
	}
}

// declaredCapsJSON, picked out of the bytes, declares only what the bridge
// relays, values as sent; anything but an object declares nothing.
func TestDeclaredCapsJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{}`: `{}`,
		`{"sampling":{},"experimental":{"x":1},"roots":{"listChanged":true}}`: `{"sampling":{},"roots":{"listChanged":true}}`,
		` { "elicitation" : {"form":{},"url":{}} , "tasks":{} } `:             `{"elicitation":{"form":{},"url":{}}}`,
		`{"roots":null}`: `{"roots":null}`,
		`not json`:       `{}`,
		``:               `{}`,
	} {
		got := declaredCapsJSON(json.RawMessage(in))
		var g, w any
		if json.Unmarshal(got, &g) != nil || json.Unmarshal([]byte(want), &w) != nil || !reflect.DeepEqual(g, w) {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}
