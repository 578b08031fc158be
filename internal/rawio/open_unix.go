//go:build unix

package rawio

import (
	"net"
	"syscall"
)

// StillOpen reports whether an idle pooled connection is still usable:
// the server has neither closed it (a keep-alive timeout) nor sent
// anything unasked. A peek that does not wait costs one system call.
func StillOpen(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		// Nothing to read (neither data nor EOF) is what an idle
		// connection should have; the callback never waits.
		_, errno := peek(fd, buf[:])
		alive = errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && alive
}
