package bridge

//lint:file-ignore SA1019 sampling, elicitation, roots and logging are deprecated in 2026-07-28 but initialize-era peers use them: MCP Tray bridges both eras

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/status"
)

// ide is one way an IDE attaches: transport and protocol era.
type ide struct {
	name    string
	connect func(t *testing.T, opts *mcp.ClientOptions) *mcp.ClientSession
}

func ides(r *rig, server string) []ide {
	path := "/mcp"
	if server != "" {
		path = "/servers/" + server + "/mcp"
	}
	var out []ide
	for _, era := range eras {
		out = append(out,
			ide{"http-" + era, func(t *testing.T, o *mcp.ClientOptions) *mcp.ClientSession { return r.connectHTTP(t, path, "", era, o) }},
			ide{"stdio-" + era, func(t *testing.T, o *mcp.ClientOptions) *mcp.ClientSession { return r.connectStream(t, server, era, o) }})
	}
	return out
}

// The go-sdk conformance server behind the bridge ("ev" is left to
// negotiate: the hub asks server/discover first and this stateful fixture
// settles on the initialize era; "evl" is pinned to 2025-11-25), reached by
// IDEs of both eras over HTTP and JSON lines: progress, sampling and
// elicitation all arrive, under prefixed names. Upstreams that speak
// 2026-07-28 are newModernUpstream's (TestSlowAnswerDoesNotTimeTheCallOut,
// TestModernResultsHaveEachMemberOnce) and the conformance run's stateless
// fixture.
func TestForwardingThroughBothEras(t *testing.T) {
	peer := testpeers.StartEverythingHTTP(t)
	r := newRig(t, cfgServers("ev", fmt.Sprintf(`{"url": %q}`, peer.URL), "evl", legacy(peer.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"ev": status.Connected, "evl": status.Connected})
	for _, up := range []string{"ev", "evl"} {
		for _, ide := range ides(r, "") {
			t.Run(up+"/"+ide.name, func(t *testing.T) {
				var mu sync.Mutex
				var progress []float64
				var prompts []string
				opts := &mcp.ClientOptions{
					ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
						mu.Lock()
						defer mu.Unlock()
						if req.Params.ProgressToken == "tok-7" {
							progress = append(progress, req.Params.Progress)
						}
					},
					CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
						mu.Lock()
						prompts = append(prompts, req.Params.Messages[0].Content.(*mcp.TextContent).Text)
						mu.Unlock()
						return &mcp.CreateMessageResult{Model: "test", Role: "assistant", Content: &mcp.TextContent{Text: "sampled!"}}, nil
					},
					ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
						return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"username": "ada"}}, nil
					},
				}
				cs := ide.connect(t, opts)
				tools := toolNames(t, cs)
				if tools[up+"__test_sampling"] == nil {
					t.Fatalf("no %s__test_sampling in %d tools", up, len(tools))
				}

				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				params := &mcp.CallToolParams{Name: up + "__test_tool_with_progress", Arguments: map[string]any{}}
				params.SetProgressToken("tok-7")
				if _, err := cs.CallTool(ctx, params); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				got := slices.Clone(progress)
				mu.Unlock()
				// Notifications precede the response on the same stream.
				if !slices.Equal(got, []float64{0, 50, 100}) {
					t.Errorf("progress with the IDE's token: %v", got)
				}

				res := callTool(t, cs, up+"__test_sampling", map[string]any{"prompt": "write a haiku"})
				if msg := text(t, res); res.IsError || msg != "LLM response: sampled!" {
					t.Errorf("sampling: %q (isError %v)", msg, res.IsError)
				}
				mu.Lock()
				if !slices.Equal(prompts, []string{"write a haiku"}) {
					t.Errorf("the IDE was asked %v", prompts)
				}
				mu.Unlock()

				res = callTool(t, cs, up+"__test_elicitation", map[string]any{"message": "who are you?"})
				if msg := text(t, res); res.IsError || !strings.Contains(msg, "action=accept") || !strings.Contains(msg, "ada") {
					t.Errorf("elicitation: %q", msg)
				}

				res = callTool(t, cs, up+"__test_error_handling", nil)
				if !res.IsError {
					t.Errorf("an upstream tool error is not isError: %+v", res)
				}
			})
		}
	}
}

// A person who takes longer than the server's timeout to answer its
// question (an elicitation form) does not time the call out: the call's
// clock stops while the IDE is asked, in every era on both sides. The
// conformance server asks mid-call in the initialize era (it is stateful,
// so it offers no other); "new", a stateless go-sdk server, speaks
// 2026-07-28 and asks with input_required, which the bridge turns into a
// question to an initialize-era IDE (LC-26).
func TestSlowAnswerDoesNotTimeTheCallOut(t *testing.T) {
	const timeout = 500 * time.Millisecond
	peer := testpeers.StartEverythingHTTP(t)
	modern := newModernUpstream(t, "new")
	modern.AddTool(&mcp.Tool{Name: "test_elicitation", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			answer, ok := req.Params.InputResponses["who"].(*mcp.ElicitResult)
			if !ok {
				return &mcp.CallToolResult{RequestState: "asked", InputRequests: mcp.InputRequestMap{"who": &mcp.ElicitParams{Message: "who are you?",
					RequestedSchema: json.RawMessage(`{"type":"object","properties":{"username":{"type":"string"}}}`)}}}, nil
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("action=%s %v", answer.Action, answer.Content)}}}, nil
		})
	r := newRig(t, cfgServers(
		"ev", fmt.Sprintf(`{"url": %q, "timeout": %g}`, peer.URL, timeout.Seconds()),
		"evl", fmt.Sprintf(`{"url": %q, "protocolVersion": "2025-11-25", "timeout": %g}`, peer.URL, timeout.Seconds()),
		"new", fmt.Sprintf(`{"url": %q, "timeout": %g}`, modern.URL, timeout.Seconds()),
	), rigOptions{})
	r.wait(t, map[string]status.State{"ev": status.Connected, "evl": status.Connected, "new": status.Connected})
	if c, _ := r.hub.Conn("new"); c.Session().InitializeResult().ProtocolVersion != "2026-07-28" {
		t.Fatalf("new speaks %s", c.Session().InitializeResult().ProtocolVersion)
	}
	for _, up := range []string{"ev", "evl", "new"} {
		for _, ide := range ides(r, "") {
			t.Run(up+"/"+ide.name, func(t *testing.T) {
				cs := ide.connect(t, &mcp.ClientOptions{
					ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
						time.Sleep(3 * timeout) // the person reading the form: the time is what is tested
						return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"username": "ada"}}, nil
					},
				})
				res := callTool(t, cs, up+"__test_elicitation", map[string]any{"message": "who are you?"})
				if msg := text(t, res); res.IsError || !strings.Contains(msg, "action=accept") || !strings.Contains(msg, "ada") {
					t.Errorf("elicitation answered after %v with a %v timeout: %q (isError %v)", 3*timeout, timeout, msg, res.IsError)
				}
			})
		}
	}
}

// blockingUpstream has a tool that waits until it is cancelled, and one
// that asks the IDE for sampling and then withdraws the request.
type blockingUpstream struct {
	*upstreamServer
	started, cancelled chan struct{}
	withdraw           chan struct{}
}

func newBlockingUpstream(t *testing.T) *blockingUpstream {
	u := &blockingUpstream{upstreamServer: newUpstream(t, "blocker")}
	u.reset()
	obj := json.RawMessage(`{"type":"object"}`)
	u.AddTool(&mcp.Tool{Name: "block", InputSchema: obj}, func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		close(u.started)
		<-ctx.Done()
		close(u.cancelled)
		return nil, ctx.Err()
	})
	u.AddTool(&mcp.Tool{Name: "ask_then_withdraw", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		askCtx, cancel := context.WithCancel(ctx)
		go func() { <-u.withdraw; cancel() }()
		_, err := req.Session.CreateMessage(askCtx, &mcp.CreateMessageParams{MaxTokens: 5,
			Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "never mind"}}}})
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("withdrawn: %v", err != nil)}}}, nil
	})
	return u
}

func (u *blockingUpstream) reset() {
	u.started, u.cancelled, u.withdraw = make(chan struct{}), make(chan struct{}), make(chan struct{})
}

// An IDE's cancellation reaches the upstream tool, whatever the eras.
func TestCancellationReachesUpstream(t *testing.T) {
	for _, upEra := range []string{"2025-11-25", "2026-07-28"} {
		u := newBlockingUpstream(t)
		r := newRig(t, cfgServers("blk", fmt.Sprintf(`{"url": %q, "protocolVersion": %q}`, u.URL, upEra)), rigOptions{})
		r.wait(t, map[string]status.State{"blk": status.Connected})
		for _, ide := range ides(r, "") {
			t.Run("upstream-"+upEra+"/"+ide.name, func(t *testing.T) {
				u.reset()
				cs := ide.connect(t, nil)
				ctx, cancel := context.WithCancel(context.Background())
				errc := make(chan error, 1)
				go func() {
					_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "blk__block", Arguments: map[string]any{}})
					errc <- err
				}()
				waitFor(t, u.started, "the upstream tool to start")
				cancel()
				waitFor(t, u.cancelled, "the upstream tool to be cancelled")
				if err := <-errc; err == nil {
					t.Error("the cancelled call succeeded")
				}
				// The session still works.
				if toolNames(t, cs)["blk__block"] == nil {
					t.Error("blk__block is gone after the cancellation")
				}
			})
		}
	}
}

// A request the IDE cancelled gets no response (LC-11: the receiver of a
// cancellation SHOULD NOT reply): over stdio nothing is written for it,
// and over HTTP its POST ends as an event stream without one.
func TestCancelledRequestIsNotAnswered(t *testing.T) {
	u := newBlockingUpstream(t)
	r := newRig(t, cfgServers("blk", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"blk": status.Connected})
	const call = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"blk__block","arguments":{}}}`
	const cancelled = `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"test"}}`

	t.Run("stdio", func(t *testing.T) {
		u.reset()
		ide, lines := stdioHalves(t, r)
		fmt.Fprintln(ide, call)
		waitFor(t, u.started, "the upstream tool to start")
		fmt.Fprintln(ide, cancelled)
		waitFor(t, u.cancelled, "the upstream tool to be cancelled")
		fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":8,"method":"ping"}`)
		nextLine(t, lines, `"id":8`)
		ide.Close()
		for _, l := range rest(t, lines) {
			if strings.Contains(l, `"id":7`) {
				t.Errorf("the cancelled request was answered: %s", l)
			}
		}
	})
	t.Run("http", func(t *testing.T) {
		u.reset()
		resp, _ := post(t, r.url+"/mcp", nil, initializeBody)
		session := map[string]string{"Mcp-Session-Id": resp.Header.Get("Mcp-Session-Id"), "Mcp-Protocol-Version": "2025-11-25"}
		post(t, r.url+"/mcp", session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		type answer struct {
			resp *http.Response
			body string
		}
		answered := make(chan answer, 1)
		go func() {
			resp, body := post(t, r.url+"/mcp", session, call)
			answered <- answer{resp, body}
		}()
		waitFor(t, u.started, "the upstream tool to start")
		if resp, _ := post(t, r.url+"/mcp", session, cancelled); resp.StatusCode != http.StatusAccepted {
			t.Errorf("notifications/cancelled: %s", resp.Status)
		}
		waitFor(t, u.cancelled, "the upstream tool to be cancelled")
		select {
		case a := <-answered:
			if ct := a.resp.Header.Get("Content-Type"); a.resp.StatusCode != http.StatusOK || ct != "text/event-stream" || strings.Contains(a.body, `"id":7`) {
				t.Errorf("the cancelled request's POST: %s %s %q", a.resp.Status, ct, a.body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the cancelled request's POST did not end")
		}
	})
}

// An upstream that withdraws its sampling request cancels it at the IDE.
func TestUpstreamCancellationReachesIDE(t *testing.T) {
	u := newBlockingUpstream(t)
	r := newRig(t, cfgServers("blk", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"blk": status.Connected})
	for _, ide := range ides(r, "blk") {
		if strings.HasSuffix(ide.name, "2026-07-28") {
			continue // such IDEs take no server requests (input_required instead)
		}
		t.Run(ide.name, func(t *testing.T) {
			u.reset()
			asked, gone := make(chan struct{}), make(chan struct{})
			cs := ide.connect(t, &mcp.ClientOptions{CreateMessageHandler: func(ctx context.Context, _ *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
				close(asked)
				<-ctx.Done()
				close(gone)
				return nil, ctx.Err()
			}})
			done := make(chan string, 1)
			go func() { done <- text(t, callTool(t, cs, "ask_then_withdraw", nil)) }()
			waitFor(t, asked, "the IDE to be asked")
			close(u.withdraw)
			waitFor(t, gone, "the withdrawn request to be cancelled at the IDE")
			if got := <-done; got != "withdrawn: true" {
				t.Errorf("tool said %q", got)
			}
		})
	}
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// An upstream that asks for roots as soon as it is connected (outside any
// IDE's call, with no params at all, as server-everything does) gets an
// empty list, and the hub lives on.
func TestRootsAskedOutsideACall(t *testing.T) {
	got := make(chan *mcp.ListRootsResult, 1)
	s := mcp.NewServer(&mcp.Implementation{Name: "rooty", Version: "1"}, &mcp.ServerOptions{
		InitializedHandler: func(ctx context.Context, req *mcp.InitializedRequest) {
			res, err := req.Session.ListRoots(ctx, nil)
			if err != nil {
				t.Errorf("roots/list: %v", err)
			}
			got <- res
		}})
	s.AddTool(&mcp.Tool{Name: "noop", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	r := newRig(t, cfgServers("rooty", legacy(srv.URL+"/mcp")), rigOptions{})
	r.wait(t, map[string]status.State{"rooty": status.Connected})
	select {
	case res := <-got:
		if res == nil || len(res.Roots) != 0 {
			t.Errorf("roots = %+v", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the upstream's roots/list was not answered")
	}
	callTool(t, r.connectHTTP(t, "/mcp", "", "2025-11-25", nil), "rooty__noop", nil)
}

// An IDE's notifications/roots/list_changed reaches the servers it sees
// (LC-23), and the roots/list that follows, outside any call, is answered
// with that IDE's roots while it is the one IDE attached that declared
// roots. With a second, whose folders differ, no IDE's apply.
func TestRootsChangesReachUpstream(t *testing.T) {
	got := make(chan []string, 4)
	s := mcp.NewServer(&mcp.Implementation{Name: "rooty", Version: "1"}, &mcp.ServerOptions{
		RootsListChangedHandler: func(ctx context.Context, req *mcp.RootsListChangedRequest) {
			res, err := req.Session.ListRoots(ctx, nil)
			if err != nil {
				t.Errorf("roots/list: %v", err)
				return
			}
			var uris []string
			for _, r := range res.Roots {
				uris = append(uris, r.URI)
			}
			got <- uris
		}})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	r := newRig(t, cfgServers("rooty", legacy(srv.URL+"/mcp")), rigOptions{})
	r.wait(t, map[string]status.State{"rooty": status.Connected})
	next := func(t *testing.T) []string {
		t.Helper()
		select {
		case uris := <-got:
			return uris
		case <-time.After(30 * time.Second):
			t.Fatal("the upstream was not told the roots changed")
			return nil
		}
	}
	for name, tr := range map[string]func(t *testing.T) mcp.Transport{
		"http":  func(*testing.T) mcp.Transport { return r.httpTransport("/mcp", "") },
		"stdio": func(t *testing.T) mcp.Transport { return r.streamTransport(t, "") },
	} {
		t.Run(name, func(t *testing.T) {
			ide := mcp.NewClient(&mcp.Implementation{Name: "ide", Version: "1"}, nil)
			ide.AddRoots(&mcp.Root{URI: "file:///work/a"})
			cs, err := ide.Connect(context.Background(), tr(t), &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
			if err != nil {
				t.Fatal(err)
			}
			ide.AddRoots(&mcp.Root{URI: "file:///work/b"})
			if uris := next(t); !slices.Equal(uris, []string{"file:///work/a", "file:///work/b"}) {
				t.Errorf("the upstream's roots with one IDE: %q", uris)
			}
			other := mcp.NewClient(&mcp.Implementation{Name: "other", Version: "1"}, nil)
			other.AddRoots(&mcp.Root{URI: "file:///elsewhere"})
			ocs, err := other.Connect(context.Background(), tr(t), &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
			if err != nil {
				t.Fatal(err)
			}
			ide.RemoveRoots("file:///work/a")
			if uris := next(t); len(uris) != 0 {
				t.Errorf("the upstream's roots with two IDEs: %q", uris)
			}
			ocs.Close()
			cs.Close()
		})
	}
}

// A client that answers one server request several times, or as its
// session closes, neither stalls the reader that delivers answers nor
// panics: the first answer is the request's, the rest find nothing.
func TestRepeatedAnswers(t *testing.T) {
	s := newSession(nil, view{}, caller{name: "ide"})
	got := make(chan json.RawMessage, 1)
	out := make(sentFrames, 1)
	go func() {
		res, _ := s.request(context.Background(), out, "sampling/createMessage", nil)
		got <- res
	}()
	var req struct{ ID json.RawMessage }
	if err := json.Unmarshal(<-out, &req); err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for i := range 3 {
		if s.answer(&message{ID: req.ID, Result: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}) {
			delivered++
		}
	}
	if res := <-got; delivered != 1 || string(res) != `{"n":0}` {
		t.Errorf("%d answers delivered, the request got %s", delivered, res)
	}
	s.close()
	if s.answer(&message{ID: req.ID, Result: json.RawMessage(`{}`)}) {
		t.Error("an answer was delivered after the session closed")
	}
}

// sentFrames is a sender that hands over what is sent to it.
type sentFrames chan []byte

func (f sentFrames) send(frame []byte) error        { f <- frame; return nil }
func (f sentFrames) offer(frame []byte, _ delivery) { f <- frame }

// A 2026-07-28 client that retries with its input and then leaves cancels
// the call upstream (TS-13), as leaving the first request does.
func TestLeavingARetryCancelsTheCall(t *testing.T) {
	answered, cancelled := make(chan struct{}), make(chan struct{})
	s := mcp.NewServer(&mcp.Implementation{Name: "asker", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "ask_then_block", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if _, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "sure?", RequestedSchema: json.RawMessage(`{"type":"object","properties":{}}`)}); err != nil {
				return nil, err
			}
			close(answered)
			<-ctx.Done()
			close(cancelled)
			return nil, ctx.Err()
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	r := newRig(t, cfgServers("asker", legacy(srv.URL+"/mcp")), rigOptions{})
	r.wait(t, map[string]status.State{"asker": status.Connected})

	modern := func(ctx context.Context, params string) (*http.Response, error) {
		return postModern(ctx, r.url+"/servers/asker/mcp", "tools/call", "ask_then_block", `{`+params+`"name":"ask_then_block","arguments":{},"_meta":{`+
			`"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}}`)
	}
	resp, err := modern(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var first struct {
		Result struct {
			ResultType    string                     `json:"resultType"`
			InputRequests map[string]json.RawMessage `json:"inputRequests"`
			RequestState  string                     `json:"requestState"`
		} `json:"result"`
	}
	err = json.NewDecoder(resp.Body).Decode(&first)
	resp.Body.Close()
	if err != nil || first.Result.ResultType != "input_required" || len(first.Result.InputRequests) != 1 {
		t.Fatalf("first answer: %v %+v", err, first)
	}
	var key string
	for k := range first.Result.InputRequests {
		key = k
	}
	ctx, leave := context.WithCancel(context.Background())
	retried := make(chan error, 1)
	go func() {
		state, _ := json.Marshal(first.Result.RequestState)
		resp, err := modern(ctx, `"requestState":`+string(state)+`,"inputResponses":{"`+key+`":{"action":"accept","content":{}}},`)
		if err == nil {
			resp.Body.Close()
		}
		retried <- err
	}()
	waitFor(t, answered, "the upstream to get its answer")
	leave()
	waitFor(t, cancelled, "the upstream call to be cancelled when the retry's client left")
	<-retried
}

// An upstream's transport error that quotes the server's URL reaches the
// IDE without the URL's query values (API keys) or its header values.
func TestUpstreamErrorsAreRedacted(t *testing.T) {
	r := newRig(t, cfgServers("keyed", `{"url": "http://127.0.0.1:9/mcp?api_key=supersecret123", "headers": {"X-Key": "headersecret456"}}`), rigOptions{})
	quoted := errors.New(`Post "http://127.0.0.1:9/mcp?api_key=supersecret123": connection refused (sent X-Key: headersecret456)`)
	for _, method := range []string{"tools/call", "prompts/get"} {
		res, rerr, _ := r.bridge.upstreamError(context.Background(), method, "keyed", quoted)
		said := string(res)
		if rerr != nil {
			said = rerr.Message
		}
		if strings.Contains(said, "supersecret123") || strings.Contains(said, "headersecret456") || !strings.Contains(said, "[redacted]") {
			t.Errorf("%s: %s", method, said)
		}
	}
}
