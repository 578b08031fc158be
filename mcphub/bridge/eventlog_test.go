package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
)

// sseEvents reads an event stream's events as their id and data.
func sseEvents(body *bufio.Reader) (next func() (id, data string, err error)) {
	return func() (id, data string, err error) {
		seen := false
		for {
			line, err := body.ReadString('\n')
			if err != nil {
				return "", "", err
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				if seen {
					return id, data, nil
				}
				continue
			}
			seen = true
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				id = value
			case "data":
				data = value
			}
		}
	}
}

// A 2025-11-25 client whose response stream breaks mid-call gets the rest
// with GET and Last-Event-ID (TS-09): the stream began with a priming
// event, and the resumed one carries what came after the last event the
// client saw, the answer last, whether it resumes before the answer came
// or after. An unknown event ID is refused.
func TestResponseStreamCanBeResumed(t *testing.T) {
	for _, late := range []bool{false, true} {
		name := "before the answer"
		if late {
			name = "after the answer"
		}
		t.Run(name, func(t *testing.T) { testResume(t, late) })
	}
}

func testResume(t *testing.T, late bool) {
	u := newUpstream(t, "slow")
	release := make(chan struct{})
	u.AddTool(&mcp.Tool{Name: "slow", InputSchema: json.RawMessage(`{"type":"object"}`)}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		tok := req.Params.GetProgressToken()
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Total: 2})
		<-release
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 2, Total: 2})
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "slow done"}}}, nil
	})
	r := newRig(t, cfgServers("slow", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"slow": status.Connected})

	resp, _ := post(t, r.url+"/mcp", nil, initializeBody)
	session := map[string]string{"Mcp-Session-Id": resp.Header.Get("Mcp-Session-Id"), "Mcp-Protocol-Version": "2025-11-25"}
	post(t, r.url+"/mcp", session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	request := func(method, body string, header map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, r.url+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for k, v := range session {
			req.Header.Set(k, v)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	call := request(http.MethodPost, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow__slow","arguments":{},"_meta":{"progressToken":"p"}}}`, nil)
	next := sseEvents(bufio.NewReader(call.Body))
	prime, data, err := next()
	if err != nil || prime == "" || data != "" {
		t.Fatalf("the first event: id %q, data %q, %v; want a priming event", prime, data, err)
	}
	last, data, err := next()
	if err != nil || last == "" || last == prime || !strings.Contains(data, `"progress":1`) {
		t.Fatalf("the second event: id %q, data %q, %v; want the first progress", last, data, err)
	}
	call.Body.Close() // the connection breaks

	if resp := request(http.MethodGet, "", map[string]string{"Last-Event-ID": "r999/1"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("resuming an unknown stream: %s", resp.Status)
	}
	if late {
		// The answer comes while nobody reads: the bridge has seen the
		// client hang up (no event says so), and the answer is logged.
		s := r.bridge.lookup(session["Mcp-Session-Id"])
		stream, _, _ := strings.Cut(last, "/")
		var l *eventLog
		eventually(t, "the stream's reader to be gone", func() bool {
			s.mu.Lock()
			l = s.logs[stream]
			s.mu.Unlock()
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.sink == nil
		})
		close(release)
		<-l.over
	}
	resumed := request(http.MethodGet, "", map[string]string{"Last-Event-ID": last})
	defer resumed.Body.Close()
	if ct := resumed.Header.Get("Content-Type"); resumed.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("resume: %s %s", resumed.Status, ct)
	}
	if !late {
		close(release)
	}
	got := make(chan []string, 1)
	go func() {
		var datas []string
		next := sseEvents(bufio.NewReader(resumed.Body))
		for {
			_, data, err := next()
			if err != nil {
				got <- datas
				return
			}
			datas = append(datas, data)
		}
	}()
	select {
	case datas := <-got:
		if len(datas) != 2 || !strings.Contains(datas[0], `"progress":2`) || !strings.Contains(datas[1], `"id":5`) || !strings.Contains(datas[1], "slow done") {
			t.Errorf("the resumed stream: %q; want the second progress, then the answer", datas)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the resumed stream did not end")
	}
}

// The events before the answer are kept up to maxLoggedBytes, the oldest
// dropped first, and a resume from before the oldest kept is refused; the
// answer is kept whatever its size, and drops none.
func TestEventLogBound(t *testing.T) {
	l := newEventLog("r1")
	chunk := []byte(`"` + strings.Repeat("x", 1<<20) + `"`)
	for range 6 {
		if err := l.put(chunk); err != nil {
			t.Fatal(err)
		}
	}
	// Each is a little over 1 MiB with its ID: three fit.
	if l.first != 4 || !l.kept(3) || l.kept(2) {
		t.Errorf("after 6 events of 1 MiB: the oldest kept is %d; kept from 3 %v, from 2 %v", l.first, l.kept(3), l.kept(2))
	}
	l.finish(append(chunk, chunk...))
	if l.first != 4 || !l.kept(3) || len(l.events) != 4 {
		t.Errorf("after a 2 MiB answer: the oldest kept is %d, %d events", l.first, len(l.events))
	}
}

// A reader that stopped reading holds up nothing: the server's
// notifications and questions are logged and queued without waiting, and
// a resume can still look at the log.
func TestStalledReaderHoldsUpNothing(t *testing.T) {
	unblock := make(chan struct{})
	q := newOutQueue(func([]byte) error { <-unblock; return nil })
	l := newEventLog("r1")
	l.attach(q, context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 2 * outQueueSize {
			l.offer([]byte(`{"method":"notifications/progress"}`), dropWhenBehind)
		}
		for range 3 {
			if err := l.put([]byte(`{"method":"sampling/createMessage"}`)); err != nil {
				t.Error(err)
			}
		}
		l.kept(0)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("offering to, or asking, a reader that does not read blocked")
	}
	close(unblock)
	l.finish([]byte(`{"id":1,"result":{}}`))
}
