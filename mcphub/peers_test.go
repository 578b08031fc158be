package mcphub

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/upstream"
)

// npm @modelcontextprotocol/server-everything in each of its modes. Its
// HTTP modes bind every interface, so these run in a private network
// namespace (make test).
func TestServerEverythingModes(t *testing.T) {
	streamable := testpeers.StartServerEverything(t, "streamableHttp")
	sse := testpeers.StartServerEverything(t, "sse")
	node, script := testpeers.Node(t), testpeers.ServerEverythingScript(t)
	h, _, sub := testHub(t, fmt.Sprintf(`{"mcpServers": {
  "streamable": {"url": %q},
  "sse-auto": {"url": %q},
  "sse-pinned": {"type": "sse", "url": %q},
  "stdio": {"command": %q, "args": [%q, "stdio"]}
}}`, streamable.URL, sse.URL, sse.URL, node, script))
	waitState(t, h, sub, map[string]status.State{
		"streamable": status.Connected, "sse-auto": status.Connected, "sse-pinned": status.Connected, "stdio": status.Connected,
	})
	want := map[string]string{
		"streamable": upstream.TransportStreamable,
		// A URL given without a type tries Streamable HTTP first and falls
		// back to HTTP+SSE when the server refuses the POST (TC-08).
		"sse-auto":   upstream.TransportSSE,
		"sse-pinned": upstream.TransportSSE,
		"stdio":      upstream.TransportStdio,
	}
	for id, transport := range want {
		st := serverByID(h, id).Status
		if st.Transport != transport || st.Counts.Tools < 10 || st.Counts.Prompts == 0 ||
			st.Counts.Resources == 0 || st.Counts.ResourceTemplates == 0 {
			t.Errorf("%s: transport %s, counts %+v", id, st.Transport, st.Counts)
		}
	}
	// The same server over every transport offers the same catalog.
	ref := serverByID(h, "stdio").Status.Counts
	for id := range want {
		if got := serverByID(h, id).Status.Counts; got != ref {
			t.Errorf("%s counts %+v differ from stdio's %+v", id, got, ref)
		}
	}
}

// The go-sdk fixture in its default stateless mode speaks 2026-07-28; the
// hub must connect with server/discover and record that version.
func TestModernEraUpstream(t *testing.T) {
	port := testpeers.FreePort(t)
	p := exec.Command(testpeers.EverythingServerBin(t), fmt.Sprintf("-http=127.0.0.1:%d", port))
	proc := testpeers.Start(t, p, regexp.MustCompile(`listening at`))
	_ = proc
	h, _, sub := testHub(t, fmt.Sprintf(`{"mcpServers": {
  "modern": {"url": "http://127.0.0.1:%d/mcp"},
  "pinned-legacy": {"url": "http://127.0.0.1:%d/mcp", "protocolVersion": "2025-06-18"}
}}`, port, port))
	waitState(t, h, sub, map[string]status.State{"modern": status.Connected, "pinned-legacy": status.Connected})
	if v := serverByID(h, "modern").Status.ProtocolVersion; v != "2026-07-28" {
		t.Errorf("modern: protocol %q, want 2026-07-28", v)
	}
	if v := serverByID(h, "pinned-legacy").Status.ProtocolVersion; v != "2025-06-18" {
		t.Errorf("pinned: protocol %q, want 2025-06-18", v)
	}
}

// A server/discover that never reaches the server (here: its connection
// cut, as a server still starting refuses it) is no evidence of an older
// server: go-sdk falls back to initialize, but the hub refuses that
// session and asks again, and settles on 2026-07-28.
func TestLostDiscoverIsAskedAgain(t *testing.T) {
	port := testpeers.FreePort(t)
	p := exec.Command(testpeers.EverythingServerBin(t), fmt.Sprintf("-http=127.0.0.1:%d", port))
	testpeers.Start(t, p, regexp.MustCompile(`listening at`))
	target, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", port))
	proxy := httputil.NewSingleHostReverseProxy(target)
	var cut atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Method") == "server/discover" && cut.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // the first discover never gets an answer
			}
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	h, _, sub := testHub(t, fmt.Sprintf(`{"mcpServers": {"modern": {"url": "%s/mcp"}}}`, front.URL))
	waitState(t, h, sub, map[string]status.State{"modern": status.Connected})
	if cut.Load() < 2 {
		t.Fatalf("server/discover was sent %d times; the lost one should be asked again", cut.Load())
	}
	if v := serverByID(h, "modern").Status.ProtocolVersion; v != "2026-07-28" {
		t.Errorf("protocol %q after a lost server/discover, want 2026-07-28", v)
	}
}

// An upstream that is down, then comes back: the hub connects at the next
// scheduled retry (within one backoff step), not later.
func TestBackoffReconnect(t *testing.T) {
	port := testpeers.FreePort(t)
	h, _, sub := testHub(t, fmt.Sprintf(`{"mcpServers": {"late": {"url": "http://127.0.0.1:%d/mcp"}}}`, port))
	maxStep := time.Duration(float64(time.Second) * 1.2) // testHub: Max 1s, jitter ±20%

	// Let it fail twice, so the backoff has grown past its minimum.
	var lastErr status.Status
	for failures := 0; failures < 2; {
		select {
		case e := <-sub.C:
			if e.Status != nil && e.Status.State == status.Error {
				failures++
				lastErr = *e.Status
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no error state: %+v", h.Servers())
		}
	}
	if lastErr.NextRetry.IsZero() || lastErr.Reason == "" {
		t.Fatalf("error status without reason or next retry: %+v", lastErr)
	}
	testpeers.StartEverythingHTTPOn(t, port)
	cameBack := time.Now()
	for {
		var e status.Event
		select {
		case e = <-sub.C:
		case <-time.After(30 * time.Second):
			t.Fatalf("never connected: %+v", h.Servers())
		}
		if e.Status == nil {
			continue
		}
		if e.Status.State == status.Error {
			lastErr = *e.Status
		}
		if e.Status.State == status.Connected {
			connected := e.Status.Since
			// It connected on the retry the last failure scheduled...
			if d := connected.Sub(lastErr.NextRetry); d < 0 || d > time.Second {
				t.Errorf("connected %v after the scheduled retry", d)
			}
			// ...and that was at most one (capped) step after the server returned.
			if d := connected.Sub(cameBack); d > maxStep+time.Second {
				t.Errorf("connected %v after the server came back; one step is at most %v", d, maxStep)
			}
			return
		}
	}
}
