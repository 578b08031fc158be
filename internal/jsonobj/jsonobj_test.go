package jsonobj

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// decode is what encoding/json makes of data as an object: its members
// (the last of a repeated key) with values compacted, and whether it took
// data at all.
func decode(data []byte) (map[string]string, bool) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return nil, false
	}
	out := map[string]string{}
	for k, v := range raw {
		var c bytes.Buffer
		_ = json.Compact(&c, v)
		out[k] = c.String()
	}
	return out, true
}

// members is what Members makes of data, the same way.
func members(data []byte) (map[string]string, bool) {
	out := map[string]string{}
	ok := Members(data, func(key, value []byte) {
		var c bytes.Buffer
		_ = json.Compact(&c, value)
		out[string(key)] = c.String()
	})
	return out, ok
}

func checkAgainstEncodingJSON(t *testing.T, data []byte) {
	t.Helper()
	want, wantOK := decode(data)
	got, ok := members(data)
	if ok != wantOK {
		t.Fatalf("%q: Members says %v, encoding/json %v", data, ok, wantOK)
	}
	if !ok {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%q: Members %v, encoding/json %v", data, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%q: member %q: Members %q, encoding/json %q", data, k, got[k], v)
		}
	}
}

var samples = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":1,"a":2}`, `{"a" : [1, 2.5e-3, -0, true, false, null, "x"] , "b":{"c":{}}}`,
	`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"_meta":{"progressToken":"t"},"name":"echo","arguments":{"message":"hé\u00e9\n"}}}`,
	`{"\u006dethod":"x"}`, `{"a\"b":1}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}",
	// refused
	``, ` `, `[]`, `"x"`, `null`, `1`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":1}x`, `{"a":1}{}`,
	`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":-}`, `{"a":+1}`, `{"a":tru}`, `{"a":nul}`, `{"a":"\x"}`,
	`{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":[1,]}`, `{"a":[,1]}`, `{"a":"}`, `{a:1}`, `{'a':1}`, `{"a":1 "b":2}`,
}

func TestMembersAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range samples {
		checkAgainstEncodingJSON(t, []byte(s))
	}
	// encoding/json's nesting limit: 10000 levels, the object's included.
	for _, n := range []int{9999, 10000} {
		deep := `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`
		if !Members([]byte(deep), func(_, _ []byte) {}) || !json.Valid([]byte(deep)) {
			t.Fatalf("%d levels refused", n)
		}
		deeper := `{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
		if n == 10000 && (Members([]byte(deeper), func(_, _ []byte) {}) || json.Valid([]byte(deeper))) {
			t.Fatalf("%d levels taken", n+1)
		}
	}
}

func TestMembersGivesSlicesOfTheInput(t *testing.T) {
	data := []byte(`{ "id" : "a" , "params" : {"x": [1, 2]} }`)
	var keys, values []string
	Members(data, func(k, v []byte) { keys, values = append(keys, string(k)), append(values, string(v)) })
	if strings.Join(keys, "|") != "id|params" || strings.Join(values, "|") != `"a"|{"x": [1, 2]}` {
		t.Fatalf("keys %q values %q", keys, values)
	}
}

func TestFieldAndString(t *testing.T) {
	names := []string{"id", "method", "Method"}
	for key, want := range map[string]string{"method": "method", "Method": "Method", "METHOD": "method", "methods": "", "ID": "id"} {
		if got := Field([]byte(key), names); got != want {
			t.Fatalf("Field(%q) = %q, want %q (as encoding/json matches)", key, got, want)
		}
	}
	for in, want := range map[string]string{`"a"`: "a", `"a\nb"`: "a\nb", `"\u00e9"`: "é", `null`: "kept"} {
		got := "kept"
		if ok := String(&got, []byte(in)); !ok || got != want {
			t.Fatalf("String(%s) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{`1`, `{}`, `true`, ``} {
		var s string
		if String(&s, []byte(in)) {
			t.Fatalf("String(%s) took a value that is not a string", in)
		}
	}
}

func FuzzMembers(f *testing.F) {
	for _, s := range samples {
		f.Add([]byte(s))
	}
	f.Fuzz(checkAgainstEncodingJSON)
}

func BenchmarkMembers(b *testing.B) {
	msg := []byte(`{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{},"elicitation":{}},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"}},"name":"echo","arguments":{"message":"hello"}}}`)
	b.Run("Members", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var method string
			var params []byte
			Members(msg, func(k, v []byte) {
				switch string(k) {
				case "method":
					String(&method, v)
				case "params":
					params = v
				}
			})
			_, _ = method, params
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m struct {
				Method string          `json:"method"`
				Params json.RawMessage `json:"params"`
			}
			_ = json.Unmarshal(msg, &m)
		}
	})
}
