package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

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
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		rd := bufio.NewReader(ide)
		for {
			l, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			lines <- l
		}
	}()
	return ide, lines
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
// so do its subscriptions, while the connection goes on.
func TestStdioListenCanBeCancelled(t *testing.T) {
	u := newSubscribable(t)
	r := newRig(t, cfgServers("subs", legacy(u.url)), rigOptions{})
	r.wait(t, map[string]status.State{"subs": status.Connected})
	ide, lines := stdioLines(t, r)
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":"L1","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true,`+
		`"resourceSubscriptions":["file:///r"]},`+modernMeta+`}}`)
	nextLine(t, lines, "notifications/subscriptions/acknowledged")
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"L1"}}`)
	nextLine(t, lines, `"id":"L1"`)
	if u.subscribe.Load() != 1 || u.unsub.Load() != 1 || r.sharedSubscriptions("subs", "file:///r") != 0 {
		t.Errorf("after the cancelled listen: upstream %s, bridge counts %d", u.counts(), r.sharedSubscriptions("subs", "file:///r"))
	}
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	nextLine(t, lines, `"id":2`)
}

// A 2026-07-28 subscriptions/listen stream opened with a client token ends
// when the token is revoked, as a GET stream does.
func TestListenEndsWhenItsTokenIsRevoked(t *testing.T) {
	alpha, _ := twoUpstreams(t)
	r := newRig(t, withTokens(fmt.Sprintf(`"alpha": %s`, legacy(alpha.URL))), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected})
	ctx := context.Background()
	tok, _, err := r.db.CreateToken(ctx, "listener", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
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
