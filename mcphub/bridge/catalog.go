package bridge

//lint:file-ignore SA1019 sampling, elicitation, roots and logging are deprecated in 2026-07-28 but initialize-era peers use them: MCP Tray bridges both eras

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/jsonobj"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/upstream"
)

// view is what one client may see: every server (the aggregated /mcp) or
// one (/servers/NAME/mcp), within the servers its token allows.
type view struct {
	server string          // "" for the aggregated view
	scope  map[string]bool // nil: every server
}

func (v view) aggregated() bool { return v.server == "" }

func (v view) includes(id string) bool {
	if v.server != "" && v.server != id {
		return false
	}
	return v.scope == nil || v.scope[id]
}

func (v view) key() string {
	if v.scope == nil {
		return v.server + "|*"
	}
	ids := make([]string, 0, len(v.scope))
	for id := range v.scope {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return v.server + "|" + strings.Join(ids, ",")
}

// route is where an exposed tool or prompt goes.
type route struct {
	server string
	name   string // the upstream's own name
}

type templateRoute struct {
	server  string
	matcher templateMatcher
}

// snapshot is a view's catalog at one generation: the list results encoded
// once (tools/list is served from these bytes) and the routing tables.
type snapshot struct {
	gen                                           uint64
	toolsList, promptsList, resList, templateList []byte
	legacyToolsList                               []byte // for initialize-era clients when it differs (LC-17), else nil
	tools, prompts                                map[string]route
	resources                                     map[string]string // URI -> server
	templates                                     []templateRoute
	signIn                                        map[string]string        // sign-in tool name -> server
	headers                                       map[string][]paramHeader // tool -> its Mcp-Param headers
	mirrored                                      map[string]bool          // tools with x-mcp-header annotations at any depth
	unavailable                                   map[string]string        // server -> why it is not usable
	needsTasks                                    map[string]string        // unlisted tool that must run as a task -> server
	servers                                       []string                 // usable servers, config order
	instructions                                  string
	caps                                          serverCaps

	// The lists as 2026-07-28 results, each made the first time a client
	// of that era asks for it: modernResult scans and copies a list whole,
	// and the aggregated tools list runs to hundreds of kilobytes.
	modernOnce  [len(listMethods)]sync.Once
	modernLists [len(listMethods)]json.RawMessage
}

// listMethods are the methods answered from a snapshot's encoded lists.
var listMethods = [...]string{"tools/list", "prompts/list", "resources/list", "resources/templates/list"}

// list is the result of listMethods[i] for a client of the era modern says.
func (b *Bridge) list(s *snapshot, i int, modern bool) json.RawMessage {
	if !modern {
		if listMethods[i] == "tools/list" && s.legacyToolsList != nil {
			return s.legacyToolsList
		}
		return s.encodedList(i)
	}
	s.modernOnce[i].Do(func() { s.modernLists[i] = b.modernResult(listMethods[i], s.encodedList(i)) })
	return s.modernLists[i]
}

// encodedList is listMethods[i]'s result as encoded when the catalog
// changed: what list gives an initialize-era client (but for
// legacyToolsList) and wraps for a 2026-07-28 one.
func (s *snapshot) encodedList(i int) []byte {
	return [...][]byte{s.toolsList, s.promptsList, s.resList, s.templateList}[i]
}

// serverCaps is what the view offers.
type serverCaps struct {
	prompts, resources, subscribe, completions, logging bool
}

// Names of the bridge's own tools.
const (
	usageToolName = "mcptray__usage_stats"
	signInSuffix  = "sign_in"
)

// build makes the snapshot of v from the hub's current state.
func (b *Bridge) build(v view, gen uint64) *snapshot {
	sep := b.separator()
	s := &snapshot{gen: gen, tools: map[string]route{}, prompts: map[string]route{},
		resources: map[string]string{}, signIn: map[string]string{}, unavailable: map[string]string{},
		headers: map[string][]paramHeader{}, mirrored: map[string]bool{}, needsTasks: map[string]string{}}
	toolNames, promptNames := newNamer(), newNamer()
	var tools, prompts, resources, templates [][]byte
	var instructions []string
	if v.aggregated() && b.opts.Usage != nil {
		toolNames.unique(usageToolName)
		tools = append(tools, usageToolJSON)
	}
	for _, sv := range b.hub.Servers() {
		if !v.includes(sv.ID) {
			continue
		}
		st := sv.Status.State
		usable := st == status.Connected || st == status.Refreshing
		signInTool := ""
		if st == status.NeedsAuth || st == status.Authenticating || sv.Status.WantsStepUp() {
			signInTool = toolNames.unique(prefixed(sv.ID, sep, signInSuffix))
			s.signIn[signInTool] = sv.ID
			tools = append(tools, signInToolJSON(signInTool, sv.ID, sv.Status))
		}
		if !usable {
			s.unavailable[sv.ID] = unavailableReason(sv.ID, signInTool, sv.Status)
		}
		if !usable {
			continue
		}
		conn, ok := b.hub.Conn(sv.ID)
		if !ok {
			continue
		}
		cat := conn.Catalog()
		if cat == nil {
			continue
		}
		s.servers = append(s.servers, sv.ID)
		if cat.Instructions != "" {
			instructions = append(instructions, fmt.Sprintf("## %s\n%s", sv.ID, cat.Instructions))
		}
		if caps := cat.Capabilities; caps != nil {
			s.caps.prompts = s.caps.prompts || caps.Prompts != nil
			s.caps.resources = s.caps.resources || caps.Resources != nil
			s.caps.subscribe = s.caps.subscribe || (caps.Resources != nil && caps.Resources.Subscribe)
			s.caps.completions = s.caps.completions || caps.Completions != nil
			s.caps.logging = s.caps.logging || caps.Logging != nil
		}
		for _, t := range cat.Tools {
			if t.TaskOnly {
				// MCP Tray runs no tasks, and such a tool cannot be called
				// otherwise (LC-20): it is not listed, and a call to it by
				// name is told why. Its name is not reserved: a listed
				// tool that comes to have it wins.
				if v.aggregated() {
					s.needsTasks[prefixed(sv.ID, sep, t.Key)] = sv.ID
				} else {
					s.needsTasks[t.Key] = sv.ID
				}
				continue
			}
			name := t.Key
			raw := t.Raw
			if v.aggregated() {
				name = toolNames.unique(prefixed(sv.ID, sep, t.Key))
				raw = withName(t.Raw, name)
			} else {
				toolNames.unique(name)
				raw = compact(raw)
			}
			s.tools[name] = route{sv.ID, t.Key}
			if bytes.Contains(t.Raw, []byte("x-mcp-header")) {
				s.mirrored[name] = true
				if ph := paramHeaders(t.Raw); ph != nil {
					s.headers[name] = ph
				}
			}
			tools = append(tools, raw)
		}
		for _, p := range cat.Prompts {
			name := p.Key
			raw := p.Raw
			if v.aggregated() {
				name = promptNames.unique(prefixed(sv.ID, sep, p.Key))
				raw = withName(p.Raw, name)
			} else {
				raw = compact(raw)
			}
			s.prompts[name] = route{sv.ID, p.Key}
			prompts = append(prompts, raw)
		}
		// Resource URIs are kept; when two servers offer the same URI the
		// first in the configuration owns it and the other's is not listed.
		for _, r := range cat.Resources {
			if _, taken := s.resources[r.Key]; taken {
				continue
			}
			s.resources[r.Key] = sv.ID
			resources = append(resources, compact(r.Raw))
		}
		for _, t := range cat.ResourceTemplates {
			s.templates = append(s.templates, templateRoute{sv.ID, compileTemplate(t.Key)})
			templates = append(templates, compact(t.Raw))
		}
	}
	if v.aggregated() {
		s.instructions = strings.Join(instructions, "\n\n")
	} else if len(instructions) == 1 {
		_, s.instructions, _ = strings.Cut(instructions[0], "\n")
	}
	s.toolsList = encodeList("tools", tools)
	if legacy, changed := legacyTools(tools); changed {
		s.legacyToolsList = encodeList("tools", legacy)
	}
	s.promptsList = encodeList("prompts", prompts)
	s.resList = encodeList("resources", resources)
	s.templateList = encodeList("resourceTemplates", templates)
	return s
}

// legacyTools is the tools as an initialize-era client may see them: in
// that era an outputSchema is an object schema (LC-17), so a 2026-07-28
// server's other kinds (an array, a string) are left out, and the tool's
// results lose their structuredContent to match (legacyResult).
func legacyTools(tools [][]byte) (_ [][]byte, changed bool) {
	var out [][]byte // made at the first tool that differs
	for i, raw := range tools {
		t, differs := legacyTool(raw)
		if differs && out == nil {
			out = append(make([][]byte, 0, len(tools)), tools[:i]...)
		}
		if out != nil {
			out = append(out, t)
		}
	}
	return out, out != nil
}

// legacyTool is a tool without an outputSchema that is not of objects;
// differs reports that it had one. Such tools are rare: the member is cut
// by decoding and encoding the tool again.
func legacyTool(raw []byte) (_ []byte, differs bool) {
	if !bytes.Contains(raw, []byte(`"outputSchema"`)) {
		return raw, false
	}
	start, end, ok := memberValue(raw, "outputSchema")
	if !ok || objectSchema(raw[start:end]) {
		return raw, false
	}
	var t map[string]json.RawMessage
	if json.Unmarshal(raw, &t) != nil {
		return raw, false
	}
	delete(t, "outputSchema")
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(t) != nil {
		return raw, false
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), true
}

// objectSchema reports whether a schema is of JSON objects, as the
// initialize era requires of an outputSchema: "type": "object".
func objectSchema(schema json.RawMessage) bool {
	var s struct {
		Type json.RawMessage `json:"type"`
	}
	return json.Unmarshal(schema, &s) == nil && string(s.Type) == `"object"`
}

// encodeList writes {"key":[items...]} from already encoded items.
func encodeList(key string, items [][]byte) []byte {
	n := 16 + len(key)
	for _, it := range items {
		n += len(it) + 1
	}
	var b bytes.Buffer
	b.Grow(n)
	b.WriteString(`{"`)
	b.WriteString(key)
	b.WriteString(`":[`)
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// withName returns the item with its "name" replaced in place.
func withName(raw json.RawMessage, name string) json.RawMessage {
	return withMember(raw, "name", name)
}

// withMember returns the JSON object raw with the value of its top-level
// member key replaced by the string value, in place: every other byte
// stays the server's (re-encoding sorted the members and escaped <, > and
// & in descriptions and schemas). Without that member, raw is returned.
func withMember(raw json.RawMessage, key, value string) json.RawMessage {
	start, end, ok := memberValue(raw, key)
	if !ok {
		return raw
	}
	var q bytes.Buffer
	e := json.NewEncoder(&q)
	e.SetEscapeHTML(false) // as the server wrote it: < stays <
	_ = e.Encode(value)    // a string always encodes
	quoted := bytes.TrimSuffix(q.Bytes(), []byte("\n"))
	out := make([]byte, 0, len(raw)-(end-start)+len(quoted))
	out = append(append(append(out, raw[:start]...), quoted...), raw[end:]...)
	return out
}

// memberValue finds where the value of the top-level member key of a JSON
// object lies in raw (its first, should it repeat).
func memberValue(raw []byte, key string) (start, end int, ok bool) {
	valid := jsonobj.Members(raw, func(k, v []byte) {
		if !ok && string(k) == key {
			start = cap(raw) - cap(v) // v is a slice of raw
			end, ok = start+len(v), true
		}
	})
	return start, end, ok && valid
}

// compact removes insignificant whitespace: a server may pretty-print, and
// a newline would break an SSE data line or a JSON-lines frame. JSON
// without one is returned as it is (two byte scans, no re-encoding).
func compact(raw json.RawMessage) json.RawMessage {
	if bytes.IndexByte(raw, '\n') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		return raw
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// owner finds the server of a resource URI: a listed resource, else the
// first template that matches.
func (s *snapshot) owner(uri string) (string, bool) {
	if id, ok := s.resources[uri]; ok {
		return id, true
	}
	for _, t := range s.templates {
		if t.matcher.match(uri) {
			return t.server, true
		}
	}
	if len(s.servers) == 1 {
		return s.servers[0], true // one server: let it answer "not found" itself
	}
	return "", false
}

func unavailableReason(id, signInTool string, st status.Status) string {
	switch st.State {
	case status.NeedsAuth:
		return fmt.Sprintf("%s needs sign-in: call the tool %s, or click Authenticate next to %s in MCP Tray (or run 'mcptray auth %s')", id, signInTool, id, id)
	case status.Authenticating:
		return fmt.Sprintf("%s is being signed in; try again once the sign-in page is done", id)
	case status.Disabled:
		return fmt.Sprintf("%s is disabled in MCP Tray's configuration", id)
	case status.Connecting:
		return fmt.Sprintf("%s is still connecting; try again in a moment", id)
	}
	reason := st.Reason
	if reason == "" {
		reason = "not connected"
	}
	next := ""
	if !st.NextRetry.IsZero() {
		next = fmt.Sprintf(" MCP Tray tries again at %s;", st.NextRetry.Local().Format(time.TimeOnly))
	}
	return fmt.Sprintf("%s is unavailable: %s.%s 'mcptray status' shows details and 'mcptray reconnect %s' retries now", id, strings.TrimSuffix(reason, "."), next, id)
}

// signInToolName is what the aggregated view calls server's sign-in tool
// (unless another tool had the name: then it is de-duplicated).
func (b *Bridge) signInToolName(server string) string {
	return prefixed(server, b.separator(), signInSuffix)
}

func signInToolJSON(name, id string, st status.Status) []byte {
	desc := fmt.Sprintf("%s needs sign-in before its tools can be used (%s). Calling this tool opens %s's sign-in page in the browser of the computer running MCP Tray; once it is done, %s's tools appear.",
		id, orDefault(st.Reason, "not signed in"), id, id)
	if st.WantsStepUp() {
		desc = fmt.Sprintf("%s refused a request for want of permissions (%s). Calling this tool opens %s's sign-in page in the browser of the computer running MCP Tray, to grant them; its other tools keep working meanwhile.",
			id, st.Reason, id)
	}
	data, _ := json.Marshal(map[string]any{
		"name": name, "title": "Sign in to " + id, "description": desc,
		"inputSchema": map[string]any{"type": "object", "properties": map[string]any{}},
		"annotations": map[string]any{"readOnlyHint": false, "openWorldHint": true},
	})
	return data
}

var usageToolJSON = func() []byte {
	data, _ := json.Marshal(map[string]any{
		"name":        usageToolName,
		"title":       "MCP Tray usage statistics",
		"description": "Per-server and per-tool call counts, error rates and p50/p95 latency of the calls bridged by MCP Tray, with a daily series. Aggregates only: no arguments or results.",
		"inputSchema": map[string]any{"type": "object", "properties": map[string]any{
			"days":   map[string]any{"type": "integer", "minimum": 1, "maximum": maxUsageDays, "default": 7, "description": "how many days back (at most 60)"},
			"server": map[string]any{"type": "string", "description": "only this server"},
		}},
		"annotations": map[string]any{"readOnlyHint": true, "openWorldHint": false},
	})
	return data
}()

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// declared is what server declared it can do when its session began (its
// catalog's capabilities; LC-03: the bridge asks of it nothing else), and
// false before its first connection, when that is not known yet: the
// request then goes on, to be answered as unavailable.
func (b *Bridge) declared(server string) (*mcp.ServerCapabilities, bool) {
	c, ok := b.hub.Conn(server)
	if !ok {
		return nil, false
	}
	cat := c.Catalog()
	if cat == nil {
		return nil, false
	}
	if cat.Capabilities == nil {
		return &mcp.ServerCapabilities{}, true
	}
	return cat.Capabilities, true
}

// usable reports whether the server's upstream session can take calls.
func usable(c *upstream.Conn) bool {
	st := c.Status().State
	return (st == status.Connected || st == status.Refreshing) && c.Session() != nil
}
