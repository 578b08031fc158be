//go:build unix

package app

import "syscall"

// detachedProcess puts a background hub in its own session: no terminal,
// and no signal sent to the starter's process group reaches it.
func detachedProcess() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
