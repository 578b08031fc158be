package app

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/atomicfile"
	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/mcphub/status"
)

// binPath is the mcptray binary built for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) {
	if target := os.Getenv(proxyTargetEnv); target != "" {
		serveReferenceProxy(target) // BenchmarkBridgeVsDirect's reference
		return
	}
	if target := os.Getenv(h1ProxyTargetEnv); target != "" {
		serveH1Proxy(target) // and the one on internal/h1
		return
	}
	dir, err := os.MkdirTemp("", "mcptray-e2e-")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "mcptray")
	// mcptray and, next to it as installed, the stdio bridge's relay.
	for _, b := range [][2]string{{binPath, ".."}, {filepath.Join(dir, relayName), "./relay"}} {
		build := exec.Command("go", "build", "-o", b[0], b[1])
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building mcptray for the end-to-end tests failed:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// userEnv is a private home for one test: config, data, state and runtime
// folders that no other test or user shares.
type userEnv struct {
	dir    string
	config string
	env    []string
}

func newUserEnv(t testing.TB) *userEnv {
	t.Helper()
	dir := t.TempDir()
	u := &userEnv{dir: dir, config: filepath.Join(dir, "config", "mcptray", "config.json")}
	u.env = append(os.Environ(),
		"HOME="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"XDG_RUNTIME_DIR="+filepath.Join(dir, "run"),
		"MCPTRAY_CONFIG=",
		"MCPTRAY_KEYRING_PASSWORD=e2e-test-password",
		// The locale of many servers and containers, which Fyne's init
		// complains about: the commands must stay quiet anyway.
		"LANG=C.UTF-8",
	)
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	return u
}

func (u *userEnv) writeConfig(t testing.TB, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(u.config), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(u.config, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// run runs the mcptray binary to completion.
func (u *userEnv) run(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return u.runAs(t, nil, args...)
}

// runAs is run as another user (nil: this process's).
func (u *userEnv) runAs(t testing.TB, as *syscall.Credential, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = u.env
	if as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: as}
	}
	return runCommand(t, cmd)
}

// runCommand runs cmd to its end: its output, and its exit code.
func runCommand(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// hubProcess is a running 'mcptray serve'.
type hubProcess struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
	err    error // how it exited, once done is closed
}

func (h *hubProcess) output() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stderr.String()
}

// serve starts 'mcptray serve' and waits until it reports where it listens.
func (u *userEnv) serve(t testing.TB, args ...string) *hubProcess {
	t.Helper()
	return u.start(t, nil, append([]string{"serve"}, args...)...)
}

// start runs mcptray with args (and env added to the user's) and waits
// until it reports where it listens; the test's end stops it with SIGTERM.
func (u *userEnv) start(t testing.TB, env []string, args ...string) *hubProcess {
	t.Helper()
	return u.startAs(t, nil, env, args...)
}

// startAs is start as another user (nil: this process's).
func (u *userEnv) startAs(t testing.TB, as *syscall.Credential, env []string, args ...string) *hubProcess {
	t.Helper()
	return u.startProgram(t, binPath, as, env, args...)
}

// startProgram is startAs of another mcptray binary, bin.
func (u *userEnv) startProgram(t testing.TB, bin string, as *syscall.Credential, env []string, args ...string) *hubProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append([]string{}, u.env...), env...)
	if as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: as}
	}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &hubProcess{cmd: cmd, done: make(chan struct{})}
	startedMu.Lock()
	started[cmd.Process.Pid] = h
	startedMu.Unlock()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		once := sync.Once{}
		for sc.Scan() {
			h.mu.Lock()
			h.stderr.WriteString(sc.Text() + "\n")
			h.mu.Unlock()
			if strings.Contains(sc.Text(), "control socket:") {
				once.Do(func() { close(ready) })
			}
		}
		h.err = cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("mcptray %s did not stop within 15s of SIGTERM", strings.Join(args, " "))
		}
	})
	select {
	case <-ready:
	case <-h.done:
		t.Fatalf("mcptray %s exited early:\n%s", strings.Join(args, " "), h.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("mcptray %s did not start:\n%s", strings.Join(args, " "), h.output())
	}
	return h
}

// quit stops it as the desktop does at logout (SIGTERM) and checks it
// exits cleanly.
func (h *hubProcess) quit(t *testing.T) {
	t.Helper()
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("it did not quit within 20s:\n%s", h.output())
	}
	if h.err != nil || strings.Contains(h.output(), "panic:") {
		t.Fatalf("it did not quit cleanly (%v):\n%s", h.err, h.output())
	}
}

// watcher follows a hub's event stream and answers "wait until".
type watcher struct {
	client *control.Client
	events chan status.Event
}

func (u *userEnv) watch(t testing.TB) *watcher {
	t.Helper()
	paths, err := resolvePaths(u.config)
	if err != nil {
		t.Fatal(err)
	}
	paths.Runtime = filepath.Join(u.dir, "run", "mcptray")
	client, err := control.Dial(paths.Control())
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{client: client, events: make(chan status.Event, 4096)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	subscribed := make(chan struct{})
	go func() {
		_ = client.EventsFrom(ctx, func() { close(subscribed) }, func(e status.Event) { w.events <- e })
	}()
	// Only once the hub follows the stream for us may until() look at the
	// status: a change in between would otherwise be missed.
	select {
	case <-subscribed:
	case <-time.After(30 * time.Second):
		t.Fatal("the hub's event stream did not open")
	}
	return w
}

// until waits for ok(status) to hold, rechecking after every event.
func (w *watcher) until(t testing.TB, what string, ok func(*control.StatusResponse) bool) *control.StatusResponse {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		st, err := w.client.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok(st) {
			return st
		}
		select {
		case <-w.events:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; status: %+v\n%s", what, st, hubPostMortem(st))
		}
	}
}

// hubPostMortem is what a stuck hub was doing: its goroutines (SIGQUIT
// makes it print them) and the end of its log.
func hubPostMortem(st *control.StatusResponse) string {
	var b strings.Builder
	if h := startedProcess(st.Hub.PID); h != nil {
		_ = h.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
		}
		b.WriteString("hub output:\n" + h.output())
	}
	if data, err := os.ReadFile(st.Hub.LogFile); err == nil {
		lines := strings.Split(string(data), "\n")
		b.WriteString("log:\n" + strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
	return b.String()
}

var (
	startedMu sync.Mutex
	started   = map[int]*hubProcess{} // the processes start ran, by PID
)

func startedProcess(pid int) *hubProcess {
	startedMu.Lock()
	defer startedMu.Unlock()
	return started[pid]
}

func states(st *control.StatusResponse) map[string]status.State {
	m := map[string]status.State{}
	for _, s := range st.Servers {
		m[s.ID] = s.Status.State
	}
	return m
}

func allConnected(ids ...string) func(*control.StatusResponse) bool {
	return func(st *control.StatusResponse) bool {
		m := states(st)
		if len(m) != len(ids) {
			return false
		}
		for _, id := range ids {
			if m[id] != status.Connected {
				return false
			}
		}
		return true
	}
}

// TestServeLiveReload walks a configuration through the edits people make,
// by rewriting the file both in place and by rename, and checks the running
// hub after each one.
func TestServeLiveReload(t *testing.T) {
	peer := testpeers.StartEverythingHTTP(t) // go-sdk fixture over HTTP
	node, script := testpeers.Node(t), testpeers.ServerEverythingScript(t)
	local := fmt.Sprintf(`{"command": %q, "args": [%q, "stdio"]`, node, script) // npm server-everything over stdio
	u := newUserEnv(t)
	u.writeConfig(t, fmt.Sprintf(`{"mcpServers": {"web": {"url": %q}}}`, peer.URL))
	h := u.serve(t)
	w := u.watch(t)
	w.until(t, "web connected", allConnected("web"))

	inPlace := func(content string) {
		t.Helper()
		if err := os.WriteFile(u.config, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	two := fmt.Sprintf(`{"mcpServers": {
  "web": {"url": %q},
  "local": %s}
}}`, peer.URL, local)

	// Add, by rename (how VS Code and most editors save).
	u.writeConfig(t, two)
	st := w.until(t, "local added and connected", allConnected("web", "local"))
	for _, s := range st.Servers {
		if s.Status.Counts.Tools == 0 {
			t.Errorf("%s connected with no tools", s.ID)
		}
	}
	out, _, _ := u.run(t, "status")
	t.Logf("mcptray status:\n%s", out)
	webSession := sessionOf(t, w, "web")

	// Change, in place (how vim without backup and echo > save).
	inPlace(fmt.Sprintf(`{"mcpServers": {
  "web": {"url": %q},
  "local": %s, "env": {"CHANGED": "yes"}}
}}`, peer.URL, local))
	before := time.Now()
	st = w.until(t, "local restarted", func(st *control.StatusResponse) bool {
		for _, s := range st.Servers {
			if s.ID == "local" && s.Status.State == status.Connected && s.Status.Since.After(before) {
				return true
			}
		}
		return false
	})
	if got := sessionOf(t, w, "web"); got != webSession {
		t.Errorf("editing 'local' restarted 'web' (connected since %v, now %v)", webSession, got)
	}
	_ = st

	// Break it: both keep running, the error names line and column.
	inPlace(strings.Replace(two, `"local": {`, `"local": {,`, 1))
	st = w.until(t, "config error reported", func(st *control.StatusResponse) bool { return st.ConfigError != "" })
	if !strings.Contains(st.ConfigError, "config.json:3:13: JSON syntax: unexpected ',' (expected a quoted key)") {
		t.Errorf("config error = %q", st.ConfigError)
	}
	if !allConnected("web", "local")(st) {
		t.Errorf("a broken file disturbed the running servers: %v", states(st))
	}
	out, _, code := u.run(t, "status")
	if code != 0 || !strings.Contains(out, "last good configuration keeps running") || !strings.Contains(out, "connected") {
		t.Errorf("mcptray status (exit %d):\n%s", code, out)
	}

	// Repair by rename: the error clears.
	u.writeConfig(t, two)
	w.until(t, "config error cleared", func(st *control.StatusResponse) bool { return st.ConfigError == "" })

	// Remove a server.
	u.writeConfig(t, fmt.Sprintf(`{"mcpServers": {"local": %s}}}`, local))
	w.until(t, "web removed", allConnected("local"))

	// SIGHUP reloads too (after an edit the watcher cannot see: none here,
	// so the hub must simply stay as it is and say it reloaded).
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	w.until(t, "still running after SIGHUP", allConnected("local"))
}

// sessionOf identifies the current upstream session of a server by when it
// connected: an unchanged server keeps its original Since.
func sessionOf(t *testing.T, w *watcher, id string) time.Time {
	t.Helper()
	st, err := w.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Servers {
		if s.ID == id {
			return s.Status.Since
		}
	}
	t.Fatalf("no server %s", id)
	return time.Time{}
}

func TestSecondServeRefuses(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {}}`)
	h := u.serve(t)
	_, stderr, code := u.run(t, "serve")
	want := fmt.Sprintf("another MCP Tray hub (process %d, serve,", h.cmd.Process.Pid)
	if code != exitHeld || !strings.Contains(stderr, want) {
		t.Errorf("second serve: exit %d, stderr:\n%s\nwant it to contain %q", code, stderr, want)
	}
}

func TestStatusWithoutHub(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {}}`)
	_, stderr, code := u.run(t, "status")
	if code != exitFail || !strings.Contains(stderr, "No MCP Tray hub is running for "+u.config) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	out, _, code := u.run(t, "status", "--json")
	if code != exitFail || !strings.Contains(out, `"running":false`) {
		t.Errorf("--json without hub: exit %d, %s", code, out)
	}
}

func TestFirstRunCreatesConfig(t *testing.T) {
	u := newUserEnv(t)
	h := u.serve(t)
	data, err := os.ReadFile(u.config)
	if err != nil {
		t.Fatalf("no config created: %v\n%s", err, h.output())
	}
	if !strings.Contains(string(data), `"mcpServers": {}`) || !strings.Contains(h.output(), "Created "+u.config) {
		t.Errorf("created config:\n%s\nserve said:\n%s", data, h.output())
	}
	fi, _ := os.Stat(u.config)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v", fi.Mode())
	}
	out, _, code := u.run(t, "status")
	if code != 0 || !strings.Contains(out, "No servers are configured yet.") {
		t.Errorf("status: %d %s", code, out)
	}
}

func TestValidateCommand(t *testing.T) {
	u := newUserEnv(t)
	bad := filepath.Join(u.dir, "bad.json")
	_ = os.WriteFile(bad, []byte("{\n  \"mcpServers\": {\"x\": {\"type\": \"websocket\", \"url\": \"wss://h\"}}\n}\n"), 0o600)
	_, stderr, code := u.run(t, "validate", bad)
	want := bad + `:2:32: server "x": unknown transport "websocket" (use "stdio", "http" or "sse")`
	if code != exitFail || strings.TrimSpace(stderr) != want {
		t.Errorf("validate bad: exit %d\n got %q\nwant %q", code, stderr, want)
	}
	// An error does not hide the warnings: one edit can fix both.
	both := filepath.Join(u.dir, "both.json")
	_ = os.WriteFile(both, []byte("{\n  \"mcpServer\": {},\n  \"mcpServers\": {\"x\": {\"type\": \"websocket\", \"url\": \"wss://h\"}}\n}\n"), 0o600)
	_, stderr, code = u.run(t, "validate", both)
	want = both + `:3:32: server "x": unknown transport "websocket" (use "stdio", "http" or "sse")` + "\n" +
		both + `:2:3: unknown top-level key "mcpServer" is ignored (expected "hub", "mcpServers" or "servers") (warning)`
	if code != exitFail || strings.TrimSpace(stderr) != want {
		t.Errorf("validate with an error and a warning: exit %d\n got %q\nwant %q", code, stderr, want)
	}
	good := filepath.Join(u.dir, "good.json")
	_ = os.WriteFile(good, []byte(`{"servers": {"x": {"type": "http", "url": "https://h/mcp"}}}`), 0o600)
	out, _, code := u.run(t, "validate", good)
	if code != 0 || !strings.Contains(out, "is valid: 1 server(s)") {
		t.Errorf("validate good: %d %s", code, out)
	}
}

func TestTestCommand(t *testing.T) {
	peer := testpeers.StartEverythingHTTP(t)
	u := newUserEnv(t)
	out, stderr, code := u.run(t, "test", peer.URL, "--tool", "test_simple_text", "--expect-tools", "test_simple_text,test_error_handling")
	if code != 0 || !strings.Contains(out, "Called test_simple_text") || !strings.Contains(out, "OK") {
		t.Errorf("test: exit %d\n%s\n%s", code, out, stderr)
	}
	out, _, code = u.run(t, "test", peer.URL, "-o", "json", "--expect-tools", "no_such_tool")
	if code != exitBroken || !strings.Contains(out, `"missing_tools": [`) {
		t.Errorf("missing tool: exit %d\n%s", code, out)
	}
	_, _, code = u.run(t, "test", peer.URL, "--tool", "test_error_handling")
	if code != exitBroken {
		t.Errorf("isError result: exit %d, want %d", code, exitBroken)
	}
	dead := fmt.Sprintf("http://127.0.0.1:%d/mcp", testpeers.FreePort(t))
	_, stderr, code = u.run(t, "test", dead)
	if code != exitFail || !strings.Contains(stderr, "connection refused") {
		t.Errorf("dead server: exit %d, %s", code, stderr)
	}
}
