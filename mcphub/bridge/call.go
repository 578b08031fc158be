package bridge

//lint:file-ignore SA1019 sampling, elicitation, roots and logging are deprecated in 2026-07-28 but initialize-era peers use them: MCP Tray bridges both eras

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/jsonobj"
	"github.com/mcptray/mcptray/mcphub/store"
	"github.com/mcptray/mcptray/mcphub/upstream"
	"github.com/mcptray/mcptray/oauth"
)

// Outcomes of a bridged call, as recorded.
const (
	outcomeOK          = store.OutcomeOK
	outcomeToolError   = "tool_error"  // the tool answered isError
	outcomeError       = "error"       // a protocol or transport error
	outcomeUnavailable = "unavailable" // the server is down or signed out
	outcomeCancelled   = store.OutcomeCancelled
	outcomeTimeout     = "timeout"
	// outcomeSuspended: answered input_required by the bridge, the call
	// goes on; it is recorded when it ends (call.rec), not now.
	outcomeSuspended = "suspended"
)

// progressRoute sends an upstream's progress back to the request that
// asked for it, with the client's own token (LC-10).
type progressRoute struct {
	out   sender
	token json.RawMessage
	// last is the last progress sent (math.Float64bits): the IDE gets only
	// values above it, as progress must increase, also when a request lost
	// with its stream is sent again and its progress starts over.
	last *atomic.Uint64
}

func newProgressRoute(out sender, token json.RawMessage) progressRoute {
	r := progressRoute{out: out, token: token, last: new(atomic.Uint64)}
	r.last.Store(math.Float64bits(math.Inf(-1)))
	return r
}

// advance reports whether progress is above the last sent, and if so
// makes it the last.
func (r progressRoute) advance(progress float64) bool {
	for {
		prev := r.last.Load()
		if !(progress > math.Float64frombits(prev)) {
			return false
		}
		if r.last.CompareAndSwap(prev, math.Float64bits(progress)) {
			return true
		}
	}
}

// call is one upstream call in flight for a client request. It owns its
// upstream context, its tag and its progress route, and can outlive the
// request that started it (a suspension, LC-27); end releases them once.
type call struct {
	b      *Bridge
	x      atomic.Pointer[exchange] // the request currently waiting on it (a retry's, once resumed)
	server string
	tag    string
	do     sdkCall // the request through the go-sdk session (see sdk)
	// input carries requests the (initialize-era) server sends mid-call to
	// a 2026-07-28 client, which cannot take server requests; done, the
	// outcome of a call that may be suspended. Both nil for an
	// initialize-era client, whose calls are never suspended; input is nil
	// too for a request that cannot be answered input_required (LC-25).
	input chan *inputNeed
	done  chan callOutcome
	// ctx is the upstream call's; the server's requests of the call end
	// with it.
	ctx    context.Context
	cancel context.CancelFunc
	ended  sync.Once
	askMu  sync.Mutex
	over   bool           // ended: no more server requests
	asks   sync.WaitGroup // server requests in flight
	// progress is the token the server reports the call's progress under
	// ("": none); its route lasts as long as the call.
	progress string
	// missing is a capability the IDE lacks that the server asked for
	// mid-call; a 2026-07-28 IDE then gets -32021 for the call.
	missing atomic.Value // string
	// rec is a suspended call's record, kept until the call ends (across
	// the client's retries), so it is recorded once, whole.
	rec store.Call
}

type callOutcome struct {
	res any
	err error
}

type inputNeed struct {
	method string
	params mcp.InputRequest
	reply  chan inputReply
}

type inputReply struct {
	result json.RawMessage
	err    error
}

// end finishes the call. The server's requests still open are cancelled
// at the IDE before end returns, so their notifications/cancelled precede
// the call's answer on its stream (after the answer the stream is gone).
func (c *call) end() {
	c.ended.Do(func() {
		c.askMu.Lock()
		c.over = true
		c.askMu.Unlock()
		c.cancel()
		c.asks.Wait()
		c.b.calls.Delete(c.tag)
		c.b.inflight(c.server, c.tag, false)
		if up := c.progress; up != "" {
			// The last notification can trail the result; keep the route briefly.
			c.b.afterTick(2*time.Second, func() { c.b.progress.Delete(up) })
		}
	})
}

// progressToken is the client's progress token of x's request, nil for none.
func progressToken(x *exchange) json.RawMessage {
	if tok := x.meta["progressToken"]; len(tok) > 0 && string(tok) != "null" {
		return tok
	}
	return nil
}

// routeProgress sends the call's progress to x, the request now waiting on
// it (a retry, LC-27), under x's own token; a retry without one gets none.
func (c *call) routeProgress(x *exchange) {
	if c.progress == "" {
		return
	}
	if tok := progressToken(x); tok != nil {
		c.b.progress.Store(c.progress, newProgressRoute(x.out, tok))
	} else {
		c.b.progress.Delete(c.progress)
	}
}

// beginAsk registers a server request of the call; false once it ended.
func (c *call) beginAsk() bool {
	c.askMu.Lock()
	defer c.askMu.Unlock()
	if c.over {
		return false
	}
	c.asks.Add(1)
	return true
}

// sdkCall makes an upstream request through the go-sdk session, with the
// call's context and the progress token to pass upstream.
type sdkCall func(ctx context.Context, cs *mcp.ClientSession, progress any) (any, error)

// rawParams builds the params JSON of an upstream request for the raw
// path (upstream.Conn.CallRaw), given the progress token to pass.
type rawParams func(progress any) json.RawMessage

// forward runs one upstream request for x: routing is done, server is
// known. raw (nil: none) is tried first where the session has a raw path;
// do is the go-sdk way, for everything else.
func (b *Bridge) forward(ctx context.Context, x *exchange, server, method, item string, raw rawParams, do sdkCall) (json.RawMessage, *rpcError) {
	start := time.Now()
	rec := store.Call{Time: start, Client: x.sess.client, Server: server, Method: method, Item: item, BytesIn: len(x.msg.Params)}
	result, rerr, outcome := b.forwardCall(ctx, x, server, method, raw, do, rec)
	if outcome != outcomeSuspended {
		b.recordCall(rec, outcome, len(result))
	}
	return result, rerr
}

// recordCall writes a call's record, now that it ended with outcome.
func (b *Bridge) recordCall(rec store.Call, outcome string, bytesOut int) {
	rec.Duration, rec.Outcome, rec.BytesOut = time.Since(rec.Time), outcome, bytesOut
	if b.opts.Recorder != nil {
		b.opts.Recorder.RecordCall(rec)
	}
}

func (b *Bridge) forwardCall(ctx context.Context, x *exchange, server, method string, raw rawParams, do sdkCall, rec store.Call) (json.RawMessage, *rpcError, string) {
	conn, ok := b.hub.Conn(server)
	if !ok || !usable(conn) {
		b.awaitFirstConnect(ctx, x.sess.view, server)
		conn, ok = b.hub.Conn(server)
	}
	if !ok || !usable(conn) {
		reason := b.snapshot(x.sess.view).unavailable[server]
		if reason == "" && ok {
			// The catalog snapshot has not caught up with the state yet.
			reason = unavailableReason(server, b.signInToolName(server), conn.Status())
		}
		if reason == "" {
			reason = server + " is not connected"
		}
		res, rerr := unavailable(method, reason)
		return res, rerr, outcomeUnavailable
	}
	cs := conn.Session()

	// The upstream call has its own context: it can outlive this request
	// (suspension), and an initialize-era client's dropped connection is no
	// cancellation (TS-13). A 2026-07-28 client's is, unless suspended.
	cctx, cancel := b.withTimeout(conn.Server().Timeout)
	c := &call{b: b, server: server, tag: "c" + strconv.FormatUint(b.seq.Add(1), 36), do: do, ctx: cctx, cancel: cancel}
	c.x.Store(x)
	if x.modern {
		c.done = make(chan callOutcome, 1)
		if canAskForInput(method) {
			c.input = make(chan *inputNeed)
		}
	}
	var progress any
	if tok := progressToken(x); tok != nil {
		c.progress = "mcptray-p" + strconv.FormatUint(b.seq.Add(1), 36)
		b.progress.Store(c.progress, newProgressRoute(x.out, tok))
		progress = c.progress
	}
	b.calls.Store(c.tag, c)
	b.inflight(server, c.tag, true)
	defer x.sess.track(x, cancel)()

	// answer ends the call with the server's answer (c.end's cleanup
	// precedes the client's answer).
	answer := func(res any, err error) (json.RawMessage, *rpcError, string) {
		defer c.end()
		if rerr := c.missingCapability(); rerr != nil {
			return nil, rerr, outcomeError
		}
		return b.finish(cctx, x, server, method, cs, res, err, progress, c)
	}
	if !x.modern {
		// An initialize-era client is never suspended and its leaving is no
		// cancellation: the call runs here, one goroutine hand-off less on
		// the hot path.
		var res any
		var err error
		if raw != nil {
			res, err = conn.CallRaw(cctx, method, raw(progress), c)
		}
		if raw == nil || errors.Is(err, upstream.ErrNoRawPath) {
			res, err = c.sdk(cctx, cs, progress)
		}
		return answer(res, err)
	}
	// A 2026-07-28 client's leaving cancels the call, unless suspended.
	stop := context.AfterFunc(ctx, cancel)
	if raw != nil {
		// On the raw path the call runs here until the server asks for
		// input, if it ever does; then the rest of it goes on without this
		// request (upstream.Detacher), answered input_required below.
		res, err := conn.CallRaw(cctx, method, raw(progress), c)
		var d *upstream.Detached
		switch {
		case errors.As(err, &d):
			go func() {
				res, err := d.Wait()
				c.done <- callOutcome{res, err}
			}()
		case !errors.Is(err, upstream.ErrNoRawPath):
			stop()
			return answer(res, err)
		default:
			raw = nil
		}
	}
	if raw == nil {
		// The go-sdk session answers the server's requests on goroutines
		// of its own: the call needs one too, to be suspended.
		go func() {
			res, err := c.sdk(cctx, cs, progress)
			c.done <- callOutcome{res, err}
		}()
	}
	stop() // from here on a suspended call outlives its request
	select {
	case o := <-c.done:
		return answer(o.res, o.err)
	case need := <-c.input:
		c.rec = rec
		return b.suspend(x, need, c), nil, outcomeSuspended
	case <-ctx.Done(): // the 2026-07-28 client left: that cancels the call
		c.end()
		o := <-c.done
		return b.finish(cctx, x, server, method, cs, o.res, o.err, progress, c)
	}
}

// canAskForInput reports whether a 2026-07-28 request of method may be
// answered input_required (LC-25): others, a completion say, cannot be
// suspended for the client's input.
func canAskForInput(method string) bool {
	return method == "tools/call" || method == "prompts/get" || method == "resources/read"
}

// sdk makes the call's request through the go-sdk session, tagged so that
// what the server asks during it finds the call (the raw path passes the
// call itself, and needs no tag).
func (c *call) sdk(ctx context.Context, cs *mcp.ClientSession, progress any) (any, error) {
	return c.do(upstream.WithCallTag(ctx, c.tag), cs, progress)
}

// ClientCapabilities lets the call take the raw path to a 2026-07-28
// server, declaring the client's own capabilities (LC-03).
func (c *call) ClientCapabilities() json.RawMessage { return c.x.Load().declaredCaps() }

// LogLevel is the level the call's client wants log messages at, which a
// 2026-07-28 server is told with each request (LC-24): an initialize-era
// client set it for its session, a 2026-07-28 one names it per request.
func (c *call) LogLevel() string { return c.x.Load().wantedLogLevel() }

// DetachOnRequest lets a 2026-07-28 client's request go when its
// (initialize-era) server asks for input mid-call: it is answered
// input_required and the call goes on (upstream.Detacher).
func (c *call) DetachOnRequest() bool { return c.input != nil }

// missingCapability is -32021 for a 2026-07-28 IDE whose call needed a
// capability it did not declare (TS-16): the answer a 2026-07-28 server
// gives, where the initialize-era server could only fail mid-call.
func (c *call) missingCapability() *rpcError {
	capName, _ := c.missing.Load().(string)
	if capName == "" || !c.x.Load().modern {
		return nil
	}
	data, _ := json.Marshal(map[string]any{"requiredCapabilities": map[string]any{capName: map[string]any{}}})
	return &rpcError{Code: codeMissingCapability, Message: fmt.Sprintf("%s needs the client capability %q, which this client did not declare", c.server, capName), Data: data}
}

// finish turns an upstream answer into the client's result, running the
// multi-round-trip with an initialize-era client where the server asked
// for input (LC-26).
func (b *Bridge) finish(ctx context.Context, x *exchange, server, method string, cs *mcp.ClientSession,
	res any, err error, progress any, c *call) (json.RawMessage, *rpcError, string) {
	if raw, ok := res.(json.RawMessage); ok && err == nil && !x.modern && modernSession(cs) {
		res, err = forInitializeEra(raw)
	}
	for round := 0; err == nil; round++ {
		requests, state := inputOf(res)
		if requests == nil {
			break
		}
		if x.modern {
			// Both sides speak 2026-07-28: pass the round trip through; the
			// client's retry names the same tool and carries the state.
			return inputRequired(requests, state), nil, outcomeOK
		}
		if round >= 10 {
			err = errors.New("the server asked for input more than 10 times")
			break
		}
		var responses mcp.InputResponseMap
		if responses, err = b.fulfill(c, x, server, requests); err != nil {
			break
		}
		retry := withResponses(ctx, responses, state)
		res, err = c.sdk(retry, cs, progress)
	}
	if err != nil {
		return b.upstreamError(ctx, method, server, err)
	}
	if raw, ok := res.(json.RawMessage); ok { // the raw path: passed on as sent
		if len(raw) == 0 || raw[0] != '{' {
			return nil, errorf(codeInternal, "%s answered with a result that is not an object", server), outcomeError
		}
		if method == "tools/call" && isToolError(raw) {
			return raw, nil, outcomeToolError
		}
		return raw, nil, outcomeOK
	}
	if r, ok := res.(*mcp.CallToolResult); ok && !x.modern {
		res = legacyResult(r)
	}
	data, merr := resultJSON(res)
	if merr != nil {
		return nil, errorf(codeInternal, "%s: encoding the result: %v", server, merr), outcomeError
	}
	if r, ok := res.(*mcp.CallToolResult); ok && r.IsError {
		return data, nil, outcomeToolError
	}
	return data, nil, outcomeOK
}

// modernSession reports whether a server's session is of 2026-07-28.
func modernSession(cs *mcp.ClientSession) bool {
	if cs == nil {
		return false
	}
	ir := cs.InitializeResult()
	return ir != nil && ir.ProtocolVersion >= modernVersion
}

// forInitializeEra is a 2026-07-28 server's tool result, as the raw path
// read it, for an initialize-era client: as sent when that era can take
// it as it is (one content array, at most one structuredContent, an
// object), and no input is asked for. Anything else is decoded, as the
// session path would have it: the bridge runs the round trip with the
// client (LC-26), or makes the result that era's (LC-17).
func forInitializeEra(raw json.RawMessage) (any, error) {
	asSent := true
	content, structured := 0, 0
	valid := jsonobj.Members(raw, func(k, v []byte) {
		switch string(k) {
		case "content":
			content++
			asSent = asSent && v[0] == '['
		case "structuredContent":
			structured++
			asSent = asSent && v[0] == '{'
		case "inputRequests":
			asSent = false // input asked for, with or without a resultType
		case "resultType":
			asSent = asSent && string(v) != `"input_required"`
		}
	})
	if valid && asSent && content == 1 && structured <= 1 {
		return raw, nil
	}
	var r mcp.CallToolResult
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("reading the server's result: %w", err)
	}
	return &r, nil
}

// isToolError reports whether a tool result's JSON says isError. It is
// parsed again only when it may say so: results can be 64 MB.
func isToolError(raw json.RawMessage) bool {
	var r struct {
		IsError bool `json:"isError"`
	}
	return bytes.Contains(raw, []byte(`"isError"`)) && json.Unmarshal(raw, &r) == nil && r.IsError
}

// legacyResult is a tool result as an initialize-era client may get it:
// in that era structuredContent is an object (LC-17), so a 2026-07-28
// server's other kinds are left out, and their JSON is the text content
// when the server sent none.
func legacyResult(r *mcp.CallToolResult) *mcp.CallToolResult {
	if r.StructuredContent == nil {
		return r
	}
	if _, isObject := r.StructuredContent.(map[string]any); isObject {
		return r
	}
	c := *r
	c.StructuredContent = nil
	if len(c.Content) == 0 {
		data, err := json.Marshal(r.StructuredContent)
		if err == nil {
			c.Content = []mcp.Content{&mcp.TextContent{Text: string(data)}}
		}
	}
	return &c
}

// resultJSON encodes a result the go-sdk session decoded. go-sdk writes
// a read's cache fields (TS-20) whatever the server sent: from a server
// that sent none (the initialize era) they are empty, and an empty
// cacheScope is no valid one, so the bridge's own default stands in
// (private: what a client may read depends on its token).
func resultJSON(res any) ([]byte, error) {
	if r, ok := res.(*mcp.ReadResourceResult); ok {
		if r.CacheScope != "public" && r.CacheScope != "private" {
			r.CacheScope = "private"
		}
		r.TTLMs = max(r.TTLMs, 0)
	}
	return json.Marshal(res)
}

// responsesKey passes input responses and request state to a retry.
type responsesKey struct{}

type retryInput struct {
	responses mcp.InputResponseMap
	state     string
}

func withResponses(ctx context.Context, r mcp.InputResponseMap, state string) context.Context {
	return context.WithValue(ctx, responsesKey{}, retryInput{r, state})
}

// retryOf returns the input responses a retry carries, if any.
func retryOf(ctx context.Context) (mcp.InputResponseMap, string) {
	r, _ := ctx.Value(responsesKey{}).(retryInput)
	return r.responses, r.state
}

func inputOf(res any) (mcp.InputRequestMap, string) {
	switch r := res.(type) {
	case *mcp.CallToolResult:
		return r.InputRequests, r.RequestState
	case *mcp.GetPromptResult:
		return r.InputRequests, r.RequestState
	case *mcp.ReadResourceResult:
		return r.InputRequests, r.RequestState
	}
	return nil, ""
}

func inputRequired(requests mcp.InputRequestMap, state string) json.RawMessage {
	reqs, _ := json.Marshal(requests)
	out := map[string]json.RawMessage{"resultType": json.RawMessage(`"input_required"`), "inputRequests": reqs}
	if state != "" {
		out["requestState"], _ = json.Marshal(state)
	}
	data, _ := json.Marshal(out)
	return data
}

// fulfill asks an initialize-era client for each input a 2026-07-28 server
// needs, as server requests on the call's stream (LC-26), as questions of
// call c: the call's clock stops while the IDE is asked. (A question's
// context is not made from the call's: that would be bound by the
// deadline held, not by askFor.)
func (b *Bridge) fulfill(c *call, x *exchange, server string, requests mcp.InputRequestMap) (mcp.InputResponseMap, error) {
	responses := mcp.InputResponseMap{}
	for key, ir := range requests {
		method, ok := inputMethod(ir)
		if !ok {
			return nil, fmt.Errorf("unknown input request %T", ir)
		}
		ctx, done := c.question(context.Background())
		raw, err := b.askClient(ctx, x, server, method, ir)
		done()
		if err != nil {
			return nil, err
		}
		resp, err := decodeInputResponse(method, raw)
		if err != nil {
			return nil, err
		}
		responses[key] = resp
	}
	return responses, nil
}

func inputMethod(ir mcp.InputRequest) (string, bool) {
	switch ir.(type) {
	case *mcp.ElicitParams:
		return "elicitation/create", true
	case *mcp.CreateMessageParams, *mcp.CreateMessageWithToolsParams:
		return "sampling/createMessage", true
	case *mcp.ListRootsParams:
		return "roots/list", true
	}
	return "", false
}

func decodeInputResponse(method string, raw json.RawMessage) (mcp.InputResponse, error) {
	var (
		v   mcp.InputResponse
		err error
	)
	switch method {
	case "elicitation/create":
		r := &mcp.ElicitResult{}
		err, v = json.Unmarshal(raw, r), r
	case "sampling/createMessage":
		r := &mcp.CreateMessageResult{}
		err, v = json.Unmarshal(raw, r), r
	default:
		r := &mcp.ListRootsResult{}
		err, v = json.Unmarshal(raw, r), r
	}
	if err != nil {
		return nil, fmt.Errorf("the client's answer to %s is not valid: %v", method, err)
	}
	return v, nil
}

// askClient sends a server's request to the client of x, if it declared
// the capability (LC-03, LC-21, LC-22, LC-23) and has finished initializing
// (LC-02: before notifications/initialized it is asked nothing).
func (b *Bridge) askClient(ctx context.Context, x *exchange, server, method string, params any) (json.RawMessage, error) {
	if err := capabilityFor(x.caps, server, method, params); err != nil {
		return nil, err
	}
	if !x.sess.initialized.Load() {
		return nil, &jsonrpc.Error{Code: codeInvalidRequest, Message: fmt.Sprintf("the IDE has not finished initializing (no notifications/initialized), so %s's %s cannot be put to it", server, method)}
	}
	if id := urlElicitationID(method, params); id != "" {
		// Remembered before the IDE is asked: the server may say the
		// interaction is complete before the IDE's answer reaches it.
		forget := x.sess.expectCompletion(server, id)
		res, err := x.sess.request(ctx, x.out, method, params)
		var answer struct {
			Action string `json:"action"`
		}
		if err != nil || json.Unmarshal(res, &answer) != nil || answer.Action != "accept" {
			forget()
		}
		return res, err
	}
	return x.sess.request(ctx, x.out, method, params)
}

// requestNeeds reads what a server's request asks of the IDE beyond its
// capability: an elicitation's mode ("form" unless "url") and whether a
// sampling request offers tools. params is go-sdk's typed params or JSON.
func requestNeeds(params any) (mode string, tools bool) {
	switch p := params.(type) {
	case *mcp.ElicitParams:
		mode = p.Mode
	case *mcp.CreateMessageWithToolsParams:
		tools = len(p.Tools) > 0
	case json.RawMessage:
		var probe struct {
			Mode  string          `json:"mode"`
			Tools json.RawMessage `json:"tools"`
		}
		_ = json.Unmarshal(p, &probe)
		mode, tools = probe.Mode, len(probe.Tools) > 0 && string(probe.Tools) != "null" && string(probe.Tools) != "[]"
	}
	if mode == "" {
		mode = "form"
	}
	return mode, tools
}

// capabilityFor refuses a server request the IDE did not declare it can
// handle; the error names the capability. A mode of elicitation, or
// sampling with tools, that the IDE did not declare is -32602, the IDE's
// own answer per the spec (LC-21, LC-22).
func capabilityFor(caps clientCaps, server, method string, params any) *jsonrpc.Error {
	var ok bool
	var name string
	switch method {
	case "sampling/createMessage":
		ok, name = caps.sampling, "sampling"
	case "elicitation/create":
		ok, name = caps.elicitForm || caps.elicitURL, "elicitation"
	case "roots/list":
		ok, name = caps.roots, "roots"
	default:
		return nil
	}
	if ok {
		mode, tools := requestNeeds(params)
		switch {
		case method == "elicitation/create" && (mode == "url" && !caps.elicitURL || mode != "url" && !caps.elicitForm):
			return &jsonrpc.Error{Code: codeInvalidParams, Message: fmt.Sprintf("the IDE did not declare elicitation mode %q, which %s asked for", mode, server)}
		case method == "sampling/createMessage" && tools && !caps.samplingTools:
			return &jsonrpc.Error{Code: codeInvalidParams, Message: fmt.Sprintf("the IDE did not declare sampling with tools, which %s asked for", server)}
		}
		return nil
	}
	return &jsonrpc.Error{Code: codeMethodNotFound, Message: fmt.Sprintf("the IDE did not declare %s, which %s asked for", name, server),
		Data: json.RawMessage(`{"capability":"` + name + `"}`)}
}

// unavailable answers a request for a server that is down or signed out:
// a tool error the model can read for a tool call, else a JSON-RPC error.
func unavailable(method, reason string) (json.RawMessage, *rpcError) {
	if method == "tools/call" {
		return toolError(reason), nil
	}
	return nil, errorf(codeInternal, "%s", reason)
}

func toolError(msg string) json.RawMessage {
	data, _ := json.Marshal(map[string]any{"content": []map[string]string{{"type": "text", "text": msg}}, "isError": true})
	return data
}

// upstreamError turns a failed upstream call into an answer that names the
// server: a JSON-RPC error keeps the server's code; anything else becomes a
// tool error (tools/call) or an internal error, with what to do.
func (b *Bridge) upstreamError(ctx context.Context, method, server string, err error) (json.RawMessage, *rpcError, string) {
	var werr *jsonrpc.Error
	var na *oauth.NeedsAuthError
	outcome := outcomeError
	var msg string
	switch {
	// Before the JSON-RPC error: go-sdk wraps a refusal of its transport
	// (a sign-in needed, more scope wanted) in one, whose text says none
	// of what to do.
	case errors.As(err, &na):
		msg = fmt.Sprintf("%s: %s (click Authenticate next to %s in MCP Tray, or call %s)", server, na.Reason, server, b.signInToolName(server))
	case errors.As(err, &werr):
		return nil, &rpcError{Code: int(werr.Code), Message: server + ": " + werr.Message, Data: werr.Data}, outcomeError
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		outcome = outcomeTimeout
		msg = fmt.Sprintf("%s did not answer in time; the request was cancelled", server)
	case errors.Is(ctx.Err(), context.Canceled):
		return nil, errorf(codeInternal, "%s: the request was cancelled", server), outcomeCancelled
	default:
		msg = fmt.Sprintf("%s: the call failed: %s", server, b.redact(server, err))
	}
	if method == "tools/call" {
		return toolError(msg), nil, outcome
	}
	return nil, errorf(codeInternal, "%s", msg), outcome
}

// redact is err's text without the server's secrets: a transport error
// can quote the server's URL, whose query may hold an API key.
func (b *Bridge) redact(server string, err error) string {
	if c, ok := b.hub.Conn(server); ok {
		return upstream.Redact(err, c.Server())
	}
	for _, srv := range b.hub.Config().Servers {
		if srv.ID == server {
			return upstream.Redact(err, srv)
		}
	}
	return err.Error()
}

// callParams are tools/call's params.
type callParams struct {
	Name           string               `json:"name"`
	Arguments      json.RawMessage      `json:"arguments"`
	InputResponses mcp.InputResponseMap `json:"inputResponses"`
	RequestState   string               `json:"requestState"`
}

// callTool routes tools/call: the bridge's own tools, then upstream tools.
func (b *Bridge) callTool(ctx context.Context, x *exchange) (json.RawMessage, *rpcError) {
	var p callParams
	if x.params != nil && x.params.err == nil {
		p = x.params.callParams
	} else if err := json.Unmarshal(x.msg.Params, &p); err != nil {
		p.Name = ""
	}
	if p.Name == "" {
		return nil, errorf(codeInvalidParams, "tools/call needs a tool name")
	}
	if r, ok := b.resumption(ctx, x, p.RequestState, p.InputResponses); ok {
		return r.result, r.err
	}
	snap := b.snapshot(x.sess.view)
	if p.Name == usageToolName && x.sess.view.aggregated() && b.opts.Usage != nil {
		return b.usageTool(ctx, x, p.Arguments)
	}
	if server, ok := snap.signIn[p.Name]; ok {
		return b.signInTool(server), nil
	}
	r, snap, ok := b.find(ctx, x.sess.view, snap, toolRoutes, p.Name)
	if !ok {
		return b.notFound(x, snap, "tools/call", "tool", p.Name)
	}
	if x.modern {
		if rerr := checkParamHeaders(x.hdr, snap.headers[p.Name], p.Arguments); rerr != nil {
			return nil, rerr
		}
	}
	toolRaw := func(progress any) json.RawMessage {
		return toolCallParams(r.name, p.Arguments, progress, passedMeta(x))
	}
	if p.InputResponses != nil || p.RequestState != "" {
		toolRaw = nil // a multi-round-trip retry: the session path has the state
	}
	if snap.mirrored[p.Name] {
		toolRaw = nil // go-sdk mirrors its x-mcp-header arguments, nested ones too, for a 2026-07-28 server (TC-11)
	}
	return b.forward(ctx, x, r.server, "tools/call", r.name, toolRaw, func(ctx context.Context, cs *mcp.ClientSession, progress any) (any, error) {
		params := &mcp.CallToolParams{Name: r.name, Arguments: p.Arguments, Meta: upstreamMeta(x, cs, progress)}
		if len(p.Arguments) == 0 {
			params.Arguments = json.RawMessage(`{}`)
		}
		params.InputResponses, params.RequestState = p.InputResponses, p.RequestState
		if in, state := retryOf(ctx); in != nil {
			params.InputResponses, params.RequestState = in, state
		}
		return cs.CallTool(ctx, params)
	})
}

// toolCallParams is the params JSON of an upstream tools/call; its _meta
// has the progress token and the IDE's passed members.
func toolCallParams(name string, args json.RawMessage, progress any, passed []metaMember) json.RawMessage {
	if len(bytes.TrimSpace(args)) == 0 {
		args = json.RawMessage(`{}`)
	}
	out := make([]byte, 0, len(name)+len(args)+64)
	out = append(out, `{"name":`...)
	out = appendJSONString(out, name)
	out = append(out, `,"arguments":`...)
	out = append(out, args...)
	if progress != nil || passed != nil {
		out = appendMeta(append(out, `,"_meta":`...), progress, passed)
	}
	return append(out, '}')
}

// appendJSONString appends s as json.Marshal encodes it. A tool's name is
// plain ASCII that needs no escape: it is copied as it is, without
// json.Marshal's reflection on every call.
func appendJSONString(out []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(out, q...)
		}
	}
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"')
}

var _ upstream.ModernHandler = (*call)(nil)

// find looks a tool or prompt up by the name the client knows it by, in
// the catalog that in picks of snap; a name not there yet may belong to a
// server still connecting for the first time, so it waits for those and
// looks again. The snapshot returned is the one looked in last.
func (b *Bridge) find(ctx context.Context, v view, snap *snapshot, in func(*snapshot) map[string]route, name string) (route, *snapshot, bool) {
	if r, ok := in(snap)[name]; ok {
		return r, snap, true
	}
	b.awaitFirstConnect(ctx, v, "")
	snap = b.snapshot(v)
	r, ok := in(snap)[name]
	if !ok && b.behindHub(snap) {
		// A server that has just connected is in the hub's state before
		// follow has rebuilt the snapshots: a client calling a tool it
		// knew from before the server went down gets the tool, not
		// "unavailable". The fresh snapshot is not cached, so follow still
		// finds the change and sends list_changed.
		snap = b.build(v, snap.gen)
		r, ok = in(snap)[name]
	}
	return r, snap, ok
}

// listSnapshot is the snapshot a list request is answered from: once the
// servers' first connections are through, and fresh when the cached one is
// behind the hub (see find). A client's first list after the hub started
// had none of the tools of a server that connected a moment before.
func (b *Bridge) listSnapshot(ctx context.Context, v view) *snapshot {
	b.awaitFirstConnect(ctx, v, "")
	snap := b.snapshot(v)
	if b.behindHub(snap) {
		snap = b.build(v, snap.gen)
	}
	return snap
}

// resourceOwner finds the server of a resource URI for a client of v,
// in a fresh snapshot when the cached one is behind the hub (see find).
func (b *Bridge) resourceOwner(v view, uri string) (string, bool) {
	snap := b.snapshot(v)
	if id, ok := snap.owner(uri); ok {
		return id, true
	}
	if b.behindHub(snap) {
		return b.build(v, snap.gen).owner(uri)
	}
	return "", false
}

// behindHub reports whether a server snap lists as unavailable can take
// calls now.
func (b *Bridge) behindHub(snap *snapshot) bool {
	for id := range snap.unavailable {
		if c, ok := b.hub.Conn(id); ok && usable(c) {
			return true
		}
	}
	return false
}

// The catalogs find looks in.
func toolRoutes(s *snapshot) map[string]route   { return s.tools }
func promptRoutes(s *snapshot) map[string]route { return s.prompts }

// notFound answers for a tool or prompt (kind) that find did not find. One
// of a server that is down or signed out is not listed: the answer says
// why rather than that it does not exist.
func (b *Bridge) notFound(x *exchange, snap *snapshot, method, kind, name string) (json.RawMessage, *rpcError) {
	if server, ok := snap.needsTasks[name]; ok && kind == "tool" {
		// -32601, as the server itself answers a call to it that is no task.
		return nil, errorf(codeMethodNotFound, "%s's tool %s can only be run as a task, which MCP Tray does not support", server, name)
	}
	if server := b.ownerOf(x.sess.view, snap, name); server != "" {
		// A call the server would have had is recorded as what it met, an
		// outage, like the one made while its tools were still listed.
		item := name
		if x.sess.view.aggregated() {
			item = strings.TrimPrefix(name, server+b.separator())
		}
		rec := store.Call{Time: time.Now(), Client: x.sess.client, Server: server, Method: method, Item: item, BytesIn: len(x.msg.Params)}
		res, rerr := unavailable(method, snap.unavailable[server])
		b.recordCall(rec, outcomeUnavailable, len(res))
		return res, rerr
	}
	return nil, errorf(codeInvalidParams, "Unknown %s: %s", kind, name)
}

// ownerOf names the unavailable server a tool or prompt name belongs to:
// the only server of a one-server view, or the one whose prefix it has.
func (b *Bridge) ownerOf(v view, snap *snapshot, name string) string {
	if !v.aggregated() {
		if _, down := snap.unavailable[v.server]; down {
			return v.server
		}
		return ""
	}
	sep := b.separator()
	for id := range snap.unavailable {
		if strings.HasPrefix(name, id+sep) {
			return id
		}
	}
	return ""
}

func (b *Bridge) getPrompt(ctx context.Context, x *exchange) (json.RawMessage, *rpcError) {
	var p struct {
		Name           string               `json:"name"`
		Arguments      map[string]string    `json:"arguments"`
		InputResponses mcp.InputResponseMap `json:"inputResponses"`
		RequestState   string               `json:"requestState"`
	}
	if err := json.Unmarshal(x.msg.Params, &p); err != nil || p.Name == "" {
		return nil, errorf(codeInvalidParams, "prompts/get needs a prompt name")
	}
	if r, ok := b.resumption(ctx, x, p.RequestState, p.InputResponses); ok {
		return r.result, r.err
	}
	r, snap, ok := b.find(ctx, x.sess.view, b.snapshot(x.sess.view), promptRoutes, p.Name)
	if !ok {
		return b.notFound(x, snap, "prompts/get", "prompt", p.Name)
	}
	return b.forward(ctx, x, r.server, "prompts/get", r.name, nil, func(ctx context.Context, cs *mcp.ClientSession, progress any) (any, error) {
		params := &mcp.GetPromptParams{Name: r.name, Arguments: p.Arguments, InputResponses: p.InputResponses, RequestState: p.RequestState,
			Meta: upstreamMeta(x, cs, progress)}
		if in, state := retryOf(ctx); in != nil {
			params.InputResponses, params.RequestState = in, state
		}
		return cs.GetPrompt(ctx, params)
	})
}

func (b *Bridge) readResource(ctx context.Context, x *exchange) (json.RawMessage, *rpcError) {
	var p struct {
		URI            string               `json:"uri"`
		InputResponses mcp.InputResponseMap `json:"inputResponses"`
		RequestState   string               `json:"requestState"`
	}
	if err := json.Unmarshal(x.msg.Params, &p); err != nil || p.URI == "" {
		return nil, errorf(codeInvalidParams, "resources/read needs a uri")
	}
	if r, ok := b.resumption(ctx, x, p.RequestState, p.InputResponses); ok {
		return r.result, r.err
	}
	server, ok := b.resourceOwner(x.sess.view, p.URI)
	if !ok {
		return nil, errorf(codeInvalidParams, "Resource not found: %s", p.URI)
	}
	return b.forward(ctx, x, server, "resources/read", p.URI, nil, func(ctx context.Context, cs *mcp.ClientSession, progress any) (any, error) {
		params := &mcp.ReadResourceParams{URI: p.URI, InputResponses: p.InputResponses, RequestState: p.RequestState,
			Meta: upstreamMeta(x, cs, progress)}
		if in, state := retryOf(ctx); in != nil {
			params.InputResponses, params.RequestState = in, state
		}
		return cs.ReadResource(ctx, params)
	})
}

func (b *Bridge) complete(ctx context.Context, x *exchange) (json.RawMessage, *rpcError) {
	var p mcp.CompleteParams
	if err := json.Unmarshal(x.msg.Params, &p); err != nil || p.Ref == nil {
		return nil, errorf(codeInvalidParams, "completion/complete needs a ref")
	}
	snap := b.snapshot(x.sess.view)
	var server string
	switch p.Ref.Type {
	case "ref/prompt":
		r, ok := snap.prompts[p.Ref.Name]
		if !ok {
			return nil, errorf(codeInvalidParams, "Unknown prompt: %s", p.Ref.Name)
		}
		server, p.Ref.Name = r.server, r.name
	case "ref/resource":
		id, ok := snap.owner(p.Ref.URI)
		if !ok {
			return nil, errorf(codeInvalidParams, "Resource not found: %s", p.Ref.URI)
		}
		server = id
	default:
		return nil, errorf(codeInvalidParams, "unknown ref type %q", p.Ref.Type)
	}
	if caps, ok := b.declared(server); ok && caps.Completions == nil {
		// The server offers no completions (LC-03): it is not asked, and
		// the IDE, completing as the user types, gets none rather than an
		// error.
		return noCompletions, nil
	}
	return b.forward(ctx, x, server, "completion/complete", p.Ref.Name+p.Ref.URI, nil, func(ctx context.Context, cs *mcp.ClientSession, _ any) (any, error) {
		params := p
		params.Meta = upstreamMeta(x, cs, nil)
		return cs.Complete(ctx, &params)
	})
}

var noCompletions = json.RawMessage(`{"completion":{"values":[]}}`)

// subscribe routes resources/subscribe and unsubscribe to the owner, once
// per URI however many clients subscribe (setSubscription).
func (b *Bridge) subscribe(ctx context.Context, x *exchange) (json.RawMessage, *rpcError) {
	var p struct {
		URI string `json:"uri"`
	}
	if err := json.Unmarshal(x.msg.Params, &p); err != nil || p.URI == "" {
		return nil, errorf(codeInvalidParams, "%s needs a uri", x.msg.Method)
	}
	on := x.msg.Method == "resources/subscribe"
	// An unsubscribe goes to the server subscribed, listed or not.
	server, ok := x.sess.subscription(p.URI)
	if on || !ok {
		if server, ok = b.resourceOwner(x.sess.view, p.URI); !ok {
			return nil, errorf(codeInvalidParams, "Resource not found: %s", p.URI)
		}
	}
	var rerr *rpcError
	err := b.setSubscription(x.sess, server, p.URI, on, func(on bool) (upstreamSession, error) {
		if c, ok := b.hub.Conn(server); !on && (!ok || !usable(c)) {
			return nil, nil // the server is down: its session is gone, and what it was subscribed to
		}
		var asked upstreamSession
		var res json.RawMessage
		res, rerr = b.forward(ctx, x, server, x.msg.Method, p.URI, nil, func(ctx context.Context, cs *mcp.ClientSession, _ any) (any, error) {
			asked = cs
			if on {
				return struct{}{}, cs.Subscribe(ctx, &mcp.SubscribeParams{URI: p.URI})
			}
			return struct{}{}, cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: p.URI})
		})
		if rerr == nil && string(res) != "{}" { // a tool-style answer: the server is unavailable
			rerr = errorf(codeInternal, "%s", res)
		}
		if rerr != nil {
			return nil, rerr
		}
		return asked, nil
	})
	if rerr == nil {
		_ = errors.As(err, &rerr) // refused before the upstream was asked
	}
	if rerr != nil {
		return nil, rerr
	}
	return emptyResult, nil
}

// upstreamMeta is the _meta of an upstream request: the progress token,
// the IDE's passed members, and for a 2026-07-28 server the IDE's own
// declared capabilities, so the server sees only what the IDE can do
// (LC-03).
func upstreamMeta(x *exchange, cs *mcp.ClientSession, progress any) mcp.Meta {
	passed, modern := passedMeta(x), modernSession(cs)
	if progress == nil && passed == nil && !modern {
		return nil // no map for a request that has no _meta
	}
	m := mcp.Meta{}
	if progress != nil {
		m["progressToken"] = progress
	}
	for _, p := range passed {
		m[p.key] = p.value
	}
	if modern {
		m[metaClientCaps] = x.declaredCaps()
		if l := x.wantedLogLevel(); l != "" {
			m[metaLogLevel] = l
		}
	}
	return m
}

// upstreamSession is one server's go-sdk session.
type upstreamSession = *mcp.ClientSession

type loggingParams = mcp.SetLoggingLevelParams

type loggingLevel = mcp.LoggingLevel

type unsubscribeParams = mcp.UnsubscribeParams

type subscribeParams = mcp.SubscribeParams

// forEachUpstream calls f for every connected server of the view.
func (b *Bridge) forEachUpstream(v view, f func(id string, c *upstream.Conn)) {
	for _, id := range b.snapshot(v).servers {
		if c, ok := b.hub.Conn(id); ok && usable(c) {
			f(id, c)
		}
	}
}
