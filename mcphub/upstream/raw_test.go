package upstream

//lint:file-ignore SA1019 the raw path relays sampling for initialize-era servers, which use it

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/config"
)

// rawHandler records what a raw call receives and answers sampling.
type rawHandler struct {
	mu            sync.Mutex
	notifications []string
	asked         chan struct{} // closed when a request arrives
	withdrawn     chan struct{} // closed when that request's context ends
	answer        bool          // answer requests, or wait until withdrawn
}

func newRawHandler(answer bool) *rawHandler {
	return &rawHandler{asked: make(chan struct{}), withdrawn: make(chan struct{}), answer: answer}
}

func (h *rawHandler) Notification(method string, params json.RawMessage) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notifications = append(h.notifications, method+" "+string(params))
}

func (h *rawHandler) Request(ctx context.Context, method string, _ json.RawMessage) (json.RawMessage, error) {
	close(h.asked)
	if method != "sampling/createMessage" {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: method}
	}
	if h.answer {
		return json.RawMessage(`{"role":"assistant","model":"m","content":{"type":"text","text":"forty-two"}}`), nil
	}
	<-ctx.Done()
	close(h.withdrawn)
	return nil, ctx.Err()
}

// rawServer is a go-sdk Streamable HTTP server whose tools exercise a
// call's stream; ids records the JSON-RPC ids of the tools/call requests
// that reached it.
type rawServer struct {
	*httptest.Server
	mu        sync.Mutex
	ids       []string
	started   chan struct{} // the block tool runs
	cancelled chan struct{} // the block tool saw its context end
	withdraw  chan struct{}
	conns     atomic.Int32  // connections accepted
	holdEnds  chan struct{} // if set, a call's stream ends once this gives
}

// newRawServer: intercept, if given, sees each request first and may
// answer it itself (true).
func newRawServer(t *testing.T, intercept ...func(http.ResponseWriter, *http.Request) bool) *rawServer {
	rs := &rawServer{started: make(chan struct{}), cancelled: make(chan struct{}), withdraw: make(chan struct{})}
	s := mcp.NewServer(&mcp.Implementation{Name: "raw-test", Version: "1"}, nil)
	obj := json.RawMessage(`{"type":"object"}`)
	s.AddTool(&mcp.Tool{Name: "work", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if tok := req.Params.GetProgressToken(); tok != nil {
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Total: 2})
		}
		msg, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 5,
			Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "the answer?"}}}})
		if err != nil {
			return nil, err
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "sampled " + msg.Content.(*mcp.TextContent).Text}}}, nil
	})
	s.AddTool(&mcp.Tool{Name: "ok", InputSchema: obj}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
	})
	s.AddTool(&mcp.Tool{Name: "block", InputSchema: obj}, func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		close(rs.started)
		<-ctx.Done()
		close(rs.cancelled)
		return nil, ctx.Err()
	})
	s.AddTool(&mcp.Tool{Name: "ask_then_withdraw", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		askCtx, cancel := context.WithCancel(ctx)
		go func() { <-rs.withdraw; cancel() }()
		_, err := req.Session.CreateMessage(askCtx, &mcp.CreateMessageParams{MaxTokens: 5,
			Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "never mind"}}}})
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("withdrawn: %v", err != nil)}}}, nil
	})
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	rs.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(intercept) > 0 && intercept[0](w, r) {
			return
		}
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			var m struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
			}
			if json.Unmarshal(body, &m) == nil && m.Method == "tools/call" {
				rs.mu.Lock()
				rs.ids = append(rs.ids, string(m.ID))
				rs.mu.Unlock()
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if m.Method == "tools/call" && rs.holdEnds != nil {
				handler.ServeHTTP(w, r)
				<-rs.holdEnds // net/http ends the stream once this returns
				return
			}
		}
		handler.ServeHTTP(w, r)
	}))
	rs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			rs.conns.Add(1)
		}
	}
	rs.Start()
	t.Cleanup(func() { rs.CloseClientConnections(); rs.Close() })
	return rs
}

func (rs *rawServer) callIDs() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]string(nil), rs.ids...)
}

func connectRaw(t *testing.T, url, version string) *Conn {
	events, opts := collect(nil)
	c := Start(config.Server{ID: "raw", Transport: config.TransportHTTP, URL: url, Timeout: 10 * time.Second, ProtocolVersion: version}, opts)
	t.Cleanup(c.Stop)
	waitConnected(t, c, events)
	return c
}

// A legacy Streamable HTTP session carries calls as bytes: the progress
// notification reaches the handler, the server's sampling request is
// answered, and the result comes back as sent.
func TestCallRawCarriesTheCallsStream(t *testing.T) {
	rs := newRawServer(t)
	c := connectRaw(t, rs.URL, "2025-11-25")
	h := newRawHandler(true)
	res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"work","arguments":{},"_meta":{"progressToken":"p1"}}`), h)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res), `sampled forty-two`) {
		t.Errorf("result %s", res)
	}
	h.mu.Lock()
	got := strings.Join(h.notifications, "\n")
	h.mu.Unlock()
	if !strings.Contains(got, `notifications/progress`) || !strings.Contains(got, `"p1"`) {
		t.Errorf("notifications %q, want the progress of p1", got)
	}
	if ids := rs.callIDs(); len(ids) != 1 || !strings.HasPrefix(ids[0], `"mcptray-r`) {
		t.Errorf("tools/call ids at the server %v, want one raw-path id", ids)
	}
}

// Calls to a go-sdk server reuse connections. Its answer stream ends a
// packet after the answer (net/http writes the end after the handler
// returns; here, after the caller has its answer); the raw path, done at
// the answer, once dropped the connection for that and opened a new one
// for each call.
func TestCallRawReusesConnections(t *testing.T) {
	rs := newRawServer(t)
	rs.holdEnds = make(chan struct{})
	c := connectRaw(t, rs.URL, "2025-11-25")
	before := rs.conns.Load()
	const calls = 30
	for range calls {
		res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"ok","arguments":{}}`), newRawHandler(true))
		if err != nil || !strings.Contains(string(res), `"ok"`) {
			t.Fatalf("call: %s %v", res, err)
		}
		rs.holdEnds <- struct{}{}
	}
	// A call may start while the one before still reads its stream's end:
	// then two connections take turns.
	if n := rs.conns.Load() - before; n > 3 {
		t.Fatalf("%d calls opened %d connections, want at most 3", calls, n)
	}
}

// The configured headers (here the credentials) go with the raw path's
// requests too.
func TestCallRawSendsConfiguredHeaders(t *testing.T) {
	srv := protected(t, "good-token")
	events, opts := collect(nil)
	c := Start(config.Server{ID: "p", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 10 * time.Second,
		ProtocolVersion: "2025-11-25", Headers: map[string]string{"Authorization": "Bearer good-token"}}, opts)
	t.Cleanup(c.Stop)
	waitConnected(t, c, events)
	for range 3 {
		res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"odd","arguments":{}}`), newRawHandler(true))
		if err != nil || !strings.Contains(string(res), `"content"`) {
			t.Fatalf("call with the configured credentials: %s %v", res, err)
		}
	}
}

// A tool error is a result; a JSON-RPC error comes back as *jsonrpc.Error.
func TestCallRawErrors(t *testing.T) {
	rs := newRawServer(t)
	c := connectRaw(t, rs.URL, "2025-06-18")
	_, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"nope","arguments":{}}`), newRawHandler(true))
	var werr *jsonrpc.Error
	if !errors.As(err, &werr) {
		t.Fatalf("err %v (%T), want a JSON-RPC error", err, err)
	}
	if !strings.Contains(werr.Message, "nope") {
		t.Errorf("message %q does not name the tool", werr.Message)
	}
}

// Cancelling the call's context tells the server, whose tool sees its
// context end.
func TestCallRawCancel(t *testing.T) {
	rs := newRawServer(t)
	c := connectRaw(t, rs.URL, "2025-11-25")
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := c.CallRaw(ctx, "tools/call", json.RawMessage(`{"name":"block","arguments":{}}`), newRawHandler(true))
		errc <- err
	}()
	select {
	case <-rs.started:
	case err := <-errc:
		t.Fatalf("the call ended early: %v", err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	select {
	case <-rs.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the server's tool was never cancelled")
	}
}

// The server withdraws its sampling request: the handler's context ends,
// and the call still gets its answer.
func TestCallRawServerWithdrawsRequest(t *testing.T) {
	rs := newRawServer(t)
	c := connectRaw(t, rs.URL, "2025-11-25")
	h := newRawHandler(false)
	resc := make(chan json.RawMessage, 1)
	errc := make(chan error, 1)
	go func() {
		res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"ask_then_withdraw","arguments":{}}`), h)
		resc <- res
		errc <- err
	}()
	<-h.asked
	close(rs.withdraw)
	select {
	case <-h.withdrawn:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler was never told the request was withdrawn")
	}
	res, err := <-resc, <-errc
	if err != nil || !strings.Contains(string(res), "withdrawn: true") {
		t.Errorf("result %s, err %v", res, err)
	}
}

// Legacy SSE sessions have no raw path, and a 2026-07-28 session's is
// only for a handler that tells its client's capabilities (ModernHandler).
func TestCallRawDoesNotApply(t *testing.T) {
	stateless := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return schemaServer() },
		&mcp.StreamableHTTPOptions{Stateless: true}))
	t.Cleanup(stateless.Close)
	sse := httptest.NewServer(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return schemaServer() }, nil))
	t.Cleanup(sse.Close)
	for name, srv := range map[string]config.Server{
		"2026-07-28": {ID: "m", Transport: config.TransportHTTP, URL: stateless.URL, Timeout: 10 * time.Second},
		"sse":        {ID: "s", Transport: config.TransportSSE, URL: sse.URL, Timeout: 10 * time.Second},
	} {
		events, opts := collect(nil)
		c := Start(srv, opts)
		waitConnected(t, c, events)
		if name == "2026-07-28" && c.Status().ProtocolVersion != name {
			t.Fatalf("protocol %s, want %s", c.Status().ProtocolVersion, name)
		}
		_, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"odd","arguments":{}}`), newRawHandler(true))
		c.Stop()
		if !errors.Is(err, ErrNoRawPath) {
			t.Errorf("%s: err %v, want ErrNoRawPath", name, err)
		}
	}
}

// modernHandler is a rawHandler for a 2026-07-28 client whose declared
// capabilities are caps.
type modernHandler struct {
	*rawHandler
	caps, level string
}

func (h modernHandler) ClientCapabilities() json.RawMessage { return json.RawMessage(h.caps) }
func (h modernHandler) LogLevel() string                    { return h.level }

// A 2026-07-28 server takes the raw path's tools/call whatever the params'
// own _meta (none, empty, with members, spaced out): go-sdk's stateless
// server answers only a request with what that era requires (TC-10,
// TS-17), and the params it got keep the caller's members. A tool name
// that a header cannot carry as it is, and a handler that cannot tell
// its client's capabilities, are left to the session path.
func TestCallRawToAModernServer(t *testing.T) {
	var mu sync.Mutex
	var got map[string]json.RawMessage
	s := mcp.NewServer(&mcp.Implementation{Name: "modern", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "look", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			mu.Lock()
			defer mu.Unlock()
			data, _ := json.Marshal(req.Params.Meta)
			got = nil
			_ = json.Unmarshal(data, &got)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "looked at " + string(req.Params.Arguments)}}}, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true}))
	t.Cleanup(srv.Close)
	c := startModern(t, srv.URL)
	h := modernHandler{newRawHandler(true), `{"elicitation":{}}`, "info"}
	for _, params := range []string{
		`{"name":"look","arguments":{"x":1}}`,
		`{"name":"look","arguments":{"x":1},"_meta":{}}`,
		`{"name":"look","arguments":{"x":1},"_meta":{"progressToken":"p7"}}`,
		` { "_meta" : { "progressToken" : "p7" } , "name" : "look" , "arguments" : {"x":1} } `,
	} {
		res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(params), h)
		if err != nil || !strings.Contains(string(res), `looked at {\"x\":1}`) {
			t.Errorf("%s: %s, %v", params, res, err)
			continue
		}
		mu.Lock()
		if string(got["io.modelcontextprotocol/protocolVersion"]) != `"2026-07-28"` || string(got["io.modelcontextprotocol/clientCapabilities"]) != h.caps ||
			!strings.Contains(string(got["io.modelcontextprotocol/clientInfo"]), `"name"`) || string(got["io.modelcontextprotocol/logLevel"]) != `"info"` ||
			strings.Contains(params, "p7") != (string(got["progressToken"]) == `"p7"`) {
			t.Errorf("%s: the server got _meta %v", params, got)
		}
		mu.Unlock()
	}
	for what, call := range map[string]func() error{
		"a name a header cannot carry": func() error {
			_, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"l\u00f6ok","arguments":{}}`), h)
			return err
		},
		"a _meta that is no object": func() error {
			_, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"look","_meta":null}`), h)
			return err
		},
		"a _meta twice": func() error {
			_, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"look","_meta":{},"_meta":{}}`), h)
			return err
		},
		"a handler that is no ModernHandler": func() error {
			_, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"look","arguments":{}}`), newRawHandler(true))
			return err
		},
	} {
		if err := call(); !errors.Is(err, ErrNoRawPath) {
			t.Errorf("%s: err %v, want ErrNoRawPath", what, err)
		}
	}
}

// startModern connects to a 2026-07-28 server at url.
func startModern(t *testing.T, url string) *Conn {
	t.Helper()
	events, opts := collect(nil)
	c := Start(config.Server{ID: "m", Transport: config.TransportHTTP, URL: url, Timeout: 10 * time.Second}, opts)
	t.Cleanup(c.Stop)
	waitConnected(t, c, events)
	if v := c.Status().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("protocol %s", v)
	}
	return c
}

// resumingServer answers a call's POST with post (given the call's ID),
// and a GET that resumes it with resumed, a format for that ID. It
// records the GETs and the Last-Event-ID of the last.
type resumingServer struct {
	url         string
	gets        atomic.Int32
	lastEventID atomic.Value
}

func startResumingServer(t *testing.T, post func(w http.ResponseWriter, id string), resumed string) *resumingServer {
	rs := &resumingServer{}
	var callID atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		switch r.Method {
		case http.MethodPost:
			var m struct {
				ID json.RawMessage `json:"id"`
			}
			_ = json.NewDecoder(r.Body).Decode(&m)
			callID.Store(string(m.ID))
			post(w, string(m.ID))
		case http.MethodGet:
			rs.gets.Add(1)
			rs.lastEventID.Store(r.Header.Get("Last-Event-ID"))
			fmt.Fprintf(w, resumed, callID.Load())
		}
	}))
	t.Cleanup(srv.Close)
	rs.url = srv.URL
	return rs
}

// A server that ends the call's stream before answering and sends the
// answer on a resumed stream (SSE polling, 2025-11-25).
func TestCallRawResumesStream(t *testing.T) {
	srv := startResumingServer(t, func(w http.ResponseWriter, _ string) {
		fmt.Fprintf(w, "id: e1\nretry: 1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\n")
		fmt.Fprintf(w, "data: \"params\":{\"progressToken\":1,\"progress\":1}}\n\n")
	}, ": resumed\r\nid: e2\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":[]}}\r\n\r\n")

	c := &Conn{raw: newRawPath(srv.url, &probe{base: http.DefaultTransport}, "", "2025-11-25")}
	h := newRawHandler(true)
	res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"x"}`), h)
	if err != nil {
		t.Fatal(err)
	}
	if string(res) != `{"content":[]}` {
		t.Errorf("result %s", res)
	}
	if srv.gets.Load() != 1 || srv.lastEventID.Load() != "e1" {
		t.Errorf("%d resumptions, Last-Event-ID %v; want 1 from e1", srv.gets.Load(), srv.lastEventID.Load())
	}
	if len(h.notifications) != 1 || !strings.Contains(h.notifications[0], `"progress":1`) {
		t.Errorf("notifications %q, want the multi-line progress event", h.notifications)
	}
}

// A call's stream cut mid-call after an event with an ID (a proxy's idle
// timeout, a network blip) is resumed from that event (TC-05): the answer
// arrives and the session, which every IDE shares, is not given up.
func TestCallRawResumesACutStream(t *testing.T) {
	srv := startResumingServer(t, func(w http.ResponseWriter, _ string) {
		fmt.Fprintf(w, "id: e1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}\n\n")
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack() // cut: no end of the chunked body
		if err == nil {
			conn.Close()
		}
	}, "id: e2\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":[]}}\n\n")

	c := &Conn{raw: newRawPath(srv.url, &probe{base: http.DefaultTransport}, "", "2025-11-25"), lost: make(chan lostSession, 1)}
	res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"x"}`), newRawHandler(true))
	if err != nil || string(res) != `{"content":[]}` {
		t.Fatalf("result %s, err %v", res, err)
	}
	if got := srv.lastEventID.Load(); got != "e1" {
		t.Errorf("resumed from %v, want e1", got)
	}
	select {
	case l := <-c.lost:
		t.Errorf("the session was given up: %v", l.err)
	default:
	}
}

func TestEventReader(t *testing.T) {
	long := strings.Repeat("x", 40<<10)
	in := "retry: 250\n: comment\nid: 7\ndata: a\ndata:b\n\n" + "data: " + long + "\r\n\r\n" + "id: 8\ndata: {\"tail\":1}\n"
	ev := &eventReader{r: bufio.NewReaderSize(strings.NewReader(in), 16<<10)}
	var got []string
	for {
		data, err := ev.next()
		if err != nil {
			break
		}
		got = append(got, string(data))
	}
	// The last event's line is whole JSON, its blank line missing:
	// dispatched, with its id.
	want := []string{"a\nb", long, `{"tail":1}`}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %.40q, want %.40q", i, got[i], want[i])
		}
	}
	if ev.lastID != "8" || ev.retry != 250*time.Millisecond {
		t.Errorf("lastID %q retry %v", ev.lastID, ev.retry)
	}

	// A stream cut mid-event dispatches nothing of that event, mid-line or
	// between its data lines, and its id is not the one to resume from.
	for _, cut := range []string{`data: {"jsonrpc"`, "data: {\"jsonrpc\":\"2.0\",\n", "data: {\"jsonrpc\":\"2.0\",\"id\":1}\nid: 9"} {
		ev := &eventReader{r: bufio.NewReader(strings.NewReader("id: 1\ndata: {}\n\nid: 2\n" + cut))}
		if data, err := ev.next(); err != nil || string(data) != "{}" {
			t.Fatalf("%q: first event %q, %v", cut, data, err)
		}
		if data, err := ev.next(); err != io.EOF || ev.lastID != "1" {
			t.Errorf("%q: the cut event gave %q, %v, last ID %q; want EOF and 1", cut, data, err, ev.lastID)
		}
	}
	// A priming event (an id, no data) the stream ends with gives its id.
	ev = &eventReader{r: bufio.NewReader(strings.NewReader("id: p1\ndata: \n"))}
	if _, err := ev.next(); err != io.EOF || ev.lastID != "p1" {
		t.Errorf("priming event at the end: %v, last ID %q, want p1", err, ev.lastID)
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReaderSize(bytes.NewReader(b), 16) }

// A 2026-07-28 response that breaks off before its answer lost the
// request: it goes again, as a new request with a new id (TC-12), at most
// twice more. Each way a response can break: the event stream ends, the
// connection is cut mid-stream, a JSON body is cut short.
func TestModernRequestLostWithItsResponseGoesAgain(t *testing.T) {
	ways := map[string]func(w http.ResponseWriter){
		"the stream ends": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"x\"}}\n\n")
		},
		"the connection is cut": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, "data: {\"jsonrpc\":")
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		},
		"a JSON body is cut short": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "200")
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, `{"jsonrpc":"2.0",`)
		},
	}
	for way, breakOff := range ways {
		for _, breaks := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s, %d times", way, breaks), func(t *testing.T) {
				var runs atomic.Int32
				s := mcp.NewServer(&mcp.Implementation{Name: "modern", Version: "1"}, nil)
				s.AddTool(&mcp.Tool{Name: "look", InputSchema: json.RawMessage(`{"type":"object"}`)},
					func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
						runs.Add(1)
						return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "looked"}}}, nil
					})
				sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true})
				var mu sync.Mutex
				var ids []string
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Mcp-Method") == "tools/call" {
						body, _ := io.ReadAll(r.Body)
						var req struct{ ID json.RawMessage }
						_ = json.Unmarshal(body, &req)
						mu.Lock()
						ids = append(ids, string(req.ID))
						n := len(ids)
						mu.Unlock()
						if n <= breaks {
							breakOff(w)
							return
						}
						r.Body = io.NopCloser(bytes.NewReader(body))
					}
					sdk.ServeHTTP(w, r)
				}))
				t.Cleanup(srv.Close)
				c := startModern(t, srv.URL)
				res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"look","arguments":{}}`), modernHandler{newRawHandler(true), `{}`, ""})
				mu.Lock()
				defer mu.Unlock()
				if want := min(breaks+1, 1+maxResends); len(ids) != want {
					t.Fatalf("the request was sent %d times (%v), want %d", len(ids), ids, want)
				}
				for i := range ids {
					for j := range i {
						if ids[i] == ids[j] {
							t.Errorf("sent again with the same id: %v", ids)
						}
					}
				}
				if breaks > maxResends {
					var lost *lostRequest
					if !errors.As(err, &lost) || runs.Load() != 0 {
						t.Errorf("every response broke off: err %v, tool ran %d times", err, runs.Load())
					}
					return
				}
				if err != nil || !strings.Contains(string(res), "looked") || runs.Load() != 1 {
					t.Errorf("answer %s, %v; the tool ran %d times, want 1", res, err, runs.Load())
				}
			})
		}
	}
}

// A stream cut in the middle of an event resumes from the event before
// it: an id takes effect only with its event whole (the SSE standard),
// and the cut event here is the answer.
func TestResumeFromTheLastWholeEvent(t *testing.T) {
	var callID atomic.Value
	var mu sync.Mutex
	var resumedFrom []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		switch r.Method {
		case http.MethodPost:
			var m struct{ ID json.RawMessage }
			_ = json.NewDecoder(r.Body).Decode(&m)
			callID.Store(string(m.ID))
			w.WriteHeader(http.StatusOK)
			fmt.Fprint(w, "id: e1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":1}}\n\n")
			fmt.Fprintf(w, "id: e2\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"res", callID.Load())
			w.(http.Flusher).Flush()
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		case http.MethodGet:
			last := r.Header.Get("Last-Event-ID")
			mu.Lock()
			resumedFrom = append(resumedFrom, last)
			mu.Unlock()
			w.WriteHeader(http.StatusOK)
			if last == "e1" {
				fmt.Fprintf(w, "id: e2\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":[]}}\n\n", callID.Load())
			}
		}
	}))
	t.Cleanup(srv.Close)
	c := &Conn{log: slog.New(slog.DiscardHandler), raw: newRawPath(srv.URL, &probe{base: http.DefaultTransport}, "", "2025-11-25"), lost: make(chan lostSession, 1)}
	res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"x"}`), newRawHandler(true))
	mu.Lock()
	defer mu.Unlock()
	if err != nil || string(res) != `{"content":[]}` {
		t.Fatalf("answer %s, %v; resumed from %q, want e1 (e2 was cut)", res, err, resumedFrom)
	}
}

// An answer that arrived whole is the answer, though the response was cut
// after it (before the end of its chunked framing, or of its event's
// line): the request is not sent again, nor the tool run again.
func TestWholeAnswersBeforeACutAreTaken(t *testing.T) {
	for what, answer := range map[string]func(w http.ResponseWriter, id json.RawMessage){
		"JSON, then the connection is cut": func(w http.ResponseWriter, id json.RawMessage) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"content":[]}}`, id)
			w.(http.Flusher).Flush()
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		},
		"an event whose line does not end": func(w http.ResponseWriter, id json.RawMessage) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			fmt.Fprintf(w, `data: {"jsonrpc":"2.0","id":%s,"result":{"content":[]}}`, id)
		},
	} {
		t.Run(what, func(t *testing.T) {
			var runs atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var m struct{ ID json.RawMessage }
				_ = json.NewDecoder(r.Body).Decode(&m)
				runs.Add(1)
				answer(w, m.ID)
			}))
			t.Cleanup(srv.Close)
			c := &Conn{log: slog.New(slog.DiscardHandler), raw: newRawPath(srv.URL, &probe{base: http.DefaultTransport}, "", "2026-07-28")}
			c.raw.meta = appendMember(nil, mcp.MetaKeyProtocolVersion, []byte(`"2026-07-28"`))
			res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"x","arguments":{}}`), modernHandler{newRawHandler(true), `{}`, ""})
			if err != nil || string(res) != `{"content":[]}` || runs.Load() != 1 {
				t.Errorf("answer %s, %v; the request was sent %d times, want once", res, err, runs.Load())
			}
		})
	}
}
