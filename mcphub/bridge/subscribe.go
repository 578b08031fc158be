package bridge

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// upstreamSub is the bridge's one upstream subscription to a server's
// resource, shared by every session subscribed to it.
type upstreamSub struct {
	// mu is held while the upstream is asked: one change at a time, so a
	// second session's subscribe waits for the first's to succeed or fail.
	mu sync.Mutex
	n  atomic.Int32    // sessions subscribed (changed under mu)
	cs upstreamSession // the upstream session subscribed, while n > 0
}

func subKey(server, uri string) string { return server + "\x00" + uri }

// lockSub returns the subscription of key, locked, made if need be.
func (b *Bridge) lockSub(key string) *upstreamSub {
	for {
		b.mu.Lock()
		e := b.subs[key]
		if e == nil {
			e = &upstreamSub{}
			b.subs[key] = e
		}
		b.mu.Unlock()
		e.mu.Lock()
		b.mu.Lock()
		current := b.subs[key] == e
		b.mu.Unlock()
		if current {
			return e
		}
		e.mu.Unlock() // dropped while this waited: take the new one
	}
}

// unlockSub unlocks what lockSub returned, dropping it once unused.
func (b *Bridge) unlockSub(key string, e *upstreamSub) {
	if e.n.Load() == 0 {
		b.mu.Lock()
		if b.subs[key] == e {
			delete(b.subs, key)
		}
		b.mu.Unlock()
	}
	e.mu.Unlock()
}

// setSubscription subscribes session s to server's uri (on) or ends that.
// Only the first session and the last ask the upstream (up returns the
// session it asked); the counts change only once a subscribe succeeded,
// so a failed one leaves nothing behind and the next try asks again.
// Ending a subscription counts down whatever the upstream answers: the
// session no longer wants the updates either way. A server that cannot
// subscribe is not asked (notSubscribable's *rpcError).
func (b *Bridge) setSubscription(s *session, server, uri string, on bool, up func(on bool) (upstreamSession, error)) error {
	if on {
		if rerr := b.notSubscribable(server, uri); rerr != nil {
			return rerr
		}
	}
	key := subKey(server, uri)
	e := b.lockSub(key)
	defer b.unlockSub(key, e)
	if !on {
		if !s.subscribe(uri, server, false) {
			return nil // not subscribed (or unregistered, which counts it down)
		}
		if e.n.Add(-1) > 0 {
			return nil
		}
		_, err := up(false)
		return err
	}
	if s.subscribed(uri) {
		return nil
	}
	first := e.n.Load() == 0
	if first {
		cs, err := up(true)
		if err != nil {
			return err
		}
		e.cs = cs
	}
	if !s.subscribe(uri, server, true) {
		// The session was unregistered meanwhile.
		if first {
			_, _ = up(false)
		}
		return nil
	}
	e.n.Add(1)
	return nil
}

// dropSubscriptions counts down an unregistered session's subscriptions,
// each on a goroutine of its own: the last one's upstream unsubscribe
// must hold up neither the DELETE, nor the sessions' expiry, nor the
// token sweep, however long a hung server takes (its timeout).
func (b *Bridge) dropSubscriptions(s *session) {
	for uri, server := range s.takeSubs() {
		go func() {
			key := subKey(server, uri)
			e := b.lockSub(key)
			defer b.unlockSub(key, e)
			if e.n.Add(-1) > 0 {
				return
			}
			if _, err := b.upstreamSubscribe(server, uri, false); err != nil {
				b.log.Warn("bridge: unsubscribing upstream failed", "server", server, "uri", uri, "err", b.redact(server, err))
			}
		}()
	}
}

// upstreamSubscribe asks server's session to subscribe to uri (on) or
// unsubscribe, with the server's timeout, and returns the session asked.
// A server that is down cannot subscribe; unsubscribing it is nothing to
// do (its session, and what that was subscribed to, is gone).
func (b *Bridge) upstreamSubscribe(server, uri string, on bool) (upstreamSession, error) {
	var cs upstreamSession
	c, ok := b.hub.Conn(server)
	if ok && usable(c) {
		cs = c.Session()
	}
	if cs == nil {
		if on {
			return nil, fmt.Errorf("%s is not connected", server)
		}
		return nil, nil
	}
	ctx, cancel := b.withTimeout(c.Server().Timeout)
	defer cancel()
	if on {
		return cs, cs.Subscribe(ctx, &subscribeParams{URI: uri})
	}
	return cs, cs.Unsubscribe(ctx, &unsubscribeParams{URI: uri})
}

// renewSubscriptions subscribes a server's new session (the hub
// reconnected) to every resource that sessions are subscribed to: the
// counts outlive the upstream session, its subscriptions do not. It runs
// off the event loop; a failure is logged and tried again at the server's
// next status event.
func (b *Bridge) renewSubscriptions(server string) {
	b.mu.Lock()
	var uris []string
	for key, e := range b.subs {
		if uri, ok := strings.CutPrefix(key, server+"\x00"); ok && e.n.Load() > 0 {
			uris = append(uris, uri)
		}
	}
	b.mu.Unlock()
	if len(uris) == 0 {
		return
	}
	go func() {
		c, ok := b.hub.Conn(server)
		if !ok || !usable(c) {
			return
		}
		for _, uri := range uris {
			if rerr := b.notSubscribable(server, uri); rerr != nil {
				// The server came back without resources.subscribe: it is
				// not asked (LC-03), and the IDE hears no more of the URI.
				b.log.Warn("bridge: a subscription cannot be renewed after a reconnect", "server", server, "uri", uri, "err", rerr.Message)
				continue
			}
			key := subKey(server, uri)
			e := b.lockSub(key)
			if cs := c.Session(); e.n.Load() > 0 && cs != nil && e.cs != cs {
				ctx, cancel := b.withTimeout(c.Server().Timeout)
				if err := cs.Subscribe(ctx, &subscribeParams{URI: uri}); err != nil {
					b.log.Warn("bridge: subscribing again after a reconnect failed", "server", server, "uri", uri, "err", b.redact(server, err))
				} else {
					e.cs = cs
				}
				cancel()
			}
			b.unlockSub(key, e)
		}
	}()
}

// notSubscribable refuses a subscription to a resource of a server that
// did not declare resources.subscribe, which is not asked (LC-03). It is
// -32602, not -32601: the bridge offers subscriptions, only not to this
// resource.
func (b *Bridge) notSubscribable(server, uri string) *rpcError {
	if caps, ok := b.declared(server); ok && (caps.Resources == nil || !caps.Resources.Subscribe) {
		return errorf(codeInvalidParams, "%s does not support subscriptions, so %s cannot be subscribed to", server, uri)
	}
	return nil
}
