package bridge

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// paramHeader is a tool parameter mirrored into an Mcp-Param-* header
// (the schema's x-mcp-header annotation, SEP-2243).
type paramHeader struct {
	prop, header string
}

// paramHeaders reads a tool's top-level x-mcp-header annotations.
func paramHeaders(tool json.RawMessage) []paramHeader {
	var t struct {
		InputSchema struct {
			Properties map[string]struct {
				Header string `json:"x-mcp-header"`
			} `json:"properties"`
		} `json:"inputSchema"`
	}
	if json.Unmarshal(tool, &t) != nil {
		return nil
	}
	var out []paramHeader
	for prop, p := range t.InputSchema.Properties {
		if p.Header != "" {
			out = append(out, paramHeader{prop, p.Header})
		}
	}
	return out
}

// checkParamHeaders validates a 2026-07-28 tools/call's Mcp-Param-*
// headers against its arguments (TS-17): a header that is malformed, or
// that does not match its argument, or is missing while the argument is
// present, is rejected with HeaderMismatch.
func checkParamHeaders(h http.Header, params []paramHeader, args json.RawMessage) *rpcError {
	if len(params) == 0 || h == nil {
		return nil
	}
	var values map[string]json.RawMessage
	_ = json.Unmarshal(args, &values)
	for _, p := range params {
		raw, present := h[http.CanonicalHeaderKey("Mcp-Param-"+p.header)]
		arg, hasArg := values[p.prop]
		hasArg = hasArg && string(arg) != "null"
		switch {
		case !present && !hasArg:
			continue
		case !present:
			return errorf(codeHeaderMismatch, "header Mcp-Param-%s is missing but %q is in the arguments", p.header, p.prop)
		case !hasArg:
			return errorf(codeHeaderMismatch, "header Mcp-Param-%s is present but %q is not in the arguments", p.header, p.prop)
		}
		got, err := headerValue(strings.Join(raw, ","))
		if err != nil {
			return errorf(codeHeaderMismatch, "header Mcp-Param-%s: %v", p.header, err)
		}
		if want, ok := headerForm(arg); !ok || got != want {
			return errorf(codeHeaderMismatch, "header Mcp-Param-%s does not match the argument %q", p.header, p.prop)
		}
	}
	return nil
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
