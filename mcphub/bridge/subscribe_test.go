package bridge

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/mcptray/mcptray/mcphub/store"
)

// eventually waits for cond, which no event announces (the bridge's own
// bookkeeping), looking again every 10 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// updates collects the resource updates an IDE gets.
func updates() (chan string, *mcp.ClientOptions) {
	ch := make(chan string, 16)
	return ch, &mcp.ClientOptions{ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
		ch <- req.Params.URI
	}}
}

func waitUpdate(t *testing.T, ch <-chan string, uri string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != uri {
			t.Errorf("update of %s, want %s", got, uri)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no update of %s reached the IDE", uri)
	}
}

// A subscribe the upstream refuses is not recorded: the IDE is told, the
// next try asks the upstream again, and a second IDE subscribing while the
// first one's subscribe is on its way waits for its outcome rather than
// being told it is subscribed to what the upstream refused.
func TestFailedSubscribeIsNotRecorded(t *testing.T) {
	entered, gate := make(chan struct{}), make(chan struct{})
	u := newSubscribableWith(t, subHooks{subscribe: func(n int32) error {
		if n == 1 {
			close(entered)
			<-gate
			return errors.New("not now")
		}
		return nil
	}})
	r := newRig(t, cfgServers("subs", legacy(u.url)), rigOptions{})
	r.wait(t, map[string]status.State{"subs": status.Connected})
	ctx := context.Background()
	a := r.connectHTTP(t, "/mcp", "", "2025-11-25", nil)
	bUpdates, bOpts := updates()
	b := r.connectHTTP(t, "/mcp", "", "2025-11-25", bOpts)
	uri := &mcp.SubscribeParams{URI: "file:///r"}
	aDone, bDone := make(chan error, 1), make(chan error, 1)
	go func() { aDone <- a.Subscribe(ctx, uri) }()
	<-entered
	go func() { bDone <- b.Subscribe(ctx, uri) }()
	close(gate)
	if err := <-aDone; err == nil || !strings.Contains(err.Error(), "not now") {
		t.Errorf("the refused subscribe: %v", err)
	}
	if err := <-bDone; err != nil {
		t.Errorf("the second IDE's subscribe: %v", err)
	}
	if u.subscribe.Load() != 2 || r.sharedSubscriptions("subs", "file:///r") != 1 {
		t.Errorf("after one refused and one taken: upstream %s, bridge counts %d", u.counts(), r.sharedSubscriptions("subs", "file:///r"))
	}
	u.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: "file:///r"})
	waitUpdate(t, bUpdates, "file:///r")
	if err := a.Subscribe(ctx, uri); err != nil {
		t.Fatal(err)
	}
	if u.subscribe.Load() != 2 || r.sharedSubscriptions("subs", "file:///r") != 2 {
		t.Errorf("the first IDE again: upstream %s, bridge counts %d", u.counts(), r.sharedSubscriptions("subs", "file:///r"))
	}
}

// A session that ends while its server is down is still counted down: the
// server's subscriptions are not listed then, but the session knows whose
// they were.
func TestSubscriptionCountedDownWhileServerIsDown(t *testing.T) {
	u := newSubscribable(t)
	r := newRig(t, cfgServers("subs", legacy(u.url)), rigOptions{})
	r.wait(t, map[string]status.State{"subs": status.Connected})
	a := r.connectHTTP(t, "/mcp", "", "2025-11-25", nil)
	if err := a.Subscribe(context.Background(), &mcp.SubscribeParams{URI: "file:///r"}); err != nil {
		t.Fatal(err)
	}
	if err := atomicWrite(r.path, cfgServers("subs", `{"url": "http://127.0.0.1:1/mcp", "protocolVersion": "2025-11-25"}`)); err != nil {
		t.Fatal(err)
	}
	if err := r.hub.Reload(); err != nil {
		t.Fatal(err)
	}
	r.wait(t, map[string]status.State{"subs": status.Error})
	a.Close()
	eventually(t, "the ended session to be counted down", func() bool { return r.sharedSubscriptions("subs", "file:///r") == 0 })
}

// Subscriptions are renewed when the hub reconnects the server: the new
// upstream session knows nothing of the old one's.
func TestSubscriptionsRenewedAfterReconnect(t *testing.T) {
	subscribed := make(chan int32, 4)
	u := newSubscribableWith(t, subHooks{subscribe: func(n int32) error { subscribed <- n; return nil }})
	r := newRig(t, cfgServers("subs", legacy(u.url)), rigOptions{})
	r.wait(t, map[string]status.State{"subs": status.Connected})
	ch, opts := updates()
	a := r.connectHTTP(t, "/mcp", "", "2025-11-25", opts)
	ctx := context.Background()
	if err := a.Subscribe(ctx, &mcp.SubscribeParams{URI: "file:///r"}); err != nil {
		t.Fatal(err)
	}
	<-subscribed
	if err := r.hub.Reconnect("subs"); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-subscribed:
		if n != 2 {
			t.Errorf("subscribe number %d", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the reconnected session was not subscribed again: upstream %s", u.counts())
	}
	// go-sdk's server records the subscription only after the hook above
	// has returned, and an update sent before then reaches no session: it
	// is sent again until one arrives (no event says it was recorded).
	deadline := time.Now().Add(10 * time.Second)
	for {
		u.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: "file:///r"})
		select {
		case got := <-ch:
			if got != "file:///r" {
				t.Errorf("update of %s", got)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no update reached the IDE after the reconnect")
		}
	}
}

// A server that comes back from a reconnect without resources.subscribe
// is not asked to renew a subscription (LC-03), and the log says why.
func TestSubscriptionNotRenewedWithoutTheCapability(t *testing.T) {
	before := newSubscribable(t)
	var asked atomic.Int32
	after := mcp.NewServer(&mcp.Implementation{Name: "subs", Version: "2"}, nil)
	after.AddResource(&mcp.Resource{URI: "file:///r", Name: "r"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "r"}}}, nil
	})
	after.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "resources/subscribe" {
				asked.Add(1)
			}
			return next(ctx, method, req)
		}
	})
	var restarted atomic.Bool // new sessions are the server's new version's
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server {
		if restarted.Load() {
			return after
		}
		return before.Server
	}, nil))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	logs := &testlog.Buffer{}
	r := newRig(t, cfgServers("subs", legacy(srv.URL)), rigOptions{logs: logs})
	r.wait(t, map[string]status.State{"subs": status.Connected})
	a := r.connectHTTP(t, "/mcp", "", "2025-11-25", nil)
	if err := a.Subscribe(context.Background(), &mcp.SubscribeParams{URI: "file:///r"}); err != nil {
		t.Fatal(err)
	}
	restarted.Store(true)
	if err := r.hub.Reconnect("subs"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the log to say the subscription cannot be renewed", func() bool {
		return strings.Contains(logs.String(), "a subscription cannot be renewed after a reconnect")
	})
	if n := asked.Load(); n != 0 {
		t.Errorf("the server without resources.subscribe was asked %d times", n)
	}
}

// The last session's upstream unsubscribe runs on its own, bounded by the
// server's timeout: a server that never answers holds up neither the
// DELETE that ended the session nor the token sweep, which goes on ending
// the streams of revoked tokens.
func TestHungUnsubscribeHoldsNothingUp(t *testing.T) {
	hung, release := make(chan struct{}, 4), make(chan struct{})
	u := newSubscribableWith(t, subHooks{unsubscribe: func(context.Context, int32) error {
		hung <- struct{}{}
		<-release // the test's end: the server's own shutdown waits for its handlers
		return nil
	}})
	r := newRig(t, withTokens(fmt.Sprintf(`"subs": {"url": %q, "protocolVersion": "2025-11-25", "timeout": 1}`, u.url)), rigOptions{})
	t.Cleanup(func() { close(release) })
	r.wait(t, map[string]status.State{"subs": status.Connected})
	ctx := context.Background()
	mcpURL := r.url + "/mcp"
	client := &http.Client{Timeout: 10 * time.Second}
	do := func(t *testing.T, method, tok, sid, body string) *http.Response {
		t.Helper()
		client := client
		if method == http.MethodGet {
			client = http.DefaultClient // a stream lasts
		}
		req, _ := http.NewRequest(method, mcpURL, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		return resp
	}
	// subscribed opens a session of tok subscribed to uri, with its GET
	// stream open if stream; ended is when the stream ends.
	subscribed := func(t *testing.T, tok, uri string, stream bool) (sid string, ended chan struct{}) {
		t.Helper()
		resp := do(t, http.MethodPost, tok, "", initializeBody)
		resp.Body.Close()
		sid = resp.Header.Get("Mcp-Session-Id")
		do(t, http.MethodPost, tok, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`).Body.Close()
		resp = do(t, http.MethodPost, tok, sid, `{"jsonrpc":"2.0","id":2,"method":"resources/subscribe","params":{"uri":"`+uri+`"}}`)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `"result"`) {
			t.Fatalf("subscribe: %s", body)
		}
		ended = make(chan struct{})
		if stream {
			get := do(t, http.MethodGet, tok, sid, "")
			go func() {
				_, _ = io.Copy(io.Discard, get.Body)
				get.Body.Close()
				close(ended)
			}()
			t.Cleanup(func() { get.Body.Close() })
		}
		return sid, ended
	}
	token := func(name string) string {
		tok, _, err := r.db.CreateToken(ctx, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	t.Run("delete", func(t *testing.T) {
		tok := token("deleted")
		sid, _ := subscribed(t, tok, "file:///r", false)
		resp := do(t, http.MethodDelete, tok, sid, "")
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE: %s", resp.Status)
		}
		<-hung
		// The server's timeout ends the unsubscribe: the URI can be
		// subscribed again.
		subscribed(t, tok, "file:///r", false)
		if u.subscribe.Load() != 2 {
			t.Errorf("subscribing again: upstream %s", u.counts())
		}
	})
	t.Run("token sweep", func(t *testing.T) {
		// A revoked token's stream ends within a second (the store's cache
		// and the sweep, half a second each); five allowed here.
		ends := func(t *testing.T, ended <-chan struct{}, what string) {
			t.Helper()
			select {
			case <-ended:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s is still open", what)
			}
		}
		revoke := func(name string) {
			cli, err := store.Open(r.db.Path(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			if err := cli.RevokeToken(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		_, firstEnded := subscribed(t, token("first"), "file:///s", true)
		revoke("first")
		ends(t, firstEnded, "the first revoked token's stream")
		<-hung
		_, secondEnded := subscribed(t, token("second"), "file:///s", true)
		revoke("second")
		ends(t, secondEnded, "the second revoked token's stream")
	})
}
