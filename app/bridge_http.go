package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mcptray/mcptray/internal/h1"
	"github.com/mcptray/mcptray/mcphub/bridge"
	"github.com/mcptray/mcptray/mcphub/config"
)

// bridgeListener serves the bridge on 127.0.0.1 at the configured port,
// moving when the configuration changes the port.
type bridgeListener struct {
	b    *bridge.Bridge
	r    *runningHub
	mu   sync.Mutex
	srv  *h1.Server
	addr string
	url  string
	err  error
}

// apply listens on cfg's port (loopback only, TS-03) unless already there.
func (l *bridgeListener) apply(cfg *config.Config) {
	l.mu.Lock()
	defer l.mu.Unlock()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Hub.Bridge.Port))
	if l.srv != nil && l.addr == addr {
		return
	}
	if l.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = l.srv.Shutdown(ctx)
		cancel()
		l.srv = nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		l.err = fmt.Errorf("the bridge cannot listen on %s: %w (set hub.bridge.port to a free port)", addr, err)
		l.url = ""
		l.r.log.Error("bridge unavailable", "err", l.err)
		return
	}
	l.err = nil
	l.url = "http://" + addr + "/mcp"
	// h1's server: no goroutine hand-off per request (docs/benchmarks.md).
	l.srv = &h1.Server{Handler: l.b.Handler(), ReadHeaderTimeout: 10 * time.Second, Log: l.r.log.Logger}
	l.addr = addr
	go func(srv *h1.Server) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.r.log.Error("bridge stopped", "err", err)
		}
	}(l.srv)
	l.r.log.Info("bridge listening", "url", l.url)
	if !cfg.Hub.Bridge.RequireToken {
		l.r.log.Warn("hub.bridge.requireToken is false: ANY local program can use every server through " + l.url + " without a token; use this only for local testing")
	}
}

// address is the bridge's URL, or why there is none.
func (l *bridgeListener) address() (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.url, l.err
}

func (l *bridgeListener) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srv != nil {
		_ = l.srv.Close()
	}
}
