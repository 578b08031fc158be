package bridge

//lint:file-ignore SA1019 sampling, elicitation, roots and logging are deprecated in 2026-07-28 but initialize-era peers use them: MCP Tray bridges both eras

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/upstream"
)

// Progress passes an upstream's progress notification to the request it
// belongs to, with the client's own token (LC-10).
func (b *Bridge) Progress(server string, p *mcp.ProgressNotificationParams) {
	tok, ok := p.ProgressToken.(string)
	if !ok {
		return
	}
	v, ok := b.progress.Load(tok)
	if !ok {
		return
	}
	r := v.(progressRoute)
	if !r.advance(p.Progress) {
		return
	}
	out := map[string]any{"progressToken": r.token, "progress": p.Progress}
	if p.Total != 0 {
		out["total"] = p.Total
	}
	if p.Message != "" {
		out["message"] = p.Message
	}
	r.out.offer(encodeNotify("notifications/progress", out), dropWhenBehind)
}

// Log passes an upstream's log message: to the request it came with (tag),
// else to every session of that server that set a log level. Each client
// gets only messages at or above the level it asked for, since the
// upstream session is shared; a 2026-07-28 request that named no level
// gets none (its logLevel _meta is the opt-in).
func (b *Bridge) Log(server string, p *mcp.LoggingMessageParams, tag string) {
	params := *p
	params.Meta = nil
	frame := encodeNotify("notifications/message", &params)
	level := string(p.Level)
	if tag != "" {
		v, ok := b.calls.Load(tag)
		if !ok {
			return // its request is over; it was nobody else's
		}
		// An initialize-era client that set no level gets what the
		// server chose to send (the server's default applies).
		x := v.(*call).x.Load()
		if want := x.logLevel(); logWanted(want, level) || (want == "" && !x.modern) {
			x.out.offer(frame, dropWhenBehind)
		}
		return
	}
	b.eachSession(func(s *session) {
		s.mu.Lock()
		want := s.logLevel
		s.mu.Unlock()
		if s.view.includes(server) && logWanted(want, level) {
			s.notify(frame, dropWhenBehind)
		}
	})
}

// logLevels ranks syslog severities, least severe first.
var logLevels = map[string]int{"debug": 0, "info": 1, "notice": 2, "warning": 3, "error": 4, "critical": 5, "alert": 6, "emergency": 7}

// logWanted reports whether a client that asked for want (empty: nothing)
// takes a message at level.
func logWanted(want, level string) bool {
	if want == "" {
		return false
	}
	w, ok := logLevels[want]
	if !ok {
		return true
	}
	l, ok := logLevels[level]
	return !ok || l >= w
}

// ResourceUpdated tells the sessions subscribed to the resource.
func (b *Bridge) ResourceUpdated(server string, p *mcp.ResourceUpdatedNotificationParams) {
	b.eachSession(func(s *session) {
		if s.view.includes(server) {
			s.resourceUpdated(p.URI)
		}
	})
}

// ElicitationComplete tells the IDE that was given a url-mode elicitation
// of server that its interaction finished: only that IDE (LC-21).
func (b *Bridge) ElicitationComplete(server, elicitationID string) {
	key := elicitationKey(server, elicitationID)
	b.eachSession(func(s *session) {
		s.mu.Lock()
		_, ok := s.urlElicitations[key]
		delete(s.urlElicitations, key)
		s.mu.Unlock()
		if ok {
			s.notify(encodeNotify("notifications/elicitation/complete", map[string]string{"elicitationId": elicitationID}), holdWhenBehind)
		}
	})
}

func elicitationKey(server, id string) string { return server + "\x00" + id }

// urlElicitationID is the ID of a url-mode elicitation/create, "" for
// any other request (params: go-sdk's typed params or JSON).
func urlElicitationID(method string, params any) string {
	if method != "elicitation/create" {
		return ""
	}
	switch p := params.(type) {
	case *mcp.ElicitParams:
		if p.Mode == "url" {
			return p.ElicitationID
		}
	case json.RawMessage:
		var probe struct {
			Mode string `json:"mode"`
			ID   string `json:"elicitationId"`
		}
		if json.Unmarshal(p, &probe) == nil && probe.Mode == "url" {
			return probe.ID
		}
	}
	return ""
}

// askedBy names the server in an elicitation's message, for an IDE that
// sees every server as one: its UI must make clear which server asks
// (LC-21). params is go-sdk's typed params or JSON; the original is kept.
func askedBy(server string, params any) any {
	switch p := params.(type) {
	case *mcp.ElicitParams:
		c := *p
		c.Message = "[" + server + "] " + c.Message
		return &c
	case json.RawMessage:
		start, end, ok := memberValue(p, "message")
		var msg string
		if !ok || json.Unmarshal(p[start:end], &msg) != nil {
			return params
		}
		return withMember(p, "message", "["+server+"] "+msg)
	}
	return params
}

// maxURLElicitations bounds the url-mode elicitations a session waits to
// hear the end of (a server need not send notifications/elicitation/complete).
const maxURLElicitations = 64

// expectCompletion remembers that the session was given server's url-mode
// elicitation id, for its notifications/elicitation/complete; forget
// undoes it (the IDE did not accept).
func (s *session) expectCompletion(server, id string) (forget func()) {
	key := elicitationKey(server, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.urlElicitations == nil {
		s.urlElicitations = map[string]struct{}{}
	}
	if len(s.urlElicitations) >= maxURLElicitations {
		for k := range s.urlElicitations {
			delete(s.urlElicitations, k) // one, any: the oldest are most likely over
			break
		}
	}
	s.urlElicitations[key] = struct{}{}
	return func() {
		s.mu.Lock()
		delete(s.urlElicitations, key)
		s.mu.Unlock()
	}
}

// Request answers an upstream's sampling, elicitation or roots request by
// asking the IDE whose call it belongs to (found by the call tag, or, where
// the transport cannot tell, among the server's calls in flight).
func (b *Bridge) Request(ctx context.Context, server, method string, params mcp.Params, tag string) (mcp.Result, error) {
	c, several := b.callFor(server, tag)
	if several {
		return nil, &jsonrpc.Error{Code: codeInvalidRequest, Message: fmt.Sprintf(
			"MCP Tray cannot route %s from %s to an IDE: several clients have calls in flight to it, and its transport does not say which call the request belongs to", method, server)}
	}
	if c == nil && method == "roots/list" {
		return b.rootsOutsideCalls(ctx, server, params)
	}
	if c == nil {
		return nil, &jsonrpc.Error{Code: codeInvalidRequest, Message: fmt.Sprintf("MCP Tray has no IDE request of %s waiting for %s", server, method)}
	}
	raw, err := c.ask(ctx, method, cleanParams(params))
	if err != nil {
		return nil, err
	}
	resp, err := decodeInputResponse(method, raw)
	if err != nil {
		return nil, err
	}
	return resp.(mcp.Result), nil
}

// rootsOutsideCalls answers a roots/list that belongs to no call (servers
// ask right after connecting, and after notifications/roots/list_changed):
// the roots are those of the one attached initialize-era IDE that sees the
// server and declared roots. With none, or several (whose folders differ),
// no IDE's folders apply, and there are none.
func (b *Bridge) rootsOutsideCalls(ctx context.Context, server string, params mcp.Params) (mcp.Result, error) {
	var asker *session
	var out sender
	n := 0
	b.eachSession(func(s *session) {
		// initialized first: it is stored after the capabilities are.
		if !s.initialized.Load() || !s.caps.roots || !s.view.includes(server) {
			return
		}
		n++
		s.mu.Lock()
		asker, out = s, s.stream
		s.mu.Unlock()
	})
	if n != 1 || out == nil {
		return &mcp.ListRootsResult{Roots: []*mcp.Root{}}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, rootsAskFor)
	defer cancel()
	raw, err := asker.request(ctx, out, "roots/list", cleanParams(params))
	if err != nil {
		return nil, err
	}
	resp, err := decodeInputResponse("roots/list", raw)
	if err != nil {
		return nil, err
	}
	return resp.(mcp.Result), nil
}

// rootsAskFor bounds an IDE's answer to roots/list, which no person makes.
const rootsAskFor = 30 * time.Second

// rootsChanged passes an IDE's notifications/roots/list_changed on to the
// servers it sees (LC-23): their next roots/list is answered with its
// roots, during its calls or, when it is the one IDE attached, outside
// them. Each server is told in the background.
func (b *Bridge) rootsChanged(s *session) {
	if !s.caps.roots {
		return
	}
	b.forEachUpstream(s.view, func(_ string, c *upstream.Conn) { c.RootsChanged() })
}

// ask puts a server's request of the call (params: go-sdk's typed params,
// or their JSON) to the IDE that made the call and returns its answer's
// JSON. A 2026-07-28 IDE takes no server requests: the call is suspended
// and answered with input_required (LC-27) if the IDE can handle it.
func (c *call) ask(ctx context.Context, method string, params any) (json.RawMessage, error) {
	// A request belongs to its call: when the call is over (answered,
	// cancelled), so is the request, whether or not the server says so.
	if !c.beginAsk() {
		return nil, &jsonrpc.Error{Code: codeInvalidRequest, Message: fmt.Sprintf("the IDE request of %s that %s belonged to is over", c.server, method)}
	}
	defer c.asks.Done()
	ctx, done := c.question(ctx)
	defer done()
	x := c.x.Load()
	if method == "elicitation/create" && x.sess.view.server == "" {
		params = askedBy(c.server, params)
	}
	if !x.modern {
		return c.b.askClient(ctx, x, c.server, method, params)
	}
	if c.input == nil {
		return nil, &jsonrpc.Error{Code: codeInvalidRequest, Message: fmt.Sprintf(
			"MCP Tray cannot put %s to the IDE: a 2026-07-28 client can be asked for input only during tools/call, prompts/get or resources/read", method)}
	}
	if err := capabilityFor(x.caps, c.server, method, params); err != nil {
		var d struct {
			Capability string `json:"capability"`
		}
		_ = json.Unmarshal(err.Data, &d)
		c.missing.Store(d.Capability)
		return nil, err
	}
	ir, ok := params.(mcp.InputRequest)
	if raw, isRaw := params.(json.RawMessage); isRaw {
		ir, ok = decodeInputRequest(method, raw)
	}
	if !ok {
		return nil, &jsonrpc.Error{Code: codeInvalidRequest, Message: "unsupported request " + method}
	}
	need := &inputNeed{method: method, params: ir, reply: make(chan inputReply, 1)}
	select {
	case c.input <- need:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-need.reply:
		return r.result, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// question is the context of a question of the call put to its IDE,
// made from ctx (the asker's): a person may be answering, so the call's
// clock stops meanwhile (a form filled in for over a minute timed the
// call out) and the question gets askFor of its own instead; it ends with
// the call. done releases it.
func (c *call) question(ctx context.Context) (_ context.Context, done func()) {
	release := c.b.holdDeadline(c.ctx)
	ctx, cancel := context.WithTimeout(ctx, askFor)
	stop := context.AfterFunc(c.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
		release()
	}
}

// decodeInputRequest reads a server request's params as go-sdk's type.
func decodeInputRequest(method string, raw json.RawMessage) (mcp.InputRequest, bool) {
	var p mcp.InputRequest
	switch method {
	case "sampling/createMessage":
		var probe struct {
			Tools json.RawMessage `json:"tools"`
		}
		_ = json.Unmarshal(raw, &probe)
		if len(probe.Tools) > 0 {
			p = &mcp.CreateMessageWithToolsParams{}
		} else {
			p = &mcp.CreateMessageParams{}
		}
	case "elicitation/create":
		p = &mcp.ElicitParams{}
	case "roots/list":
		p = &mcp.ListRootsParams{}
	default:
		return nil, false
	}
	if len(raw) > 0 && json.Unmarshal(raw, p) != nil {
		return nil, false
	}
	return p, true
}

// The raw path's handler (upstream.RawHandler): what the server sends with
// the call goes where the session path would send it.

// Notification passes a notification of the call on.
func (c *call) Notification(method string, params json.RawMessage) {
	switch method {
	case "notifications/progress":
		var p mcp.ProgressNotificationParams
		if json.Unmarshal(params, &p) == nil {
			c.b.Progress(c.server, &p)
		}
	case "notifications/message":
		var p mcp.LoggingMessageParams
		if json.Unmarshal(params, &p) == nil {
			c.b.Log(c.server, &p, c.tag)
		}
	case "notifications/resources/updated":
		var p mcp.ResourceUpdatedNotificationParams
		if json.Unmarshal(params, &p) == nil {
			c.b.ResourceUpdated(c.server, &p)
		}
	case "notifications/elicitation/complete":
		var p mcp.ElicitationCompleteParams
		if json.Unmarshal(params, &p) == nil {
			c.b.ElicitationComplete(c.server, p.ElicitationID)
		}
	}
}

// Request answers a server request of the call.
func (c *call) Request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	switch method {
	case "sampling/createMessage", "elicitation/create", "roots/list":
	default:
		return nil, &jsonrpc.Error{Code: codeMethodNotFound, Message: "MCP Tray does not relay " + method}
	}
	if len(params) == 0 {
		params = json.RawMessage(`{}`)
	}
	return c.ask(ctx, method, params)
}

// cleanParams drops the call tag before the request reaches the IDE.
func cleanParams(p mcp.Params) mcp.Params {
	switch v := p.(type) {
	case *mcp.CreateMessageParams:
		c := *v
		c.Meta = withoutTag(c.Meta)
		return &c
	case *mcp.CreateMessageWithToolsParams:
		c := *v
		c.Meta = withoutTag(c.Meta)
		return &c
	case *mcp.ElicitParams:
		c := *v
		c.Meta = withoutTag(c.Meta)
		return &c
	case *mcp.ListRootsParams:
		c := *v
		c.Meta = withoutTag(c.Meta)
		return &c
	}
	return p
}

func withoutTag(m mcp.Meta) mcp.Meta {
	if _, ok := m["io.mcptray/call"]; !ok {
		return m
	}
	out := mcp.Meta{}
	for k, v := range m {
		if k != "io.mcptray/call" {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// callFor finds the call a server's request belongs to: the tagged call
// (none once it is over), or with no tag (stdio, legacy SSE) the server's
// calls in flight, when they are all one session's: any of them then
// reaches the right IDE, the latest is taken. Calls of several sessions
// leave no way to tell (several): guessing would show one IDE's question
// to another, and send its answer back as the first's.
func (b *Bridge) callFor(server, tag string) (c *call, several bool) {
	if tag != "" {
		if v, ok := b.calls.Load(tag); ok {
			return v.(*call), false
		}
		return nil, false
	}
	b.mu.Lock()
	tags := slices.Clone(b.active[server])
	b.mu.Unlock()
	for _, t := range tags {
		v, ok := b.calls.Load(t)
		if !ok {
			continue
		}
		next := v.(*call)
		if c != nil && c.x.Load().sess != next.x.Load().sess {
			return nil, true
		}
		c = next
	}
	return c, false
}

// inflight keeps, per server, the tags of its calls in flight, oldest first.
func (b *Bridge) inflight(server, tag string, add bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	tags := b.active[server]
	if add {
		b.active[server] = append(tags, tag)
		return
	}
	for i, t := range tags {
		if t == tag {
			b.active[server] = append(tags[:i:i], tags[i+1:]...)
			break
		}
	}
}

// suspended is a call waiting for its 2026-07-28 client to retry with the
// input its (initialize-era) server asked for.
type suspended struct {
	c       *call
	needs   map[string]*inputNeed // by inputRequests key
	expires *time.Timer
	bound   binding
}

// binding is what a retry must match to take a suspended call up (LC-25):
// the requestState is a bearer secret, and one seen by another client, or
// replayed on another endpoint or as another request, must not resume the
// call in its place.
type binding struct {
	sess   *session // the client (see sameClient)
	view   string   // view.key(): the endpoint and the token's scope
	method string
	name   string // the tool or prompt name, or the resource URI
}

func bindingOf(x *exchange) binding {
	bd := binding{sess: x.sess, view: x.sess.view.key(), method: x.msg.Method}
	if x.params != nil {
		bd.name = x.params.Name + x.params.URI
	}
	return bd
}

func (bd binding) allows(x *exchange) bool {
	retry := bindingOf(x)
	return bd.sess.sameClient(retry.sess) && bd.view == retry.view && bd.method == retry.method && bd.name == retry.name
}

const (
	suspendFor = 5 * time.Minute
	// askFor is how long a server's question (elicitation, sampling) may
	// wait for its answer: a person's time, not counted against the call's
	// timeout.
	askFor = 10 * time.Minute
	// gatherFor: an initialize-era server sends the requests of one round
	// at once (go-sdk fulfils an input-required result in parallel); the
	// ones that arrive together go to the client in one result.
	gatherFor = 25 * time.Millisecond
)

// suspend answers the client with input_required for need (and any other
// request of the server arriving with it) and keeps the upstream call
// running until the client retries with the input, or suspendFor passes.
func (b *Bridge) suspend(x *exchange, need *inputNeed, c *call) json.RawMessage {
	needs := map[string]*inputNeed{"input1": need}
	gather := time.NewTimer(gatherFor)
collect:
	for {
		select {
		case n := <-c.input:
			needs["input"+strconv.Itoa(len(needs)+1)] = n
		case <-gather.C:
			break collect
		}
	}
	id := randomID()
	s := &suspended{c: c, needs: needs, bound: bindingOf(x)}
	s.expires = time.AfterFunc(suspendFor, func() {
		b.abandon(id, errors.New("the client did not come back with the input in time"))
	})
	b.suspended.Store(id, s)
	requests := mcp.InputRequestMap{}
	for k, n := range needs {
		requests[k] = n.params
	}
	return inputRequired(requests, b.sealState(id))
}

// abandon ends the suspended call id, if it still waits: its questions are
// answered err and the upstream call is ended.
func (b *Bridge) abandon(id string, err error) {
	v, ok := b.suspended.LoadAndDelete(id)
	if !ok {
		return
	}
	s := v.(*suspended)
	s.expires.Stop()
	for _, n := range s.needs {
		n.reply <- inputReply{err: err}
	}
	s.c.end()
	s.c.b.recordCall(s.c.rec, outcomeTimeout, 0) // the client never came back
}

// resumed is the answer to a retry that carried the bridge's own state.
type resumed struct {
	result json.RawMessage
	err    *rpcError
}

// resumption continues a suspended call when a client retries with the
// state the bridge gave it. ok is false for any other state (a 2026-07-28
// server's own, which is passed through).
func (b *Bridge) resumption(ctx context.Context, x *exchange, state string, responses mcp.InputResponseMap) (resumed, bool) {
	id, ok := b.openState(state)
	if !ok {
		return resumed{}, false
	}
	// Only the retry the state was given for takes the call up; any other
	// finds nothing, and the call still waits for its own.
	v, ok := b.suspended.Load(id)
	if !ok || !v.(*suspended).bound.allows(x) || !b.suspended.CompareAndDelete(id, v) {
		return resumed{nil, errorf(codeInvalidParams, "this requestState is unknown or expired; call the tool again")}, true
	}
	s := v.(*suspended)
	s.expires.Stop()
	// The retry is the call's request now: its notifications/cancelled
	// (stdio, where ctx is the connection's) ends the call, as leaving it
	// does; further requests of the server, and its progress, go to it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer x.sess.track(x, cancel)()
	s.c.x.Store(x)
	s.c.routeProgress(x)
	for key, n := range s.needs {
		resp, ok := responses[key]
		if !ok {
			n.reply <- inputReply{err: fmt.Errorf("the client did not answer %q", key)}
			continue
		}
		raw, _ := json.Marshal(resp)
		n.reply <- inputReply{result: raw}
	}
	select {
	case o := <-s.c.done:
		s.c.end()
		r, outcome := b.resumedAnswer(x, s.c, o)
		b.recordCall(s.c.rec, outcome, len(r.result))
		return r, true
	case need := <-s.c.input:
		return resumed{b.suspend(x, need, s.c), nil}, true
	case <-ctx.Done(): // the client left the retry: that cancels the call (TS-13)
		s.c.end()
		<-s.c.done
		b.recordCall(s.c.rec, outcomeCancelled, 0)
		return resumed{nil, errorf(codeInternal, "the request was cancelled")}, true
	}
}

// resumedAnswer is the answer to the retry that found its call ended with
// o, and the outcome to record of the whole call.
func (b *Bridge) resumedAnswer(x *exchange, c *call, o callOutcome) (resumed, string) {
	if rerr := c.missingCapability(); rerr != nil {
		return resumed{nil, rerr}, outcomeError
	}
	if o.err != nil {
		r, rerr, outcome := b.upstreamError(context.Background(), x.msg.Method, c.server, o.err)
		return resumed{r, rerr}, outcome
	}
	if requests, state := inputOf(o.res); requests != nil {
		return resumed{inputRequired(requests, state), nil}, outcomeOK
	}
	data, err := resultJSON(o.res)
	if err != nil {
		return resumed{nil, errorf(codeInternal, "encoding the result: %v", err)}, outcomeError
	}
	if isToolError(data) {
		return resumed{data, nil}, outcomeToolError
	}
	return resumed{data, nil}, outcomeOK
}

// sealState makes the requestState of a suspended call: its ID and a MAC,
// so a client cannot forge or alter it (LC-25).
func (b *Bridge) sealState(id string) string {
	m := hmac.New(sha256.New, b.stateKey)
	m.Write([]byte(id))
	return statePrefix + id + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

const statePrefix = "mcptray1."

func (b *Bridge) openState(state string) (string, bool) {
	rest, ok := strings.CutPrefix(state, statePrefix)
	if !ok {
		return "", false
	}
	id, mac, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	want := strings.TrimPrefix(b.sealState(id), statePrefix+id+".")
	if !hmac.Equal([]byte(mac), []byte(want)) {
		return "", false
	}
	return id, true
}

func randomID() string {
	buf := make([]byte, 12)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}
