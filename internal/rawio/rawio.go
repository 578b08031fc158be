// Package rawio reads and writes sockets and pipes that Go's poller
// already manages, making each read(2) and write(2) directly rather than
// through the runtime's blocking-system-call path.
//
// Why: a goroutine entering a system call the ordinary way wakes Go's
// sysmon thread whenever it is asleep, and the woken sysmon then polls
// every 20 µs until the process is idle again. A process that wakes for
// each message, as the hub does for every proxied call, pays that on
// every message: measured here, a bare Go TCP relay took 6.3 context
// switches and 147 µs of CPU per MCP call, the same relay on rawio 2.2 and
// 67 µs, and a C relay (socat) 1.0 and 26 µs. A non-blocking descriptor
// never blocks in read or write, so nothing is lost by keeping the P: the
// waiting is still done by the poller, deadlines and Close included.
package rawio

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Conn returns nc reading and writing directly where it can (a TCP or
// Unix socket on Linux), or nc itself.
func Conn(nc net.Conn) net.Conn {
	sc, ok := nc.(syscall.Conn)
	if !ok || !supported {
		return nc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nc
	}
	return &conn{Conn: nc, rc: rc}
}

// File returns f reading and writing directly where it can (a pipe or
// socket in the poller, on Linux), or f itself.
func File(f *os.File) io.ReadWriteCloser {
	if !supported {
		return f
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return f
	}
	return &file{File: f, rc: rc}
}

type conn struct {
	net.Conn
	rc syscall.RawConn
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := read(c.rc, p)
	if err != nil && err != io.EOF {
		err = c.opError("read", err)
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := write(c.rc, p)
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

// opError is err as net.Conn gives it.
func (c *conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// ErrNotReady is ReadNow's answer when nothing has arrived to read.
var ErrNotReady = errors.New("nothing has arrived to read yet")

// ReadsNow reports whether ReadNow can read nc: whether Conn wrapped it.
func ReadsNow(nc net.Conn) bool {
	_, ok := nc.(*conn)
	return ok
}

// ReadNow reads what nc has already received, without waiting for more:
// ErrNotReady if nothing has (and always where ReadsNow is false).
func ReadNow(nc net.Conn, p []byte) (int, error) {
	c, ok := nc.(*conn)
	if !ok {
		return 0, ErrNotReady
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	if err := c.rc.Read(func(fd uintptr) bool {
		for {
			n, errno = sysRead(fd, p)
			if errno != syscall.EINTR {
				return true // EAGAIN too: the poller does not wait
			}
		}
	}); err != nil {
		return 0, c.opError("read", err)
	}
	switch {
	case errno == syscall.EAGAIN:
		return 0, ErrNotReady
	case errno != 0:
		return 0, c.opError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// SyscallConn keeps the descriptor reachable (a pool's liveness peek).
func (c *conn) SyscallConn() (syscall.RawConn, error) { return c.rc, nil }

type file struct {
	*os.File
	rc syscall.RawConn
}

func (f *file) Read(p []byte) (int, error) {
	n, err := read(f.rc, p)
	if err != nil && err != io.EOF {
		err = f.wrap("read", err)
	}
	return n, err
}

func (f *file) Write(p []byte) (int, error) {
	n, err := write(f.rc, p)
	if err != nil {
		err = f.wrap("write", err)
	}
	return n, err
}

// wrap is err as os.File gives it: os.ErrClosed once the file is closed
// (the poller's own error for that is not exported).
func (f *file) wrap(op string, err error) error {
	if f.rc.Control(func(uintptr) {}) != nil {
		err = os.ErrClosed
	}
	return &os.PathError{Op: op, Path: f.Name(), Err: err}
}

// read is one read(2) once the descriptor is readable: io.EOF at the end.
func read(rc syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	if err := rc.Read(func(fd uintptr) bool {
		for {
			n, errno = sysRead(fd, p)
			switch errno {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // the poller waits
			}
			return true
		}
	}); err != nil {
		return 0, err
	}
	switch {
	case errno != 0:
		return 0, errno
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// write writes all of p, waiting in the poller whenever the descriptor is
// full.
func write(rc syscall.RawConn, p []byte) (int, error) {
	done := 0
	var errno syscall.Errno
	err := rc.Write(func(fd uintptr) bool {
		for done < len(p) {
			n, e := sysWrite(fd, p[done:])
			switch e {
			case 0:
				done += n
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	})
	if err == nil && errno != 0 {
		err = errno
	}
	return done, err
}
