package upstream

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
)

// A 2026-07-28 server that ends the subscriptions/listen stream under a
// live session is listened to again (TC-15): a tool added while nobody
// listened reaches the catalog once the hub listens again, and one added
// later arrives by the new stream's list_changed. The session is not
// reconnected for it.
func TestListenStreamIsOpenedAgain(t *testing.T) {
	s := schemaServer()
	listens := make(chan context.CancelFunc, 4) // each cuts its stream
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true})
	var sessions atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Mcp-Method") {
		case "server/discover":
			sessions.Add(1)
		case "subscriptions/listen":
			ctx, cut := context.WithCancel(r.Context())
			defer cut()
			r = r.WithContext(ctx)
			listens <- cut
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	catalogs := make(chan *Catalog, 16)
	events, opts := collect(nil)
	opts.OnCatalog = func(_ string, cat *Catalog) { catalogs <- cat }
	c := Start(config.Server{ID: "modern", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 10 * time.Second}, opts)
	defer c.Stop()
	st := waitFor(t, events, status.Connected)
	if st.ProtocolVersion != "2026-07-28" {
		t.Fatalf("negotiated %q", st.ProtocolVersion)
	}
	next := func(what string) context.CancelFunc {
		t.Helper()
		select {
		case cut := <-listens:
			return cut
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s", what)
			return nil
		}
	}
	waitTool := func(name string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case cat := <-catalogs:
				for _, tool := range cat.Tools {
					if tool.Key == name {
						return
					}
				}
			case <-timeout:
				t.Fatalf("the catalog never had %s", name)
			}
		}
	}
	addTool := func(name string) {
		s.AddTool(&mcp.Tool{Name: name, InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{}, nil
			})
	}

	next("subscriptions/listen from go-sdk")()
	addTool("while_nobody_listened")
	next("subscriptions/listen opened again")
	waitTool("while_nobody_listened")
	addTool("later")
	waitTool("later")
	if n := sessions.Load(); n != 1 {
		t.Errorf("server/discover asked %d times: the session was reconnected", n)
	}
}

// Only go-sdk's listen for list changes is watched: not its listens for
// resource updates (Unsubscribe ends them), nor the hub's own; and a
// stream ended by its own request's end (the session closing) is no
// server's doing.
func TestOnlyTheListsListenIsWatched(t *testing.T) {
	listen := func(ctx context.Context, body string) *http.Request {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:1/mcp", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Mcp-Method", "subscriptions/listen")
		return req
	}
	ctx := context.Background()
	lists := `{"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true}}}`
	for _, tc := range []struct {
		req  *http.Request
		want bool
	}{
		{listen(ctx, lists), true},
		{listen(ctx, `{"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["file:///r"]}}}`), false},
		{listen(context.WithValue(ctx, ownListenKey{}, true), lists), false},
	} {
		if got := listsListen(tc.req); got != tc.want {
			body, _ := tc.req.GetBody()
			data, _ := io.ReadAll(body)
			t.Errorf("listsListen(%s) = %v", data, got)
		}
	}
	ended := make(chan struct{}, 1)
	reqCtx, cancel := context.WithCancel(ctx)
	cancel()
	e := &endSignal{ReadCloser: io.NopCloser(strings.NewReader("")), ended: ended, ctx: reqCtx}
	if _, err := e.Read(make([]byte, 8)); err != io.EOF {
		t.Fatal(err)
	}
	select {
	case <-ended:
		t.Error("a stream whose request had ended was reported as the server's end")
	default:
	}
}
