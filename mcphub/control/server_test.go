package control

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The control socket answers MCP Tray's own commands only: a request with
// an Origin (a browser's) or another Host is refused before the secret is
// looked at, and a missing or wrong secret gets 401.
func TestControlSocketRefusesStrangers(t *testing.T) {
	p := serveControl(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	secret, err := readSecret(p)
	if err != nil {
		t.Fatal(err)
	}
	wrong := secret[:len(secret)-1] + "0" // the last character changed
	if strings.HasSuffix(secret, "0") {
		wrong = secret[:len(secret)-1] + "1"
	}
	for _, c := range []struct {
		name, host, origin, auth string
		want                     int
	}{
		{"own client", "mcptray", "", "Bearer " + secret, http.StatusOK},
		{"a web page (Origin)", "mcptray", "https://evil.example", "Bearer " + secret, http.StatusForbidden},
		{"a loopback origin", "mcptray", "http://127.0.0.1:8080", "Bearer " + secret, http.StatusForbidden},
		{"another Host (rebinding)", "evil.example", "", "Bearer " + secret, http.StatusForbidden},
		{"a loopback Host", "127.0.0.1", "", "Bearer " + secret, http.StatusForbidden},
		{"no secret", "mcptray", "", "", http.StatusUnauthorized},
		{"a wrong secret", "mcptray", "", "Bearer " + wrong, http.StatusUnauthorized},
	} {
		conn, err := net.Dial("unix", p.Socket)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, "http://mcptray/v1/status", nil)
		req.Host = c.host
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		if err := req.Write(conn); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: HTTP %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
}

// serveControl serves h on a control socket of a fresh folder until the
// test ends.
func serveControl(t *testing.T, h http.Handler) Paths {
	t.Helper()
	dir := t.TempDir()
	p := PathsFor(filepath.Join(dir, "run"), filepath.Join(dir, "config.json"))
	srv, err := Listen(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	go func() { _ = srv.Serve(h) }()
	return p
}

// A client trusts the hub's folder and secret only when they are this
// user's and closed to others: in a shared temp folder another user could
// have made them first and pose as the hub.
func TestClientRefusesAnOpenFolder(t *testing.T) {
	p := serveControl(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	if _, err := Dial(p); err != nil {
		t.Fatalf("the hub's own private folder: %v", err)
	}
	refused := func(what string) {
		t.Helper()
		if _, err := Dial(p); err == nil || !strings.Contains(err.Error(), "refusing the hub's") {
			t.Errorf("%s: Dial = %v, want a refusal", what, err)
		}
	}
	if err := os.Chmod(p.Dir, 0o777); err != nil {
		t.Fatal(err)
	}
	refused("a folder open to others")
	if err := os.Chmod(p.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p.Secret, 0o644); err != nil {
		t.Fatal(err)
	}
	refused("a secret others can read")
	if err := os.Chmod(p.Secret, 0o600); err != nil {
		t.Fatal(err)
	}
	// The folder replaced by a symbolic link to one that looks right.
	moved := p.Dir + ".real"
	if err := os.Rename(p.Dir, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(moved, p.Dir); err != nil {
		t.Fatal(err)
	}
	refused("a symbolic link in the folder's place")
	if err := os.Remove(p.Dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Dial(p); !errors.Is(err, ErrNoHub) {
		t.Errorf("no folder at all: Dial = %v, want ErrNoHub", err)
	}
}

// 'mcptray stop' hears the hub's answer even when the hub closes its
// control socket right after (the shutdown is that quick when nothing
// runs): the answer is out whole before the shutdown starts.
func TestShutdownIsAnsweredBeforeTheSocketCloses(t *testing.T) {
	for i := range 200 {
		dir := t.TempDir()
		p := PathsFor(filepath.Join(dir, "run"), filepath.Join(dir, "config.json"))
		srv, err := Listen(p)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.Serve(NewAPI(API{Shutdown: srv.Close})) }()
		client, err := Dial(p)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = client.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatalf("stop %d: %v", i, err)
		}
	}
}
