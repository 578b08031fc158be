package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/mcptray/mcptray/mcphub/control"
)

// Two hubs started at the same moment for one configuration: exactly one
// wins and serves; the other exits at once saying which process holds it.
func TestTwoHubsAtOnce(t *testing.T) {
	for round := range 5 {
		u := newUserEnv(t)
		u.writeConfig(t, `{"mcpServers": {}}`)
		type hub struct {
			cmd    *exec.Cmd
			stderr bytes.Buffer
			exited chan error
		}
		hubs := make([]*hub, 2)
		for i := range hubs {
			h := &hub{cmd: exec.Command(binPath, "serve"), exited: make(chan error, 1)}
			h.cmd.Env = u.env
			h.cmd.Stderr = &h.stderr
			hubs[i] = h
		}
		for _, h := range hubs { // as close together as two starts get
			if err := h.cmd.Start(); err != nil {
				t.Fatal(err)
			}
		}
		for _, h := range hubs {
			go func() { h.exited <- h.cmd.Wait() }()
		}
		// The loser ends by itself; the winner runs until stopped.
		var loser, winner *hub
		select {
		case err := <-hubs[0].exited:
			loser, winner = hubs[0], hubs[1]
			hubs[0].exited <- err
		case err := <-hubs[1].exited:
			loser, winner = hubs[1], hubs[0]
			hubs[1].exited <- err
		}
		err := <-loser.exited
		msg := loser.stderr.String()
		if round == 0 {
			t.Logf("the second hub said: %s", strings.TrimSpace(msg))
		}
		want := fmt.Sprintf("another MCP Tray hub (process %d", winner.cmd.Process.Pid)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != exitHeld || !strings.Contains(msg, want) {
			t.Errorf("round %d: the second hub exited with %v, saying:\n%s\nwant exit %d naming process %d", round, err, msg, exitHeld, winner.cmd.Process.Pid)
		}
		out, _, code := u.run(t, "status", "--json", "--wait", "connected", "--timeout", "20s")
		var st control.StatusResponse
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Hub.PID != winner.cmd.Process.Pid {
			t.Errorf("round %d: status names hub %d (exit %d), want the winner %d", round, st.Hub.PID, code, winner.cmd.Process.Pid)
		}
		select {
		case err := <-winner.exited:
			t.Fatalf("round %d: the winner exited too: %v\n%s", round, err, winner.stderr.String())
		default:
		}
		_ = winner.cmd.Process.Signal(syscall.SIGTERM)
		<-winner.exited
	}
}
