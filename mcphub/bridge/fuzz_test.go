package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/jsonobj"
)

// FuzzParseMessage: any bytes are a message or a JSON-RPC error.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, `{"jsonrpc":"2.0","id":null,"method":"x"}`,
		`{"jsonrpc":"1.0"}`, `{"jsonrpc":"2.0","id":1.5,"result":{}}`, `[]`, `{"jsonrpc":"2.0","id":{"a":1},"method":"m"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, rerr := parseMessage(data)
		if rerr == nil && m == nil {
			t.Fatal("neither a message nor an error")
		}
		if rerr != nil && rerr.Code >= 0 {
			t.Fatalf("error code %d is not a JSON-RPC error code", rerr.Code)
		}
		// The one-pass reading makes of the message what encoding/json does.
		if fast := (&message{}); jsonobj.Scan(data, fast, (*message).member) {
			var slow message
			var members map[string]json.RawMessage
			err := json.Unmarshal(data, &slow)
			if err == nil {
				err = json.Unmarshal(data, &members)
			}
			for k := range members { // matched as encoding/json matches fields
				slow.hasMethod = slow.hasMethod || strings.EqualFold(k, "method")
			}
			if err != nil || !reflect.DeepEqual(fast, &slow) {
				t.Fatalf("%q: scanMessage %+v, encoding/json %+v (%v)", data, fast, slow, err)
			}
		}
	})
}

// FuzzParseParams: the one-pass reading of params makes of them what
// encoding/json does.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{`{"_meta":{"progressToken":1,"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"echo","arguments":{"m":"x"}}`,
		`{"uri":"file:///a","_meta":null}`, `{"name":1}`, `{"inputResponses":{"a":{"action":"accept"}},"requestState":"s"}`,
		`{"NAME":"x","_Meta":{"a":1},"_meta":{"b":2}}`, `{"_meta":[]}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast requestParams
		if !jsonobj.Scan(data, &fast, (*requestParams).member) {
			return
		}
		var slow requestParams
		if err := json.Unmarshal(data, &slow); err != nil || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: scan %+v, encoding/json %+v (%v)", data, fast, slow, err)
		}
	})
}

// FuzzAppendJSONString: a name is written upstream as json.Marshal
// writes it, escapes and invalid UTF-8 included.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"echo", "", "a\"b", "<&>", "ü", "\x7f\x00", "\xff", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("%q: %s, json.Marshal %s", s, got[1:], want)
		}
	})
}

// FuzzPrefixed: aggregated names stay within the spec (1-128 characters of
// [A-Za-z0-9_.-]) and stable, for any server and tool name.
func FuzzPrefixed(f *testing.F) {
	f.Add("github", "create_issue")
	f.Add("ü", "😀 tool/with spaces")
	f.Add(strings.Repeat("s", 100), strings.Repeat("t", 100))
	f.Add("", "")
	f.Fuzz(func(t *testing.T, server, name string) {
		server = sanitize(server) // server IDs are normalised by the config
		got := prefixed(server, "__", name)
		if len(got) == 0 || len(got) > maxNameLen {
			t.Fatalf("length %d: %q", len(got), got)
		}
		for i := 0; i < len(got); i++ {
			if !toolNameChar(got[i]) {
				t.Fatalf("character %q in %q", got[i], got)
			}
		}
		if again := prefixed(server, "__", name); again != got {
			t.Fatalf("not stable: %q then %q", got, again)
		}
	})
}

// FuzzBridgeHTTPBody: any POST body on /mcp gets an HTTP answer (a JSON-RPC
// error for what is not a valid request), and the bridge keeps serving.
func FuzzBridgeHTTPBody(f *testing.F) {
	r := newRig(f, cfgServers(), rigOptions{})
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"f","version":"1"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"mcptray__usage_stats","arguments":{"days":-1}}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`,
		`{`, `null`, "\x00\xff",
	} {
		f.Add([]byte(s))
	}
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(t *testing.T, body []byte, headers ...string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, r.url+"/mcp", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		resp.Body.Close()
		return resp
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if resp := post(t, body); resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q", resp.StatusCode, body)
		}
		// Still serving: server/discover answers.
		if resp := post(t, []byte(`{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`),
			"Mcp-Protocol-Version", "2026-07-28", "Mcp-Method", "server/discover"); resp.StatusCode != 200 {
			t.Fatalf("server/discover after %q: status %d", body, resp.StatusCode)
		}
	})
}

// FuzzBridgeStreamLine: any line on the stdio bridge's stream gets at most
// an error answer, and the stream keeps serving.
func FuzzBridgeStreamLine(f *testing.F) {
	r := newRig(f, cfgServers(), rigOptions{})
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"f","version":"1"}}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"nope"}}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, line []byte) {
		line = bytes.ReplaceAll(line, []byte("\n"), nil)
		a, b := net.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.bridge.ServeStream(ctx, b, "", "fuzz") }()
		defer func() { cancel(); a.Close(); <-done }()
		_ = a.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			_, _ = a.Write(append(line, '\n'))
			_, _ = a.Write([]byte(`{"jsonrpc":"2.0","id":"probe","method":"ping"}` + "\n"))
		}()
		sc := bufio.NewScanner(a)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m struct {
				ID json.RawMessage `json:"id"`
			}
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				t.Fatalf("the bridge wrote a line that is not JSON: %q", sc.Bytes())
			}
			if string(m.ID) == `"probe"` {
				return
			}
		}
		t.Fatalf("the stream stopped serving after %q: %v", line, sc.Err())
	})
}
