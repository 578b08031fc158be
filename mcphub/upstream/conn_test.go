package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/testlog"
	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
)

var fastBackoff = Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}

// protected serves an MCP server behind go-sdk's bearer-token middleware,
// which answers 401 with a resource_metadata challenge.
func protected(t *testing.T, validToken string) *httptest.Server {
	verify := func(_ context.Context, tok string, _ *http.Request) (*auth.TokenInfo, error) {
		if tok == validToken {
			return &auth.TokenInfo{Expiration: time.Now().Add(time.Hour)}, nil
		}
		return nil, auth.ErrInvalidToken
	}
	mw := auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL: "https://as.example/.well-known/oauth-protected-resource/mcp",
	})
	srv := httptest.NewServer(mw(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return schemaServer() }, nil)))
	t.Cleanup(srv.Close)
	return srv
}

func collect(c *Conn) (chan status.Status, Options) {
	events := make(chan status.Status, 100)
	return events, Options{Backoff: fastBackoff, OnStatus: func(s status.Status) { events <- s }}
}

func waitFor(t *testing.T, events <-chan status.Status, want status.State) status.Status {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case st := <-events:
			if st.State == want {
				return st
			}
		case <-timeout:
			t.Fatalf("never reached %s", want)
		}
	}
}

func TestUnauthorizedNeedsAuth(t *testing.T) {
	srv := protected(t, "good-token")
	events, opts := collect(nil)
	c := Start(config.Server{ID: "p", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 10 * time.Second}, opts)
	defer c.Stop()
	st := waitFor(t, events, status.NeedsAuth)
	if st.Challenge == nil || st.Challenge.Status != 401 ||
		st.Challenge.ResourceMetadata != "https://as.example/.well-known/oauth-protected-resource/mcp" {
		t.Errorf("challenge = %+v", st.Challenge)
	}
	// needs_auth does not retry on its own: no further attempts arrive.
	select {
	case st := <-events:
		t.Errorf("a needs_auth server retried by itself: %+v", st)
	case <-time.After(3 * fastBackoff.Max):
	}
}

// A 401 to configured credentials from a server that is not an OAuth
// server (no resource_metadata) is a configuration problem, not a sign-in.
func TestRejectedStaticCredentials(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer plain.Close()
	events, opts := collect(nil)
	c := Start(config.Server{ID: "s", Transport: config.TransportHTTP, URL: plain.URL, Timeout: 10 * time.Second,
		Headers: map[string]string{"Authorization": "Bearer sk-the-configured-secret"}}, opts)
	defer c.Stop()
	st := waitFor(t, events, status.Error)
	if !strings.Contains(st.Reason, "rejected the configured credentials (HTTP 401: invalid_token)") {
		t.Errorf("reason = %q", st.Reason)
	}
	if strings.Contains(st.Reason, "sk-the-configured-secret") {
		t.Error("the reason contains the configured secret")
	}
}

// A server that forgets the session answers 404; the hub initializes a new
// session at once, without a backoff wait.
func TestExpiredSessionReinitializes(t *testing.T) {
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return schemaServer() },
		&mcp.StreamableHTTPOptions{SessionTimeout: 300 * time.Millisecond})
	srv := httptest.NewServer(handler)
	defer srv.Close()
	events, opts := collect(nil)
	opts.Backoff = Backoff{Min: time.Hour, Max: time.Hour} // a backoff wait would fail the test
	opts.KeepAlive = time.Hour                             // let the session idle out
	c := Start(config.Server{ID: "e", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 10 * time.Second,
		ProtocolVersion: "2025-11-25"}, opts)
	defer c.Stop()
	waitFor(t, events, status.Connected)
	first := c.Session().ID()
	st := waitFor(t, events, status.Connected)
	if second := c.Session().ID(); second == first || second == "" {
		t.Errorf("session %q after expiry of %q", second, first)
	}
	if st.State != status.Connected {
		t.Errorf("state %s", st.State)
	}
}

func stdioServer(t *testing.T, shell string) config.Server {
	return config.Server{ID: "local", Transport: config.TransportStdio, Command: "sh", Args: []string{"-c", shell},
		Timeout: 20 * time.Second}
}

// A stdio server that exits is started again.
func TestStdioRestartsAfterExit(t *testing.T) {
	bin := testpeers.EverythingServerBin(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	events, opts := collect(nil)
	c := Start(stdioServer(t, fmt.Sprintf("echo $$ > %s; exec %s", pidFile, bin)), opts)
	defer c.Stop()
	waitFor(t, events, status.Connected)
	pid := readPID(t, pidFile)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, events, status.Error)
	if !strings.Contains(st.Reason, "session ended") {
		t.Errorf("reason = %q", st.Reason)
	}
	waitFor(t, events, status.Connected)
	if again := readPID(t, pidFile); again == pid {
		t.Error("the server was not restarted")
	}
}

// Stopping a stdio server also stops what it started (npx -> node).
func TestStdioStopKillsProcessGroup(t *testing.T) {
	bin := testpeers.EverythingServerBin(t)
	pidFile := filepath.Join(t.TempDir(), "child")
	events, opts := collect(nil)
	c := Start(stdioServer(t, fmt.Sprintf("sleep 300 & echo $! > %s; exec %s", pidFile, bin)), opts)
	waitFor(t, events, status.Connected)
	child := readPID(t, pidFile)
	if !alive(child) {
		t.Fatal("the grandchild is not running")
	}
	c.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for alive(child) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d outlived its server", child)
		}
		time.Sleep(20 * time.Millisecond) // polling a PID: there is no event for another process's death
	}
}

func TestStdioMissingCommand(t *testing.T) {
	events, opts := collect(nil)
	c := Start(config.Server{ID: "x", Transport: config.TransportStdio, Command: "no-such-command-mcptray", Timeout: time.Second}, opts)
	defer c.Stop()
	st := waitFor(t, events, status.Error)
	if st.Reason != `command "no-such-command-mcptray" was not found on PATH` || st.NextRetry.IsZero() {
		t.Errorf("status = %+v", st)
	}
}

// A command named by a path that is not there, or not a program, says
// so, not exec's "fork/exec PATH: no such file or directory".
func TestStdioCommandPathIsChecked(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "server.js")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for cmd, want := range map[string]string{
		filepath.Join(dir, "nope"): `command "` + filepath.Join(dir, "nope") + `" does not exist`,
		plain:                      `command "` + plain + `" is not an executable file`,
		dir:                        `command "` + dir + `" is not an executable file`,
	} {
		events, opts := collect(nil)
		c := Start(config.Server{ID: "x", Transport: config.TransportStdio, Command: cmd, Timeout: time.Second}, opts)
		st := waitFor(t, events, status.Error)
		c.Stop()
		if st.Reason != want {
			t.Errorf("%s: reason %q, want %q", cmd, st.Reason, want)
		}
	}
}

func TestStdioFailureShowsStderr(t *testing.T) {
	events, opts := collect(nil)
	c := Start(stdioServer(t, "echo 'Error: cannot find module @acme/mcp' >&2; exit 1"), opts)
	defer c.Stop()
	st := waitFor(t, events, status.Error)
	if !strings.Contains(st.Reason, "its last output: Error: cannot find module @acme/mcp") {
		t.Errorf("reason = %q", st.Reason)
	}
}

// The keyring password the hub was started with is not passed on to the
// servers it starts; the rest of its environment is.
func TestStdioServerDoesNotInheritKeyringPassword(t *testing.T) {
	t.Setenv("MCPTRAY_KEYRING_PASSWORD", "hub-secret")
	t.Setenv("MCPTRAY_TEST_INHERITED", "yes")
	envFile := filepath.Join(t.TempDir(), "env")
	events, opts := collect(nil)
	c := Start(stdioServer(t, fmt.Sprintf("env > %s; exit 1", envFile)), opts)
	defer c.Stop()
	waitFor(t, events, status.Error) // it wrote the file before exiting
	data, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(string(data), "\n")
	if slices.Contains(env, "MCPTRAY_KEYRING_PASSWORD=hub-secret") {
		t.Error("the server was given the hub's keyring password")
	}
	if !slices.Contains(env, "MCPTRAY_TEST_INHERITED=yes") {
		t.Error("the server did not inherit the rest of the hub's environment")
	}
}

func TestDialReportsNeedsAuth(t *testing.T) {
	srv := protected(t, "good-token")
	_, err := Dial(context.Background(), config.Server{ID: "p", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 5 * time.Second}, Options{})
	var na *NeedsAuthError
	if !errors.As(err, &na) || na.Challenge.Status != 401 {
		t.Fatalf("Dial = %v", err)
	}
	s, err := Dial(context.Background(), config.Server{ID: "p", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 5 * time.Second,
		Headers: map[string]string{"Authorization": "Bearer good-token"}}, Options{})
	if err != nil {
		t.Fatalf("Dial with a token: %v", err)
	}
	defer s.Close()
	if len(s.Catalog.Tools) != 1 {
		t.Errorf("tools = %d", len(s.Catalog.Tools))
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func alive(pid int) bool {
	// A zombie (exited, not yet reaped by its new parent) counts as gone.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data))
	return len(fields) > 2 && fields[2] != "Z"
}

// A session that ends is logged without the server's secrets: transport
// errors quote the URL, whose query may hold an API key.
func TestEndedSessionLogIsRedacted(t *testing.T) {
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return schemaServer() }, nil))
	events, opts := collect(nil)
	var logs testlog.Buffer
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	opts.KeepAlive = 100 * time.Millisecond // a ping notices the server is gone
	c := Start(config.Server{ID: "k", Transport: config.TransportHTTP, URL: srv.URL + "/?apiKey=sk-SUPERSECRET-123",
		Timeout: 10 * time.Second, ProtocolVersion: "2025-11-25"}, opts)
	defer c.Stop()
	waitFor(t, events, status.Connected)
	srv.CloseClientConnections()
	srv.Close()
	waitFor(t, events, status.Error)
	if !strings.Contains(logs.String(), "upstream session ended") || strings.Contains(logs.String(), "sk-SUPERSECRET-123") {
		t.Errorf("log:\n%s", logs.String())
	}
}
