package bridge

import (
	"context"
	"encoding/json"
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
// keep the stream open for notifications until the client closes it; on
// shutdown the stream ends with a result (TC-15, LC-08).
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
	snap := b.snapshot(s.view)
	var uris []string
	for _, uri := range n.ResourceSubscriptions {
		if server, ok := snap.owner(uri); ok {
			uris = append(uris, uri)
			if !s.subscribe(uri, true) {
				continue // listed twice
			}
			if first, _ := b.countSubscription(server, uri, true); first {
				b.forEachUpstream(view{server: server}, func(_ string, cs upstreamSession) {
					_ = cs.Subscribe(ctx, &subscribeParams{URI: uri})
				})
			}
		}
	}
	s.mu.Lock()
	s.listener = &listener{id: x.msg.ID, tools: n.ToolsListChanged, prompts: n.PromptsListChanged, resources: n.ResourcesListChanged}
	s.stream = x.out
	s.mu.Unlock()
	s.initialized.Store(true)
	if b.register(s) { // over stdio the stream's session already is
		defer b.unregister(s)
	}

	ack := map[string]any{
		"notifications": map[string]any{
			"toolsListChanged": n.ToolsListChanged, "promptsListChanged": n.PromptsListChanged,
			"resourcesListChanged": n.ResourcesListChanged, "resourceSubscriptions": uris,
		},
		"_meta": map[string]any{"io.modelcontextprotocol/subscriptionId": x.msg.ID},
	}
	if err := x.out.send(encodeNotify("notifications/subscriptions/acknowledged", ack)); err != nil {
		return nil, errorf(codeInternal, "the stream closed")
	}
	select {
	case <-ctx.Done():
	case <-b.stop:
	}
	data, _ := json.Marshal(subscriptionMeta(x.msg.ID))
	return data, nil
}
