package oauth

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// authorize loads the authorization URL without following the redirect,
// and returns where the browser would go: what a person copies from the
// address bar.
func authorize(t *testing.T, authURL string) string {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(authURL)
	if err != nil {
		t.Error(err)
		return ""
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}

// A bare code pasted for an issuer that promises iss (RFC 9207) is
// refused at once with what to paste instead, and the sign-in still takes
// the whole redirect URL pasted next.
func TestPastedBareCodeAsksForTheWholeURL(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "paste", URL: srv.URL()})
	printed := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- c.SignIn(context.Background(), SignInOptions{Open: func(_ context.Context, u string) error {
			printed <- u
			return nil
		}})
	}()
	loc := authorize(t, <-printed)
	code := strings.SplitN(strings.SplitN(loc, "code=", 2)[1], "&", 2)[0]
	err := m.CompleteManually("paste", code)
	if err == nil || !strings.Contains(err.Error(), "paste the whole address") {
		t.Fatalf("bare code: %v, want to be asked for the whole URL", err)
	}
	if err := m.CompleteManually("paste", loc); err != nil {
		t.Fatalf("the whole URL after a bare code: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A pasted redirect that the sign-in took while it was being cancelled
// gets an answer: it never waits for an outcome that will not come. Which
// of the two the sign-in sees first is up to the scheduler, so it is tried
// a few times.
func TestPastedRedirectDuringCancelDoesNotHang(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "race", URL: srv.URL()})
	for range 10 {
		ctx, cancel := context.WithCancel(context.Background())
		pasted := make(chan error, 1)
		_ = c.SignIn(ctx, SignInOptions{Open: func(_ context.Context, u string) error {
			loc := authorize(t, u)
			cancel() // the person cancels in the app as they paste
			go func() { pasted <- m.CompleteManually("race", loc) }()
			for m.inProgress("race") { // until the paste has taken the flow
				runtime.Gosched()
			}
			return nil
		}})
		select {
		case err := <-pasted:
			if err == nil {
				t.Fatal("a cancelled sign-in was completed")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("CompleteManually still waits after the sign-in ended")
		}
	}
}

// inProgress reports whether a sign-in of server waits for its redirect.
func (m *Manager) inProgress(server string) bool {
	m.cbMu.Lock()
	defer m.cbMu.Unlock()
	for _, cs := range m.callbacks {
		if cs.pendingFor(server) != nil {
			return true
		}
	}
	return false
}
