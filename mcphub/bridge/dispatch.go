package bridge

//lint:file-ignore SA1019 sampling, elicitation, roots and logging are deprecated in 2026-07-28 but initialize-era peers use them: MCP Tray bridges both eras

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/mcptray/mcptray/internal/jsonobj"
	"github.com/mcptray/mcptray/mcphub/upstream"
)

// exchange is one request from a client being answered.
type exchange struct {
	sess   *session
	msg    *message
	out    sender // messages that belong to this request
	modern bool   // 2026-07-28: everything about the client is in _meta
	caps   clientCaps
	params *requestParams             // decoded once
	meta   map[string]json.RawMessage // params._meta
	hdr    http.Header                // a 2026-07-28 HTTP request's headers

	stop      context.CancelFunc // ends the upstream call (session.track)
	cancelled atomic.Bool        // the client cancelled: it gets no response (LC-11)
}

// cancel is the client's cancellation of the request: its upstream call
// ends, and the response is not sent (the receiver of a cancellation
// SHOULD NOT reply, LC-11).
func (x *exchange) cancel() {
	x.cancelled.Store(true)
	x.stop()
}

// declaredCaps is the part of the client's declared capabilities the
// bridge relays, to pass upstream per request (2026-07-28 servers read
// them from _meta): an upstream sees only what the IDE declared (LC-03).
// An initialize-era session's is made once, at initialize.
func (x *exchange) declaredCaps() json.RawMessage {
	if x.modern {
		return declaredCapsJSON(x.meta[metaClientCaps])
	}
	if x.sess.capsUp == nil {
		return json.RawMessage(`{}`)
	}
	return x.sess.capsUp
}

// relayedCaps are the client capabilities whose requests the bridge
// relays to the client, and so declares upstream when the client did.
var relayedCaps = []string{"sampling", "elicitation", "roots"}

// declaredCapsJSON picks the relayed capabilities out of a client's
// declared ones, as JSON, without decoding them.
func declaredCapsJSON(raw json.RawMessage) json.RawMessage {
	out := []byte{'{'}
	ok := jsonobj.Members(raw, func(k, v []byte) {
		if !slices.Contains(relayedCaps, string(k)) {
			return
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(strconv.AppendQuote(out, string(k)), ':')
		out = append(out, v...)
	})
	if !ok {
		return json.RawMessage(`{}`)
	}
	return append(out, '}')
}

// removedInModern are initialize-era methods that 2026-07-28 dropped
// (TS-16: unknown methods get -32601).
var removedInModern = map[string]bool{"initialize": true, "ping": true, "logging/setLevel": true,
	"resources/subscribe": true, "resources/unsubscribe": true}

// requestParams are the params fields that more than one step of a
// request reads, decoded once (JSON decoding was the largest part of the
// bridge's own CPU per call): _meta (progress tokens, the 2026-07-28
// keys), what the request names (the 2026-07-28 header checks, routing)
// and tools/call's own.
type requestParams struct {
	Meta   map[string]json.RawMessage `json:"_meta"`
	URI    string                     `json:"uri"`
	Cursor string                     `json:"cursor"` // the lists' (never one the bridge gave: it gives none)
	callParams
	// err: a field had an unexpected type (the others are still read, as
	// encoding/json goes on); a step that must refuse that decodes its own.
	err error
}

func parseParams(params json.RawMessage) *requestParams {
	p := &requestParams{}
	if len(params) > 0 {
		p.err = jsonobj.Decode(params, p, (*requestParams).member)
	}
	return p
}

var paramsFields = []string{"_meta", "uri", "name", "arguments", "inputResponses", "requestState", "cursor"}

// member reads one member of the params in one pass (jsonobj.Decode), as
// encoding/json would.
func (p *requestParams) member(k, v []byte) bool {
	switch jsonobj.Field(k, paramsFields) {
	case "_meta":
		switch v[0] {
		case '{':
			if p.Meta == nil {
				p.Meta = map[string]json.RawMessage{}
			}
			jsonobj.Members(v, func(k, v []byte) { p.Meta[string(k)] = v })
		case 'n':
			p.Meta = nil
		default:
			return false
		}
	case "uri":
		return jsonobj.String(&p.URI, v)
	case "name":
		return jsonobj.String(&p.Name, v)
	case "arguments":
		p.Arguments = v
	case "inputResponses":
		return json.Unmarshal(v, &p.InputResponses) == nil
	case "requestState":
		return jsonobj.String(&p.RequestState, v)
	case "cursor":
		if v[0] != 'n' && !jsonobj.String(&p.Cursor, v) {
			p.Cursor = string(v) // not a string: no cursor the bridge gave either
		}
	}
	return true
}

const (
	metaProtocolVersion = "io.modelcontextprotocol/protocolVersion"
	metaClientCaps      = "io.modelcontextprotocol/clientCapabilities"
	metaClientInfo      = "io.modelcontextprotocol/clientInfo"
	metaServerInfo      = "io.modelcontextprotocol/serverInfo"
	metaLogLevel        = "io.modelcontextprotocol/logLevel"
)

// metaVersion is the protocol version in _meta, "" for none.
func metaVersion(meta map[string]json.RawMessage) string {
	var v string
	jsonobj.String(&v, meta[metaProtocolVersion])
	return v
}

// checkModern validates the _meta a 2026-07-28 request must carry (TS-16);
// v is its protocol version (metaVersion).
func checkModern(v string, meta map[string]json.RawMessage) *rpcError {
	if v == "" {
		return errorf(codeInvalidParams, "_meta must include %s", metaProtocolVersion)
	}
	if v != modernVersion {
		return unsupportedVersion(v)
	}
	if _, ok := meta[metaClientCaps]; !ok {
		return errorf(codeInvalidParams, "_meta must include %s", metaClientCaps)
	}
	return nil
}

// unsupportedVersion is the error for a protocol version the bridge does
// not speak, naming those it does (TS-16).
func unsupportedVersion(v string) *rpcError {
	data, _ := json.Marshal(map[string]any{"supported": append([]string{modernVersion}, legacyVersions...), "requested": v})
	return &rpcError{Code: codeUnsupportedProtocol, Message: "unsupported protocol version " + v, Data: data}
}

// dispatch answers a request in the client's era: a 2026-07-28 client's
// result carries its resultType and _meta (modernResult; a list's made
// once per snapshot, Bridge.list). The result is JSON; nil with a nil
// error means {}.
func (b *Bridge) dispatch(ctx context.Context, x *exchange) (json.RawMessage, *rpcError) {
	if x.modern && removedInModern[x.msg.Method] {
		return nil, errorf(codeMethodNotFound, "method %q does not exist in protocol version %s", x.msg.Method, modernVersion)
	}
	if !x.modern && x.msg.Method == "subscriptions/listen" {
		return nil, errorf(codeMethodNotFound, "subscriptions/listen is a %s method; this session uses %s", modernVersion, x.sess.version)
	}
	if i := slices.Index(listMethods[:], x.msg.Method); i >= 0 {
		if x.params.Cursor != "" {
			// Every list is answered whole, with no nextCursor: a cursor
			// was never given out (LC-13). An empty one is taken as none.
			return nil, errorf(codeInvalidParams, "invalid cursor: %s is answered whole and gives out no cursors", x.msg.Method)
		}
		return b.list(b.listSnapshot(ctx, x.sess.view), i, x.modern), nil
	}
	result, rerr := b.handle(ctx, x)
	if rerr != nil || !x.modern {
		return result, rerr
	}
	if result == nil {
		result = emptyResult
	}
	return b.modernResult(x.msg.Method, result), nil
}

// handle answers every request but a list, as an initialize-era result.
func (b *Bridge) handle(ctx context.Context, x *exchange) (json.RawMessage, *rpcError) {
	switch x.msg.Method {
	case "subscriptions/listen":
		return b.listen(ctx, x)
	case "initialize":
		return b.initialize(x)
	case "ping":
		return emptyResult, nil
	case "server/discover":
		return b.discover(x)
	case "tools/call":
		return b.callTool(ctx, x)
	case "prompts/get":
		return b.getPrompt(ctx, x)
	case "resources/read":
		return b.readResource(ctx, x)
	case "resources/subscribe", "resources/unsubscribe":
		return b.subscribe(ctx, x)
	case "completion/complete":
		return b.complete(ctx, x)
	case "logging/setLevel":
		return b.setLogLevel(x)
	}
	return nil, errorf(codeMethodNotFound, "method %q is not supported", x.msg.Method)
}

var emptyResult = json.RawMessage(`{}`)

// serverCapabilities are declared whole, whatever is connected now: servers
// come and go while a session lives, and the lists say what is there.
var serverCapabilities = json.RawMessage(`{"tools":{"listChanged":true},"prompts":{"listChanged":true},` +
	`"resources":{"subscribe":true,"listChanged":true},"completions":{},"logging":{}}`)

func (b *Bridge) serverInfo() map[string]any {
	return map[string]any{"name": "mcptray", "title": "MCP Tray", "version": b.opts.Version}
}

func (b *Bridge) initialize(x *exchange) (json.RawMessage, *rpcError) {
	if x.modern {
		return nil, errorf(codeInvalidRequest, "initialize is not used with protocol version %s; use server/discover", modernVersion)
	}
	var p struct {
		ProtocolVersion string          `json:"protocolVersion"`
		Capabilities    json.RawMessage `json:"capabilities"`
		ClientInfo      json.RawMessage `json:"clientInfo"`
	}
	if err := json.Unmarshal(x.msg.Params, &p); err != nil {
		return nil, errorf(codeInvalidParams, "initialize params: %v", err)
	}
	s := x.sess
	if s.version != "" { // a second initialize in a stdio session or a 2025-03-26 batch (LC-01)
		return nil, errorf(codeInvalidRequest, "the session is initialized already (protocol version %s): initialize comes once, first", s.version)
	}
	s.version = negotiate(p.ProtocolVersion)
	s.caps = parseCaps(p.Capabilities)
	s.capsUp = declaredCapsJSON(p.Capabilities)
	s.info = p.ClientInfo
	res := map[string]any{
		"protocolVersion": s.version,
		"capabilities":    serverCapabilities,
		"serverInfo":      b.serverInfo(),
	}
	if in := b.snapshot(s.view).instructions; in != "" {
		res["instructions"] = in
	}
	data, _ := json.Marshal(res)
	return data, nil
}

func (b *Bridge) discover(x *exchange) (json.RawMessage, *rpcError) {
	res := map[string]any{
		"supportedVersions": append([]string{modernVersion}, legacyVersions...),
		"capabilities":      serverCapabilities,
	}
	if in := b.snapshot(x.sess.view).instructions; in != "" {
		res["instructions"] = in
	}
	data, _ := json.Marshal(res)
	return data, nil
}

// modernResult adds what 2026-07-28 requires of results (TS-20):
// resultType, and on lists, discover and reads the caching fields, each
// unless the result has it already (a result made in this era, or a read
// whose cache fields go-sdk wrote). Lists depend on the client's token,
// so the bridge's own are private.
func (b *Bridge) modernResult(method string, result json.RawMessage) json.RawMessage {
	if len(result) < 2 || result[0] != '{' {
		return result
	}
	cache := cacheable[method]
	has := topMembers(result, cache)
	if has.resultType && has.meta {
		return result
	}
	var out bytes.Buffer
	out.Grow(len(result) + len(b.serverMeta) + 64)
	out.WriteByte('{')
	if !has.resultType { // a result made in this era has its own (input_required, a modern upstream's)
		out.WriteString(`"resultType":"complete"`)
		if cache && !has.ttl {
			out.WriteString(`,"ttlMs":0`)
		}
		if cache && !has.scope {
			out.WriteString(`,"cacheScope":"private"`)
		}
	}
	if !has.meta {
		if !has.resultType {
			out.WriteByte(',')
		}
		out.WriteString(`"_meta":`)
		out.Write(b.serverMeta)
	}
	if len(bytes.TrimSpace(result[1:len(result)-1])) > 0 {
		out.WriteByte(',')
	}
	out.Write(result[1:])
	return out.Bytes()
}

// cacheable are the methods whose 2026-07-28 results carry ttlMs and
// cacheScope (TS-20).
var cacheable = map[string]bool{"server/discover": true, "tools/list": true, "prompts/list": true,
	"resources/list": true, "resources/templates/list": true, "resources/read": true}

// members are the top-level members of a result that modernResult adds
// where they are missing.
type members struct{ resultType, meta, ttl, scope bool }

// topMembers reports which of those the object result has, not nested
// deeper (the cache fields only if asked: cache). Most results have none
// anywhere, so only a result whose text holds one of them (or an escape
// that could spell one) is read member by member.
func topMembers(result []byte, cache bool) (has members) {
	if !bytes.Contains(result, []byte(`"resultType"`)) && !bytes.Contains(result, []byte(`"_meta"`)) &&
		!bytes.Contains(result, []byte(`\u`)) &&
		(!cache || !bytes.Contains(result, []byte(`"ttlMs"`)) && !bytes.Contains(result, []byte(`"cacheScope"`))) {
		return has
	}
	jsonobj.Members(result, func(key, _ []byte) {
		switch string(key) {
		case "resultType":
			has.resultType = true
		case "_meta":
			has.meta = true
		case "ttlMs":
			has.ttl = cache
		case "cacheScope":
			has.scope = cache
		}
	})
	return has
}

// setLogLevel remembers the level for the session and passes it on to
// the servers it sees (an initialize-era feature; LC-24).
func (b *Bridge) setLogLevel(x *exchange) (json.RawMessage, *rpcError) {
	var p struct {
		Level string `json:"level"`
	}
	if err := json.Unmarshal(x.msg.Params, &p); err != nil || p.Level == "" {
		return nil, errorf(codeInvalidParams, "logging/setLevel needs a level")
	}
	if _, ok := logLevels[p.Level]; !ok {
		return nil, errorf(codeInvalidParams, "logging/setLevel: unknown level %q (want debug, info, notice, warning, error, critical, alert or emergency)", p.Level)
	}
	x.sess.mu.Lock()
	x.sess.logLevel = p.Level
	x.sess.mu.Unlock()
	// The upstream session is shared: ask it for the most verbose level
	// any client of it wants; Log filters per client. Only a server that
	// declared logging is asked, and none of 2026-07-28, which has no
	// logging/setLevel (LC-03). All are asked at once, each within its own
	// timeout (LC-05): one that never answers holds up the client's answer
	// by its timeout, and the other servers' levels not at all.
	var wg sync.WaitGroup
	b.forEachUpstream(x.sess.view, func(id string, c *upstream.Conn) {
		cs := c.Session()
		if cs == nil {
			return // it went away meanwhile
		}
		ir := cs.InitializeResult()
		if ir == nil || ir.Capabilities == nil || ir.Capabilities.Logging == nil || ir.ProtocolVersion >= modernVersion {
			return
		}
		level := loggingLevel(b.mostVerboseLevel(id))
		wg.Go(func() {
			ctx, cancel := b.withTimeout(c.Server().Timeout)
			defer cancel()
			_ = cs.SetLoggingLevel(ctx, &loggingParams{Level: level})
		})
	})
	wg.Wait()
	return emptyResult, nil
}

// mostVerboseLevel is the lowest log level any session of server asked for.
func (b *Bridge) mostVerboseLevel(server string) string {
	best := ""
	b.eachSession(func(s *session) {
		s.mu.Lock()
		l := s.logLevel
		s.mu.Unlock()
		if l != "" && s.view.includes(server) && (best == "" || logLevels[l] < logLevels[best]) {
			best = l
		}
	})
	return best
}

// wantedLogLevel is logLevel when it is a level a server knows, else "".
func (x *exchange) wantedLogLevel() string {
	l := x.logLevel()
	if _, ok := logLevels[l]; !ok {
		return ""
	}
	return l
}

// logLevel is the level this exchange's client wants log messages at:
// a 2026-07-28 request names it in _meta, an initialize-era session set it.
func (x *exchange) logLevel() string {
	if x.modern {
		var l string
		_ = json.Unmarshal(x.meta[metaLogLevel], &l)
		return l
	}
	x.sess.mu.Lock()
	defer x.sess.mu.Unlock()
	return x.sess.logLevel
}
