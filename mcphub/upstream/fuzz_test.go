package upstream

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
)

// FuzzParseChallenge: any WWW-Authenticate header gives a challenge with
// the response's status; never a panic.
func FuzzParseChallenge(f *testing.F) {
	for _, seed := range []string{
		`Bearer resource_metadata="https://a.example/.well-known/oauth-protected-resource", scope="a b"`,
		`Bearer error="insufficient_scope", scope="admin", error_description="more, please"`,
		`Basic realm="x", Bearer`, `Bearer ="`, `Bearer a=b=c`, ``, `,,,`, "Bearer scope=\"\x00\"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		resp := &http.Response{StatusCode: 401, Header: http.Header{"Www-Authenticate": {header}}}
		if c := parseChallenge(resp); c == nil || c.Status != 401 {
			t.Fatalf("challenge %+v", c)
		}
	})
}

// FuzzEventReader: any response stream gives events or an error.
func FuzzEventReader(f *testing.F) {
	f.Add([]byte("id: 1\nretry: 10\ndata: {}\n\n"))
	f.Add([]byte("data: a\r\ndata: b\r\n\r\n: comment\n\ndata"))
	f.Add([]byte("retry: -5\nid\n\n\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		ev := &eventReader{r: bufioReader(stream)}
		for range 1000 {
			if _, err := ev.next(); err != nil {
				return
			}
		}
	})
}

// FuzzParseServerMessage: the one-pass reading of a server's message makes
// of it what encoding/json does.
func FuzzParseServerMessage(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":"mcptray-r1","result":{"content":[]}}`,
		`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}`,
		`{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"no"}}`, `{"error":null,"ID":1}`, `{"method":1}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, err := parseServerMessage(data)
		var slow serverMessage
		serr := json.Unmarshal(data, &slow)
		if (err == nil) != (serr == nil) || err == nil && !reflect.DeepEqual(fast, &slow) {
			t.Fatalf("%q: parseServerMessage %+v (%v), encoding/json %+v (%v)", data, fast, err, slow, serr)
		}
	})
}
