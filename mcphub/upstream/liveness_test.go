package upstream

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
)

// A tool added while the hub still fetches the catalog (right after
// tools/list was answered, before prompts/list is) reaches the catalog:
// the list_changed that arrives during the connect is not lost.
func TestListChangedWhileConnecting(t *testing.T) {
	s := schemaServer()
	s.AddPrompt(&mcp.Prompt{Name: "p"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{}, nil
	})
	handled := make(chan struct{}) // the hub has handled the list_changed
	var added, seen sync.Once
	s.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			switch method {
			case "tools/list":
				res, err := next(ctx, method, req)
				added.Do(func() {
					s.AddTool(&mcp.Tool{Name: "added_early", InputSchema: json.RawMessage(`{"type":"object"}`)},
						func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
							return &mcp.CallToolResult{}, nil
						})
				})
				return res, err
			case "prompts/list":
				// Hold the connect until the notification was handled.
				select {
				case <-handled:
				case <-ctx.Done():
				}
			}
			return next(ctx, method, req)
		}
	})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	defer srv.Close()

	events := make(chan status.Status, 100)
	catalogs := make(chan *Catalog, 10)
	c := newConn(config.Server{ID: "early", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 10 * time.Second, ProtocolVersion: "2025-11-25"},
		Options{OnStatus: func(s status.Status) { events <- s }, OnCatalog: func(_ string, cat *Catalog) { catalogs <- cat }})
	c.client.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			res, err := next(ctx, method, req)
			if method == "notifications/tools/list_changed" {
				seen.Do(func() { close(handled) })
			}
			return res, err
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(ctx)
	defer c.Stop()

	timeout := time.After(10 * time.Second)
	for {
		select {
		case cat := <-catalogs:
			if len(cat.Tools) == 2 {
				return
			}
		case <-timeout:
			t.Fatalf("the catalog still has %d tools: the list_changed during the connect was lost", len(c.Catalog().Tools))
		}
	}
}

// A sign-in started on a connected server (mcptray auth NAME) does not
// hide its live session, and a sign-in that fails does not claim the
// session needs one. Without a session, both show.
func TestSignInKeepsLiveSession(t *testing.T) {
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return schemaServer() }, nil))
	defer srv.Close()
	events, opts := collect(nil)
	c := Start(config.Server{ID: "live", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 10 * time.Second}, opts)
	defer c.Stop()
	waitConnected(t, c, events)
	c.SetAuthenticating()
	if st := c.Status(); st.State != status.Connected {
		t.Errorf("after SetAuthenticating: %s, want connected", st.State)
	}
	c.SetNeedsAuth("sign-in failed: cancelled")
	if st := c.Status(); st.State != status.Connected {
		t.Errorf("after SetNeedsAuth: %s (%s), want connected", st.State, st.Reason)
	}

	idle := newConn(config.Server{ID: "idle"}, Options{})
	idle.SetAuthenticating()
	if st := idle.Status(); st.State != status.Authenticating {
		t.Errorf("no session, after SetAuthenticating: %s", st.State)
	}
	idle.SetNeedsAuth("sign-in failed: cancelled")
	if st := idle.Status(); st.State != status.NeedsAuth || st.Reason != "sign-in failed: cancelled" {
		t.Errorf("no session, after SetNeedsAuth: %s (%s)", st.State, st.Reason)
	}
}

// Status changes made from several goroutines are published in the order
// they were stored, and refreshing is only ever entered from connected.
func TestStatusPublishedInStoredOrder(t *testing.T) {
	for range 200 {
		var mu sync.Mutex
		var published []status.Status
		c := newConn(config.Server{ID: "o"}, Options{OnStatus: func(s status.Status) {
			runtime.Gosched() // widen the window between storing and publishing
			mu.Lock()
			published = append(published, s)
			mu.Unlock()
		}})
		c.setStatus(func(s *status.Status) { s.State = status.Connected })
		var wg sync.WaitGroup
		wg.Go(func() {
			for range 10 {
				c.SetRefreshing(true)
				c.SetRefreshing(false)
			}
		})
		wg.Go(func() {
			for range 10 {
				c.setStatus(func(s *status.Status) { s.State, s.Reason = status.Error, "gone" })
				c.setStatus(func(s *status.Status) { s.State = status.Connected })
			}
		})
		wg.Wait()
		if last := published[len(published)-1]; last != c.Status() {
			t.Fatalf("last published %s, stored %s", last.State, c.Status().State)
		}
		for i := 1; i < len(published); i++ {
			if published[i].State == status.Refreshing && published[i-1].State != status.Connected {
				t.Fatalf("refreshing published after %s", published[i-1].State)
			}
		}
	}
}

// A 2026-07-28 server that goes away is noticed at the keepalive interval,
// as an initialize-era one is by go-sdk's pings, and reconnected to.
func TestModernServerGoneIsNoticed(t *testing.T) {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return schemaServer() },
		&mcp.StreamableHTTPOptions{Stateless: true})
	discovers := make(chan int, 100) // the status of each server/discover answered
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Method") != "server/discover" {
			h.ServeHTTP(w, r) // streams among them
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		discovers <- rec.Code
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	events, opts := collect(nil)
	opts.KeepAlive = 100 * time.Millisecond
	c := Start(config.Server{ID: "m", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 10 * time.Second}, opts)
	defer c.Stop()
	waitConnected(t, c, events)
	if v := c.Status().ProtocolVersion; v != "2026-07-28" {
		t.Fatalf("protocol %s", v)
	}
	// The connect's own server/discover, then the keepalive's, answered.
	for i := range 3 {
		select {
		case code := <-discovers:
			if code != http.StatusOK {
				t.Fatalf("server/discover answered %d", code)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d server/discover asked; a keepalive asks every %s", i, opts.KeepAlive)
		}
	}
	if st := c.Status(); st.State != status.Connected {
		t.Fatalf("state %s while the server answers", st.State)
	}
	srv.CloseClientConnections()
	srv.Close()
	st := waitFor(t, events, status.Error)
	if !strings.Contains(st.Reason, "session ended") {
		t.Errorf("reason %q", st.Reason)
	}
}
