//go:build unix && !linux

package rawio

import "syscall"

// peek is the ordinary recv(2) where direct calls are not made.
func peek(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, err := syscall.Recvfrom(int(fd), p, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	errno, _ := err.(syscall.Errno)
	return n, errno
}
