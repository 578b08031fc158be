package app

//lint:file-ignore SA1019 sampling, elicitation, roots and logging are deprecated in 2026-07-28 but initialize-era peers use them: MCP Tray bridges both eras

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/testlog"
	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/store"
)

// everythingUser is a user whose configuration bridges the go-sdk
// everything fixture as "ev" on free ports; it returns the bridge port.
func everythingUser(t *testing.T, requireToken bool) (*userEnv, int) {
	peer := testpeers.StartEverythingHTTP(t)
	u := newUserEnv(t)
	port := testpeers.FreePort(t)
	u.writeConfig(t, fmt.Sprintf(`{"hub": {"bridge": {"port": %d, "requireToken": %v}, "oauth": {"callbackPort": %d}},
 "mcpServers": {"ev": {"url": %q}}}`, port, requireToken, testpeers.FreePort(t), peer.URL))
	return u, port
}

// bridgeClient starts 'mcptray bridge ARGS' as an IDE does and connects a
// go-sdk client to it. Its stderr is returned as it grows; its stdout must
// carry nothing but JSON-RPC.
func (u *userEnv) bridgeClient(t *testing.T, env []string, c *mcp.Client, version string, args ...string) (*mcp.ClientSession, *testlog.Buffer, *exec.Cmd) {
	t.Helper()
	cmd, stdin, stdout, stderr := u.startBridge(t, env, args...)
	// Every line on stdout must be a JSON-RPC message.
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var m struct {
				JSONRPC string `json:"jsonrpc"`
			}
			if json.Unmarshal(sc.Bytes(), &m) != nil || m.JSONRPC != "2.0" {
				t.Errorf("not protocol on stdout: %q", sc.Text())
			}
			_, _ = pw.Write(append(sc.Bytes(), '\n'))
		}
		pw.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.IOTransport{Reader: pr, Writer: stdin}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect through mcptray bridge: %v\nstderr: %s", err, stderr)
	}
	t.Cleanup(func() {
		cs.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("mcptray bridge did not exit after its stdin closed")
		}
	})
	return cs, stderr, cmd
}

// startBridge starts 'mcptray bridge ARGS' with pipes, as an IDE does.
func (u *userEnv) startBridge(t *testing.T, env []string, args ...string) (*exec.Cmd, io.WriteCloser, io.Reader, *testlog.Buffer) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"bridge"}, args...)...)
	cmd.Env = append(slices.Clone(u.env), env...)
	stderr := &testlog.Buffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin, stdout, stderr
}

// bridgeVariants are the two ways 'mcptray bridge' carries a stream: its
// stdin and stdout handed over to the hub (the relay then waits), and
// copied in the bridge process (no relay program).
var bridgeVariants = []struct {
	name string
	env  []string
}{{"relay", nil}, {"in-process", []string{relayEnv + "=off"}}}

// An IDE starts 'mcptray bridge' with no hub running: the bridge starts
// one in the background, says so on stderr only, and then carries every
// kind of exchange, through the relay program and without it.
func TestStdioBridgeEndToEnd(t *testing.T) {
	u, _ := everythingUser(t, true) // stdio needs no token
	t.Cleanup(func() { u.run(t, "stop") })

	for _, variant := range bridgeVariants {
		for _, era := range []string{"2025-11-25", "2026-07-28"} {
			t.Run(variant.name+"/"+era, func(t *testing.T) {
				var mu sync.Mutex
				var progress []float64
				opts := &mcp.ClientOptions{
					ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
						mu.Lock()
						progress = append(progress, req.Params.Progress)
						mu.Unlock()
					},
					CreateMessageHandler: func(context.Context, *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
						return &mcp.CreateMessageResult{Model: "m", Role: "assistant", Content: &mcp.TextContent{Text: "from the IDE"}}, nil
					},
					ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
						return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"username": "grace"}}, nil
					},
				}
				cs, stderr, cmd := u.bridgeClient(t, variant.env, mcp.NewClient(&mcp.Implementation{Name: "ide", Version: "1"}, opts), era)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()

				if variant.name == "relay" {
					// The hub answers from the IDE's own pipes once they are
					// handed over, maybe before the bridge has become the
					// relay, which then only waits.
					deadline := time.Now().Add(10 * time.Second)
					for !relayWaiting(cmd.Process.Pid) && time.Now().Before(deadline) {
						time.Sleep(10 * time.Millisecond)
					}
					if !relayWaiting(cmd.Process.Pid) {
						cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid))
						t.Errorf("the bridge process is %q, not the relay waiting on a handed-over stdin and stdout", cmdline)
					}
				}
				tools := map[string]bool{}
				for tool, err := range cs.Tools(ctx, nil) {
					if err != nil {
						t.Fatal(err)
					}
					tools[tool.Name] = true
				}
				if !tools["ev__test_sampling"] || !tools["mcptray__usage_stats"] {
					t.Fatalf("tools through the bridge: %v", tools)
				}

				params := &mcp.CallToolParams{Name: "ev__test_tool_with_progress", Arguments: map[string]any{}}
				params.SetProgressToken("p-1")
				if _, err := cs.CallTool(ctx, params); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				if !slices.Equal(progress, []float64{0, 50, 100}) {
					t.Errorf("progress: %v", progress)
				}
				mu.Unlock()

				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "ev__test_sampling", Arguments: map[string]any{"prompt": "p"}})
				if err != nil || res.Content[0].(*mcp.TextContent).Text != "LLM response: from the IDE" {
					t.Errorf("sampling: %+v %v", res, err)
				}
				res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "ev__test_elicitation", Arguments: map[string]any{"message": "name?"}})
				if err != nil || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "grace") {
					t.Errorf("elicitation: %+v %v", res, err)
				}

				// Cancellation: the IDE cancels a call while it sits on the
				// server's sampling request; the request is withdrawn.
				if era == "2025-11-25" {
					blocked, gone := make(chan struct{}), make(chan struct{})
					slow := mcp.NewClient(&mcp.Implementation{Name: "ide2", Version: "1"}, &mcp.ClientOptions{
						CreateMessageHandler: func(ctx context.Context, _ *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
							close(blocked)
							<-ctx.Done()
							close(gone)
							return nil, ctx.Err()
						}})
					cs2, _, _ := u.bridgeClient(t, variant.env, slow, era)
					callCtx, stop := context.WithCancel(ctx)
					errc := make(chan error, 1)
					go func() {
						_, err := cs2.CallTool(callCtx, &mcp.CallToolParams{Name: "ev__test_sampling", Arguments: map[string]any{"prompt": "p"}})
						errc <- err
					}()
					waitChan(t, blocked, "the sampling request")
					stop()
					waitChan(t, gone, "the withdrawn sampling request")
					if err := <-errc; err == nil {
						t.Error("a cancelled call succeeded")
					}
				}
				if strings.Contains(stderr.String(), "error") {
					t.Errorf("stderr: %s", stderr)
				}
			})
		}
	}
}

// relayWaiting: process pid is the relay in its wait mode (Linux).
func relayWaiting(pid int) bool {
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	return args[0] == relayName && args[len(args)-1] == "wait"
}

func waitChan(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func TestBridgeStartsAHubAndPicksAServer(t *testing.T) {
	u, _ := everythingUser(t, true)
	t.Cleanup(func() { u.run(t, "stop") })

	c := mcp.NewClient(&mcp.Implementation{Name: "ide", Version: "1"}, nil)
	cs, stderr, _ := u.bridgeClient(t, nil, c, "2025-11-25", "--server", "ev")
	if !stderr.WaitFor("no MCP Tray hub is running", 10*time.Second) || !stderr.WaitFor("started in the background", 10*time.Second) {
		t.Errorf("the bridge did not say it started a hub: %q", stderr)
	}
	ctx := context.Background()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("unprefixed call through --server ev: %+v %v", res, err)
	}
	// The hub outlives the IDE's bridge and serves the next one.
	out, _, code := u.run(t, "status", "--json")
	if code != 0 || !strings.Contains(out, `"mode": "serve"`) {
		t.Errorf("status after the bridge started a hub: %d %s", code, out)
	}
	_, errOut, code := u.run(t, "bridge", "--server", "nope")
	if code != exitFail || !strings.Contains(errOut, `no server "nope"`) {
		t.Errorf("unknown server: %d %q", code, errOut)
	}
	out, _, code = u.run(t, "stop")
	if code != 0 || !strings.Contains(out, "Stopped") {
		t.Errorf("stop: %d %s", code, out)
	}
	if _, _, code := u.run(t, "status"); code == 0 {
		t.Error("a hub still answers after stop")
	}
}

// An IDE's log says why the bridge serves less than the file names: a
// server switched off, a file with errors (IDEs show the bridge's stderr
// in their MCP logs; the tool list alone would just be short).
func TestBridgeSaysWhyItServesLess(t *testing.T) {
	peer := testpeers.StartEverythingHTTP(t)
	u := newUserEnv(t)
	cfg := fmt.Sprintf(`{"hub": {"bridge": {"port": %d}, "oauth": {"callbackPort": %d}},
 "mcpServers": {"ev": {"url": %q}, "off": {"url": %q, "disabled": true}}}`, testpeers.FreePort(t), testpeers.FreePort(t), peer.URL, peer.URL)
	u.writeConfig(t, cfg)
	u.serve(t)
	u.watch(t).until(t, "ev connected", func(st *control.StatusResponse) bool {
		return len(st.Servers) > 0 && st.Servers[0].Status.State == status.Connected
	})
	c := mcp.NewClient(&mcp.Implementation{Name: "ide", Version: "1"}, nil)
	// The bridge prints the hub's notices once its pipes are handed over,
	// so they may come after the IDE's session is up: waited for.
	_, stderr, _ := u.bridgeClient(t, nil, c, "2025-11-25")
	if !stderr.WaitFor("mcptray bridge: off is disabled in the configuration", 10*time.Second) ||
		strings.Contains(stderr.String(), "ev ") {
		t.Errorf("stderr of a bridge with a server switched off: %q", stderr)
	}

	u.writeConfig(t, strings.Replace(cfg, `"disabled": true}`, `"disabled": true},`, 1))
	u.watch(t).until(t, "the file's error", func(st *control.StatusResponse) bool { return st.ConfigError != "" })
	_, stderr, _ = u.bridgeClient(t, nil, c, "2025-11-25")
	if !stderr.WaitFor("mcptray bridge: the configuration file has errors", 10*time.Second) {
		t.Errorf("stderr of a bridge over a file with errors: %q", stderr)
	}
}

// rpc posts one JSON-RPC request to the HTTP bridge with a token.
func rpc(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

const e2eInitialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`

// untilStatus asks again until the bridge answers want, or limit passes.
func untilStatus(t *testing.T, url, token string, want int, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		code, body := rpc(t, url, token, e2eInitialize)
		if code == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("still %d (%s) after %v, want %d", code, body, limit, want)
		}
		time.Sleep(20 * time.Millisecond) // no event crosses processes; look again
	}
}

func TestTokenCommandsAndStats(t *testing.T) {
	u, port := everythingUser(t, true)
	u.serve(t)
	u.watch(t).until(t, "ev connected", allConnected("ev"))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	// Created: the token alone on stdout, shown once.
	out, errOut, code := u.run(t, "token", "create", "cursor", "--ttl", "30d")
	token := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(token, store.TokenPrefix) || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "shown only this once") {
		t.Fatalf("token create: %d %q %q", code, out, errOut)
	}
	scopedOut, _, _ := u.run(t, "token", "create", "elsewhere", "--servers", "other")
	scoped := strings.TrimSpace(scopedOut)
	shortOut, _, _ := u.run(t, "token", "create", "brief", "--ttl", "1s")
	short := strings.TrimSpace(shortOut)
	if _, errOut, code := u.run(t, "token", "create", "cursor"); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Errorf("duplicate name: %d %s", code, errOut)
	}
	// A lifetime in days that would overflow (wrapping to minutes) is
	// refused, as are arguments a command does not take.
	if _, errOut, code := u.run(t, "token", "create", "forever", "--ttl", "213504d"); code == 0 || !strings.Contains(errOut, `"213504d" is not a number of days from 1 to 36500`) {
		t.Errorf("--ttl 213504d: %d %s", code, errOut)
	}
	if _, errOut, code := u.run(t, "token", "create", "nobody", "--servers", " , "); code != exitUsage || !strings.Contains(errOut, "names no server") {
		t.Errorf("--servers ' , ': %d %s", code, errOut)
	}
	if _, errOut, code := u.run(t, "stats", "30"); code != exitUsage || !strings.Contains(errOut, `unexpected argument "30"`) {
		t.Errorf("stats 30: %d %s", code, errOut)
	}
	if _, errOut, code := u.run(t, "stats", "--days", "100000000"); code != exitUsage || !strings.Contains(errOut, "--days must be 1 to 3650") {
		t.Errorf("stats --days 100000000: %d %s", code, errOut)
	}
	list, _, _ := u.run(t, "token", "list")
	if !strings.Contains(list, "cursor") || !strings.Contains(list, "active") || strings.Contains(list, token) {
		t.Errorf("token list:\n%s", list)
	}
	for _, f := range []string{filepath.Join(u.dir, "data", "mcptray", "mcptray.db")} {
		data, _ := os.ReadFile(f)
		if bytes.Contains(data, []byte(token)) {
			t.Errorf("%s holds the token", f)
		}
	}

	if code, _ := rpc(t, base+"/mcp", "", e2eInitialize); code != 401 {
		t.Errorf("no token: %d", code)
	}
	if code, _ := rpc(t, base+"/mcp", token+"x", e2eInitialize); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code, body := rpc(t, base+"/mcp", token, e2eInitialize); code != 200 {
		t.Errorf("valid token: %d %s", code, body)
	}
	if code, _ := rpc(t, base+"/servers/ev/mcp", scoped, e2eInitialize); code != 403 {
		t.Errorf("token for other servers on ev: %d", code)
	}
	// Expired: refused once its second is over.
	untilStatus(t, base+"/mcp", short, 401, 5*time.Second)

	// Calls through HTTP with the token are recorded under its name.
	tr := &mcp.StreamableClientTransport{Endpoint: base + "/mcp", HTTPClient: &http.Client{Transport: tokenTransport(token)}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "ide", Version: "1"}, nil).Connect(context.Background(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "ev__test_simple_text", Arguments: map[string]any{}}); err != nil {
			t.Fatal(err)
		}
	}
	cs.Close()

	// Names are exact; one that differs in case only is pointed at.
	if _, errOut, code := u.run(t, "token", "revoke", "Cursor"); code == 0 || !strings.Contains(errOut, "no active token is named Cursor (did you mean cursor?)") {
		t.Errorf("revoke Cursor: %d %s", code, errOut)
	}
	// Revoked by the command: refused within a second.
	if out, _, code := u.run(t, "token", "revoke", "cursor"); code != 0 || !strings.Contains(out, "Revoked cursor") {
		t.Errorf("revoke: %d %s", code, out)
	}
	untilStatus(t, base+"/mcp", token, 401, time.Second)
	if _, errOut, code := u.run(t, "token", "revoke", "cursor"); code == 0 || !strings.Contains(errOut, "no active token is named cursor ('mcptray token list' shows them)") {
		t.Errorf("second revoke: %d %s", code, errOut)
	}

	// The records are written in batches off the request path; stop the
	// hub so everything is committed, then read the stats.
	u.run(t, "stop")
	out, _, code = u.run(t, "stats", "--json")
	var usage store.Usage
	if code != 0 || json.Unmarshal([]byte(out), &usage) != nil {
		t.Fatalf("stats --json: %d %s", code, out)
	}
	if usage.Totals.Calls != 3 || len(usage.Servers) != 1 || usage.Servers[0].Server != "ev" ||
		usage.Servers[0].Tools[0].Name != "test_simple_text" || usage.Clients[0].Client != "cursor" {
		t.Errorf("stats: %s", out)
	}
	out, _, _ = u.run(t, "stats")
	if !strings.Contains(out, "3 calls, 0 errors") || !strings.Contains(out, "test_simple_text") || !strings.Contains(out, "cursor") {
		t.Errorf("stats text:\n%s", out)
	}
}

type tokenTransport string

func (tok tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(tok))
	return http.DefaultTransport.RoundTrip(r)
}

// A corrupted database: the hub moves it aside for inspection, says where,
// starts a new one and keeps bridging; the calls are recorded in the new
// one, where 'mcptray stats' finds them.
func TestCorruptDatabaseKeepsBridging(t *testing.T) {
	u, _ := everythingUser(t, true)
	db := filepath.Join(u.dir, "data", "mcptray", "mcptray.db")
	if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte("not a database "), 1000)
	if err := os.WriteFile(db, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	h := u.serve(t)
	u.watch(t).until(t, "ev connected", func(st *control.StatusResponse) bool {
		return len(st.Servers) == 1 && st.Servers[0].Status.State == "connected"
	})
	moved, _ := filepath.Glob(db + ".corrupt-*")
	if len(moved) != 1 {
		t.Fatalf("the damaged file was not moved aside: %v\n%s", moved, h.output())
	}
	if out := h.output(); !strings.Contains(out, "the database file was damaged; moved it to "+moved[0]+" and started a new one at "+db) {
		t.Errorf("the hub did not say the database was damaged and where it went:\n%s", out)
	}
	if data, _ := os.ReadFile(moved[0]); !bytes.Equal(data, garbage) {
		t.Error("the damaged file was not kept as it was")
	}
	if fi, err := os.Stat(moved[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the damaged file is not private: %v %v", fi.Mode(), err)
	}

	cs, _, _ := u.bridgeClient(t, nil, mcp.NewClient(&mcp.Implementation{Name: "ide", Version: "1"}, nil), "2025-11-25")
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil || len(res.Tools) == 0 {
		t.Fatalf("tools through the bridge after the database was replaced: %v %v", res, err)
	}
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "ev__test_simple_text", Arguments: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	// The stdio bridge's calls are recorded under the client "stdio".
	usage := untilStats(t, func(args ...string) (string, string, int) { return u.run(t, args...) },
		func(u *store.Usage) bool { return u.Totals.Calls == 1 })
	if len(usage.Clients) != 1 || usage.Clients[0].Client != "stdio" || usage.Servers[0].Tools[0].Name != "test_simple_text" {
		t.Errorf("stats on the new database: %+v", usage)
	}
	if out, _, code := u.run(t, "stats"); code != 0 || !strings.Contains(out, "1 calls, 0 errors") || !strings.Contains(out, "stdio") {
		t.Errorf("stats text: exit %d:\n%s", code, out)
	}
}

// The bridge process ends as an IDE expects: exit 0 when the IDE closes
// its stdin (which cancels what is in flight), exit 1 with a word on stderr
// when the hub goes away; with the stream handed over to the hub (the
// relay) and copied in the bridge process.
func TestStdioBridgeEnds(t *testing.T) {
	u, _ := everythingUser(t, true)
	u.serve(t)
	for _, variant := range bridgeVariants {
		t.Run(variant.name, func(t *testing.T) {
			const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"ide","version":"1"}}}` + "\n"
			cmd, stdin, out, stderr := u.startBridge(t, variant.env)
			stdout := bufio.NewReader(out)
			if _, err := io.WriteString(stdin, initialize); err != nil {
				t.Fatal(err)
			}
			if line, err := stdout.ReadString('\n'); err != nil || !strings.Contains(line, `"result"`) {
				t.Fatalf("initialize: %q %v", line, err)
			}
			stdin.Close()
			if rest, _ := io.ReadAll(stdout); len(rest) != 0 {
				t.Errorf("after stdin closed, stdout had %q", rest)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("after the IDE closed stdin the bridge ended with %v; stderr: %s", err, stderr)
			}
			if stderr.String() != "" {
				t.Errorf("stderr: %s", stderr)
			}
		})
	}
	// The hub goes away under two bridges.
	var cmds []*exec.Cmd
	var errs []*testlog.Buffer
	for _, variant := range bridgeVariants {
		cmd, stdin, stdout, stderr := u.startBridge(t, variant.env)
		defer stdin.Close()
		_, _ = io.WriteString(stdin, `{"jsonrpc":"2.0","id":1,"method":"ping"}`+"\n")
		if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.Contains(line, `"result"`) {
			t.Fatalf("ping: %q %v", line, err)
		}
		cmds, errs = append(cmds, cmd), append(errs, stderr)
	}
	u.run(t, "stop")
	for i, cmd := range cmds {
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(errs[i].String(), "hub closed the connection") {
			t.Errorf("bridge %d after the hub stopped: %v, stderr %q", i, err, errs[i])
		}
	}
}

// A port change moves the bridge only once the new port is bound: when it
// is taken the bridge stays where the IDEs know it, and status says why;
// once it is free, the bridge moves there.
func TestBridgePortTakenKeepsTheOldPort(t *testing.T) {
	u := newUserEnv(t)
	first, taken := testpeers.FreePort(t), testpeers.FreePort(t)
	withPort := func(port int) string {
		return fmt.Sprintf(`{"hub": {"bridge": {"port": %d}, "oauth": {"callbackPort": %d}}, "mcpServers": {}}`, port, testpeers.FreePort(t))
	}
	u.writeConfig(t, withPort(first))
	h := u.serve(t)
	w := u.watch(t)
	firstURL := fmt.Sprintf("http://127.0.0.1:%d/mcp", first)
	w.until(t, "the bridge on its port", func(st *control.StatusResponse) bool { return st.Hub.Bridge == firstURL })

	holder, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", taken))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	u.writeConfig(t, withPort(taken))
	st := w.until(t, "the failed move reported", func(st *control.StatusResponse) bool {
		return strings.Contains(st.Hub.Bridge, "cannot move to")
	})
	if !strings.HasPrefix(st.Hub.Bridge, firstURL+" (") || !strings.Contains(st.Hub.Bridge, fmt.Sprint(taken)) {
		t.Errorf("status: Bridge = %q", st.Hub.Bridge)
	}
	// Still served where it was: a request without a token gets the
	// bridge's 401, not a refused connection.
	resp, err := http.Post(firstURL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("the bridge left its old port: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("old port answers %s", resp.Status)
	}

	// Once the port is free, the bridge moves there by itself.
	holder.Close()
	takenURL := fmt.Sprintf("http://127.0.0.1:%d/mcp", taken)
	for deadline := time.Now().Add(30 * time.Second); ; {
		st, err := w.client.Status(context.Background())
		if err == nil && st.Hub.Bridge == takenURL {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bridge did not move once the port was free: %q %v", st.Hub.Bridge, err)
		}
		time.Sleep(50 * time.Millisecond) // the hub announces no move: look again
	}
	if _, err := http.Post(firstURL, "application/json", strings.NewReader(`{}`)); err == nil {
		t.Error("the old port still answers after the move")
	}

	// Turning the token off while it runs is logged as loudly as at start.
	const loud = "hub.bridge.requireToken is false: ANY local program can use every server through "
	if strings.Contains(h.output(), loud) {
		t.Fatal("warned of an open bridge while it required tokens")
	}
	u.writeConfig(t, strings.Replace(withPort(taken), `"bridge": {`, `"bridge": {"requireToken": false, `, 1))
	w.until(t, "the open bridge logged", func(*control.StatusResponse) bool { return strings.Contains(h.output(), loud+takenURL) })
	if out, _, _ := u.run(t, "status"); !strings.Contains(out, takenURL+" (no client token required") {
		t.Errorf("status does not say the bridge is open:\n%s", out)
	}
}

// A script pipes its requests into 'mcptray bridge' (a file, then a pipe,
// as stdin): the input ends at once, and every request still gets its
// answer before the bridge exits.
func TestBridgeAnswersRequestsOfInputThatEnded(t *testing.T) {
	u, _ := everythingUser(t, true)
	u.start(t, nil, "serve")
	input := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"script","version":"1"}}}` + "\n" +
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}` + "\n" +
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ev__test_simple_text","arguments":{}}}` + "\n"
	file := filepath.Join(u.dir, "requests.jsonl")
	if err := os.WriteFile(file, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	for round := range 10 {
		for _, how := range []string{"file", "pipe"} {
			cmd := exec.Command(binPath, "bridge")
			cmd.Env = u.env
			if how == "file" {
				f, err := os.Open(file)
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stdin = f
				defer f.Close()
			} else {
				cmd.Stdin = strings.NewReader(input) // os/exec copies it through a pipe
			}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("round %d, %s: %v", round, how, err)
			}
			for _, id := range []string{`"id":1,`, `"id":2,`, `"id":3,`} {
				if !strings.Contains(string(out), id) {
					t.Fatalf("round %d, stdin a %s: no answer with %s in:\n%s", round, how, id, out)
				}
			}
		}
	}
}
