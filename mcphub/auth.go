package mcphub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/upstream"
	"github.com/mcptray/mcptray/oauth"
)

// authFor returns the OAuth client of an HTTP server (nil for stdio
// servers, or when no keyring is available to keep tokens in).
func (h *Hub) authFor(srv config.Server) *oauth.Client {
	if h.opts.OAuth == nil || srv.Transport == config.TransportStdio {
		return nil
	}
	sc := oauth.ServerConfig{ID: srv.ID, URL: srv.URL}
	if o := srv.OAuth; o != nil {
		sc.ClientID, sc.Issuer, sc.Scopes, sc.CallbackPort = o.ClientID, o.Issuer, o.Scopes, o.CallbackPort
		sc.AllowPrivateNetwork = o.AllowPrivateNetwork
		if ref, resolve := o.ClientSecretRef, h.opts.ResolveSecret; ref != "" && resolve != nil {
			// Read when a token request needs it: a keyring locked at start
			// may be open by then, and a secret that cannot be read stops
			// the request rather than sending it as a public client's.
			sc.ClientSecretFunc = func() (string, error) {
				secret, err := resolve(ref)
				if err != nil {
					return "", fmt.Errorf("${keyring:%s}: %w", ref, err)
				}
				return secret, nil
			}
		}
	}
	return h.opts.OAuth.Client(sc)
}

// OnAuthEvent turns a change of a server's tokens into its status: the
// oauth.Manager's OnEvent calls it.
func (h *Hub) OnAuthEvent(server string, e oauth.Event) {
	c, ok := h.Conn(server)
	if !ok {
		return
	}
	switch e.Kind {
	case oauth.EventRefreshing:
		c.SetRefreshing(true)
	case oauth.EventRefreshed:
		c.SetRefreshing(false)
	case oauth.EventRefreshFailed:
		c.SetRefreshing(false)
		if e.Expired {
			c.Reconnect() // the next attempt reports the refresh problem and backs off
		}
	case oauth.EventNeedsAuth:
		// The grant is gone: reconnecting makes the server answer 401, which
		// the connection shows as needs_auth with the OAuth client's reason.
		c.Reconnect()
	}
}

// AuthenticateOptions says how to reach the person who asked to sign in.
type AuthenticateOptions struct {
	// Open shows the authorization URL: oauth.SystemBrowser, or a print
	// for --no-browser.
	Open oauth.Opener
	// OnURL, if set, learns the URL and whether opening it failed.
	OnURL func(authURL string, openErr error)
}

// Authenticate signs in to a server because a person asked (the key icon,
// 'mcptray auth', the bridge's sign-in tool). It returns nil only after the
// hub reconnected with the new tokens and the authenticated initialize and
// tools/list succeeded: success is never reported before that. While one
// sign-in to the server is open, another ask joins it: no second browser
// tab and flow, and its OnURL learns the open one's address. The sign-in
// goes on while anyone waits for it: ctx ending leaves it, and the last
// to leave cancels it.
func (h *Hub) Authenticate(ctx context.Context, id string, o AuthenticateOptions) error {
	h.mu.Lock()
	f, joined := h.signIns[id]
	if !joined {
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &signInFlight{done: make(chan struct{}), urlKnown: make(chan struct{}), cancel: cancel}
		h.signIns[id] = f
		go func() {
			err := h.authenticate(fctx, id, f.watch(o))
			h.mu.Lock()
			delete(h.signIns, id)
			h.mu.Unlock()
			f.err = err
			close(f.done)
			cancel()
		}()
	}
	f.waiting++
	h.mu.Unlock()
	return h.awaitSignIn(ctx, f, o, joined)
}

// signInFlight is a sign-in in progress, and who waits for it.
type signInFlight struct {
	done    chan struct{}
	err     error // set before done is closed
	cancel  context.CancelFunc
	waiting int // asks waiting for it (under Hub.mu)

	mu        sync.Mutex
	url       string        // the authorization URL, once opened
	urlKnown  chan struct{} // closed once url is set
	ownerLeft bool          // the first ask left: its OnURL is not called any more
}

// watch returns the first ask's o, with the URL also noted for those that
// join.
func (f *signInFlight) watch(o AuthenticateOptions) AuthenticateOptions {
	onURL := o.OnURL
	o.OnURL = func(authURL string, openErr error) {
		f.mu.Lock()
		first := f.url == ""
		f.url = authURL
		left := f.ownerLeft
		f.mu.Unlock()
		if first {
			close(f.urlKnown)
		}
		if onURL != nil && !left {
			onURL(authURL, openErr)
		}
	}
	return o
}

// awaitSignIn waits for the sign-in f to end, or for ctx: then this ask
// leaves it, and the last to leave cancels it and waits for its end. A
// joined ask's OnURL learns the address once there is one.
func (h *Hub) awaitSignIn(ctx context.Context, f *signInFlight, o AuthenticateOptions, joined bool) error {
	var urlKnown <-chan struct{}
	if joined && o.OnURL != nil {
		urlKnown = f.urlKnown
	}
	for {
		select {
		case <-f.done:
			return f.err
		case <-urlKnown:
			urlKnown = nil
			f.mu.Lock()
			authURL := f.url
			f.mu.Unlock()
			o.OnURL(authURL, nil)
		case <-ctx.Done():
			h.mu.Lock()
			f.waiting--
			last := f.waiting == 0
			h.mu.Unlock()
			if !joined {
				f.mu.Lock()
				f.ownerLeft = true
				f.mu.Unlock()
			}
			if !last {
				return fmt.Errorf("sign-in cancelled: %w", ctx.Err())
			}
			f.cancel()
			<-f.done
			return f.err
		}
	}
}

func (h *Hub) authenticate(ctx context.Context, id string, o AuthenticateOptions) error {
	if err := h.reloadIfWaiting(id); err != nil {
		return fmt.Errorf("sign in to %q: %w", id, err)
	}
	c, ok := h.conn(id)
	if !ok {
		return fmt.Errorf("sign in to %q: %w", id, ErrUnknownServer)
	}
	srv := c.Server()
	switch {
	case srv.SecretUnreadable != nil:
		return fmt.Errorf("%s cannot start before its keyring values can be read: %s", id, srv.SecretUnreadable.Msg)
	case srv.Disabled && h.Paused():
		return fmt.Errorf("MCP Tray is paused (Pause all): resume it to sign in to %s", id)
	case srv.Disabled:
		return fmt.Errorf("%s is disabled in the configuration", id)
	case srv.Transport == config.TransportStdio:
		return fmt.Errorf("%s is a local command: it takes credentials from its \"env\", not from a sign-in", id)
	case srv.HasStaticAuth():
		return fmt.Errorf("%s sends the Authorization header of its \"headers\" in the configuration, not a sign-in's tokens: if the server refuses it, correct that header", id)
	case h.opts.OAuth == nil:
		return fmt.Errorf("sign-in needs a keyring to keep tokens in: %s", h.opts.NoOAuthReason)
	}
	ac := c.auth
	var ch *oauth.Challenge
	if sc := c.Status().Challenge; sc != nil {
		ch = &oauth.Challenge{Status: sc.Status, ResourceMetadata: sc.ResourceMetadata, Scope: sc.Scope, Error: sc.Error}
	}
	sub := h.Subscribe(1024)
	defer sub.Close()
	before := c.Status()
	c.SetAuthenticating()
	err := ac.SignIn(ctx, oauth.SignInOptions{Open: o.Open, OnURL: o.OnURL, Challenge: ch})
	// The connection now: a reload or a pause while the browser was open
	// replaced the one the sign-in began with, and only the new one would
	// ever connect (needs_auth waits for exactly this reconnect).
	if cur, ok := h.conn(id); ok {
		c = cur
	}
	if err != nil {
		switch {
		case ctx.Err() != nil && before.State == status.NeedsAuth:
			// Cancelled by the person who started it: nothing failed, and
			// the server still needs sign-in for the reason it did.
			c.SetNeedsAuth(before.Reason)
		case ctx.Err() != nil, errors.Is(err, oauth.ErrKeyringUnavailable) && before.State != status.NeedsAuth:
			// Cancelled, or stored tokens wait for the keyring, not for a
			// sign-in: the attempt that follows shows the state again.
			c.Reconnect()
		case before.State == status.Connected && before.Challenge == nil:
			// A server that works without a sign-in stays as it was: the
			// attempt that follows connects it again.
			c.Reconnect()
			return fmt.Errorf("%s is connected and never asked for a sign-in; signing in anyway failed: %w", id, err)
		default:
			c.SetNeedsAuth("sign-in failed: " + upstream.Redact(err, srv)) // a key in the URL stays out of the status
		}
		return err
	}
	start := time.Now()
	c.Reconnect()
	return h.waitConnected(ctx, sub, id, start)
}

// waitConnected waits for the first attempt that began after start to
// end: connected is success, anything else is the reason it failed.
func (h *Hub) waitConnected(ctx context.Context, sub *status.Subscription, id string, start time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	attempted := false
	for {
		select {
		case e, ok := <-sub.C:
			if !ok {
				return errors.New("signed in, but the hub's status stream was interrupted; see 'mcptray status'")
			}
			st := e.Status
			if e.Kind != status.KindStatus || st == nil || st.Server != id || st.Since.Before(start) {
				continue
			}
			switch st.State {
			case status.Connecting:
				attempted = true
			case status.Connected:
				return nil
			case status.NeedsAuth, status.Error, status.Disabled:
				if attempted {
					return fmt.Errorf("signed in, but the server still refuses the connection: %s", st.Reason)
				}
			}
		case <-ctx.Done():
			return fmt.Errorf("signed in, but the server did not connect: %w", ctx.Err())
		}
	}
}

// CompleteSignIn finishes a sign-in of server from a pasted redirect URL
// or code (the browser ran on another machine).
func (h *Hub) CompleteSignIn(server, input string) error {
	if h.opts.OAuth == nil {
		return fmt.Errorf("sign-in needs a keyring to keep tokens in: %s", h.opts.NoOAuthReason)
	}
	return h.opts.OAuth.CompleteManually(server, input)
}

// SignOut revokes a server's grant and deletes its tokens; the server then
// shows needs_auth.
func (h *Hub) SignOut(ctx context.Context, id string) error {
	c, ok := h.conn(id)
	if !ok {
		return fmt.Errorf("sign out of %q: %w", id, ErrUnknownServer)
	}
	if c.auth == nil {
		return fmt.Errorf("%s has no sign-in", id)
	}
	err := c.auth.SignOut(ctx)
	c.Reconnect()
	return err
}

// forget deletes the tokens and registrations of servers whose removal
// was applied.
func (h *Hub) forget(ids []string) {
	if h.opts.OAuth == nil || len(ids) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, id := range ids {
			if err := h.opts.OAuth.Forget(ctx, id); err != nil {
				h.log.Warn("forgetting the removed server's sign-in failed", "server", id, "err", err)
			}
		}
	}()
}
