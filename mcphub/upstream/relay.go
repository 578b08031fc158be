package upstream

//lint:file-ignore SA1019 sampling, elicitation, roots and logging are deprecated in 2026-07-28 but initialize-era peers use them: MCP Tray bridges both eras

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Relay receives what an upstream server sends on its own initiative, for
// the bridge to pass to the IDE it concerns.
type Relay interface {
	Progress(server string, p *mcp.ProgressNotificationParams)
	Log(server string, p *mcp.LoggingMessageParams, call string)
	ResourceUpdated(server string, p *mcp.ResourceUpdatedNotificationParams)
	// ElicitationComplete: the out-of-band interaction of a url-mode
	// elicitation the server asked for has finished.
	ElicitationComplete(server, elicitationID string)
	// Request answers a server's sampling/createMessage, elicitation/create
	// or roots/list. call is the tag of the bridged call it belongs to
	// ("" when the transport cannot tell: stdio, legacy SSE).
	Request(ctx context.Context, server, method string, params mcp.Params, call string) (mcp.Result, error)
}

// relayedCaps are the client capabilities declared to upstreams when a
// relay forwards server requests to IDEs.
var relayedCaps = &mcp.ClientCapabilities{
	Sampling:    &mcp.SamplingCapabilities{Tools: &mcp.SamplingToolsCapabilities{}},
	Elicitation: &mcp.ElicitationCapabilities{Form: &mcp.FormElicitationCapabilities{}, URL: &mcp.URLElicitationCapabilities{}},
	RootsV2:     &mcp.RootCapabilities{ListChanged: true},
}

// clientOptions wires a relay into go-sdk's client: notifications to the
// handlers, server requests through a receiving middleware (so the raw
// params, call tag included, reach the relay), and no automatic
// multi-round-trip: the bridge answers input-required results per IDE.
func relayOptions(o *mcp.ClientOptions, server string, r Relay) {
	o.Capabilities = relayedCaps
	o.ProgressNotificationHandler = func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
		r.Progress(server, req.Params)
	}
	o.LoggingMessageHandler = func(_ context.Context, req *mcp.LoggingMessageRequest) {
		r.Log(server, req.Params, callTagOf(req.Params.Meta))
	}
	o.ResourceUpdatedHandler = func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
		r.ResourceUpdated(server, req.Params)
	}
	o.ElicitationCompleteHandler = func(_ context.Context, req *mcp.ElicitationCompleteNotificationRequest) {
		r.ElicitationComplete(server, req.Params.ElicitationID)
	}
	o.MultiRoundTrip = &mcp.MultiRoundTripOptions{Disabled: true}
}

func relayMiddleware(server string, r Relay) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (res mcp.Result, err error) {
			switch method {
			case "sampling/createMessage", "elicitation/create", "roots/list":
				// What an upstream sends must never take the hub down.
				defer func() {
					if v := recover(); v != nil {
						res, err = nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("MCP Tray could not relay %s: %v", method, v)}
					}
				}()
				p := req.GetParams()
				if isNil(p) {
					if method != "roots/list" {
						return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: method + " needs params"}
					}
					p = &mcp.ListRootsParams{} // its params are optional
				}
				var meta map[string]any
				if m, ok := p.(interface{ GetMeta() map[string]any }); ok {
					meta = m.GetMeta()
				}
				return r.Request(ctx, server, method, p, callTagOf(meta))
			}
			return next(ctx, method, req)
		}
	}
}

// isNil reports a missing params object, typed or not.
func isNil(p mcp.Params) bool {
	if p == nil {
		return true
	}
	v := reflect.ValueOf(p)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// callTagKey carries the tag of a bridged call in its context.
type callTagKey struct{}

// MetaCallTag is the _meta key under which the probe marks a legacy
// server's messages with the call they came with.
const MetaCallTag = "io.mcptray/call"

// WithCallTag marks a call's context, so that what the server sends on the
// call's own stream (a legacy server's sampling request, its log lines) can
// be given to the IDE that made the call.
func WithCallTag(ctx context.Context, tag string) context.Context {
	return context.WithValue(ctx, callTagKey{}, tag)
}

func callTagOf(meta map[string]any) string {
	tag, _ := meta[MetaCallTag].(string)
	return tag
}

// tagBody is the body of a bridged call's SSE response from a Streamable
// HTTP server: it adds the call tag to the _meta of every request on the
// stream, since go-sdk hands such messages to its handlers without saying
// which call they belonged to. Progress and log notifications go to the
// relay at once instead (notify), in stream order: go-sdk runs its
// notification handlers on goroutines of their own, which can run after
// the call's answer, when the IDE's request is over (an HTTP client then
// never gets them, and a log's call is no longer known).
type tagBody struct {
	io.ReadCloser
	tag string
	// notify takes a notification; nil: log notifications are tagged.
	notify func(method string, params json.RawMessage, tag string) bool
	buf    []byte    // read buffer, reused
	events sseEvents // unprocessed input
	out    []byte    // processed output not yet read
	end    error     // how the body ended, once it has
}

func (b *tagBody) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.end != nil {
			return 0, b.end
		}
		if b.buf == nil {
			b.buf = make([]byte, 8<<10)
		}
		b.out = b.out[:0]
		n, err := b.ReadCloser.Read(b.buf)
		b.events.add(b.buf[:n])
		if terr := b.events.take(func(event []byte, _ int) { b.out = append(b.out, b.rewrite(event)...) }); terr != nil {
			b.end = terr
			return 0, terr
		}
		if err != nil {
			// At the end, the last event may lack its blank line; go-sdk
			// takes it as whole, so it is rewritten as one. A cut passes
			// on as it came, with its error: go-sdk then resumes.
			if rest := b.events.rest(); err == io.EOF && len(rest) > 0 {
				b.out = append(b.out, b.rewrite(rest)...)
			} else {
				b.out = append(b.out, rest...)
			}
			b.end = err
		}
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

// rewrite returns one SSE event: tagged when it carries a request, without
// its data when that was a notification notify took. Everything else
// (responses, other notifications) passes untouched.
func (b *tagBody) rewrite(event []byte) []byte {
	if !bytes.Contains(event, []byte(`"method"`)) || !messageEvent(event) {
		return event // go-sdk reads only events named message, or not named
	}
	var out bytes.Buffer
	for line := range bytes.Lines(event) {
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			out.Write(line)
			continue
		}
		data = bytes.TrimSpace(data)
		msg, err := jsonrpc.DecodeMessage(data)
		req, isReq := msg.(*jsonrpc.Request)
		if err == nil && isReq && !req.IsCall() && b.notify != nil && b.notify(req.Method, req.Params, b.tag) {
			continue // an event without data is skipped, its id kept
		}
		if err == nil && isReq && (req.IsCall() || req.Method == "notifications/message") {
			if tagged, ok := addMeta(data, b.tag); ok {
				data = tagged
			}
		}
		out.WriteString("data: ")
		out.Write(data)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// messageEvent reports whether an SSE event is named "message" or not
// named, which is the same.
func messageEvent(event []byte) bool {
	name := ""
	for line := range bytes.Lines(event) {
		if v, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("event:")); ok {
			name = string(bytes.TrimPrefix(v, []byte(" ")))
		}
	}
	return name == "" || name == "message"
}

// addMeta sets params._meta[MetaCallTag] in a JSON-RPC message.
func addMeta(msg []byte, tag string) ([]byte, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil {
		return nil, false
	}
	params := map[string]json.RawMessage{}
	if raw, ok := m["params"]; ok && json.Unmarshal(raw, &params) != nil {
		return nil, false
	}
	meta := map[string]json.RawMessage{}
	if raw, ok := params["_meta"]; ok && json.Unmarshal(raw, &meta) != nil {
		return nil, false
	}
	meta[MetaCallTag], _ = json.Marshal(tag)
	params["_meta"], _ = json.Marshal(meta)
	m["params"], _ = json.Marshal(params)
	out, err := json.Marshal(m)
	return out, err == nil
}

// relayNotification gives a progress or log notification that came with
// a call to the relay (see tagBody); false: not one of those, or not
// readable, and go-sdk is to handle it.
func (c *Conn) relayNotification(method string, params json.RawMessage, tag string) bool {
	switch method {
	case "notifications/progress":
		var p mcp.ProgressNotificationParams
		if json.Unmarshal(params, &p) != nil {
			return false
		}
		c.opts.Relay.Progress(c.srv.ID, &p)
	case "notifications/message":
		var p mcp.LoggingMessageParams
		if json.Unmarshal(params, &p) != nil {
			return false
		}
		c.opts.Relay.Log(c.srv.ID, &p, tag)
	default:
		return false
	}
	return true
}

// rootsMark is the one root of a Conn's go-sdk client. Those roots are
// never served (the relay answers roots/list from the IDEs), but go-sdk
// sends notifications/roots/list_changed only when they change: setting
// the mark again sends one.
var rootsMark = &mcp.Root{URI: "file:///", Name: "mcptray"}

// RootsChanged tells the server, in the background, that its roots
// changed (an IDE's did, LC-23), when its session's era has that
// notification (2026-07-28 removed it). Changes that come while one is
// being told (a server's transport can take seconds to accept a message)
// are told once, after it: one goroutine per server at most.
func (c *Conn) RootsChanged() {
	c.rootsAgain.Store(true)
	if !c.rootsTelling.CompareAndSwap(false, true) {
		return // the teller will see rootsAgain
	}
	go func() {
		for {
			for c.rootsAgain.Swap(false) {
				c.tellRootsChanged()
			}
			c.rootsTelling.Store(false)
			// A change stored after the last Swap and before the Store
			// found the teller busy: take it up, unless another has.
			if !c.rootsAgain.Load() || !c.rootsTelling.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

func (c *Conn) tellRootsChanged() {
	cs := c.Session()
	if c.opts.Relay == nil || cs == nil {
		return
	}
	if ir := cs.InitializeResult(); ir == nil || ir.ProtocolVersion >= "2026-07-28" {
		return
	}
	c.client.AddRoots(rootsMark)
}
