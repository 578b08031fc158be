package upstream

import (
	"os/exec"
	"syscall"
)

// setProcessGroup gives the server its own process group on Windows, so a
// Ctrl-C in the hub's console does not reach it directly.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
