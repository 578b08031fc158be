package bridge

import (
	"encoding/json"
	"net/http"
	"testing"
)

// A header mirrors its argument as text, and a number as a number.
func TestHeaderSaysArgument(t *testing.T) {
	for _, c := range []struct {
		header, arg string
		same        bool
	}{
		{"eu", `"eu"`, true},
		{"EU", `"eu"`, false}, // values compare case-sensitively
		{"42", `"42"`, true},
		{"42.0", `"42"`, false}, // a string is text
		{"true", `true`, true},
		{"1", `true`, false},
		{"42", `42`, true},
		{"42", `42.0`, true},
		{"4.2e1", `42`, true},
		{"042", `42`, true},
		{"-0.5", `-5e-1`, true},
		{"43", `42`, false},
		{"0x2A", `42`, false},
		{"9007199254740993", `9007199254740992`, false}, // beyond float64, still told apart
		{"{}", `{}`, false},
	} {
		if got := headerSays(c.header, json.RawMessage(c.arg)); got != c.same {
			t.Errorf("header %q for argument %s: %v, want %v", c.header, c.arg, got, c.same)
		}
	}
}

// A header that must come once, in visible ASCII, space and tab.
func TestOneHeader(t *testing.T) {
	for _, c := range []struct {
		values []string
		ok     bool
	}{
		{nil, false},
		{[]string{"tools/call"}, true},
		{[]string{"a b\tc"}, true},
		{[]string{"a", "b"}, false},
		{[]string{"caf\xc3\xa9"}, false},
		{[]string{"a\x7f"}, false},
	} {
		h := http.Header{}
		if c.values != nil {
			h["Mcp-Name"] = c.values
		}
		if _, err := oneHeader(h, "Mcp-Name"); (err == nil) != c.ok {
			t.Errorf("Mcp-Name %q: %v, want ok %v", c.values, err, c.ok)
		}
	}
}
