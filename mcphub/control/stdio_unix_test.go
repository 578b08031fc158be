//go:build unix

package control

import (
	"net"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// socketPair is two connected unix sockets, as the control socket gives.
func socketPair(t *testing.T) (a, b *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
		t.Cleanup(func() { c.Close() })
	}
	return conns[0], conns[1]
}

// The descriptors a bridge hands over are close-on-exec in the hub: a
// stdio server it starts must never inherit an IDE's pipes.
func TestHandedOverStdioIsCloseOnExec(t *testing.T) {
	bridge, hub := socketPair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, _, err := bridge.WriteMsgUnix([]byte{'F'}, syscall.UnixRights(int(r.Fd()), int(w.Fd())), nil); err != nil {
		t.Fatal(err)
	}
	in, out, err := receiveStdio(hub)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	defer out.Close()
	for _, f := range []*os.File{in, out} {
		rc, err := f.SyscallConn() // not Fd(), which would make it blocking
		if err != nil {
			t.Fatal(err)
		}
		var flags int
		if cerr := rc.Control(func(fd uintptr) { flags, err = unix.FcntlInt(fd, unix.F_GETFD, 0) }); cerr != nil || err != nil {
			t.Fatal(cerr, err)
		}
		if flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("%s is not close-on-exec", f.Name())
		}
	}
	// And they are the pipe that was sent.
	if _, err := w.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if n, err := in.Read(b[:]); n != 1 || b[0] != 'x' {
		t.Errorf("read %q, %v from the received stdin", b[:n], err)
	}
}
