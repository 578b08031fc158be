//go:build unix

package upstream

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts a stdio server in its own process group, so that its
// children (npx starts node, uvx starts python) can be stopped with it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

// killGroup kills whatever is left of the server's process group after
// go-sdk's shutdown (stdin closed, SIGTERM, SIGKILL to the child itself).
func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
