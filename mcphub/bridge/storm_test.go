// Tens of thousands of notifications take minutes under the race
// detector: this test runs without it (make test runs it on its own).

//go:build !race

package bridge

//lint:file-ignore SA1019 logging is deprecated in 2026-07-28 but initialize-era peers use it: MCP Tray bridges both eras

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
)

// stormUpstream is a go-sdk server that floods: its storm tool sends n
// progress notifications and n log messages of a kilobyte each, then
// answers; its churn tool adds and removes a tool n times, each change a
// tools/list_changed. It serves Streamable HTTP (the hub's raw path for
// calls) and legacy SSE (the go-sdk session path).
type stormUpstream struct {
	*upstreamServer
	sseURL string
	sent   chan struct{} // one per storm call, once everything is sent
	lists  atomic.Int32  // tools/list requests served
}

const (
	stormPad  = 1000 // bytes of message text per notification
	stormOver = "storm over"
)

func newStormUpstream(t *testing.T) *stormUpstream {
	t.Helper()
	u := &stormUpstream{upstreamServer: newUpstream(t, "storm"), sent: make(chan struct{}, 16)}
	u.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "tools/list" {
				u.lists.Add(1)
			}
			return next(ctx, method, req)
		}
	})
	pad := strings.Repeat("x", stormPad)
	type stormIn struct {
		N     int    `json:"n"`
		Final string `json:"final,omitempty"` // churn: the tool it leaves behind
	}
	mcp.AddTool(u.Server, &mcp.Tool{Name: "storm"}, func(ctx context.Context, req *mcp.CallToolRequest, in stormIn) (*mcp.CallToolResult, any, error) {
		tok := req.Params.GetProgressToken()
		for i := 1; i <= in.N; i++ {
			if tok != nil {
				if err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: float64(i), Total: float64(in.N), Message: pad}); err != nil {
					return nil, nil, err
				}
			}
			if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: pad}); err != nil {
				return nil, nil, err
			}
		}
		// The last word, at a level only the reading IDE asked for.
		if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "emergency", Data: stormOver}); err != nil {
			return nil, nil, err
		}
		u.sent <- struct{}{}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("stormed %d", in.N)}}}, nil, nil
	})
	mcp.AddTool(u.Server, &mcp.Tool{Name: "churn"}, func(_ context.Context, _ *mcp.CallToolRequest, in stormIn) (*mcp.CallToolResult, any, error) {
		obj := json.RawMessage(`{"type":"object"}`)
		noop := func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		}
		for i := range in.N {
			u.AddTool(&mcp.Tool{Name: fmt.Sprintf("t%d", i%7), InputSchema: obj}, noop)
			u.RemoveTools(fmt.Sprintf("t%d", i%7))
		}
		u.AddTool(&mcp.Tool{Name: cmp.Or(in.Final, "after_churn"), InputSchema: obj}, noop)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "churned"}}}, nil, nil
	})
	srv := httptest.NewServer(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return u.Server }, nil))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	u.sseURL = srv.URL
	return u
}

// A notification storm from an upstream, on both upstream paths: an IDE
// that reads gets its progress in order and the result; an IDE that does
// not read at all holds up nobody (the upstream finishes sending, other
// IDEs' calls and notifications on the same upstream session go on), its
// backlog is bounded and dropped rather than queued without end, and it
// still gets its answer once it reads. A list_changed storm costs a few
// catalog refreshes, not one per notification.
func TestNotificationStorm(t *testing.T) {
	up := newStormUpstream(t)
	r := newRig(t, cfgServers("raw", legacy(up.URL), "sse", fmt.Sprintf(`{"type": "sse", "url": %q}`, up.sseURL)), rigOptions{})
	r.wait(t, map[string]status.State{"raw": status.Connected, "sse": status.Connected})

	const n = 40000 // 2 x 40 MB of notifications per call
	for _, server := range []string{"raw", "sse"} {
		t.Run(server, func(t *testing.T) {
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)

			// The IDE that reads nothing: a POST whose response is never
			// read until the end.
			slow := slowCall(t, r.url, server+"__storm", n)
			waitFor(t, up.sent, "the upstream to finish sending to the IDE that does not read")

			// Meanwhile another IDE, on the same upstream session, gets its
			// own progress in order and its answer.
			var last atomic.Int64
			var disorder atomic.Bool
			progressed := make(chan struct{}, 1)
			over := make(chan struct{}, 2)
			cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", &mcp.ClientOptions{
				ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
					if p := int64(req.Params.Progress); p <= last.Swap(p) {
						disorder.Store(true)
					}
					select {
					case progressed <- struct{}{}:
					default:
					}
				},
				LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
					if req.Params.Data == stormOver {
						over <- struct{}{}
					}
				}})
			if err := cs.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "emergency"}); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: server + "__storm", Arguments: map[string]any{"n": 2000},
				Meta: mcp.Meta{"progressToken": "reader"}})
			if err != nil || res.IsError || text(t, res) != "stormed 2000" {
				t.Fatalf("the reading IDE's call: %v %+v", err, res)
			}
			<-up.sent
			if server == "raw" {
				// On the raw path the call's notifications come on its own
				// response, before the result, and leave in that order; the
				// client may handle them after the call returned. (On the
				// session path go-sdk hands results over at once and
				// notifications in turn, so behind a storm an IDE's
				// progress can trail its result, and is then dropped.)
				waitFor(t, progressed, "the reading IDE's progress")
			}
			if disorder.Load() {
				t.Errorf("the reading IDE's progress: last %d, out of order %v", last.Load(), disorder.Load())
			}

			// Measure once the hub has handled everything the upstream
			// sent. On the raw path that is the reading IDE's result: it
			// ends the call's stream, and a call's log messages go to its
			// own IDE only, where its last word may have been dropped (a
			// log message is, when the IDE is 256 behind, as it can be when
			// the hub reads the upstream faster than the IDE handles
			// messages). On
			// the session path the upstream's last word reached the reading
			// IDE, the slow call's too (broadcast to every IDE that asked
			// for the level).
			if server == "sse" {
				waitFor(t, over, "the upstream's last word")
				waitFor(t, over, "the upstream's last word after the reading IDE's call")
			}
			runtime.GC()
			var during runtime.MemStats
			runtime.ReadMemStats(&during)
			grown := int64(during.HeapInuse) - int64(before.HeapInuse)
			t.Logf("heap grew %d KB while %d MB of notifications waited for an IDE that does not read", grown>>10, 2*n*stormPad>>20)
			// Queued, the storm would be 76 MB. What stays on the session
			// path is largely go-sdk's: notifications its reader decoded
			// ahead of its handlers (4-12 MB, more the faster the hub reads
			// the upstream, up to 18 MB seen).
			if grown > 24<<20 {
				t.Errorf("the heap grew %d MB: the storm is being queued, not bounded", grown>>20)
			}

			// The slow IDE reads at last: its answer is there, after some
			// of its progress (the rest was dropped, in order).
			frames, result := slow.read(t)
			t.Logf("the IDE that did not read got %d of %d notifications, then its result", frames, 2*n)
			if !strings.Contains(result, "stormed 40000") {
				t.Errorf("the slow IDE's result: %.200s", result)
			}
		})
	}

	t.Run("list_changed", func(t *testing.T) {
		changed := make(chan struct{}, 1)
		cs := r.connectHTTP(t, "/servers/raw/mcp", "", "2025-11-25", &mcp.ClientOptions{
			ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
				select {
				case changed <- struct{}{}:
				default:
				}
			}})
		before := up.lists.Load()
		const churns = 5000
		if res := callTool(t, cs, "churn", map[string]any{"n": churns}); text(t, res) != "churned" {
			t.Fatalf("churn: %q", text(t, res))
		}
		deadline := time.After(30 * time.Second)
		for {
			if _, ok := toolNames(t, cs)["after_churn"]; ok {
				break
			}
			select {
			case <-changed:
			case <-deadline:
				t.Fatal("the catalog never showed the tool added after the churn")
			}
		}
		// Two sessions (raw and sse) see the same churn.
		refreshes := up.lists.Load() - before
		t.Logf("%d tools/list_changed per session cost %d catalog refreshes", 2*churns, refreshes)
		if refreshes > churns/10 {
			t.Errorf("%d refreshes for %d list changes: not coalesced", refreshes, 2*churns)
		}
	})
}

// An IDE that keeps its session's GET stream open and never reads it
// holds up nobody either: the upstream's log messages broadcast to it are
// dropped once it is behind, catalog changes for every IDE go on, and the
// list_changed it missed is held back for it, not lost.
func TestUnreadSessionStream(t *testing.T) {
	up := newStormUpstream(t)
	r := newRig(t, cfgServers("sse", fmt.Sprintf(`{"type": "sse", "url": %q}`, up.sseURL)), rigOptions{})
	r.wait(t, map[string]status.State{"sse": status.Connected})
	stream := unreadStream(t, r.url)

	over := make(chan struct{}, 2)
	changed := make(chan struct{}, 1)
	cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", &mcp.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			if req.Params.Data == stormOver {
				over <- struct{}{}
			}
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			select {
			case changed <- struct{}{}:
			default:
			}
		}})
	if err := cs.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "emergency"}); err != nil {
		t.Fatal(err)
	}
	// 20,000 log messages of a kilobyte broadcast to the IDE that does not
	// read (it asked for info), and the last word to the one that does.
	if res := callTool(t, cs, "sse__storm", map[string]any{"n": 20000}); text(t, res) != "stormed 20000" {
		t.Fatalf("storm: %q", text(t, res))
	}
	<-up.sent
	waitFor(t, over, "the upstream's last word, past the IDE that does not read")
	// A catalog change reaches the reading IDE.
	if res := callTool(t, cs, "sse__churn", map[string]any{"n": 10, "final": "after_unread"}); text(t, res) != "churned" {
		t.Fatalf("churn: %q", text(t, res))
	}
	deadline := time.After(30 * time.Second)
	for {
		if _, ok := toolNames(t, cs)["sse__after_unread"]; ok {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("the catalog change never reached the reading IDE")
		}
	}
	// The IDE that did not read finds the list change once it reads.
	if !stream.find(t, "notifications/tools/list_changed") {
		t.Error("the IDE that did not read never got the list_changed it missed")
	}
}

// unreadStream is an initialize-era session at info log level whose GET
// stream is open and not read.
type unreadGET struct{ resp *http.Response }

func unreadStream(t *testing.T, base string) *unreadGET {
	t.Helper()
	post := func(sid, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
			req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	sid := post("", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"unread","version":"1"}}}`).Header.Get("Mcp-Session-Id")
	post(sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	post(sid, `{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"info"}}`)
	req, _ := http.NewRequest(http.MethodGet, base+"/mcp", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET stream: %v %v", resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &unreadGET{resp: resp}
}

// find reads the stream until a data line mentions s (30 s at most).
func (g *unreadGET) find(t *testing.T, s string) bool {
	t.Helper()
	timer := time.AfterFunc(30*time.Second, func() { g.resp.Body.Close() })
	defer timer.Stop()
	sc := bufio.NewScanner(g.resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: ")); ok && bytes.Contains(data, []byte(s)) {
			return true
		}
	}
	return false
}

// slowIDE is a tools/call posted to the bridge whose response is not read.
type slowIDE struct {
	resp *http.Response
}

func slowCall(t *testing.T, base, tool string, n int) *slowIDE {
	t.Helper()
	init := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"slow","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(init))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sid := resp.Header.Get("Mcp-Session-Id")
	post := func(body string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		return http.DefaultClient.Do(req)
	}
	if resp, err := post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`); err == nil {
		resp.Body.Close()
	}
	if resp, err := post(`{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"info"}}`); err == nil {
		resp.Body.Close()
	}
	call := fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":%q,"arguments":{"n":%d},"_meta":{"progressToken":"slow"}}}`, tool, n)
	resp, err = post(call)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &slowIDE{resp: resp}
}

// read reads the whole event stream: how many frames came before the
// response, and the response.
func (s *slowIDE) read(t *testing.T) (int, string) {
	t.Helper()
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	frames := 0
	for sc.Scan() {
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok {
			continue
		}
		if bytes.Contains(data, []byte(`"id":2`)) && !bytes.Contains(data, []byte(`"method"`)) {
			return frames, string(data)
		}
		frames++
	}
	t.Fatalf("the stream ended without the response after %d frames: %v", frames, sc.Err())
	return 0, ""
}
