package control

import (
	"bufio"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
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
