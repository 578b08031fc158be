package bridge

import (
	"encoding/json"
	"slices"
	"strings"
)

// metaMember is one member of a request's _meta.
type metaMember struct {
	key   string
	value json.RawMessage
}

// passedMeta is the part of x's _meta that goes upstream with its request:
// the IDE's own members (a trace context, a vendor's keys), in key order,
// nil for none. The members the protocol reserves are each hop's own, and
// the bridge sets those itself (progressToken, mapped per hop; the
// 2026-07-28 keys, from what the IDE declared); MCP Tray's own never come
// from an IDE.
func passedMeta(x *exchange) []metaMember {
	var out []metaMember
	for k, v := range x.meta {
		if !hopMetaKey(k) {
			out = append(out, metaMember{k, v})
		}
	}
	slices.SortFunc(out, func(a, b metaMember) int { return strings.Compare(a.key, b.key) })
	return out
}

// hopMetaKey reports whether a _meta key belongs to one hop and is not
// passed on: progressToken, a key whose prefix has the label
// "modelcontextprotocol" or "mcp" (reserved for MCP: io.modelcontextprotocol/,
// modelcontextprotocol.io/, dev.mcp/), or the label "mcptray" (MCP Tray's
// own io.mcptray/, and any look-alike).
func hopMetaKey(k string) bool {
	if k == "progressToken" {
		return true
	}
	slash := strings.IndexByte(k, '/')
	if slash < 0 {
		return false
	}
	for label := range strings.SplitSeq(k[:slash], ".") {
		if label == "modelcontextprotocol" || label == "mcp" || label == "mcptray" {
			return true
		}
	}
	return false
}

// appendMeta appends the members of a _meta object: the progress token
// first, when there is one, then passed.
func appendMeta(out []byte, progress any, passed []metaMember) []byte {
	out = append(out, '{')
	if progress != nil {
		tok, _ := json.Marshal(progress)
		out = append(append(out, `"progressToken":`...), tok...)
	}
	for i, m := range passed {
		if i > 0 || progress != nil {
			out = append(out, ',')
		}
		out = append(appendJSONString(out, m.key), ':')
		out = append(out, m.value...)
	}
	return append(out, '}')
}
