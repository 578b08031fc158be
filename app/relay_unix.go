//go:build unix

package app

import (
	"errors"
	"net"
	"os"
	"strconv"
	"syscall"
)

const relayName = "mcptray-relay"

// execRelay replaces this process with the relay program, handing it the
// connected socket: the IDE's process stays the same, but it is a few
// megabytes instead of the whole hub's code. wait: the hub has this
// process's stdin and stdout, and the relay only waits for the end.
func execRelay(prog string, conn net.Conn, wait bool) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return errors.New("not a unix socket")
	}
	f, err := uc.File() // a duplicate, close-on-exec like every Go descriptor
	if err != nil {
		return err
	}
	fd := f.Fd()
	if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETFD, 0); errno != 0 {
		f.Close()
		return errno
	}
	args := []string{relayName, strconv.Itoa(int(fd))}
	if wait {
		args = append(args, "wait")
	}
	err = syscall.Exec(prog, args, os.Environ())
	f.Close()
	return err
}
