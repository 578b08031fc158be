package bridge

import (
	"context"
	"encoding/json"
	"time"

	"github.com/mcptray/mcptray/mcphub/store"
)

// listener is a 2026-07-28 client's subscriptions/listen stream (LC-08):
// the notification kinds it asked for, and its subscription ID (the
// request's ID), which every notification on it carries.
type listener struct {
	id                        json.RawMessage
	tools, prompts, resources bool
}

// Kinds of list change.
const (
	changedTools = iota
	changedPrompts
	changedResources
)

// testHookListenAcked, if set, runs between a listen's acknowledgement
// and the publication of its listener (tests: a catalog change there).
var testHookListenAcked func()

var listChangedMethods = [...]string{"notifications/tools/list_changed", "notifications/prompts/list_changed", "notifications/resources/list_changed"}

// listChanged tells the client that a list changed: on its GET stream
// (initialize era) or, if it asked for that kind, on its listen stream.
func (s *session) listChanged(kind int) {
	s.mu.Lock()
	l := s.listener
	s.mu.Unlock()
	if l == nil {
		s.notify(encodeNotify(listChangedMethods[kind], nil), holdWhenBehind)
		return
	}
	if want := [...]bool{l.tools, l.prompts, l.resources}[kind]; want {
		s.notify(encodeNotify(listChangedMethods[kind], subscriptionMeta(l.id)), holdWhenBehind)
	}
}

// resourceUpdated tells a subscribed client that a resource changed.
func (s *session) resourceUpdated(uri string) {
	if !s.subscribed(uri) {
		return
	}
	s.mu.Lock()
	l := s.listener
	s.mu.Unlock()
	params := map[string]any{"uri": uri}
	if l != nil {
		params["_meta"] = map[string]any{"io.modelcontextprotocol/subscriptionId": l.id}
	}
	s.notify(encodeNotify("notifications/resources/updated", params), holdWhenBehind)
}

func subscriptionMeta(id json.RawMessage) map[string]any {
	return map[string]any{"_meta": map[string]any{"io.modelcontextprotocol/subscriptionId": id}}
}

// listen serves subscriptions/listen: acknowledge what will be sent, then
// keep the stream open for notifications until the client closes or
// cancels it, or its token no longer verifies; on shutdown the stream
// ends with a result (TC-15, LC-08).
func (b *Bridge) listen(ctx context.Context, x *exchange) (json.RawMessage, *rpcError) {
	var p struct {
		Notifications *struct {
			ToolsListChanged      bool     `json:"toolsListChanged"`
			PromptsListChanged    bool     `json:"promptsListChanged"`
			ResourcesListChanged  bool     `json:"resourcesListChanged"`
			ResourceSubscriptions []string `json:"resourceSubscriptions"`
		} `json:"notifications"`
	}
	if err := json.Unmarshal(x.msg.Params, &p); err != nil || p.Notifications == nil {
		return nil, errorf(codeInvalidParams, "subscriptions/listen needs \"notifications\"")
	}
	n := p.Notifications
	s := x.sess
	// Over stdio the connection outlives the listen: notifications/cancelled
	// with its ID ends it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer s.track(x, cancel)()
	snap := b.snapshot(s.view)
	var uris, mine []string // acknowledged; subscribed by this listen
	for _, uri := range n.ResourceSubscriptions {
		server, ok := snap.owner(uri)
		if !ok {
			continue
		}
		already := s.subscribed(uri)
		err := b.setSubscription(s, server, uri, true, func(on bool) (upstreamSession, error) {
			return b.upstreamSubscribe(server, uri, on)
		})
		if err != nil {
			b.log.Warn("bridge: subscribing upstream failed", "server", server, "uri", uri, "err", b.redact(server, err))
			continue // not acknowledged: no updates will come
		}
		uris = append(uris, uri)
		if !already {
			mine = append(mine, uri)
		}
	}
	l := &listener{id: x.msg.ID, tools: n.ToolsListChanged, prompts: n.PromptsListChanged, resources: n.ResourcesListChanged}
	var wasInitialized bool
	if b.register(s) {
		// An HTTP request's session of its own ends with it; one opened
		// with a client token ends when the token no longer verifies, as
		// a GET stream does. Until the listener is published below it
		// has no stream: nothing reaches it.
		defer b.unregister(s)
		if s.key != (store.TokenHash{}) && b.opts.Tokens != nil {
			defer b.watchStream(s, s.key)()
		}
	} else {
		// Over stdio the stream's session was registered already and goes
		// on: what this listen set up ends with it.
		defer func() {
			s.mu.Lock()
			current := s.listener == l
			if current {
				s.listener = nil
			}
			s.mu.Unlock()
			if current {
				s.initialized.Store(wasInitialized)
			}
			for _, uri := range mine {
				if server, ok := s.subscription(uri); ok {
					_ = b.setSubscription(s, server, uri, false, func(on bool) (upstreamSession, error) {
						return b.upstreamSubscribe(server, uri, on)
					})
				}
			}
		}()
	}

	// The acknowledgement comes first (LC-08): the listener is published
	// only once it is sent, so no notification can overtake it.
	acked := map[string]any{
		"toolsListChanged": n.ToolsListChanged, "promptsListChanged": n.PromptsListChanged,
		"resourcesListChanged": n.ResourcesListChanged,
	}
	if n.ResourceSubscriptions != nil { // a list, if asked for: those that will be told of
		acked["resourceSubscriptions"] = append([]string{}, uris...)
	}
	ack := map[string]any{
		"notifications": acked,
		"_meta":         map[string]any{"io.modelcontextprotocol/subscriptionId": x.msg.ID},
	}
	if err := x.out.send(encodeNotify("notifications/subscriptions/acknowledged", ack)); err != nil {
		return nil, errorf(codeInternal, "the stream closed")
	}
	if testHookListenAcked != nil {
		testHookListenAcked()
	}
	s.mu.Lock()
	s.listener = l
	s.stream = x.out
	s.mu.Unlock()
	wasInitialized = s.initialized.Swap(true)
	// A change since snap that came before the listener was published
	// reached nobody: it is told now (at worst twice, which list_changed
	// allows).
	if now := b.snapshot(s.view); now != snap {
		for kind, changed := range changedKinds(snap, now) {
			if changed {
				s.listChanged(kind)
			}
		}
	}
	// Over HTTP a quiet stream says it is there now and then (TS-20).
	var keepalive <-chan time.Time
	out, overHTTP := x.out.(*httpOut)
	if overHTTP {
		t := time.NewTicker(keepAliveEvery)
		defer t.Stop()
		keepalive = t.C
	}
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-b.stop:
			break wait
		case <-s.gone:
			select {
			case <-b.stop: // shutting down
				break wait
			default:
				return nil, errorf(codeInvalidRequest, "the client token is no longer valid (revoked or expired)")
			}
		case <-keepalive:
			_ = out.keepAlive() // a client gone ends ctx
		}
	}
	data, _ := json.Marshal(subscriptionMeta(x.msg.ID))
	return data, nil
}
