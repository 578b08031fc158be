package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/mcptray/mcptray/internal/testlog"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
)

// failing makes a go-sdk server answer method with err while set.
func failing(s *mcp.Server, method string, err *jsonrpc.Error, on *atomic.Bool, answered chan<- struct{}) {
	s.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, m string, req mcp.Request) (mcp.Result, error) {
			if m != method || !on.Load() {
				return next(ctx, m, req)
			}
			if answered != nil {
				defer func() { answered <- struct{}{} }()
			}
			return nil, err
		}
	})
}

func resourceServer() *mcp.Server {
	s := schemaServer()
	s.AddResource(&mcp.Resource{Name: "r", URI: "file:///r"}, func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{}, nil
	})
	return s
}

// A server that declares resources but answers resources/templates/list
// with "method not found" (Python's low-level servers) connects, with no
// templates; any other error of a list still fails the connect.
func TestListMethodNotFoundIsEmpty(t *testing.T) {
	for _, tc := range []struct {
		code int64
		ok   bool
	}{{jsonrpc.CodeMethodNotFound, true}, {jsonrpc.CodeInternalError, false}} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			s := resourceServer()
			var on atomic.Bool
			on.Store(true)
			failing(s, "resources/templates/list", &jsonrpc.Error{Code: tc.code, Message: "no"}, &on, nil)
			srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
			defer srv.Close()
			sess, err := Dial(t.Context(), config.Server{ID: "py", Transport: config.TransportHTTP, URL: srv.URL,
				Timeout: 10 * time.Second, ProtocolVersion: "2025-11-25"}, Options{})
			if !tc.ok {
				if err == nil {
					sess.Close()
					t.Fatal("connected although resources/templates/list failed")
				}
				if !strings.Contains(err.Error(), "resources/templates/list") {
					t.Errorf("err %v does not name the list", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer sess.Close()
			if c := sess.Catalog; len(c.Tools) != 1 || len(c.Resources) != 1 || len(c.ResourceTemplates) != 0 {
				t.Errorf("catalog: %d tools, %d resources, %d templates; want 1, 1, 0", len(c.Tools), len(c.Resources), len(c.ResourceTemplates))
			}
		})
	}
}

// A list that fails on a list_changed refresh leaves the session up with
// the previous list, and is fetched again at the next change.
func TestFailedRefreshKeepsSession(t *testing.T) {
	s := schemaServer()
	var on atomic.Bool
	answered := make(chan struct{}, 10)
	failing(s, "tools/list", &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "database down"}, &on, answered)
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	defer srv.Close()
	events := make(chan status.Status, 100)
	catalogs := make(chan *Catalog, 10)
	var logs testlog.Buffer
	c := Start(config.Server{ID: "flaky", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 10 * time.Second, ProtocolVersion: "2025-11-25"},
		Options{Backoff: fastBackoff, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			OnStatus: func(s status.Status) { events <- s }, OnCatalog: func(_ string, cat *Catalog) { catalogs <- cat }})
	defer c.Stop()
	waitConnected(t, c, events)
	<-catalogs
	first := c.Session()

	addTool := func(name string) {
		s.AddTool(&mcp.Tool{Name: name, InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{}, nil
			})
	}
	on.Store(true)
	addTool("second")
	select {
	case <-answered: // the refresh's tools/list failed
	case <-time.After(10 * time.Second):
		t.Fatal("no refresh after list_changed")
	}
	on.Store(false)
	addTool("third")
	select {
	case cat := <-catalogs:
		if len(cat.Tools) != 3 {
			t.Errorf("after the next change: %d tools, want 3", len(cat.Tools))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the catalog was not refreshed at the next change")
	}
	if c.Session() != first {
		t.Error("the session was replaced")
	}
	for len(events) > 0 {
		if st := <-events; st.State != status.Connected {
			t.Errorf("status %s (%s) after a failed refresh", st.State, st.Reason)
		}
	}
	if l := logs.String(); !strings.Contains(l, "keeping the previous list") || !strings.Contains(l, "tools/list") || !strings.Contains(l, "server=flaky") {
		t.Errorf("log:\n%s", l)
	}
}

// endedOnlyByReconnect asks for a reconnect and fails the test if the
// status shows an error before the new session: a session ended as lost
// (sessionLost is reported before the failed call returns) would.
func endedOnlyByReconnect(t *testing.T, c *Conn, events chan status.Status) {
	t.Helper()
	c.Reconnect()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case st := <-events:
			switch st.State {
			case status.Error:
				t.Fatalf("status error: %s", st.Reason)
			case status.Connected:
				return
			}
		case <-timeout:
			t.Fatalf("not connected again: %+v", c.Status())
		}
	}
}

// A raw call whose connection the server drops fails alone: the session
// stays, and the next call goes through.
func TestRawDroppedConnectionFailsOneCall(t *testing.T) {
	var drop atomic.Bool
	rs := newRawServer(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !drop.Load() {
			return false
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if !strings.Contains(string(body), `"tools/call"`) || !drop.CompareAndSwap(true, false) {
			return false
		}
		// What a keep-alive timeout firing as the call arrives looks like.
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return true
	})
	events, opts := collect(nil)
	c := Start(config.Server{ID: "drops", Transport: config.TransportHTTP, URL: rs.URL, Timeout: 10 * time.Second, ProtocolVersion: "2025-11-25"}, opts)
	defer c.Stop()
	waitConnected(t, c, events)
	first := c.Session()
	drop.Store(true)
	_, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"ok","arguments":{}}`), newRawHandler(true))
	if err == nil || errors.Is(err, ErrNoRawPath) || !strings.Contains(err.Error(), "drops") {
		t.Errorf("err %v, want the call's failure naming the server", err)
	}
	res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"ok","arguments":{}}`), newRawHandler(true))
	if err != nil || !strings.Contains(string(res), `"ok"`) {
		t.Fatalf("the next call: %s %v", res, err)
	}
	if c.Session() != first {
		t.Error("the session was replaced")
	}
	endedOnlyByReconnect(t, c, events)
}

// lockedKeyring is an OAuth handler whose token store fails once locked.
type lockedKeyring struct{ locked atomic.Bool }

func (k *lockedKeyring) TokenSource(context.Context) (oauth2.TokenSource, error) {
	if k.locked.Load() {
		return nil, errors.New("the keyring is locked")
	}
	return nil, nil
}

func (k *lockedKeyring) Authorize(context.Context, *http.Request, *http.Response) error {
	return errors.New("no sign-in here")
}

// A raw call that cannot be signed fails alone, saying why.
func TestRawSigningFailureFailsOneCall(t *testing.T) {
	rs := newRawServer(t)
	events, opts := collect(nil)
	kr := &lockedKeyring{}
	opts.Auth = kr
	c := Start(config.Server{ID: "signed", Transport: config.TransportHTTP, URL: rs.URL, Timeout: 10 * time.Second, ProtocolVersion: "2025-11-25"}, opts)
	defer c.Stop()
	waitConnected(t, c, events)
	first := c.Session()
	kr.locked.Store(true)
	_, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"ok","arguments":{}}`), newRawHandler(true))
	if err == nil || !strings.Contains(err.Error(), "keyring is locked") || !strings.Contains(err.Error(), "signed") {
		t.Errorf("err %v, want the signing failure naming the server", err)
	}
	kr.locked.Store(false)
	if res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"ok","arguments":{}}`), newRawHandler(true)); err != nil {
		t.Fatalf("the next call: %s %v", res, err)
	}
	if c.Session() != first {
		t.Error("the session was replaced")
	}
	endedOnlyByReconnect(t, c, events)
}

// A server that is gone (its port refuses connections) ends the session
// at the raw call that finds it so.
func TestRawRefusedEndsSession(t *testing.T) {
	rs := newRawServer(t)
	events, opts := collect(nil)
	opts.KeepAlive = time.Hour // the raw call, not a ping, must notice
	c := Start(config.Server{ID: "gone", Transport: config.TransportHTTP, URL: rs.URL, Timeout: 10 * time.Second, ProtocolVersion: "2025-11-25"}, opts)
	defer c.Stop()
	waitConnected(t, c, events)
	rs.CloseClientConnections()
	rs.Close()
	if _, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"ok","arguments":{}}`), newRawHandler(true)); err == nil {
		t.Fatal("a call to a closed server succeeded")
	}
	if st := waitFor(t, events, status.Error); !strings.Contains(st.Reason, "session ended") {
		t.Errorf("reason %q", st.Reason)
	}
}

// A server that forgot the session (a restart) answers the raw path 404:
// the hub initializes again at once, without an error or a backoff.
func TestRaw404Reinitializes(t *testing.T) {
	var forget atomic.Value // the session ID the server forgot
	rs := newRawServer(t, func(w http.ResponseWriter, r *http.Request) bool {
		if id := r.Header.Get("Mcp-Session-Id"); id == "" || id != forget.Load() {
			return false
		}
		http.Error(w, "session not found", http.StatusNotFound)
		return true
	})
	events, opts := collect(nil)
	opts.Backoff = Backoff{Min: time.Hour, Max: time.Hour} // a backoff wait would fail the test
	c := Start(config.Server{ID: "restarted", Transport: config.TransportHTTP, URL: rs.URL, Timeout: 10 * time.Second, ProtocolVersion: "2025-11-25"}, opts)
	defer c.Stop()
	waitConnected(t, c, events)
	first := c.Session().ID()
	forget.Store(first)
	if _, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"ok","arguments":{}}`), newRawHandler(true)); !errors.Is(err, ErrNoRawPath) {
		t.Fatalf("err %v, want ErrNoRawPath", err)
	}
	timeout := time.After(20 * time.Second)
	for {
		select {
		case st := <-events:
			if st.State == status.Error {
				t.Fatalf("status error (%s), want a new session at once", st.Reason)
			}
			if st.State == status.Connected {
				if id := c.Session().ID(); id == first {
					t.Fatalf("connected again with the forgotten session %s", id)
				}
				return
			}
		case <-timeout:
			t.Fatalf("no new session: %+v", c.Status())
		}
	}
}

// A long call on a server that ends the call's stream every so often
// (SSE polling) goes on for as long as each stream brings events; one
// that brings none is given up after three tries.
func TestCallRawResumesWhileEventsCome(t *testing.T) {
	for _, tc := range []struct {
		name     string
		streams  int  // streams before the answer's
		progress bool // each stream brings an event
		ok       bool
	}{
		{"progress", 6, true, true},
		{"no progress", 6, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var callID atomic.Value
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				i := int(n.Add(1))
				if r.Method == http.MethodPost {
					var m struct {
						ID json.RawMessage `json:"id"`
					}
					_ = json.NewDecoder(r.Body).Decode(&m)
					callID.Store(string(m.ID))
				}
				if i <= tc.streams {
					if i == 1 || tc.progress {
						fmt.Fprintf(w, "id: e%d\nretry: 1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":%d}}\n\n", i, i)
					}
					return // the stream ends without the answer
				}
				fmt.Fprintf(w, "id: e%d\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":[]}}\n\n", i, callID.Load())
			}))
			t.Cleanup(srv.Close)
			c := &Conn{raw: newRawPath(srv.URL, &probe{base: http.DefaultTransport}, "", "2025-11-25")}
			res, err := c.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"x"}`), newRawHandler(true))
			if tc.ok && (err != nil || string(res) != `{"content":[]}`) {
				t.Fatalf("result %s, err %v", res, err)
			}
			if !tc.ok {
				if err == nil {
					t.Fatalf("answered %s after streams without events", res)
				}
				if got := n.Load(); got != 4 {
					t.Errorf("%d streams, want the call's and 3 resumptions", got)
				}
			}
		})
	}
}

// A session being closed (an HTTP DELETE, which can take seconds) is no
// longer shown as connected: the status changes first.
func TestStatusChangesBeforeTeardown(t *testing.T) {
	var conn atomic.Pointer[Conn]
	during := make(chan status.State, 1) // the status while the DELETE is at the server
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return schemaServer() }, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			if c := conn.Load(); c != nil {
				select {
				case during <- c.Status().State:
				default:
				}
			}
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	events, opts := collect(nil)
	c := newConn(config.Server{ID: "td", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 10 * time.Second, ProtocolVersion: "2025-11-25"}, opts)
	conn.Store(c)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(ctx)
	defer c.Stop()
	waitConnected(t, c, events)
	c.Reconnect()
	select {
	case st := <-during:
		if st == status.Connected {
			t.Errorf("status %s while the session is being closed", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the session was never closed")
	}
	waitConnected(t, c, events)
}
