package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/store"
)

// stdioLines serves a JSON-lines connection and returns its client end
// and the lines the bridge writes to it.
func stdioLines(t *testing.T, r *rig) (net.Conn, <-chan string) {
	t.Helper()
	ide, hub := net.Pipe()
	go func() { _ = r.bridge.ServeStream(context.Background(), hub, "", "stdio"); hub.Close() }()
	t.Cleanup(func() { ide.Close() })
	return ide, linesOf(ide)
}

// linesOf delivers the lines read from r, and closes once r ends.
func linesOf(r io.Reader) <-chan string {
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		rd := bufio.NewReader(r)
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			lines <- l
		}
	}()
	return lines
}

// stdioHalves serves a JSON-lines connection whose input the client can
// close while the bridge's output goes on: lines is closed once the bridge
// has written all it will (ServeStream returned).
func stdioHalves(t *testing.T, r *rig) (io.WriteCloser, <-chan string) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	go func() {
		_ = r.bridge.ServeStream(context.Background(), struct {
			io.Reader
			io.Writer
		}{inR, outW}, "", "stdio")
		outW.Close()
	}()
	t.Cleanup(func() { inW.Close(); outR.Close() })
	return inW, linesOf(outR)
}

// rest is every line left, once the bridge has stopped writing.
func rest(t *testing.T, lines <-chan string) []string {
	t.Helper()
	var all []string
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return all
			}
			all = append(all, l)
		case <-deadline:
			t.Fatalf("the bridge did not stop writing; so far %q", all)
		}
	}
}

// nextLine is the next line whose text has want.
func nextLine(t *testing.T, lines <-chan string, want string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the connection closed before a line with %s", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line with %s", want)
		}
	}
}

const modernMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

// A line over 16 MiB is answered with an error that says so, and the
// connection goes on with the next line.
func TestOverlongLineIsSkipped(t *testing.T) {
	r := newRig(t, cfgServers(), rigOptions{})
	ide, lines := stdioLines(t, r)
	go func() {
		long := `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"x","arguments":{"x":"` + strings.Repeat("a", 17<<20) + `"}}}` + "\n"
		_, _ = ide.Write([]byte(long + `{"jsonrpc":"2.0","id":7,"method":"ping"}` + "\n"))
	}()
	var e struct {
		ID    json.RawMessage `json:"id"`
		Error *rpcError       `json:"error"`
	}
	if err := json.Unmarshal([]byte(nextLine(t, lines, `"error"`)), &e); err != nil || string(e.ID) != "null" ||
		e.Error.Code != codeInvalidRequest || !strings.Contains(e.Error.Message, "16 MiB") {
		t.Errorf("the answer to a long line: %s %+v (%v)", e.ID, e.Error, err)
	}
	nextLine(t, lines, `"id":7`)
}

// A subscriptions/listen over stdio ends when its client cancels it, and
// so do its subscriptions, while the connection goes on. The cancelled
// listen gets no response (LC-11).
func TestStdioListenCanBeCancelled(t *testing.T) {
	u := newSubscribable(t)
	r := newRig(t, cfgServers("subs", legacy(u.url)), rigOptions{})
	r.wait(t, map[string]status.State{"subs": status.Connected})
	ide, lines := stdioHalves(t, r)
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":"L1","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true,`+
		`"resourceSubscriptions":["file:///r"]},`+modernMeta+`}}`)
	nextLine(t, lines, "notifications/subscriptions/acknowledged")
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"L1"}}`)
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	nextLine(t, lines, `"id":2`)
	// Its end, and any answer it got, come before the connection's end.
	ide.Close()
	for _, l := range rest(t, lines) {
		if strings.Contains(l, `"id":"L1"`) {
			t.Errorf("the cancelled listen was answered: %s", l)
		}
	}
	if u.subscribe.Load() != 1 || u.unsub.Load() != 1 || r.sharedSubscriptions("subs", "file:///r") != 0 {
		t.Errorf("after the cancelled listen: upstream %s, bridge counts %d", u.counts(), r.sharedSubscriptions("subs", "file:///r"))
	}
}

// A 2026-07-28 subscriptions/listen stream opened with a client token ends
// when the token is revoked, as a GET stream does.
func TestListenEndsWhenItsTokenIsRevoked(t *testing.T) {
	alpha, _ := twoUpstreams(t)
	r := newRig(t, withTokens(fmt.Sprintf(`"alpha": %s`, legacy(alpha.URL))), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected})
	ctx := context.Background()
	tok := r.token(t, "listener")
	req, _ := http.NewRequest(http.MethodPost, r.url+"/mcp", strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},`+modernMeta+`}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "subscriptions/listen")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("listen: %v %v", err, resp)
	}
	defer resp.Body.Close()
	acked, ended := make(chan struct{}), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		last := ""
		for sc.Scan() {
			if strings.Contains(sc.Text(), "acknowledged") {
				close(acked)
			}
			if sc.Text() != "" {
				last = sc.Text()
			}
		}
		ended <- last
	}()
	waitFor(t, acked, "the listen to be acknowledged")
	cli, err := store.Open(r.db.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := cli.RevokeToken(ctx, "listener"); err != nil {
		t.Fatal(err)
	}
	// Within a second by design (the store's cache and the sweep, half a
	// second each); five allowed here.
	select {
	case last := <-ended:
		if !strings.Contains(last, "no longer valid") {
			t.Errorf("the stream's last event: %s", last)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked token's listen stream is still open")
	}
}

// startPrettyUpstream serves an initialize-era server by hand that
// pretty-prints every answer, as some servers do: as plain JSON with
// CRLF line ends, and a tool call that carries a progress token as an
// event stream (a progress notification, then the answer over several
// data lines, which SSE joins with newlines).
func startPrettyUpstream(t *testing.T) string {
	t.Helper()
	return serveByHand(t, func(w http.ResponseWriter, id json.RawMessage, method string, params json.RawMessage) {
		var p struct {
			Meta struct {
				ProgressToken json.RawMessage `json:"progressToken"`
			} `json:"_meta"`
		}
		_ = json.Unmarshal(params, &p)
		var result any
		switch method {
		case "initialize":
			result = map[string]any{"protocolVersion": "2025-11-25", "capabilities": map[string]any{"tools": map[string]any{}},
				"serverInfo": map[string]any{"name": "pretty", "version": "1"}}
		case "tools/list":
			result = map[string]any{"tools": []any{map[string]any{"name": "pretty", "inputSchema": map[string]any{"type": "object"}}}}
		case "tools/call":
			result = map[string]any{"content": []any{map[string]any{"type": "text", "text": "pretty ok"}}}
		default:
			result = map[string]any{}
		}
		answer, _ := json.MarshalIndent(map[string]any{"jsonrpc": "2.0", "id": id, "result": result}, "", "  ")
		if tok := p.Meta.ProgressToken; method == "tools/call" && tok != nil {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":%s,\"progress\":1}}\n\n", tok)
			w.Write([]byte("event: message\n"))
			for line := range strings.SplitSeq(string(answer), "\n") {
				fmt.Fprintf(w, "data: %s\n", line)
			}
			w.Write([]byte("\n"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(strings.ReplaceAll(string(answer), "\n", "\r\n")))
	})
}

// An upstream's tool answer, passed on as it came, is one line however
// the server formatted it (TS-22) and one SSE data field: over stdio every
// line is one JSON message, and over HTTP every data field of an event
// stream is, in both eras.
func TestPrettyAnswersStayOneLine(t *testing.T) {
	r := newRig(t, cfgServers("pretty", legacy(startPrettyUpstream(t))), rigOptions{})
	r.wait(t, map[string]status.State{"pretty": status.Connected})

	t.Run("stdio", func(t *testing.T) {
		ide, lines := stdioLines(t, r)
		fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"ide","version":"1"}}}`)
		fmt.Fprintln(ide, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"pretty__pretty","arguments":{}}}`)
		fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"pretty__pretty","arguments":{},`+modernMeta+`}}`)
		answered := map[string]bool{}
		deadline := time.After(10 * time.Second)
		for !answered["2"] || !answered["3"] {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatal("the connection closed")
				}
				var m struct {
					ID     json.RawMessage `json:"id"`
					Result json.RawMessage `json:"result"`
				}
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("a line that is not one JSON message (%v): %q", err, l)
				}
				if strings.Contains(string(m.Result), "pretty ok") {
					answered[string(m.ID)] = true
				}
			case <-deadline:
				t.Fatalf("answers seen: %v", answered)
			}
		}
	})

	t.Run("http", func(t *testing.T) {
		resp, body := post(t, r.url+"/mcp", nil, initializeBody)
		if resp.StatusCode != 200 {
			t.Fatalf("initialize: %s %s", resp.Status, body)
		}
		h := map[string]string{"Mcp-Session-Id": resp.Header.Get("Mcp-Session-Id"), "Mcp-Protocol-Version": "2025-11-25"}
		post(t, r.url+"/mcp", h, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		resp, body = post(t, r.url+"/mcp", h, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"pretty__pretty","arguments":{},"_meta":{"progressToken":"p"}}}`)
		checkEventStream(t, "2025-11-25", resp, body)

		mresp, err := postModern(context.Background(), r.url+"/mcp", "tools/call", "pretty__pretty",
			`{"name":"pretty__pretty","arguments":{},"_meta":{"progressToken":"p","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}`)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(mresp.Body)
		mresp.Body.Close()
		checkEventStream(t, "2026-07-28", mresp, string(data))
	})
}

// checkEventStream checks that an answer came as an event stream whose
// every data field is one JSON message, the last of them the tool's
// answer; only a priming event (TS-09), first, has empty data.
func checkEventStream(t *testing.T, era string, resp *http.Response, body string) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("%s: the answer is %q, not an event stream: %s", era, ct, body)
	}
	var last string
	for line := range strings.SplitSeq(body, "\n") {
		field, value, _ := strings.Cut(line, ":")
		switch field {
		case "", "event", "id":
		case "data":
			value = strings.TrimPrefix(value, " ")
			if value == "" && last == "" {
				continue // the priming event
			}
			if !json.Valid([]byte(value)) {
				t.Errorf("%s: a data field that is not one JSON message: %q", era, value)
			}
			last = value
		default:
			t.Errorf("%s: a line of the event stream that is no field of it: %q", era, line)
		}
	}
	if !strings.Contains(last, "pretty ok") {
		t.Errorf("%s: the last event is not the answer: %s", era, last)
	}
}

// Input that ends while requests are under way (a script that piped its
// requests in, or an IDE shutting down) still gets their answers, written
// before the stream ends.
func TestAnswersUnderWayOutliveTheInput(t *testing.T) {
	u := newUpstream(t, "gated")
	started, release := make(chan struct{}), make(chan struct{})
	u.AddTool(&mcp.Tool{Name: "gate", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		close(started)
		<-release
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "through"}}}, nil
	})
	r := newRig(t, cfgServers("gated", fmt.Sprintf(`{"url": %q}`, u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"gated": status.Connected})
	in, lines := stdioHalves(t, r)
	fmt.Fprintln(in, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"script","version":"1"}}}`)
	fmt.Fprintln(in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	fmt.Fprintln(in, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"gated__gate","arguments":{}}}`)
	fmt.Fprintln(in, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	waitFor(t, started, "the call to reach the upstream")
	in.Close() // the input ends with the call under way
	close(release)
	var ids []string
	for _, l := range rest(t, lines) {
		switch {
		case strings.Contains(l, `"id":1,`) && strings.Contains(l, "through"):
			ids = append(ids, "1")
		case strings.Contains(l, `"id":2,`) && strings.Contains(l, "gated__gate"):
			ids = append(ids, "2")
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"1", "2"}) {
		t.Errorf("answers written after the input ended: %v, want the call's and the list's", ids)
	}
}
