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
	open bool // warned that no client token is required
	// retry applies the configuration again while its port is taken, so
	// the bridge gets there once the port is free; gen tells it whether
	// another apply came since.
	retry  *time.Timer
	gen    int
	closed bool
}

// bridgeRetry is how often a taken port is tried again.
const bridgeRetry = 2 * time.Second

// apply listens on cfg's port (loopback only, TS-03) unless already there.
// A move binds the new port before it lets go of the old one: when the
// new port is taken, the bridge stays where the IDEs know it, says so, and
// tries the port again every bridgeRetry until it is free.
func (l *bridgeListener) apply(cfg *config.Config) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.applyLocked(cfg)
}

func (l *bridgeListener) applyLocked(cfg *config.Config) {
	if l.closed {
		return
	}
	l.gen++
	if l.retry != nil {
		l.retry.Stop()
		l.retry = nil
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Hub.Bridge.Port))
	defer l.warnIfOpen(cfg.Hub.Bridge.RequireToken)
	if l.srv != nil && l.addr == addr {
		l.err = nil // back to where it runs
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		was := l.err
		if l.srv != nil {
			l.err = fmt.Errorf("the bridge cannot move to %s: %w; it stays on %s until the port is free (or set hub.bridge.port to a free port)", addr, err, l.addr)
		} else {
			l.err = fmt.Errorf("the bridge cannot listen on %s: %w; it does once the port is free (or set hub.bridge.port to a free port)", addr, err)
		}
		if was == nil || was.Error() != l.err.Error() { // once, not at every retry
			l.r.log.Error("bridge port unavailable", "err", l.err)
		}
		gen := l.gen
		l.retry = time.AfterFunc(bridgeRetry, func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if gen == l.gen { // no apply since
				l.applyLocked(cfg)
			}
		})
		return
	}
	if l.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = l.srv.Shutdown(ctx)
		cancel()
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
	l.open = false // a new address: warn again
}

// warnIfOpen logs loudly, once per address and each time it is turned
// off, that the bridge requires no client token.
func (l *bridgeListener) warnIfOpen(requireToken bool) {
	if requireToken || l.srv == nil {
		l.open = false
		return
	}
	if !l.open {
		l.r.log.Warn("hub.bridge.requireToken is false: ANY local program can use every server through " + l.url + " without a token; use this only for local testing")
		l.open = true
	}
}

// tokenless reports whether the bridge listens and takes requests without
// a client token.
func (l *bridgeListener) tokenless() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// address is the bridge's URL ("" when it listens nowhere), and why it is
// not on the configured port, if it is not.
func (l *bridgeListener) address() (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.url, l.err
}

func (l *bridgeListener) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.retry != nil {
		l.retry.Stop()
	}
	if l.srv != nil {
		_ = l.srv.Close()
	}
}
