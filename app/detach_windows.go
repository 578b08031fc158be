package app

import "syscall"

// detachedProcess starts a background hub without a console, in its own
// process group.
func detachedProcess() *syscall.SysProcAttr {
	const detachedProcessFlag = 0x00000008 // DETACHED_PROCESS
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP | detachedProcessFlag}
}
