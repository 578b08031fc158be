package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/testlog"
	"github.com/mcptray/mcptray/mcphub/status"
)

// A server's URL carries its API key in the query. An unsubscribe that
// fails in transport (the connection is cut) is logged without the key,
// as every other upstream error is.
func TestAFailedUnsubscribeLogsNoKey(t *testing.T) {
	u := newSubscribableWith(t, subHooks{})
	inner := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return u.Server }, nil)
	var cut atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			if cut.Load() && bytes.Contains(body, []byte(`"resources/unsubscribe"`)) {
				c, _, _ := w.(http.Hijacker).Hijack()
				c.Close()
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	const key = "sk_live_SUPERSECRET123456"
	logs := &testlog.Buffer{}
	r := newRig(t, cfgServers("subs", legacy(srv.URL+"/mcp?api_key="+key)), rigOptions{logs: logs})
	r.wait(t, map[string]status.State{"subs": status.Connected})
	ide := r.connectHTTP(t, "/mcp", "", "2025-11-25", nil)
	if err := ide.Subscribe(context.Background(), &mcp.SubscribeParams{URI: "file:///r"}); err != nil {
		t.Fatal(err)
	}
	cut.Store(true)
	ide.Close() // DELETE: the session's subscriptions are dropped upstream
	if !logs.WaitFor("unsubscribing upstream failed", 30*time.Second) {
		t.Fatalf("the failed unsubscribe was not logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), key) {
		t.Errorf("the upstream's API key is in the log:\n%s", logs.String())
	}
}
