//go:build !linux

package rawio

import "syscall"

// Elsewhere the ordinary system calls serve: Conn and File return their
// argument.
const supported = false

func sysRead(uintptr, []byte) (int, syscall.Errno)  { return 0, syscall.ENOSYS }
func sysWrite(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.ENOSYS }
