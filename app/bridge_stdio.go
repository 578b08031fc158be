package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/mcptray/mcptray/mcphub/control"
)

// relayEnv overrides where the relay program is: a path, or "off" to
// copy stdin and stdout in this process (no relay program, no hand-over).
const relayEnv = "MCPTRAY_RELAY"

// runBridge is what an IDE starts: JSON lines on stdin/stdout, relayed to
// the running hub's bridge over the control socket (no client token
// needed). Nothing but protocol is written to stdout.
func runBridge(env *cliEnv, args []string) int {
	fs := env.newFlags("bridge")
	server := fs.String("server", "", "only this server's tools, prompts and resources, names unchanged (default: every server)")
	if !env.parseFlags(fs, args) {
		return exitUsage
	}
	id := ""
	if flagGiven(fs, "server") { // --server "" would otherwise mean every server
		var ok bool
		if id, ok = env.serverID("bridge", *server); !ok {
			return exitUsage
		}
	}
	paths, err := resolvePaths(env.configFlag)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray bridge: %v\n", err)
		return exitFail
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	conn, handedOver, err := openBridge(ctx, env, paths, id)
	cancel()
	if err == nil && handedOver {
		err = control.SendStdio(conn)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray bridge: %v\n", err)
		return exitFail
	}
	if prog := relayProgram(); prog != "" {
		err := execRelay(prog, conn, handedOver) // returns only if the exec failed
		fmt.Fprintf(env.stderr, "mcptray bridge: cannot run %s (%v); staying in this process\n", prog, err)
	}
	if handedOver {
		return waitHere(env, conn)
	}
	return relayHere(env, conn)
}

// openBridge connects to the hub, starting one in the background when
// none runs.
func openBridge(ctx context.Context, env *cliEnv, paths Paths, server string) (net.Conn, bool, error) {
	conn, handedOver, err := dialBridge(ctx, env, paths, server)
	if !errors.Is(err, control.ErrNoHub) {
		return conn, handedOver, err
	}
	fmt.Fprintf(env.stderr, "mcptray bridge: no MCP Tray hub is running for %s; starting one in the background\n", paths.Config)
	exe, err := os.Executable()
	if err != nil {
		return nil, false, err
	}
	// The file as resolved here, absolute: relative to the IDE's folder.
	args := []string{"serve", "--detach", "--config", paths.Config}
	var news bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = &news // its one line of news, never stdout
	startErr := cmd.Run()
	var exit *exec.ExitError
	if errors.As(startErr, &exit) && exit.ExitCode() == exitHeld {
		// Another IDE window started the hub a moment before this one:
		// not news, unless it never gets ready.
		fmt.Fprintln(env.stderr, "mcptray bridge: another window is starting the hub; using that one")
		if werr := waitForHub(env, 30*time.Second); werr != nil {
			_, _ = env.stderr.Write(news.Bytes())
		}
	} else {
		_, _ = env.stderr.Write(news.Bytes())
	}
	conn, handedOver, err = dialBridge(ctx, env, paths, server)
	if errors.Is(err, control.ErrNoHub) {
		return nil, false, fmt.Errorf("could not start a hub for %s; run 'mcptray serve' in a terminal to see why", paths.Config)
	}
	return conn, handedOver, err
}

// dialBridge opens the bridge connection; handedOver: the hub takes this
// process's stdin and stdout (an IDE's pipes) and serves them itself.
// What the hub says the IDE's log should know (a broken configuration, a
// server signed out) goes to stderr.
func dialBridge(ctx context.Context, env *cliEnv, paths Paths, server string) (net.Conn, bool, error) {
	client, err := control.Dial(paths.Control())
	if err != nil {
		return nil, false, err
	}
	conn, handedOver, notices, err := client.OpenBridge(ctx, server, control.StdioPassable() && os.Getenv(relayEnv) != "off")
	for _, n := range notices {
		fmt.Fprintf(env.stderr, "mcptray bridge: %s\n", n)
	}
	return conn, handedOver, err
}

// relayProgram is the small relay next to this executable, if any.
func relayProgram() string {
	switch v := os.Getenv(relayEnv); v {
	case "off":
		return ""
	case "":
	default:
		return v
	}
	exe, err := executable()
	if err != nil {
		return ""
	}
	prog := filepath.Join(filepath.Dir(exe), relayName)
	if fi, err := os.Stat(prog); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return ""
	}
	return prog
}

// waitHere waits in this process for the hub to end a handed-over stream
// (no relay program found).
func waitHere(env *cliEnv, conn net.Conn) int {
	said, err := io.ReadAll(io.LimitReader(conn, 4<<10))
	switch {
	case string(said) == string(control.StreamEnded):
		return exitOK
	case len(said) > 0:
		err = fmt.Errorf("the MCP Tray hub: %s", said)
	case err == nil:
		err = errors.New("the MCP Tray hub closed the connection (did it stop?); restart this MCP server in the IDE")
	}
	fmt.Fprintf(env.stderr, "mcptray bridge: %v\n", err)
	return exitFail
}

// relayHere copies both ways in this process (no relay program found).
func relayHere(env *cliEnv, conn net.Conn) int {
	var inputDone atomic.Bool
	go func() {
		_, _ = io.Copy(conn, os.Stdin)
		inputDone.Store(true)
		if c, ok := conn.(interface{ CloseWrite() error }); ok {
			_ = c.CloseWrite()
		}
	}()
	_, err := io.Copy(os.Stdout, conn)
	if !inputDone.Load() {
		if err == nil {
			err = errors.New("the MCP Tray hub closed the connection (did it stop?); restart this MCP server in the IDE")
		}
		fmt.Fprintf(env.stderr, "mcptray bridge: %v\n", err)
		return exitFail
	}
	return exitOK
}
