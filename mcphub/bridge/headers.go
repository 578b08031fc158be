package bridge

import (
	"encoding/json"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// paramHeader is a tool parameter mirrored into an Mcp-Param-* header
// (the schema's x-mcp-header annotation, SEP-2243); path names it in the
// arguments, through nested objects.
type paramHeader struct {
	path   []string
	header string
}

// schemaProps is what paramHeaders reads of a schema's properties.
type schemaProps map[string]struct {
	Header     string      `json:"x-mcp-header"`
	Properties schemaProps `json:"properties"`
}

// paramHeaders reads a tool's x-mcp-header annotations at any depth, as
// clients mirror them (go-sdk does), in header order.
func paramHeaders(tool json.RawMessage) []paramHeader {
	var t struct {
		InputSchema struct {
			Properties schemaProps `json:"properties"`
		} `json:"inputSchema"`
	}
	if json.Unmarshal(tool, &t) != nil {
		return nil
	}
	var out []paramHeader
	var walk func(props schemaProps, prefix []string)
	walk = func(props schemaProps, prefix []string) {
		for prop, p := range props {
			path := append(slices.Clip(prefix), prop)
			if p.Header != "" {
				out = append(out, paramHeader{path, p.Header})
			}
			walk(p.Properties, path)
		}
	}
	walk(t.InputSchema.Properties, nil)
	slices.SortFunc(out, func(a, b paramHeader) int { return strings.Compare(a.header, b.header) })
	return out
}

// argument is the value at path in a tools/call's arguments, if there is
// one that is not null.
func argument(args json.RawMessage, path []string) (json.RawMessage, bool) {
	v := args
	for _, name := range path {
		var obj map[string]json.RawMessage
		if json.Unmarshal(v, &obj) != nil {
			return nil, false
		}
		if v = obj[name]; v == nil {
			return nil, false
		}
	}
	return v, string(v) != "null"
}

// checkParamHeaders validates a 2026-07-28 tools/call's Mcp-Param-*
// headers against its arguments (TS-17): a header that is malformed, or
// that does not match its argument, or is missing while the argument is
// present, is rejected with HeaderMismatch.
func checkParamHeaders(h http.Header, params []paramHeader, args json.RawMessage) *rpcError {
	if len(params) == 0 || h == nil {
		return nil
	}
	for _, p := range params {
		key := http.CanonicalHeaderKey("Mcp-Param-" + p.header)
		_, present := h[key]
		arg, hasArg := argument(args, p.path)
		prop := strings.Join(p.path, ".")
		switch {
		case !present && !hasArg:
			continue
		case !present:
			return errorf(codeHeaderMismatch, "header Mcp-Param-%s is missing but %q is in the arguments", p.header, prop)
		case !hasArg:
			return errorf(codeHeaderMismatch, "header Mcp-Param-%s is present but %q is not in the arguments", p.header, prop)
		}
		if got, err := encodedHeader(h, key); err != nil || !headerSays(got, arg) {
			return mismatch("Mcp-Param-"+p.header, got, err, "the argument "+strconv.Quote(prop))
		}
	}
	return nil
}

// headerSays reports whether a header's value is the argument: the same
// text, or for a number the same number (42, 42.0 and 4.2e1 alike).
func headerSays(got string, arg json.RawMessage) bool {
	want, ok := headerForm(arg)
	if !ok || got == want {
		return ok
	}
	if c := arg[0]; c != '-' && (c < '0' || c > '9') {
		return false
	}
	x, _, errX := big.ParseFloat(want, 10, 256, big.ToNearestEven)
	y, _, errY := big.ParseFloat(got, 10, 256, big.ToNearestEven)
	return errX == nil && errY == nil && x.Cmp(y) == 0
}

// headerForm is how an argument appears in its header: strings as they
// are, integers in decimal, booleans as true or false.
func headerForm(v json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return strconv.FormatBool(b), true
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String(), true
	}
	return "", false
}
