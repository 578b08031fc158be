package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// lazyAuth is an OAuth handler that, unlike oauth.Client, leaves the
// refused answer's body to its caller.
type lazyAuth struct {
	mu  sync.Mutex
	tok string
	err error // Authorize's answer; nil: the token becomes "fresh"
}

func (a *lazyAuth) TokenSource(context.Context) (oauth2.TokenSource, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: a.tok}), nil
}

func (a *lazyAuth) Authorize(context.Context, *http.Request, *http.Response) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil {
		a.tok = "fresh"
	}
	return a.err
}

// connWatch records the server's connections and says when all are closed.
type connWatch struct {
	mu      sync.Mutex
	open    map[net.Conn]bool
	changed chan struct{}
}

func (w *connWatch) state(c net.Conn, s http.ConnState) {
	w.mu.Lock()
	switch s {
	case http.StateNew:
		w.open[c] = true
	case http.StateClosed, http.StateHijacked:
		delete(w.open, c)
	}
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *connWatch) waitAllClosed(t *testing.T) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		w.mu.Lock()
		n := len(w.open)
		w.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-w.changed:
		case <-timeout:
			t.Fatalf("%d connection(s) still open", n)
		}
	}
}

// On the legacy SSE transport the probe signs requests itself: the 401's
// body is closed before the retry, and when the handler gives up, so the
// connection it holds is not left open.
func TestSSEAuthRetryClosesRefusedAnswer(t *testing.T) {
	for name, authErr := range map[string]error{"retry": nil, "authorize fails": errors.New("sign in")} {
		t.Run(name, func(t *testing.T) {
			w := &connWatch{open: map[net.Conn]bool{}, changed: make(chan struct{}, 1)}
			hs := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer fresh" {
					rw.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
					rw.WriteHeader(http.StatusUnauthorized)
					rw.Write([]byte(`{"error":"invalid_token"}`))
					return
				}
				rw.Write([]byte("ok"))
			}))
			hs.Config.ConnState = w.state
			hs.Start()
			defer hs.Close()
			base := http.DefaultTransport.(*http.Transport).Clone()
			p := &probe{base: base, origin: mustURL(t, hs.URL), auth: &lazyAuth{tok: "stale", err: authErr}}

			req, err := http.NewRequest(http.MethodGet, hs.URL+"/sse", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.RoundTrip(req)
			switch {
			case authErr != nil && !errors.Is(err, authErr):
				t.Fatalf("err %v, want %v", err, authErr)
			case authErr == nil && (err != nil || resp.StatusCode != http.StatusOK):
				t.Fatalf("retry: %v %v", resp, err)
			}
			if resp != nil {
				resp.Body.Close()
			}
			base.CloseIdleConnections() // what is left open is what no one closed
			w.waitAllClosed(t)
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// The configured headers and the OAuth token go to the server's own origin
// only (AUTH-28): not to another host a redirect names, nor to one a
// legacy server's "endpoint" event names (a request the probe is simply
// given), nor to another port of the same host.
func TestHeadersAndTokenStayOnTheServersOrigin(t *testing.T) {
	type seen struct{ auth, key string }
	record := func(ch chan seen) http.HandlerFunc {
		return func(rw http.ResponseWriter, r *http.Request) {
			ch <- seen{r.Header.Get("Authorization"), r.Header.Get("X-Api-Key")}
			rw.Write([]byte("ok"))
		}
	}
	elsewhere := make(chan seen, 4)
	other := httptest.NewServer(record(elsewhere))
	defer other.Close()
	own := make(chan seen, 4)
	server := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(rw, r, other.URL+"/mcp", http.StatusTemporaryRedirect)
			return
		}
		record(own)(rw, r)
	}))
	defer server.Close()

	p := &probe{base: http.DefaultTransport, origin: mustURL(t, server.URL+"/mcp"),
		headers: map[string]string{"X-Api-Key": "configured-secret"}, auth: &lazyAuth{tok: "oauth-token"}}
	client := &http.Client{Transport: p}
	get := func(u string) {
		t.Helper()
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	get(server.URL + "/mcp")
	if got := <-own; got != (seen{"Bearer oauth-token", "configured-secret"}) {
		t.Errorf("the server's own origin got %+v", got)
	}
	get(server.URL + "/moved")
	if got := <-elsewhere; got != (seen{}) {
		t.Errorf("a redirect to another origin carried %+v", got)
	}
	get(other.URL + "/messages?sessionId=1") // as an endpoint event naming another host
	if got := <-elsewhere; got != (seen{}) {
		t.Errorf("a request to another origin carried %+v", got)
	}
	for _, tc := range []struct {
		origin, req string
		own         bool
	}{
		{"https://mcp.example.com/mcp", "https://MCP.example.com:443/x", true},
		{"http://mcp.example.com/mcp", "https://mcp.example.com/mcp", true}, // the server's own upgrade to TLS
		{"https://mcp.example.com/mcp", "http://mcp.example.com/mcp", false},
		{"https://mcp.example.com/mcp", "https://mcp.example.com:8443/mcp", false},
		{"https://mcp.example.com/mcp", "https://evil.example.com/mcp", false},
		{"http://127.0.0.1:3000/mcp", "http://127.0.0.1:3001/mcp", false},
	} {
		p := &probe{origin: mustURL(t, tc.origin)}
		if got := p.ownOrigin(mustURL(t, tc.req)); got != tc.own {
			t.Errorf("origin %s, request %s: own = %v", tc.origin, tc.req, got)
		}
	}
}
