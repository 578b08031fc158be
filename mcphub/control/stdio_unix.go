//go:build unix

package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// The stdio bridge hands its standard input and output to the hub over
// the control socket (SCM_RIGHTS): the hub then reads the IDE's requests
// from the IDE's own pipe and writes the answers to it, and the bridge
// process only waits. Without the hand-over every message would cross one
// more process, which was about a third of the stdio bridge's cost per
// call (docs/benchmarks.md).

// StdioPassable reports whether this process's stdin and stdout can be
// handed over: pipes or sockets, as IDEs give. A terminal or a file is
// not, since the hub puts what it is given in non-blocking mode, which
// would leak to a shell sharing the terminal.
func StdioPassable() bool {
	for _, fd := range []int{0, 1} {
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) != nil {
			return false
		}
		if m := st.Mode & syscall.S_IFMT; m != syscall.S_IFIFO && m != syscall.S_IFSOCK {
			return false
		}
	}
	return true
}

// SendStdio hands this process's stdin and stdout to the hub at the other
// end of conn.
func SendStdio(conn net.Conn) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return errors.New("the hub connection is not a unix socket")
	}
	_, _, err := uc.WriteMsgUnix([]byte{'F'}, syscall.UnixRights(0, 1), nil)
	return err
}

// receiveStdio takes the descriptors SendStdio sent, as pollable files.
func receiveStdio(conn net.Conn) (in, out *os.File, err error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, nil, errors.New("not a unix socket")
	}
	_ = uc.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer uc.SetReadDeadline(time.Time{})
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	var fds []int
	var recvErr error
	err = rc.Read(func(s uintptr) bool {
		fds, recvErr = recvRights(int(s))
		return !errors.Is(recvErr, syscall.EAGAIN)
	})
	if err == nil {
		err = recvErr
	}
	if err != nil || len(fds) != 2 {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("receive the bridge's stdin and stdout: %w", err)
		}
		return nil, nil, errors.New("the bridge did not send its stdin and stdout")
	}
	for _, fd := range fds {
		_ = syscall.SetNonblock(fd, true) // then os.NewFile puts it in the poller
	}
	return os.NewFile(uintptr(fds[0]), "bridge stdin"), os.NewFile(uintptr(fds[1]), "bridge stdout"), nil
}

// recvRights reads the one byte SendStdio sends and the descriptors with
// it, close-on-exec before any process can be started: a stdio server
// started at that moment must not inherit the IDE's pipes (which would
// then stay open after the bridge ends). MSG_CMSG_CLOEXEC does it in the
// kernel where there is one; the fork lock covers the other systems, and
// processes started by Go.
func recvRights(s int) ([]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	var b [1]byte
	oob := make([]byte, syscall.CmsgSpace(2*4))
	var oobn int
	var err error
	for {
		_, oobn, _, _, err = syscall.Recvmsg(s, b[:], oob, cmsgCloexec)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	var fds []int
	for _, m := range msgs {
		if got, err := syscall.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	for _, fd := range fds {
		syscall.CloseOnExec(fd)
	}
	if err != nil {
		return fds, fmt.Errorf("parse the control message: %w", err)
	}
	return fds, nil
}
