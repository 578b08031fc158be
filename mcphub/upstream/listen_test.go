package upstream

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
