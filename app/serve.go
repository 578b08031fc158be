package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcptray/mcptray/mcphub/control"
)

// readyFDEnv names the file descriptor a detached hub reports on: one line,
// "ready URL" or "error: WHY", then it closes it.
const readyFDEnv = "MCPTRAY_READY_FD"

func runServe(env *cliEnv, args []string) int {
	fs := env.newFlags("serve")
	detach := fs.Bool("detach", false, "run in the background; return once the hub is ready")
	if !env.parseFlags(fs, args) {
		return exitUsage
	}
	ready := readyReporter()
	paths, err := resolvePaths(env.configFlag)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray serve: %v\n", err)
		ready("error: " + err.Error())
		return exitFail
	}
	if *detach {
		return serveDetached(env, paths)
	}
	r, err := startHub(env, paths, "serve")
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray serve: %v\n", err)
		if held := (*control.HeldError)(nil); errors.As(err, &held) {
			ready("held: " + err.Error())
			return exitHeld // as serve --detach says it
		}
		ready("error: " + err.Error())
		return exitFail
	}
	r.printStarted(env)
	ready("ready " + r.info().Bridge)

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
wait:
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				r.log.Info("SIGHUP: reloading the configuration")
				_ = r.hub.Reload()
				continue
			}
			r.log.Info("shutting down", "signal", sig.String())
			break wait
		case <-r.stopping:
			r.log.Info("shutting down: asked over the control socket")
			break wait
		case req := <-r.windows:
			// 'mcptray' was started on a display: the window opens here,
			// over this hub; quitting it ends the app, as MCP Tray's does.
			if openWindow(env, r, req, signals) {
				break wait
			}
		}
	}
	signal.Stop(signals)
	r.Close()
	return exitOK
}

// readyReporter returns how this process tells the one that detached it
// how start-up went (a no-op when nobody asked).
func readyReporter() func(string) {
	n, err := strconv.Atoi(os.Getenv(readyFDEnv))
	os.Unsetenv(readyFDEnv) // not for the servers this hub starts
	if err != nil || n < 3 {
		return func(string) {}
	}
	f := os.NewFile(uintptr(n), "ready")
	return func(line string) {
		if f != nil {
			fmt.Fprintln(f, strings.ReplaceAll(line, "\n", " "))
			f.Close()
			f = nil
		}
	}
}

// stopCommand is the command that stops the hub of paths' file: a hub of
// another file than the default one is named, or 'mcptray stop' would
// stop the default one's.
func stopCommand(paths Paths) string {
	if paths.isDefaultConfig() {
		return "mcptray stop"
	}
	return fmt.Sprintf("mcptray stop --config %q", paths.Config)
}

// serveDetached starts 'mcptray serve' in its own session, with no
// terminal, and waits until it is ready: the hub then outlives the
// command, the terminal and the IDE that caused it to start.
func serveDetached(env *cliEnv, paths Paths) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray serve: %v\n", err)
		return exitFail
	}
	// The file as resolved here: the hub starts in another folder
	// (hubDir), where a relative --config or MCPTRAY_CONFIG names another.
	args := []string{"serve", "--config", paths.Config}
	deadline := time.Now().Add(2 * time.Minute) // a keyring unlock prompt can take a person this long
	for tries := 1; ; tries++ {
		pid, l, err := startDetached(exe, args, deadline)
		if err != nil {
			fmt.Fprintf(env.stderr, "mcptray serve: start the hub: %v\n", err)
			return exitFail
		}
		if url, ok := strings.CutPrefix(l, "ready "); ok {
			fmt.Fprintf(env.stderr, "MCP Tray hub started in the background (process %d); bridge %s. '%s' stops it.\n", pid, url, stopCommand(paths))
			return exitOK
		}
		if why, ok := strings.CutPrefix(l, "held: "); ok {
			// A hub that is shutting down still holds the configuration
			// (its servers can take seconds to stop): start once it has
			// let go. One that serves, or starts to, is left to it.
			if tries < 5 && holderLetGo(paths, deadline) {
				continue
			}
			fmt.Fprintf(env.stderr, "mcptray serve: the background hub did not start: %s\n", why)
			return exitHeld
		}
		if why, ok := strings.CutPrefix(l, "error: "); ok {
			fmt.Fprintf(env.stderr, "mcptray serve: the background hub did not start: %s\n", why)
			return exitFail
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(env.stderr, "mcptray serve: the background hub (process %d) is not ready after 2 minutes; see its log\n", pid)
			return exitFail
		}
		fmt.Fprintf(env.stderr, "mcptray serve: the background hub (process %d) exited while starting; run 'mcptray serve' to see why\n", pid)
		return exitFail
	}
}

// startDetached starts the hub process and returns the line it reports
// start-up with: "" when it exited without one or deadline passed.
func startDetached(exe string, args []string, deadline time.Time) (pid int, line string, err error) {
	rd, wr, err := os.Pipe()
	if err != nil {
		return 0, "", err
	}
	defer rd.Close()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{wr} // fd 3
	cmd.SysProcAttr = detachedProcess()
	cmd.Dir = hubDir()
	err = cmd.Start()
	wr.Close()
	if err != nil {
		return 0, "", err
	}
	pid = cmd.Process.Pid
	_ = cmd.Process.Release()

	lines := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(rd).ReadString('\n')
		lines <- strings.TrimSpace(s)
	}()
	select {
	case line = <-lines:
	case <-time.After(time.Until(deadline)):
	}
	return pid, line, nil
}

// holderLetGo waits for the process that holds the configuration's lock,
// while no hub answers, to either serve (a hub that another IDE window
// started a moment before) or let go (one that was shutting down). It
// reports whether the lock was let go.
func holderLetGo(paths Paths, deadline time.Time) bool {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	released := make(chan error, 1)
	// Blocked until the holder lets go; this process exits soon after, the
	// wait with it.
	go func() { released <- control.WaitReleased(ctx, paths.Control()) }()
	look := time.NewTicker(50 * time.Millisecond) // a hub getting ready announces nothing; look again shortly
	defer look.Stop()
	for !hubAnswers(paths) {
		select {
		case err := <-released:
			return err == nil
		case <-look.C:
		}
	}
	return false
}

// hubDir is where a background hub runs: the user's home folder, not the
// folder of whatever started it (an IDE's project), which every stdio
// server without a "cwd" would otherwise run in, whichever window it
// serves.
func hubDir() string {
	if home, err := os.UserHomeDir(); err == nil && filepath.IsAbs(home) {
		if fi, err := os.Stat(home); err == nil && fi.IsDir() {
			return home
		}
	}
	return string(filepath.Separator)
}

func runStop(env *cliEnv, args []string) int {
	fs := env.newFlags("stop")
	if !env.parseFlags(fs, args) {
		return exitUsage
	}
	client, _, code := env.dialHub("stop")
	if client == nil {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Shutdown(ctx); err != nil {
		fmt.Fprintf(env.stderr, "mcptray stop: %v\n", err)
		return exitFail
	}
	// The hub releases its lock last; wait for it so a following start
	// finds the way clear.
	paths, err := resolvePaths(env.configFlag)
	if err == nil {
		if err := control.WaitReleased(ctx, paths.Control()); err != nil {
			fmt.Fprintf(env.stderr, "mcptray stop: asked the hub to stop, but it still runs: %v\n", err)
			return exitFail
		}
	}
	fmt.Fprintln(env.stdout, "Stopped the hub.")
	return exitOK
}

// printStarted says on stderr where everything is.
func (r *runningHub) printStarted(env *cliEnv) {
	info := r.info()
	fmt.Fprintf(env.stderr, "MCP Tray hub %s serving %s\n  bridge:         %s\n  control socket: %s\n  log file:       %s\n  keyring:        %s\n",
		info.Version, r.paths.Config, orUnknown(info.Bridge), info.Socket, orUnknown(info.LogFile), orUnknown(info.Keyring))
}
