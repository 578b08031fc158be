package oauth

import (
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// DefaultCallbackPort is the loopback port of the sign-in redirect. A stable
// port keeps the registered redirect URI stable; when it is taken the next
// free one up to DefaultCallbackPort+10 is used (and, being a new redirect
// URI, registered anew).
const (
	DefaultCallbackPort = 48801
	callbackPortRange   = 10
	// flowLifetime bounds a sign-in: its state expires, and the listener
	// closes when no sign-in holds it.
	flowLifetime = 10 * time.Minute
)

// callbackResult is what the authorization server sent back.
type callbackResult struct {
	Code             string
	Iss              string
	HasIss           bool
	Error            string
	ErrorDescription string
}

// pending is one sign-in waiting for its redirect.
type pending struct {
	state   string
	server  string
	expires time.Time
	arrived chan callbackResult // the redirect (buffered)
	outcome chan error          // the flow's result, for the page (buffered)
	done    chan struct{}       // closed when the flow ends, after any outcome
	// needsIss: the issuer promises an iss parameter (RFC 9207), so a
	// pasted bare code, which has none, would be refused.
	needsIss bool
	issuer   string
}

// wait returns the flow's outcome, or says the flow ended without one (it
// was cancelled, or timed out, before the answer was used).
func (p *pending) wait() error {
	select {
	case err := <-p.outcome:
		return err
	case <-p.done:
		select {
		case err := <-p.outcome: // sent just before the end
			return err
		default:
			return errors.New("the sign-in ended (cancelled or timed out) before the pasted answer was used; start it again")
		}
	}
}

// callbackServer listens on one loopback port for every flow using it.
type callbackServer struct {
	m     *Manager
	port  int
	ln    net.Listener
	srv   *http.Server
	users int // sign-ins holding the listener, from callback to release (under m.cbMu)
	mu    sync.Mutex
	flows map[string]*pending // by state
	timer *time.Timer
}

func (cs *callbackServer) redirectURI() string {
	return "http://127.0.0.1:" + strconv.Itoa(cs.port) + "/callback"
}

// callback returns a running listener: on the pinned port when one is set
// (failing clearly when it is taken, since the provider only knows that
// redirect URI), else on the default port or the next free one. The
// caller holds it until release: a sign-in takes it before registering,
// which can take a minute before its flow is added, and another flow that
// ends meanwhile must not close it.
func (m *Manager) callback(pinned int) (*callbackServer, error) {
	m.cbMu.Lock()
	defer m.cbMu.Unlock()
	ports := []int{pinned}
	if pinned == 0 && m.cfg.EphemeralCallbackPort {
		ports = []int{0}
	} else if pinned == 0 {
		ports = ports[:0]
		for p := m.cfg.CallbackPort; p <= m.cfg.CallbackPort+callbackPortRange; p++ {
			ports = append(ports, p)
		}
	}
	for _, p := range ports {
		if cs, ok := m.callbacks[p]; ok && p != 0 {
			cs.users++
			return cs, nil
		}
	}
	var lastErr error
	for _, p := range ports {
		// Loopback only: the redirect carries the authorization code.
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			lastErr = err
			continue
		}
		p = ln.Addr().(*net.TCPAddr).Port
		cs := &callbackServer{m: m, port: p, ln: ln, users: 1, flows: map[string]*pending{}}
		cs.srv = &http.Server{Handler: cs, ReadHeaderTimeout: 10 * time.Second}
		cs.srv.SetKeepAlivesEnabled(false)
		go func() { _ = cs.srv.Serve(ln) }()
		m.callbacks[p] = cs
		if p != m.cfg.CallbackPort && pinned == 0 && !m.cfg.EphemeralCallbackPort {
			m.log.Warn("the sign-in callback port is taken; using another", "wanted", m.cfg.CallbackPort, "using", p)
		}
		return cs, nil
	}
	if pinned != 0 {
		return nil, fmt.Errorf("the sign-in callback port %d is in use by another program, and the app registered with the provider expects a redirect to that port: free the port and try again (%v)", pinned, lastErr)
	}
	return nil, fmt.Errorf("no sign-in callback port is free between %d and %d: %v", m.cfg.CallbackPort, m.cfg.CallbackPort+callbackPortRange, lastErr)
}

// add registers a flow; the listener stays up until it is done.
func (cs *callbackServer) add(p *pending) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.flows[p.state] = p
	if cs.timer != nil {
		cs.timer.Stop()
	}
	cs.timer = time.AfterFunc(flowLifetime, cs.expire)
}

// take removes and returns the flow with this state: a state is good for
// one redirect only (burned on arrival, before the code is exchanged).
func (cs *callbackServer) take(state string) *pending {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	p := cs.flows[state]
	if p == nil {
		return nil
	}
	delete(cs.flows, state)
	if time.Now().After(p.expires) {
		return nil
	}
	return p
}

// remove forgets a flow (finished or abandoned).
func (cs *callbackServer) remove(state string) {
	cs.mu.Lock()
	delete(cs.flows, state)
	cs.mu.Unlock()
}

// release ends a sign-in's hold on the listener, taken by callback, and
// closes it when nobody holds it and no flow is left.
func (cs *callbackServer) release() {
	cs.m.cbMu.Lock()
	cs.users--
	cs.m.cbMu.Unlock()
	cs.closeIfIdle()
}

func (cs *callbackServer) expire() {
	cs.mu.Lock()
	for s, p := range cs.flows {
		if time.Now().After(p.expires) {
			delete(cs.flows, s)
		}
	}
	cs.mu.Unlock()
	cs.closeIfIdle()
}

func (cs *callbackServer) closeIfIdle() {
	cs.m.cbMu.Lock()
	defer cs.m.cbMu.Unlock()
	cs.mu.Lock()
	idle := len(cs.flows) == 0 && cs.users == 0
	cs.mu.Unlock()
	if !idle || cs.m.callbacks[cs.port] != cs {
		return
	}
	delete(cs.m.callbacks, cs.port)
	// Stop accepting at once, so the next flow can bind this same port; the
	// page of the last redirect is still being written and finishes.
	_ = cs.ln.Close()
}

// pendingFor finds the one flow of a server, for a pasted bare code.
func (cs *callbackServer) pendingFor(server string) *pending {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	var found *pending
	for _, p := range cs.flows {
		if p.server == server {
			if found != nil {
				return nil // ambiguous
			}
			found = p
		}
	}
	return found
}

func (cs *callbackServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/callback" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	// The browser comes to 127.0.0.1 (the registered redirect URI): any
	// other Host is a page that rebound its name to loopback.
	if host, _, err := net.SplitHostPort(r.Host); err != nil || !isLoopbackHost(host) {
		page(w, http.StatusForbidden, "Not a sign-in", "This address answers MCP Tray's sign-in redirects only.", false)
		return
	}
	res, state := parseRedirect(r.URL.Query())
	p := cs.take(state)
	if p == nil {
		cs.m.log.Warn("sign-in redirect with an unknown, expired or used state was refused")
		page(w, http.StatusBadRequest, "Sign-in link not recognised",
			"This sign-in response is unknown, expired or was already used. Start the sign-in again from MCP Tray.", false)
		return
	}
	p.arrived <- res
	select {
	case err := <-p.outcome:
		if err != nil {
			page(w, http.StatusOK, "Sign-in failed", err.Error(), false)
			return
		}
		page(w, http.StatusOK, "Signed in", fmt.Sprintf("MCP Tray is signed in to %s. You can close this tab.", p.server), true)
	case <-time.After(60 * time.Second):
		page(w, http.StatusOK, "Still working", "MCP Tray received the sign-in and is still finishing it; see MCP Tray for the result.", false)
	case <-r.Context().Done():
	}
}

func parseRedirect(q url.Values) (callbackResult, string) {
	_, hasIss := q["iss"]
	return callbackResult{
		Code: q.Get("code"), Iss: q.Get("iss"), HasIss: hasIss,
		Error: q.Get("error"), ErrorDescription: q.Get("error_description"),
	}, q.Get("state")
}

// deliverManual completes a flow from what a person pasted: the whole
// redirect URL (preferred: it carries state and iss), or just the code.
func (m *Manager) deliverManual(server, input string) error {
	input = trimSpace(input)
	if input == "" {
		return errors.New("nothing was pasted")
	}
	m.cbMu.Lock()
	servers := make([]*callbackServer, 0, len(m.callbacks))
	for _, cs := range m.callbacks {
		servers = append(servers, cs)
	}
	m.cbMu.Unlock()
	if u, err := url.Parse(input); err == nil && u.RawQuery != "" {
		res, state := parseRedirect(u.Query())
		for _, cs := range servers {
			if p := cs.take(state); p != nil {
				p.arrived <- res
				return p.wait()
			}
		}
		return errors.New("the pasted URL does not belong to a sign-in in progress (unknown, expired or used state)")
	}
	for _, cs := range servers {
		p := cs.pendingFor(server)
		if p == nil {
			continue
		}
		if p.needsIss {
			// Refused before the flow is used up: the person can paste again.
			return fmt.Errorf("paste the whole address the browser ended on, not just the code: %s adds an iss parameter to it that proves the answer came from it", hostOf(p.issuer))
		}
		if cs.take(p.state) == nil {
			return fmt.Errorf("the sign-in to %s was already completed, cancelled or expired", server)
		}
		p.arrived <- callbackResult{Code: input}
		return p.wait()
	}
	return fmt.Errorf("no sign-in to %s is in progress", server)
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\n' || s[0] == '\r' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\n' || s[len(s)-1] == '\r' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}} - MCP Tray</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:5rem auto;color:#222}
h1{color:{{if .OK}}#1a7f37{{else}}#b42318{{end}}}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p></body></html>`))

// page answers the browser. html/template escapes every value: error
// descriptions come from the network.
func page(w http.ResponseWriter, code int, title, msg string, ok bool) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	_ = pageTemplate.Execute(w, map[string]any{"Title": title, "Message": msg, "OK": ok})
}
