package control

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mcptray/mcptray/internal/atomicfile"
)

// Server serves the control API on the hub's socket.
type Server struct {
	ln     net.Listener
	mu     sync.Mutex // guards http and closed: Close may come before Serve
	http   *http.Server
	closed bool
	secret string
	paths  Paths
	// base is every request's parent context; Close cancels it, which
	// also ends upgraded (stdio bridge) connections http.Server forgets.
	base       context.Context
	cancelBase context.CancelFunc
}

// Listen writes a fresh control secret and listens on the control socket.
// The caller must hold the hub's Lock: a socket file left by a crashed hub
// is removed.
func Listen(p Paths) (*Server, error) {
	if err := EnsurePrivateDir(p.Dir); err != nil {
		return nil, err
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(buf)
	if err := atomicfile.WriteFile(p.Secret, []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write control secret: %w", err)
	}
	if err := removeIfExists(p.Socket); err != nil {
		return nil, fmt.Errorf("remove stale socket %s: %w", p.Socket, err)
	}
	ln, err := net.Listen("unix", p.Socket)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", p.Socket, err)
	}
	if err := os.Chmod(p.Socket, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("protect %s: %w", p.Socket, err)
	}
	base, cancel := context.WithCancel(context.Background())
	return &Server{ln: ln, secret: secret, paths: p, base: base, cancelBase: cancel}, nil
}

// Serve answers requests with h, after checking the secret, until Close.
func (s *Server) Serve(h http.Handler) error {
	srv := &http.Server{Handler: s.authorize(h), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return s.base }}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.http = srv
	s.mu.Unlock()
	err := srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// controlHost is the Host every control client sends; the socket is not
// reachable from a browser, but a request that looks like one (an Origin,
// another Host) is refused anyway, before the secret is looked at.
const controlHost = "mcptray"

func (s *Server) authorize(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.secret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != controlHost || r.Header.Get("Origin") != "" {
			writeError(w, http.StatusForbidden, "the control API answers MCP Tray's own commands only")
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			writeError(w, http.StatusUnauthorized, "the control secret is missing or wrong")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Close stops serving and removes the socket and secret.
func (s *Server) Close() {
	s.cancelBase()
	s.mu.Lock()
	s.closed = true
	srv := s.http
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	} else {
		_ = s.ln.Close()
	}
	_ = removeIfExists(s.paths.Socket)
	_ = removeIfExists(s.paths.Secret)
}

// readSecret reads the control secret of a running hub.
func readSecret(p Paths) (string, error) {
	data, err := os.ReadFile(p.Secret)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}
