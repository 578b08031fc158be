package bridge

//lint:file-ignore SA1019 elicitation is deprecated in 2026-07-28 but initialize-era peers use it: MCP Tray bridges both eras

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
)

// asker is an initialize-era go-sdk server that asks its client to
// confirm (elicitation) mid-call: its tool "ask", which then reports
// progress and says what it was told, and its completions, which tell
// (asked) what became of the question.
type asker struct {
	URL   string
	asked chan error
	// "ask_then_wait" closes answered once its question is answered and
	// cancelled once its call is.
	answered, cancelled chan struct{}
	// "report" reports progress, passes on the token it was given for it
	// and is done.
	tokens chan any
	// afterAnswer (nil: none) runs in "ask" once its question is answered.
	afterAnswer func()
}

func newAsker(t *testing.T) *asker {
	t.Helper()
	u := &asker{asked: make(chan error, 1), answered: make(chan struct{}), cancelled: make(chan struct{}), tokens: make(chan any, 1)}
	confirm := func(ctx context.Context, ss *mcp.ServerSession) (*mcp.ElicitResult, error) {
		return ss.Elicit(ctx, &mcp.ElicitParams{Message: "sure?", RequestedSchema: json.RawMessage(`{"type":"object","properties":{}}`)})
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "asker", Version: "1"}, &mcp.ServerOptions{
		CompletionHandler: func(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			_, err := confirm(ctx, req.Session)
			u.asked <- err
			if err != nil {
				return nil, err
			}
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{"confirmed"}}}, nil
		}})
	s.AddTool(&mcp.Tool{Name: "ask", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := confirm(ctx, req.Session)
			if err != nil {
				return nil, err
			}
			if u.afterAnswer != nil {
				u.afterAnswer()
			}
			if tok := req.Params.GetProgressToken(); tok != nil {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Total: 2})
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "answered: " + res.Action}}}, nil
		})
	s.AddTool(&mcp.Tool{Name: "ask_then_wait", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if _, err := confirm(ctx, req.Session); err != nil {
				return nil, err
			}
			close(u.answered)
			<-ctx.Done()
			close(u.cancelled)
			return nil, ctx.Err()
		})
	s.AddTool(&mcp.Tool{Name: "report", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			tok := req.Params.GetProgressToken()
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Total: 2})
			u.tokens <- tok
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "reported"}}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "greet", Arguments: []*mcp.PromptArgument{{Name: "who"}}},
		func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{}, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	u.URL = srv.URL + "/mcp"
	return u
}

// The client capabilities a 2026-07-28 request declares in these tests.
const askMeta = `"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}`

// modernCall posts a 2026-07-28 request with a client token ("": none)
// and returns the messages of its answer, the response last.
func modernCall(t *testing.T, url, token, method, name, params string) []message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := modernRequest(ctx, url, method, name, params)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var frames [][]byte
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: ")); ok {
				frames = append(frames, bytes.Clone(data))
			}
		}
	} else {
		body, _ := io.ReadAll(resp.Body)
		frames = append(frames, body)
	}
	out := make([]message, len(frames))
	for i, f := range frames {
		if err := json.Unmarshal(f, &out[i]); err != nil {
			t.Fatalf("%s: %s: %v", method, f, err)
		}
	}
	if len(out) == 0 || !out[len(out)-1].hasID() {
		t.Fatalf("%s: no response in %s", method, frames)
	}
	return out
}

// inputRequiredOf is the requestState of an input_required result and
// its one input request's key.
func inputRequiredOf(t *testing.T, m message) (state, key string) {
	t.Helper()
	var r struct {
		ResultType    string                     `json:"resultType"`
		InputRequests map[string]json.RawMessage `json:"inputRequests"`
		RequestState  string                     `json:"requestState"`
	}
	if m.Error != nil || json.Unmarshal(m.Result, &r) != nil || r.ResultType != "input_required" || len(r.InputRequests) != 1 || r.RequestState == "" {
		t.Fatalf("not input_required with one request: %s %+v", m.Result, m.Error)
	}
	for k := range r.InputRequests {
		key = k
	}
	return r.RequestState, key
}

// retryParams are a retry's params fields that answer the one input
// request: state and responses, with _meta.
func retryParams(state, key string) string {
	return fmt.Sprintf(`"requestState":%q,"inputResponses":{%q:{"action":"accept","content":{}}},"_meta":{%s}`, state, key, askMeta)
}

// A suspended call's requestState resumes it only for the client it was
// given to, on the same endpoint, retrying the same request (LC-25): any
// other retry is told the state is unknown, and the call still waits for
// the right one.
func TestRequestStateResumesOnlyItsOwnRequest(t *testing.T) {
	u := newAsker(t)
	r := newRig(t, withTokens(fmt.Sprintf(`"asker": %s`, legacy(u.URL))), rigOptions{})
	r.wait(t, map[string]status.State{"asker": status.Connected})
	ide := r.token(t, "ide")
	other := r.token(t, "other")
	one := r.url + "/servers/asker/mcp"
	first := modernCall(t, one, ide, "tools/call", "ask", `{"name":"ask","arguments":{},"_meta":{`+askMeta+`}}`)
	retry := retryParams(inputRequiredOf(t, first[len(first)-1]))

	for _, wrong := range []struct{ what, url, token, method, name, params string }{
		{"under another client token", one, other, "tools/call", "ask", `{"name":"ask","arguments":{},` + retry + `}`},
		{"on another endpoint", r.url + "/mcp", ide, "tools/call", "ask", `{"name":"ask","arguments":{},` + retry + `}`},
		{"for another tool", one, ide, "tools/call", "other", `{"name":"other","arguments":{},` + retry + `}`},
		{"as prompts/get", one, ide, "prompts/get", "ask", `{"name":"ask",` + retry + `}`},
		{"as resources/read", one, ide, "resources/read", "file:///ask", `{"uri":"file:///ask",` + retry + `}`},
	} {
		got := modernCall(t, wrong.url, wrong.token, wrong.method, wrong.name, wrong.params)
		if e := got[len(got)-1].Error; e == nil || e.Code != codeInvalidParams || !strings.Contains(e.Message, "unknown or expired") {
			t.Errorf("a retry %s: %s %+v", wrong.what, got[len(got)-1].Result, e)
		}
	}

	got := modernCall(t, one, ide, "tools/call", "ask", `{"name":"ask","arguments":{},`+retry+`}`)
	var res mcp.CallToolResult
	if m := got[len(got)-1]; m.Error != nil || json.Unmarshal(m.Result, &res) != nil || len(res.Content) != 1 {
		t.Fatalf("the right retry: %s %+v", m.Result, m.Error)
	}
	if tc, ok := res.Content[0].(*mcp.TextContent); !ok || tc.Text != "answered: accept" {
		t.Errorf("the right retry got %+v", res.Content[0])
	}
}

// Over stdio the client is its connection: another connection's retry,
// even with the same view and request, does not take the call up.
func TestRequestStateStaysOnItsConnection(t *testing.T) {
	u := newAsker(t)
	r := newRig(t, cfgServers("asker", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"asker": status.Connected})
	mine, myLines := stdioLines(t, r)
	theirs, theirLines := stdioLines(t, r)
	fmt.Fprintln(mine, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"asker__ask","arguments":{},"_meta":{`+askMeta+`}}}`)
	var first message
	if err := json.Unmarshal([]byte(nextLine(t, myLines, `"id":1`)), &first); err != nil {
		t.Fatal(err)
	}
	retry := `{"name":"asker__ask","arguments":{},` + retryParams(inputRequiredOf(t, first)) + `}`

	fmt.Fprintln(theirs, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":`+retry+`}`)
	var got message
	if err := json.Unmarshal([]byte(nextLine(t, theirLines, `"id":2`)), &got); err != nil || got.Error == nil || got.Error.Code != codeInvalidParams {
		t.Errorf("another connection's retry: %s %+v (%v)", got.Result, got.Error, err)
	}
	fmt.Fprintln(mine, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":`+retry+`}`)
	if l := nextLine(t, myLines, `"id":3`); !strings.Contains(l, "answered: accept") {
		t.Errorf("the connection's own retry: %s", l)
	}
}

// A completion cannot be answered input_required (LC-25): the server's
// question during one is refused, and the completion fails, rather than
// the IDE being sent an input_required it cannot retry.
func TestCompletionCannotAskAModernIDE(t *testing.T) {
	u := newAsker(t)
	r := newRig(t, cfgServers("asker", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"asker": status.Connected})
	// A call left suspended (this failing) would hold the hub's close for
	// the bridge's 5 minutes: end it first.
	t.Cleanup(func() {
		r.bridge.suspended.Range(func(_, v any) bool { v.(*suspended).c.end(); return true })
	})
	got := modernCall(t, r.url+"/servers/asker/mcp", "", "completion/complete", "",
		`{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"who","value":"a"},"_meta":{`+askMeta+`}}`)
	// The server passes the refusal on, so the IDE reads why.
	if m := got[len(got)-1]; m.Error == nil || !strings.Contains(m.Error.Message, "only during tools/call, prompts/get or resources/read") {
		t.Fatalf("the completion was answered %s %+v", m.Result, m.Error)
	}
	select {
	case err := <-u.asked:
		if err == nil || !strings.Contains(err.Error(), "only during tools/call, prompts/get or resources/read") {
			t.Errorf("the server's question during the completion got %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server's question was not answered")
	}
}

// Over stdio a 2026-07-28 IDE's retry of a suspended call is cancelled as
// any request is, by notifications/cancelled with its ID (LC-11): the
// upstream call ends.
func TestCancellingARetryOverStdioCancelsTheCall(t *testing.T) {
	u := newAsker(t)
	r := newRig(t, cfgServers("asker", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"asker": status.Connected})
	ide, lines := stdioLines(t, r)
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"asker__ask_then_wait","arguments":{},"_meta":{`+askMeta+`}}}`)
	var first message
	if err := json.Unmarshal([]byte(nextLine(t, lines, `"id":1`)), &first); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"asker__ask_then_wait","arguments":{},`+
		retryParams(inputRequiredOf(t, first))+`}}`)
	waitFor(t, u.answered, "the upstream to get its answer")
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}}`)
	waitFor(t, u.cancelled, "the upstream call to be cancelled with the retry")
}

// Over stdio, progress that reaches the bridge after a request's response
// is not written (LC-10: notifications stop after completion), though the
// connection goes on; before the response it is.
func TestNoProgressAfterTheResponseOverStdio(t *testing.T) {
	u := newAsker(t)
	r := newRig(t, cfgServers("asker", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"asker": status.Connected})
	ide, lines := stdioLines(t, r)
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"asker__report","arguments":{},"_meta":{"progressToken":"p1",`+askMeta+`}}}`)
	if l := nextLine(t, lines, "notifications/progress"); !strings.Contains(l, `"progressToken":"p1"`) {
		t.Errorf("progress during the call: %s", l)
	}
	nextLine(t, lines, `"id":1`)
	// The server's last notification, delivered as the upstream connection
	// delivers it, once the call is answered.
	tok, _ := (<-u.tokens).(string)
	r.bridge.Progress("asker", &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 2, Total: 2})
	// Anything written for it comes before the next answer on the stream.
	fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	for {
		l := nextLine(t, lines, "")
		if strings.Contains(l, "notifications/progress") {
			t.Errorf("progress after the response: %s", l)
		}
		if strings.Contains(l, `"id":2`) {
			break
		}
	}
}

// A 2026-07-28 IDE that retries a suspended call with a progress token of
// its own gets the rest of the call's progress on the retry's stream,
// under that token (LC-10, LC-27), none under the first request's.
func TestProgressFollowsTheRetry(t *testing.T) {
	u := newAsker(t)
	r := newRig(t, cfgServers("asker", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"asker": status.Connected})
	// The IDE's answer takes its time: the bridge's clock is 3 s on when
	// the server goes on, past what was kept 2 s after the suspension.
	u.afterAnswer = func() { r.bridge.deadlines.expire(time.Now().Add(3 * time.Second)) }
	one := r.url + "/servers/asker/mcp"
	first := modernCall(t, one, "", "tools/call", "ask", `{"name":"ask","arguments":{},"_meta":{"progressToken":"first",`+askMeta+`}}`)
	retry := retryParams(inputRequiredOf(t, first[len(first)-1]))
	retry = strings.Replace(retry, `"_meta":{`, `"_meta":{"progressToken":"second",`, 1)
	got := modernCall(t, one, "", "tools/call", "ask", `{"name":"ask","arguments":{},`+retry+`}`)
	var tokens []string
	for _, m := range got {
		var p struct {
			ProgressToken string `json:"progressToken"`
		}
		if m.Method == "notifications/progress" && json.Unmarshal(m.Params, &p) == nil {
			tokens = append(tokens, p.ProgressToken)
		}
	}
	if len(tokens) != 1 || tokens[0] != "second" {
		t.Errorf("progress on the retry's stream, by token: %q", tokens)
	}
	if m := got[len(got)-1]; m.Error != nil || !strings.Contains(string(m.Result), "answered: accept") {
		t.Errorf("the retry: %s %+v", m.Result, m.Error)
	}
}

// Shutting down ends a call that waits for its client's retry: the hub's
// shutdown, which waits for its upstream requests, is not held up until
// the suspension expires (5 minutes).
func TestCloseEndsSuspendedCalls(t *testing.T) {
	u := newAsker(t)
	r := newRig(t, cfgServers("asker", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"asker": status.Connected})
	first := modernCall(t, r.url+"/servers/asker/mcp", "", "tools/call", "ask_then_wait", `{"name":"ask_then_wait","arguments":{},"_meta":{`+askMeta+`}}`)
	inputRequiredOf(t, first[len(first)-1]) // suspended

	closed := make(chan struct{})
	go func() {
		r.bridge.Close()
		r.hub.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("the hub's shutdown waited for a suspended call")
	}
	n := 0
	r.bridge.suspended.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Errorf("%d suspended calls left after Close", n)
	}
}
