//go:build unix

// Command mcptray-relay is the stdio bridge after its set-up: 'mcptray
// bridge' connects to the hub, then replaces itself with this program,
// which only copies stdin to the hub and the hub to stdout. It is tiny on
// purpose: an IDE starts one per window, and it stays resident all day.
//
// Usage (by mcptray only): mcptray-relay FD [wait], where FD is the
// connected socket; with wait, the hub has taken this process's stdin and
// stdout and serves them itself, and the relay only waits for its last
// word.
package main

import (
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
)

// streamEnded is control.StreamEnded (the relay imports nothing of the
// hub's, to stay small).
const streamEnded = '0'

const hubGone = "mcptray bridge: the MCP Tray hub closed the connection (did it stop?); restart this MCP server in the IDE\n"

func main() {
	if len(os.Args) != 2 && (len(os.Args) != 3 || os.Args[2] != "wait") {
		os.Stderr.WriteString("mcptray-relay is started by 'mcptray bridge'; run that instead\n")
		os.Exit(64)
	}
	fd, err := strconv.Atoi(os.Args[1])
	if err != nil || fd < 3 {
		os.Stderr.WriteString("mcptray-relay: bad socket descriptor\n")
		os.Exit(64)
	}
	hub := os.NewFile(uintptr(fd), "hub")
	if len(os.Args) == 3 {
		// The hub's last word: the stream ended, why the hand-over
		// failed, or nothing (it went away).
		said, _ := io.ReadAll(io.LimitReader(hub, 4<<10))
		switch {
		case len(said) == 1 && said[0] == streamEnded:
			os.Exit(0)
		case len(said) > 0:
			os.Stderr.WriteString("mcptray bridge: the MCP Tray hub: " + string(said) + "\n")
		default:
			os.Stderr.WriteString(hubGone)
		}
		os.Exit(1)
	}
	var inputDone atomic.Bool
	go func() {
		_, _ = io.Copy(hub, os.Stdin)
		inputDone.Store(true)
		// The IDE is done: say so; the hub cancels what is in flight and
		// closes the connection after the answers already on their way.
		_ = syscall.Shutdown(fd, syscall.SHUT_WR)
	}()
	_, err = io.Copy(os.Stdout, hub)
	if !inputDone.Load() {
		msg := hubGone
		if err != nil {
			msg = "mcptray bridge: " + err.Error() + "\n"
		}
		os.Stderr.WriteString(msg)
		os.Exit(1)
	}
}
