package bridge

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcptray/mcptray/mcphub/status"
)

// rpcAnswer is an error answer's id and code; it fails the test unless
// body is one valid JSON-RPC error.
func rpcAnswer(t *testing.T, body string) (id string, code int) {
	t.Helper()
	var e struct {
		ID    json.RawMessage `json:"id"`
		Error *rpcError       `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil {
		t.Fatalf("not a JSON-RPC error: %q (%v)", body, err)
	}
	return string(e.ID), e.Error.Code
}

// Messages of the wrong shape get the JSON-RPC error their shape calls
// for, as valid JSON, under the request's id only when there is a valid
// one and it is a request's: never a response's, whose id is the
// bridge's own (answering under it would answer one of the client's
// requests).
func TestMalformedMessages(t *testing.T) {
	r := newRig(t, cfgServers(), rigOptions{})
	resp, _ := post(t, r.url+"/mcp", nil, strings.Replace(initializeBody, "2025-11-25", "2025-03-26", 1))
	h := map[string]string{"Mcp-Session-Id": resp.Header.Get("Mcp-Session-Id"), "Mcp-Protocol-Version": "2025-03-26"}
	post(t, r.url+"/mcp", h, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	cases := []struct {
		body, id string
		code     int
	}{
		{`{`, "null", codeParseError},
		{`5`, "null", codeInvalidRequest},
		{`{"jsonrpc":"2.0","id":1,"method":5}`, "null", codeInvalidRequest},
		{`{"jsonrpc":"2.0","id":5,"method":""}`, "5", codeInvalidRequest},
		{`{"jsonrpc":"2.0","id":1}`, "null", codeInvalidRequest},
		{`{"jsonrpc":"2.0","id":"r1","result":{},"error":{"code":1,"message":"x"}}`, "null", codeInvalidRequest},
		{`{"jsonrpc":"2.0","id":true,"method":"ping"}`, "null", codeInvalidRequest},
		{`{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, "null", codeInvalidRequest},
		{`{"jsonrpc":"2.0","id":1.5,"method":"ping"}`, "null", codeInvalidRequest},
		{`{"jsonrpc":"1.0","id":3,"method":"ping"}`, "3", codeInvalidRequest},
	}
	for _, c := range cases {
		resp, body := post(t, r.url+"/mcp", h, c.body)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %s, want 400", c.body, resp.Status)
		}
		if id, code := rpcAnswer(t, body); id != c.id || code != c.code {
			t.Errorf("%s: id %s code %d, want id %s code %d", c.body, id, code, c.id, c.code)
		}
	}

	t.Run("initialize as a notification", func(t *testing.T) {
		resp, body := post(t, r.url+"/mcp", nil, strings.Replace(initializeBody, `"id":1,`, "", 1))
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Mcp-Session-Id") != "" {
			t.Errorf("%s, session %q: want 400 and no session", resp.Status, resp.Header.Get("Mcp-Session-Id"))
		}
		rpcAnswer(t, body)
	})
	t.Run("initialize that fails", func(t *testing.T) {
		resp, body := post(t, r.url+"/mcp", nil, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":"x"}`)
		if resp.Header.Get("Mcp-Session-Id") != "" {
			t.Errorf("a failed initialize opened session %q", resp.Header.Get("Mcp-Session-Id"))
		}
		if _, code := rpcAnswer(t, body); code != codeInvalidParams {
			t.Errorf("code %d, want %d", code, codeInvalidParams)
		}
	})
	t.Run("initialize in a batch", func(t *testing.T) {
		_, body := post(t, r.url+"/mcp", h, `[`+strings.Replace(initializeBody, `"id":1`, `"id":9`, 1)+`]`)
		if !strings.Contains(body, `"id":9,"error"`) {
			t.Errorf("initialize in a 2025-03-26 batch: %s, want an error", body)
		}
		resp, body := post(t, r.url+"/mcp", h, `[{"jsonrpc":"2.0","id":10,"method":"ping"}]`)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"id":10,"result"`) {
			t.Errorf("the session after it: %s %s, want it still at 2025-03-26", resp.Status, body)
		}
	})
	t.Run("stdio", func(t *testing.T) {
		ide, lines := stdioLines(t, r)
		fmt.Fprintln(ide, initializeBody)
		nextLine(t, lines, `"protocolVersion":"2025-11-25"`)
		fmt.Fprintln(ide, strings.Replace(initializeBody, `"id":1`, `"id":2`, 1))
		if id, code := rpcAnswer(t, nextLine(t, lines, `"id":2`)); code != codeInvalidRequest {
			t.Errorf("a second initialize: id %s code %d, want -32600", id, code)
		}
		fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":3,"method":""}`)
		if id, code := rpcAnswer(t, nextLine(t, lines, `"id":3`)); code != codeInvalidRequest {
			t.Errorf("an empty method: id %s code %d, want -32600", id, code)
		}
	})
}

// 2026-07-28 headers (TS-16..18): Mcp-Method and Mcp-Name are sent once,
// in visible ASCII (other values base64-encoded); such a request has no
// session, whatever Mcp-Session-Id says; an unknown MCP-Protocol-Version
// is named as unsupported.
func TestModernHeaderRules(t *testing.T) {
	alpha, _ := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected})
	const uri = "file:///café"
	read := `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"` + uri + `",` + modernMeta + `}}`
	send := func(header http.Header, body string) (*http.Response, string) {
		t.Helper()
		return postHeader(t, r.url+"/mcp", header, body)
	}
	modern := func(method, name string) http.Header {
		h := http.Header{"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {method}}
		if name != "" {
			h["Mcp-Name"] = []string{name}
		}
		return h
	}
	mismatch := func(t *testing.T, what string, h http.Header, body string) {
		t.Helper()
		resp, answer := send(h, body)
		if _, code := rpcAnswer(t, answer); resp.StatusCode != http.StatusBadRequest || code != codeHeaderMismatch {
			t.Errorf("%s: %s code %d, want 400 and -32020", what, resp.Status, code)
		}
	}

	h := modern("resources/read", uri)
	mismatch(t, "Mcp-Name not in visible ASCII", h, read)
	h = modern("resources/read", "=?base64?"+base64.StdEncoding.EncodeToString([]byte(uri))+"?=")
	if resp, answer := send(h, read); resp.StatusCode != http.StatusBadRequest || strings.Contains(answer, "-32020") {
		t.Errorf("Mcp-Name base64-encoded: %s %s, want only the resource unknown", resp.Status, answer)
	}
	h = modern("tools/list", "")
	h.Add("Mcp-Method", "tools/call")
	mismatch(t, "Mcp-Method twice", h, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{`+modernMeta+`}}`)
	h = modern("tools/call", "alpha__whoami")
	h.Add("Mcp-Name", "alpha__whoami")
	mismatch(t, "Mcp-Name twice", h, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"alpha__whoami",`+modernMeta+`}}`)

	h = modern("tools/list", "")
	h.Set("Mcp-Session-Id", "no-such-session")
	resp, answer := send(h, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{`+modernMeta+`}}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(answer, "alpha__whoami") || resp.Header.Get("Mcp-Session-Id") != "" {
		t.Errorf("a 2026-07-28 request with an Mcp-Session-Id: %s %q %.200s, want it served without a session", resp.Status, resp.Header.Get("Mcp-Session-Id"), answer)
	}

	resp, answer = send(http.Header{"Mcp-Protocol-Version": {"2099-01-01"}}, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if _, code := rpcAnswer(t, answer); resp.StatusCode != http.StatusBadRequest || code != codeUnsupportedProtocol || !strings.Contains(answer, `"supported"`) {
		t.Errorf("an unknown MCP-Protocol-Version: %s %s, want 400 and -32022 naming the versions", resp.Status, answer)
	}
}

// A session's stream: GET takes Accept wildcards; a second GET replaces
// the first, which ends (a client that reconnects before the hub saw its
// old connection go is not refused); DELETE needs a session to end.
func TestSessionStreams(t *testing.T) {
	r := newRig(t, cfgServers(), rigOptions{})
	resp, _ := post(t, r.url+"/mcp", nil, initializeBody)
	sid := resp.Header.Get("Mcp-Session-Id")
	post(t, r.url+"/mcp", map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25"}, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	open := func(accept string) (*http.Response, <-chan struct{}) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/mcp", nil)
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		ended := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, resp.Body); resp.Body.Close(); close(ended) }()
		return resp, ended
	}
	first, firstEnded := open("*/*")
	if first.StatusCode != http.StatusOK {
		t.Fatalf("GET with Accept */*: %s", first.Status)
	}
	second, secondEnded := open("text/event-stream")
	if second.StatusCode != http.StatusOK {
		t.Fatalf("a second GET: %s, want it to replace the first", second.Status)
	}
	waitFor(t, firstEnded, "the replaced stream to end")
	select {
	case <-secondEnded:
		t.Fatal("the new stream ended too")
	default:
	}
	req, _ := http.NewRequest(http.MethodDelete, r.url+"/mcp", nil)
	del, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	del.Body.Close()
	if del.StatusCode != http.StatusBadRequest {
		t.Errorf("DELETE without a session: %s, want 400", del.Status)
	}
}

// A 2026-07-28 subscriptions/listen over HTTP: its acknowledgement lists
// resourceSubscriptions only if asked (a list, never null), and a quiet
// stream gets keep-alive comments (TS-20).
func TestListenOverHTTP(t *testing.T) {
	every := keepAliveEvery
	keepAliveEvery = 20 * time.Millisecond
	t.Cleanup(func() { keepAliveEvery = every })
	r := newRig(t, cfgServers(), rigOptions{})
	listen := func(t *testing.T, notifications string) (ack string, lines *bufio.Scanner) {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		resp, err := postModern(ctx, r.url+"/mcp", "subscriptions/listen", "", `{"notifications":`+notifications+`,`+modernMeta+`}`)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("listen: %v %v", err, resp)
		}
		t.Cleanup(func() { resp.Body.Close() })
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				return data, sc
			}
		}
		t.Fatal("the listen ended before its acknowledgement")
		return "", nil
	}
	ack, lines := listen(t, `{"toolsListChanged":true}`)
	if strings.Contains(ack, "resourceSubscriptions") {
		t.Errorf("acknowledgement of a listen without resources: %s", ack)
	}
	for lines.Scan() {
		if lines.Text() == ": keep-alive" {
			break
		}
	}
	if lines.Err() != nil {
		t.Errorf("no keep-alive comment on the quiet stream: %v", lines.Err())
	}
	if ack, _ := listen(t, `{"resourceSubscriptions":["file:///nobody-has"]}`); !strings.Contains(ack, `"resourceSubscriptions":[]`) {
		t.Errorf("acknowledgement of a resource nobody has: %s, want an empty list", ack)
	}
}
