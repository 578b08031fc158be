package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
)

// subscribable is an upstream with one resource that counts the
// subscribe and unsubscribe requests it gets.
type subscribable struct {
	*mcp.Server
	url       string
	subscribe atomic.Int32
	unsub     atomic.Int32
}

// subHooks run in the upstream's handlers, given the request's number
// (from 1) and context; nil: none.
type subHooks struct {
	subscribe   func(n int32) error
	unsubscribe func(ctx context.Context, n int32) error
}

func newSubscribable(t *testing.T) *subscribable { return newSubscribableWith(t, subHooks{}) }

func newSubscribableWith(t *testing.T, h subHooks) *subscribable {
	t.Helper()
	u := &subscribable{}
	u.Server = mcp.NewServer(&mcp.Implementation{Name: "subs", Version: "1"}, &mcp.ServerOptions{
		SubscribeHandler: func(context.Context, *mcp.SubscribeRequest) error {
			if n := u.subscribe.Add(1); h.subscribe != nil {
				return h.subscribe(n)
			}
			return nil
		},
		UnsubscribeHandler: func(ctx context.Context, _ *mcp.UnsubscribeRequest) error {
			if n := u.unsub.Add(1); h.unsubscribe != nil {
				return h.unsubscribe(ctx, n)
			}
			return nil
		},
	})
	for _, uri := range []string{"file:///r", "file:///s"} {
		u.AddResource(&mcp.Resource{URI: uri, Name: uri[len(uri)-1:]}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "r"}}}, nil
		})
	}
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return u.Server }, nil))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	u.url = srv.URL + "/mcp"
	return u
}

func (u *subscribable) counts() string {
	return fmt.Sprintf("%d subscribe, %d unsubscribe", u.subscribe.Load(), u.unsub.Load())
}

// sharedSubscriptions is how many sessions the bridge counts on a URI.
func (r *rig) sharedSubscriptions(server, uri string) int {
	r.bridge.mu.Lock()
	defer r.bridge.mu.Unlock()
	if e := r.bridge.subs[subKey(server, uri)]; e != nil {
		return int(e.n.Load())
	}
	return 0
}

// The upstream is subscribed once however many IDEs subscribe, and
// unsubscribed when the last of them does: a session's own repeats, or an
// unsubscribe from a session that never subscribed, change nothing.
func TestSubscriptionsAreCountedPerSession(t *testing.T) {
	u := newSubscribable(t)
	r := newRig(t, cfgServers("subs", legacy(u.url)), rigOptions{})
	r.wait(t, map[string]status.State{"subs": status.Connected})
	ctx := context.Background()
	a := r.connectHTTP(t, "/mcp", "", "2025-11-25", nil)
	b := r.connectStream(t, "", "2025-11-25", nil)
	uri := &mcp.SubscribeParams{URI: "file:///r"}
	for range 2 {
		if err := a.Subscribe(ctx, uri); err != nil {
			t.Fatal(err)
		}
	}
	if u.subscribe.Load() != 1 || r.sharedSubscriptions("subs", "file:///r") != 1 {
		t.Errorf("one IDE subscribed twice: upstream %s, bridge counts %d", u.counts(), r.sharedSubscriptions("subs", "file:///r"))
	}
	if err := b.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: "file:///r"}); err != nil {
		t.Fatal(err)
	}
	if u.unsub.Load() != 0 || r.sharedSubscriptions("subs", "file:///r") != 1 {
		t.Errorf("an IDE that never subscribed unsubscribed the one that did: upstream %s", u.counts())
	}
	if err := b.Subscribe(ctx, uri); err != nil {
		t.Fatal(err)
	}
	if err := a.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: "file:///r"}); err != nil {
		t.Fatal(err)
	}
	if u.unsub.Load() != 0 {
		t.Errorf("unsubscribed upstream while another IDE still is: %s", u.counts())
	}
	if err := b.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: "file:///r"}); err != nil {
		t.Fatal(err)
	}
	if u.subscribe.Load() != 1 || u.unsub.Load() != 1 || r.sharedSubscriptions("subs", "file:///r") != 0 {
		t.Errorf("after the last IDE left: upstream %s, bridge counts %d", u.counts(), r.sharedSubscriptions("subs", "file:///r"))
	}
}

// A 2026-07-28 subscriptions/listen over stdio ends with its stream: the
// client closing stdin ends the stream at once, and the upstream is
// unsubscribed exactly once, even for a URI the client listed twice.
func TestStdioListenEndsWithTheStream(t *testing.T) {
	u := newSubscribable(t)
	r := newRig(t, cfgServers("subs", legacy(u.url)), rigOptions{})
	r.wait(t, map[string]status.State{"subs": status.Connected})
	ide, hub := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- r.bridge.ServeStream(context.Background(), hub, "", "listener") }()
	go func() {
		fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true,`+
			`"resourceSubscriptions":["file:///r","file:///r"]},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",`+
			`"io.modelcontextprotocol/clientCapabilities":{}}}}`)
	}()
	lines := bufio.NewScanner(ide)
	for lines.Scan() {
		if strings.Contains(lines.Text(), "notifications/subscriptions/acknowledged") {
			break
		}
	}
	if u.subscribe.Load() != 1 || r.sharedSubscriptions("subs", "file:///r") != 1 {
		t.Errorf("listening: upstream %s, bridge counts %d", u.counts(), r.sharedSubscriptions("subs", "file:///r"))
	}
	go func() {
		for lines.Scan() { // the listen's result, once the stream ends
		}
	}()
	ide.Close()
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end when its client closed it")
	}
	if u.unsub.Load() != 1 || r.sharedSubscriptions("subs", "file:///r") != 0 {
		t.Errorf("after the stream: upstream %s, bridge counts %d", u.counts(), r.sharedSubscriptions("subs", "file:///r"))
	}
}

// A subscriptions/listen stream starts with its acknowledgement (LC-08),
// and a catalog change between the acknowledgement and the listener
// taking effect still reaches it. The bridge hears no hub events here:
// the change is made known (invalidate) exactly in that window, over HTTP
// and over stdio.
func TestListenAcknowledgementComesFirst(t *testing.T) {
	alpha, _ := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL)), rigOptions{deaf: true})
	r.wait(t, map[string]status.State{"alpha": status.Connected})
	testHookListenAcked = r.bridge.invalidate
	t.Cleanup(func() { testHookListenAcked = nil })
	params := `{"notifications":{"toolsListChanged":true},` + modernMeta + `}`
	transports := []struct {
		name string
		open func(t *testing.T) <-chan string // the listen's messages
	}{
		{"http", func(t *testing.T) <-chan string {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			resp, err := postModern(ctx, r.url+"/mcp", "subscriptions/listen", "", params) // id 1
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("listen: %v %v", err, resp)
			}
			t.Cleanup(func() { resp.Body.Close() })
			out := make(chan string, 16)
			go func() {
				defer close(out)
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
						out <- data
					}
				}
			}()
			return out
		}},
		{"stdio", func(t *testing.T) <-chan string {
			ide, lines := stdioLines(t, r)
			fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":`+params+`}`)
			return lines
		}},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			// The catalog the bridge has, then a change it has not heard of.
			r.bridge.invalidate()
			r.bridge.snapshot(view{})
			alpha.AddTool(&mcp.Tool{Name: "fresh_" + tr.name, InputSchema: json.RawMessage(`{"type":"object"}`)},
				func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					return &mcp.CallToolResult{}, nil
				})
			r.waitCatalog(t, "alpha", "fresh_"+tr.name)

			msgs := tr.open(t)
			next := func() string {
				select {
				case m, ok := <-msgs:
					if !ok {
						t.Fatal("the listen ended")
					}
					return m
				case <-time.After(10 * time.Second):
					t.Fatal("no message on the listen stream")
				}
				return ""
			}
			if first := next(); !strings.Contains(first, `"notifications/subscriptions/acknowledged"`) {
				t.Fatalf("the listen's first message is not its acknowledgement: %s", first)
			}
			if m := next(); !strings.Contains(m, `"notifications/tools/list_changed"`) || !strings.Contains(m, `"io.modelcontextprotocol/subscriptionId":1`) {
				t.Errorf("after the acknowledgement: %s, want tools list_changed of subscription 1", m)
			}
		})
	}
}

// waitCatalog reads hub events until the server's catalog has the tool.
func (r *rig) waitCatalog(t *testing.T, server, tool string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if c, ok := r.hub.Conn(server); ok && c.Catalog() != nil {
			for _, it := range c.Catalog().Tools {
				if it.Key == tool {
					return
				}
			}
		}
		select {
		case <-r.sub.C:
		case <-deadline:
			t.Fatalf("%s's catalog has no %s", server, tool)
		}
	}
}
