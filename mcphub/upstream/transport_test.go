package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
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
			p := &probe{base: base, auth: &lazyAuth{tok: "stale", err: authErr}}

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
