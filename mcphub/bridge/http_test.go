package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/jsonobj"
	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/store"
	"github.com/mcptray/mcptray/oauth/oauthtest"
)

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`

// post sends one raw request to the bridge.
func post(t *testing.T, target string, header map[string]string, body string) (*http.Response, string) {
	t.Helper()
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	return postHeader(t, target, h, body)
}

// postHeader is post with headers that may repeat; Host sets the
// request's host.
func postHeader(t *testing.T, target string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		if k = http.CanonicalHeaderKey(k); k == "Host" {
			req.Host = v[0]
		} else {
			req.Header[k] = v
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

func withTokens(servers string) string {
	return `{"hub": {"bridge": {"requireToken": true}}, "mcpServers": {` + servers + `}}`
}

func TestClientTokens(t *testing.T) {
	alpha, beta := twoUpstreams(t)
	r := newRig(t, withTokens(fmt.Sprintf(`"alpha": %s, "beta": %s`, legacy(alpha.URL), legacy(beta.URL))), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected, "beta": status.Connected})
	ctx := context.Background()
	all := r.token(t, "vscode")
	onlyAlpha := r.token(t, "cursor", "alpha")
	mcpURL := r.url + "/mcp"

	t.Run("none", func(t *testing.T) {
		resp, body := post(t, mcpURL, nil, initializeBody)
		if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") ||
			!strings.Contains(resp.Header.Get("WWW-Authenticate"), "mcptray token create") ||
			strings.Contains(resp.Header.Get("WWW-Authenticate"), "error=") { // none without credentials (RFC 6750 §3.1)
			t.Errorf("no token: %s %q %s", resp.Status, resp.Header.Get("WWW-Authenticate"), body)
		}
	})
	t.Run("wrong", func(t *testing.T) {
		for _, tok := range []string{"mcptray_pat_" + strings.Repeat("A", 43), all + "x", "not-even-a-pat"} {
			resp, body := post(t, mcpURL, map[string]string{"Authorization": "Bearer " + tok}, initializeBody)
			if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("token %q: %s %q %s", tok, resp.Status, resp.Header.Get("WWW-Authenticate"), body)
			}
		}
	})
	t.Run("unknown server", func(t *testing.T) {
		// Without a token, a server that exists and one that does not look
		// the same: which servers are configured is not told.
		for _, path := range []string{"/servers/beta/mcp", "/servers/nosuch/mcp"} {
			if resp, body := post(t, r.url+path, nil, initializeBody); resp.StatusCode != 401 {
				t.Errorf("%s without a token: %s %s", path, resp.Status, body)
			}
		}
		if resp, body := post(t, r.url+"/servers/nosuch/mcp", map[string]string{"Authorization": "Bearer " + all}, initializeBody); resp.StatusCode != 404 {
			t.Errorf("an unknown server with a token: %s %s", resp.Status, body)
		}
	})
	t.Run("scheme case", func(t *testing.T) {
		// The scheme's name is case-insensitive (RFC 9110).
		for _, scheme := range []string{"bearer", "BEARER"} {
			if resp, body := post(t, mcpURL, map[string]string{"Authorization": scheme + " " + all}, initializeBody); resp.StatusCode != 200 {
				t.Errorf("Authorization: %s TOKEN: %s %s", scheme, resp.Status, body)
			}
		}
	})
	t.Run("valid", func(t *testing.T) {
		cs := r.connectHTTP(t, "/mcp", all, "2025-11-25", nil)
		if tools := toolNames(t, cs); tools["alpha__whoami"] == nil || tools["beta__whoami"] == nil {
			t.Errorf("full token sees %v", keys(tools))
		}
	})
	t.Run("out of scope", func(t *testing.T) {
		resp, body := post(t, r.url+"/servers/beta/mcp", map[string]string{"Authorization": "Bearer " + onlyAlpha}, initializeBody)
		if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Errorf("scoped token on beta: %s %s", resp.Status, body)
		}
		// The aggregate shows only what the token covers.
		cs := r.connectHTTP(t, "/mcp", onlyAlpha, "2026-07-28", nil)
		tools := toolNames(t, cs)
		if tools["alpha__whoami"] == nil || tools["beta__whoami"] != nil {
			t.Errorf("scoped token sees %v", keys(tools))
		}
		if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "file:///only-beta"}); err == nil {
			t.Error("scoped token read beta's resource")
		}
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "beta__whoami"}); err == nil {
			t.Error("scoped token called beta's tool")
		}
		// A session opened with one token is not usable with another.
		resp, _ = post(t, mcpURL, map[string]string{"Authorization": "Bearer " + all}, initializeBody)
		sid := resp.Header.Get("Mcp-Session-Id")
		resp, _ = post(t, mcpURL, map[string]string{"Authorization": "Bearer " + onlyAlpha, "Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25"},
			`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
		if sid == "" || resp.StatusCode != 404 {
			t.Errorf("another token's session: %q %s", sid, resp.Status)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		tok, _, err := r.db.CreateToken(ctx, "soon-gone", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		cs := r.connectHTTP(t, "/mcp", tok, "2025-11-25", nil)
		toolNames(t, cs)
		// A session with its event stream open, which outlives the
		// request that checked the token.
		auth := map[string]string{"Authorization": "Bearer " + tok}
		openStream := func(tok string) <-chan time.Time {
			resp, _ := post(t, mcpURL, map[string]string{"Authorization": "Bearer " + tok}, initializeBody)
			req, _ := http.NewRequest(http.MethodGet, mcpURL, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Mcp-Session-Id", resp.Header.Get("Mcp-Session-Id"))
			req.Header.Set("Accept", "text/event-stream")
			stream, err := http.DefaultClient.Do(req)
			if err != nil || stream.StatusCode != 200 {
				t.Fatalf("GET stream: %v %v", err, stream)
			}
			ended := make(chan time.Time, 1)
			go func() {
				_, _ = io.Copy(io.Discard, stream.Body)
				stream.Body.Close()
				ended <- time.Now()
			}()
			t.Cleanup(func() { stream.Body.Close() })
			return ended
		}
		// Two sessions of the token with their streams open, and one of
		// another token, which must stay open.
		streamEnded, secondEnded, otherEnded := openStream(tok), openStream(tok), openStream(all)
		resp, _ := post(t, mcpURL, auth, initializeBody) // and one without a stream
		quiet := resp.Header.Get("Mcp-Session-Id")
		// Revoked by another process, as 'mcptray token revoke' does.
		cli, err := store.Open(r.db.Path(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		if err := cli.RevokeToken(ctx, "soon-gone"); err != nil {
			t.Fatal(err)
		}
		revoked := time.Now()
		for {
			resp, _ := post(t, mcpURL, map[string]string{"Authorization": "Bearer " + tok}, initializeBody)
			if resp.StatusCode == 401 {
				break
			}
			if time.Since(revoked) > time.Second {
				t.Fatalf("a revoked token still works after %v", time.Since(revoked))
			}
			time.Sleep(20 * time.Millisecond) // no event crosses processes; look again
		}
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "alpha__whoami"}); err == nil {
			t.Error("the revoked token's open session still works")
		}
		// Its stream ends too: a second by design (the store's cache and
		// the stream's check, half a second each), two allowed here.
		select {
		case ended := <-streamEnded:
			if d := ended.Sub(revoked); d > 2*time.Second {
				t.Errorf("the revoked token's stream ended %v after the revocation", d)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the revoked token's event stream is still open")
		}
		select {
		case <-secondEnded:
		case <-time.After(10 * time.Second):
			t.Fatal("the revoked token's second event stream is still open")
		}
		select {
		case <-otherEnded:
			t.Error("another token's event stream ended with the revoked one's")
		default:
		}
		// A new token under the same name, for fewer servers, is not the
		// old session's owner: the session does not widen its scope.
		again, _, err := r.db.CreateToken(ctx, "soon-gone", []string{"alpha"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		resp, _ = post(t, mcpURL, map[string]string{"Authorization": "Bearer " + again, "Mcp-Session-Id": quiet, "Mcp-Protocol-Version": "2025-11-25"},
			`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
		if resp.StatusCode != 404 {
			t.Errorf("the old session with a new token of the same name: %s", resp.Status)
		}
	})
}

// DNS rebinding: a page on another site must not reach the bridge, even
// with requireToken off.
func TestHostAndOriginChecks(t *testing.T) {
	alpha, _ := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL)), rigOptions{})
	u, _ := url.Parse(r.url)
	port := u.Port()
	cases := []struct {
		header map[string]string
		want   int
	}{
		{map[string]string{}, 200},
		{map[string]string{"Host": "localhost:" + port}, 200},
		{map[string]string{"Host": "[::1]:" + port}, 200},
		{map[string]string{"Host": "LocalHost:" + port}, 200}, // names are case-insensitive
		{map[string]string{"Origin": "http://127.0.0.1:" + port}, 200},
		{map[string]string{"Origin": "http://localhost:3000"}, 200},
		{map[string]string{"Host": "evil.example:" + port}, 403},
		{map[string]string{"Host": "127.0.0.1.evil.example"}, 403},
		{map[string]string{"Origin": "http://evil.example"}, 403},
		{map[string]string{"Origin": "https://127.0.0.1.evil.example"}, 403},
		{map[string]string{"Origin": "null"}, 403},
		{map[string]string{"Origin": "vscode-file://vscode-app"}, 200}, // an editor's own window
		{map[string]string{"Origin": "vscode-file://evil.example"}, 403},
	}
	for _, c := range cases {
		resp, body := post(t, r.url+"/mcp", c.header, initializeBody)
		if resp.StatusCode != c.want {
			t.Errorf("%v: %s %s, want %d", c.header, resp.Status, body, c.want)
		}
	}
}

// A message over 4 MiB is refused with 413, whether its length is declared
// (refused before it is read) or it comes chunked (refused as it passes
// the limit); one within the limit is read.
func TestOversizedMessage(t *testing.T) {
	alpha, _ := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL)), rigOptions{})
	// A valid message padded with spaces after it to the size wanted.
	padded := func(size int) string { return initializeBody + strings.Repeat(" ", size-len(initializeBody)) }
	for _, c := range []struct {
		name    string
		size    int
		chunked bool
		want    int
	}{
		{"declared, at the limit", maxBody, false, http.StatusOK},
		{"declared, over it", maxBody + 1, false, http.StatusRequestEntityTooLarge},
		{"chunked, at the limit", maxBody, true, http.StatusOK},
		{"chunked, over it", maxBody + 1, true, http.StatusRequestEntityTooLarge},
	} {
		var body io.Reader = strings.NewReader(padded(c.size))
		if c.chunked {
			body = io.MultiReader(body) // no length known: sent chunked
		}
		req, err := http.NewRequest(http.MethodPost, r.url+"/mcp", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %s %s, want %d", c.name, resp.Status, data, c.want)
		}
		if c.want == http.StatusRequestEntityTooLarge && !strings.Contains(string(data), "larger than 4 MiB") {
			t.Errorf("%s: %q does not say what is wrong", c.name, data)
		}
	}
}

// A server that needs sign-in shows one tool that starts it; once signed
// in, its tools replace it and the IDE hears list_changed.
func TestSignInToolFromIDE(t *testing.T) {
	as := oauthtest.NewServer(oauthtest.Options{})
	t.Cleanup(as.Close) // after the hub's cleanup: its streams end first
	r, opened := signInRig(t, as)

	changed := make(chan struct{}, 8)
	cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} }})
	tools := toolNames(t, cs)
	if tools["secure__sign_in"] == nil || tools["secure__echo"] != nil {
		t.Fatalf("before sign-in: %v", keys(tools))
	}
	res := callTool(t, cs, "secure__echo", map[string]any{"message": "hi"})
	if msg := text(t, res); !res.IsError || !strings.Contains(msg, "secure needs sign-in: call the tool secure__sign_in") {
		t.Errorf("a signed-out server's tool: %q", msg)
	}
	if msg := text(t, callTool(t, cs, "secure__sign_in", nil)); !strings.Contains(msg, "browser") {
		t.Errorf("sign-in tool said %q", msg)
	}
	var authURL string
	select {
	case authURL = <-opened:
	case <-time.After(30 * time.Second):
		t.Fatal("the sign-in page was not opened")
	}
	// Asked again while the page is open: the same sign-in, no second tab.
	if msg := text(t, callTool(t, cs, "secure__sign_in", nil)); !strings.Contains(msg, "already open") {
		t.Errorf("the sign-in tool, called again, said %q", msg)
	}
	// The person approves: the test server consents at once and redirects
	// to the hub's loopback callback.
	resp, err := http.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r.wait(t, map[string]status.State{"secure": status.Connected})
	if len(opened) != 0 {
		t.Error("a second sign-in page was opened")
	}
	// The IDE hears list_changed and sees the real tools (an earlier
	// list_changed may still be queued: look again after each).
	for deadline := time.After(30 * time.Second); ; {
		tools = toolNames(t, cs)
		if tools["secure__echo"] != nil && tools["secure__sign_in"] == nil {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("after sign-in: %v", keys(tools))
		}
	}
	res = callTool(t, cs, "secure__echo", map[string]any{"message": "hi"})
	if text(t, res) != "echo: hi" {
		t.Errorf("echo after sign-in: %+v", res)
	}
	// Whatever the bridge sent, no secret the provider issued was in it.
	list, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sent, _ := json.Marshal([]any{res, list, callTool(t, cs, "mcptray__usage_stats", nil)})
	secrets := as.Secrets()
	if len(secrets) == 0 {
		t.Fatal("the provider issued no secrets?")
	}
	for _, s := range secrets {
		if strings.Contains(string(sent), s) {
			t.Errorf("a secret the provider issued reached the IDE (%.8s...)", s)
		}
	}
	if strings.Contains(string(sent), "Bearer") {
		t.Errorf("an Authorization value reached the IDE: %s", sent)
	}
}

// Calls are recorded off the request path and summed up by the usage
// tool, within a token's scope.
func TestCallRecordsAndUsageTool(t *testing.T) {
	alpha, beta := twoUpstreams(t)
	r := newRig(t, withTokens(fmt.Sprintf(`"alpha": %s, "beta": %s`, legacy(alpha.URL), legacy(beta.URL))), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected, "beta": status.Connected})
	ctx := context.Background()
	all, _, _ := r.db.CreateToken(ctx, "vscode", nil, 0)
	onlyAlpha, _, _ := r.db.CreateToken(ctx, "cursor", []string{"alpha"}, 0)
	cs := r.connectHTTP(t, "/mcp", all, "2025-11-25", nil)
	for range 3 {
		callTool(t, cs, "alpha__whoami", nil)
	}
	callTool(t, cs, "beta__whoami", nil)
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "alpha__schema", Arguments: map[string]any{"item": "zzz"}}); err != nil {
		t.Fatal(err)
	}
	r.db.Flush()

	var usage store.Usage
	res := callTool(t, cs, usageToolName, map[string]any{"days": 1})
	if err := remarshal(res.StructuredContent, &usage); err != nil {
		t.Fatal(err)
	}
	perServer := map[string]int{}
	for _, s := range usage.Servers {
		perServer[s.Server] = s.Calls
	}
	if usage.Totals.Calls != 5 || perServer["alpha"] != 4 || perServer["beta"] != 1 || usage.Clients[0].Client != "vscode" {
		t.Errorf("usage = %+v", usage)
	}
	// Aggregates only: nothing of what was sent or returned.
	if out := text(t, res); strings.Contains(out, "zzz") || strings.Contains(out, alpha.URL) {
		t.Errorf("usage leaks call content: %s", out)
	}
	scoped := r.connectHTTP(t, "/mcp", onlyAlpha, "2025-11-25", nil)
	res = callTool(t, scoped, usageToolName, nil)
	if out := text(t, res); strings.Contains(out, `"beta"`) || !strings.Contains(out, `"alpha"`) {
		t.Errorf("a scoped token sees other servers: %s", out)
	}
	if res := callTool(t, scoped, usageToolName, map[string]any{"days": 61}); !res.IsError {
		t.Error("more than 60 days allowed")
	}
}

// Guessing tokens is slowed down: after a burst of failures, unknown
// tokens get 429 without being checked, while a token that verified
// lately keeps working; the bucket refills with time.
func TestTokenGuessingIsSlowedDown(t *testing.T) {
	r := newRig(t, withTokens(""), rigOptions{})
	var mu sync.Mutex
	now := time.Now()
	r.bridge.limiter.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	used := r.token(t, "ide")
	fresh := r.token(t, "new-ide")
	mcpURL := r.url + "/mcp"
	with := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	if resp, body := post(t, mcpURL, with(used), initializeBody); resp.StatusCode != 200 {
		t.Fatalf("valid token: %s %s", resp.Status, body)
	}
	codes := map[int]int{}
	for i := range 25 {
		resp, _ := post(t, mcpURL, with(fmt.Sprintf("mcptray_pat_guess%02d", i)), initializeBody)
		codes[resp.StatusCode]++
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[401] != failBurst || codes[429] != 25-failBurst {
		t.Errorf("25 guesses answered %v; want %d x 401 then 429", codes, failBurst)
	}
	if resp, body := post(t, mcpURL, with(used), initializeBody); resp.StatusCode != 200 {
		t.Errorf("the IDE's token during the attack: %s %s", resp.Status, body)
	}
	// A token made during the attack, or one not used for a while, works
	// too: only tokens that fail are slowed down.
	if resp, body := post(t, mcpURL, with(fresh), initializeBody); resp.StatusCode != 200 {
		t.Errorf("a token not used before, during the attack: %s %s", resp.Status, body)
	}
	// About a guess a second keeps the bucket empty; new tokens still get in.
	for i := range 5 {
		advance(900 * time.Millisecond)
		if resp, _ := post(t, mcpURL, with("mcptray_pat_guess-slow"), initializeBody); resp.StatusCode != 429 && resp.StatusCode != 401 {
			t.Errorf("a slow guess: %s", resp.Status)
		}
		if resp, body := post(t, mcpURL, with(r.token(t, fmt.Sprintf("late-%d", i))), initializeBody); resp.StatusCode != 200 {
			t.Errorf("a new token amid slow guesses: %s %s", resp.Status, body)
		}
	}
	advance(20 * time.Second)
	if resp, _ := post(t, mcpURL, with("mcptray_pat_guess-again"), initializeBody); resp.StatusCode != 401 {
		t.Errorf("a guess after the bucket refilled: %s, want 401", resp.Status)
	}
}

// With the database unreadable, a client token cannot be checked: the
// answer is 503 saying so (and what works meanwhile), not a 401 that
// blames the token.
func TestTokensUncheckableWithoutDatabase(t *testing.T) {
	blocked := filepath.Join(t.TempDir(), "not-a-folder")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db := store.OpenRetrying(filepath.Join(blocked, "mcptray.db"), nil)
	defer db.Close()
	b := New(Options{Version: "test", Tokens: db, RequireToken: func() bool { return true }})
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Authorization", "Bearer "+store.TokenPrefix+"0123456789abcdef")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "cannot be checked") {
		t.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
}

// A request's params are decoded once for all its steps: a field that
// tools/call does not read may have any type, a name that is not a string
// is refused, and _meta (a progress token here) still reaches the call.
func TestToolCallParamsDecodedOnce(t *testing.T) {
	alpha, beta := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL), "beta", legacy(beta.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected, "beta": status.Connected})
	resp, _ := post(t, r.url+"/mcp", nil, initializeBody)
	h := map[string]string{"Mcp-Session-Id": resp.Header.Get("Mcp-Session-Id"), "Mcp-Protocol-Version": "2025-11-25"}
	post(t, r.url+"/mcp", h, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	for _, c := range []struct{ params, want string }{
		{`{"name":"alpha__whoami","arguments":{},"uri":5}`, `\"server\":\"alpha\"`},
		{`{"name":"beta__whoami","arguments":{},"_meta":{"progressToken":"p-1"}}`, `\"server\":\"beta\"`},
		{`{"name":5,"arguments":{}}`, "tools/call needs a tool name"},
	} {
		_, body := post(t, r.url+"/mcp", h, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":`+c.params+`}`)
		if !strings.Contains(body, c.want) {
			t.Errorf("params %s: got %s, want %s in it", c.params, body, c.want)
		}
	}
}

// A 2026-07-28 result has one resultType, its own when it has one
// anywhere among its members, and gets the server's _meta unless it has a
// _meta of its own (not one nested in its content).
func TestModernResultMembers(t *testing.T) {
	b := &Bridge{serverMeta: []byte(`{"s":1}`)}
	reqs := mcp.InputRequestMap{"ask": &mcp.ElicitParams{Message: "which one? (a long enough question to push later members past the first bytes)"}}
	for _, c := range []struct{ name, in, want string }{
		{"input required", string(inputRequired(reqs, "st")), `"resultType":"input_required"`},
		{"resultType late", `{"content":[{"type":"text","text":"` + strings.Repeat("x", 100) + `"}],"resultType":"complete"}`, `"resultType":"complete"`},
		{"nested _meta", `{"content":[{"type":"text","text":"t","_meta":{"k":1}}]}`, `"_meta":{"s":1}`},
	} {
		out := b.modernResult("tools/call", json.RawMessage(c.in))
		var members []string
		if !jsonobj.Members(out, func(key, _ []byte) { members = append(members, string(key)) }) {
			t.Fatalf("%s: not an object: %s", c.name, out)
		}
		if n := strings.Count(strings.Join(members, " "), "resultType"); n != 1 || !strings.Contains(string(out), c.want) || !slices.Contains(members, "_meta") {
			t.Errorf("%s: %s", c.name, out)
		}
	}
}

// Each member of a 2026-07-28 result comes once, with a valid value
// (TS-20): resultType, and on reads and lists ttlMs (at least 0) and
// cacheScope ("public" or "private"), whichever era the server behind
// speaks: npm server-everything sends no cache fields (go-sdk's client
// then writes them empty), a stateful go-sdk server sends them in the
// initialize era too, a stateless one speaks 2026-07-28.
func TestModernResultsHaveEachMemberOnce(t *testing.T) {
	ts := testpeers.StartServerEverything(t, "streamableHttp")
	old, modern := newUpstream(t, "old"), newModernUpstream(t, "new")
	for _, u := range []*upstreamServer{old, modern} {
		addWhoami(u, "u")
		u.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "file:///t/{x}", Name: "t"}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "t"}}}, nil
		})
		u.AddPrompt(&mcp.Prompt{Name: "greet"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hello"}}}}, nil
		})
	}
	r := newRig(t, cfgServers("ts", legacy(ts.URL), "old", legacy(old.URL), "new", fmt.Sprintf(`{"url": %q}`, modern.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"ts": status.Connected, "old": status.Connected, "new": status.Connected})
	if c, _ := r.hub.Conn("new"); c.Session().InitializeResult().ProtocolVersion != "2026-07-28" {
		t.Fatalf("the stateless go-sdk server speaks %s", c.Session().InitializeResult().ProtocolVersion)
	}
	cacheable := map[string]bool{"server/discover": true, "tools/list": true, "prompts/list": true, "resources/list": true,
		"resources/templates/list": true, "resources/read": true}
	for _, s := range []struct{ server, uri, prompt, tool, args string }{
		{"ts", "demo://resource/dynamic/text/1", "simple-prompt", "echo", `{"message":"hi"}`},
		{"old", "file:///t/1", "greet", "whoami", `{}`},
		{"new", "file:///t/1", "greet", "whoami", `{}`},
	} {
		for _, c := range []struct{ method, name, params string }{
			{"resources/read", s.uri, `"uri":"` + s.uri + `",`},
			{"prompts/get", s.prompt, `"name":"` + s.prompt + `",`},
			{"tools/call", s.tool, `"name":"` + s.tool + `","arguments":` + s.args + `,`},
			{"tools/list", "", ""}, {"prompts/list", "", ""}, {"resources/list", "", ""},
			{"resources/templates/list", "", ""}, {"server/discover", "", ""},
		} {
			resp, err := postModern(context.Background(), r.url+"/servers/"+s.server+"/mcp", c.method, c.name, `{`+c.params+modernMeta+`}`)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			what := s.server + " " + c.method + " " + c.name
			if dups := duplicateKeys(t, body); len(dups) > 0 {
				t.Errorf("%s: keys %v more than once in %s", what, dups, body)
			}
			var res struct {
				Result *struct {
					ResultType string   `json:"resultType"`
					TTLMs      *float64 `json:"ttlMs"`
					CacheScope *string  `json:"cacheScope"`
					IsError    bool     `json:"isError"`
				} `json:"result"`
			}
			if err := json.Unmarshal(body, &res); err != nil || res.Result == nil || res.Result.ResultType != "complete" || res.Result.IsError {
				t.Errorf("%s: %v %s", what, err, body)
				continue
			}
			if rr := res.Result; cacheable[c.method] && (rr.TTLMs == nil || *rr.TTLMs < 0 || rr.CacheScope == nil ||
				*rr.CacheScope != "public" && *rr.CacheScope != "private") {
				t.Errorf("%s: ttlMs or cacheScope missing or not valid: %s", what, body)
			}
		}
	}
}

// duplicateKeys walks JSON token by token and returns the keys that occur
// more than once in one object (encoding/json keeps the last silently).
func duplicateKeys(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // an object's next string token is a key
	}
	var stack []*frame
	var dups []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return dups
		}
		if err != nil {
			t.Fatalf("not JSON (%v): %s", err, data)
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, ok := tok.(string); ok && top != nil && top.object && top.key {
			if top.keys[k] {
				dups = append(dups, k)
			}
			top.keys[k], top.key = true, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the object holding it wants a key next.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true
		}
	}
}

// A 2026-07-28 protocol error has its HTTP status whatever the length of
// the request's id (TS-16).
func TestModernErrorStatusWithLongID(t *testing.T) {
	r := newRig(t, cfgServers(), rigOptions{})
	id := strings.Repeat("i", 200)
	resp, body := post(t, r.url+"/mcp", map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "no/such"},
		`{"jsonrpc":"2.0","id":"`+id+`","method":"no/such","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `"code":-32601`) {
		t.Errorf("unknown method, long id: %s %s", resp.Status, body)
	}
}

// A request whose id is null is no notification: it is answered -32600
// with a null id (LC-04), in an initialize-era session and in a 2026-07-28
// request over HTTP, and over stdio, where the connection goes on.
func TestNullIDIsAnInvalidRequest(t *testing.T) {
	r := newRig(t, cfgServers(), rigOptions{})
	invalid := func(t *testing.T, answer string) {
		t.Helper()
		var e struct {
			ID    json.RawMessage `json:"id"`
			Error *rpcError       `json:"error"`
		}
		if err := json.Unmarshal([]byte(answer), &e); err != nil || string(e.ID) != "null" || e.Error == nil || e.Error.Code != codeInvalidRequest {
			t.Errorf("the answer to a request with a null id: %q, want -32600 with id null", answer)
		}
	}
	t.Run("http-2025-11-25", func(t *testing.T) {
		resp, _ := post(t, r.url+"/mcp", nil, initializeBody)
		h := map[string]string{"Mcp-Session-Id": resp.Header.Get("Mcp-Session-Id"), "Mcp-Protocol-Version": "2025-11-25"}
		post(t, r.url+"/mcp", h, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		resp, body := post(t, r.url+"/mcp", h, `{"jsonrpc":"2.0","id":null,"method":"ping"}`)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %s", resp.Status)
		}
		invalid(t, body)
	})
	t.Run("http-2026-07-28", func(t *testing.T) {
		resp, body := post(t, r.url+"/mcp", map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"},
			`{"jsonrpc":"2.0","id":null,"method":"tools/list","params":{`+modernMeta+`}}`)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %s", resp.Status)
		}
		invalid(t, body)
	})
	t.Run("stdio", func(t *testing.T) {
		ide, lines := stdioLines(t, r)
		fmt.Fprintln(ide, `{"jsonrpc":"2.0", "id" : null, "method":"ping"}`)
		fmt.Fprintln(ide, `{"jsonrpc":"2.0","id":7,"method":"ping"}`)
		invalid(t, nextLine(t, lines, ""))
		nextLine(t, lines, `"id":7`)
	})
}

// A request in a 2025-03-26 batch whose upstream asks the client for
// something (sampling) gets its answer at once: a batch has no stream for
// the server's requests, so the upstream is told so rather than waiting.
func TestBatchItemsCannotTakeServerRequests(t *testing.T) {
	u := newBlockingUpstream(t)
	r := newRig(t, cfgServers("blk", legacy(u.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"blk": status.Connected})
	resp, body := post(t, r.url+"/mcp", nil, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26",`+
		`"capabilities":{"sampling":{}},"clientInfo":{"name":"batcher","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize: %s %s", resp.Status, body)
	}
	h := map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-03-26"}
	post(t, r.url+"/mcp", h, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	resp, body = post(t, r.url+"/mcp", h, `[{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"blk__ask_then_withdraw","arguments":{}}},`+
		`{"jsonrpc":"2.0","id":3,"method":"ping"}]`)
	if resp.StatusCode != 200 || !strings.Contains(body, "withdrawn: true") || !strings.Contains(body, `"id":3`) {
		t.Errorf("batch: %s %s", resp.Status, body)
	}
}

// DELETE ends a session (TS-09): its event stream ends with it, and its
// id is then unknown.
func TestDeleteEndsTheSessionAndItsStream(t *testing.T) {
	alpha, _ := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL)), rigOptions{})
	resp, _ := post(t, r.url+"/mcp", nil, initializeBody)
	sid := resp.Header.Get("Mcp-Session-Id")
	session := func(method string) *http.Request {
		req, _ := http.NewRequest(method, r.url+"/mcp", nil)
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		req.Header.Set("Accept", "text/event-stream")
		return req
	}
	stream, err := http.DefaultClient.Do(session(http.MethodGet))
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("GET stream: %v %v", err, stream)
	}
	ended := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stream.Body)
		stream.Body.Close()
		close(ended)
	}()
	del, err := http.DefaultClient.Do(session(http.MethodDelete))
	if err != nil || del.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %v %v", err, del)
	}
	del.Body.Close()
	waitFor(t, ended, "the deleted session's stream to end")
	resp, _ = post(t, r.url+"/mcp", map[string]string{"Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-11-25"}, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the deleted session: %s", resp.Status)
	}
}

// Every method that names a session checks it the same way (TS-14,
// TS-15): an unsupported MCP-Protocol-Version is 400; a session of another
// endpoint, or one that has ended, is 404; a batch too.
func TestEveryMethodChecksTheSession(t *testing.T) {
	alpha, _ := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL)), rigOptions{})
	init := strings.Replace(initializeBody, "2025-11-25", "2025-03-26", 1) // a version that may batch
	resp, _ := post(t, r.url+"/mcp", nil, init)
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatalf("initialize: %s", resp.Status)
	}
	send := func(method, path, version, body string) int {
		t.Helper()
		req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", version)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel() // a GET that opened its stream ends here
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const single, batch = `{"jsonrpc":"2.0","id":2,"method":"ping"}`, `[{"jsonrpc":"2.0","id":3,"method":"ping"}]`
	requests := []struct{ method, body string }{{"POST", single}, {"POST", batch}, {"GET", ""}, {"DELETE", ""}}
	for _, rq := range requests {
		if got := send(rq.method, "/mcp", "1999-01-01", rq.body); got != http.StatusBadRequest {
			t.Errorf("%s %s with an unsupported version: %d, want 400", rq.method, rq.body, got)
		}
		if got := send(rq.method, "/servers/alpha/mcp", "2025-03-26", rq.body); got != http.StatusNotFound {
			t.Errorf("%s %s on another endpoint: %d, want 404", rq.method, rq.body, got)
		}
	}
	if got := send("POST", "/mcp", "2025-03-26", batch); got != http.StatusOK {
		t.Fatalf("the session's own batch: %d", got)
	}
	if got := send("DELETE", "/mcp", "2025-03-26", ""); got != http.StatusNoContent {
		t.Fatalf("DELETE: %d", got)
	}
	for _, rq := range requests {
		if got := send(rq.method, "/mcp", "2025-03-26", rq.body); got != http.StatusNotFound {
			t.Errorf("%s %s in the ended session: %d, want 404", rq.method, rq.body, got)
		}
	}
}
