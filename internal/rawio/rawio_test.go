package rawio

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// pair is a connected loopback TCP pair, both ends through Conn.
func pair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	a, b = Conn(d), Conn(s)
	t.Cleanup(func() { a.Close(); b.Close() })
	if supported {
		if _, ok := a.(*conn); !ok {
			t.Fatalf("Conn returned %T, want the direct one", a)
		}
	}
	return a, b
}

// Both directions at once, each far more than a socket buffer holds, so
// writes fill the socket and wait in the poller.
func TestConnCarriesEveryByteBothWays(t *testing.T) {
	a, b := pair(t)
	ab, ba := random(t, 8<<20), random(t, 8<<20)
	errs := make(chan error, 2)
	go func() { _, err := a.Write(ab); errs <- err }()
	go func() { _, err := b.Write(ba); errs <- err }()
	gotAB, gotBA := make([]byte, len(ab)), make([]byte, len(ba))
	read := make(chan error, 1)
	go func() { _, err := io.ReadFull(b, gotAB); read <- err }()
	if _, err := io.ReadFull(a, gotBA); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(gotAB, ab) || !bytes.Equal(gotBA, ba) {
		t.Fatal("the bytes read differ from the bytes written")
	}
}

func TestConnEndsAtEOF(t *testing.T) {
	a, b := pair(t)
	if _, err := a.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	a.Close()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "last" {
		t.Fatalf("read %q, %v; want \"last\" and the end", got, err)
	}
	if n, err := b.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after the end: %d, %v; want 0, io.EOF", n, err)
	}
}

// ReadNow takes what has arrived and never waits: ErrNotReady while
// nothing has, the end once the peer closed, net.ErrClosed after Close.
func TestReadNowNeverWaits(t *testing.T) {
	a, b := pair(t)
	buf := make([]byte, 16)
	if _, err := ReadNow(b, buf); !errors.Is(err, ErrNotReady) {
		t.Fatalf("before anything came: %v; want ErrNotReady", err)
	}
	if ReadsNow(b) != supported {
		t.Fatalf("ReadsNow: %v, on a platform where Conn wraps: %v", ReadsNow(b), supported)
	}
	if !supported {
		return // Conn wrapped nothing: there is nothing more ReadNow does
	}
	if _, err := a.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	// The first byte the waiting way; the rest came in the same segment.
	if _, err := io.ReadFull(b, buf[:1]); err != nil {
		t.Fatal(err)
	}
	if n, err := ReadNow(b, buf); err != nil || string(buf[:n]) != "ello" {
		t.Fatalf("ReadNow: %q, %v; want \"ello\"", buf[:n], err)
	}
	if _, err := ReadNow(b, buf); !errors.Is(err, ErrNotReady) {
		t.Fatalf("after the bytes that came: %v; want ErrNotReady", err)
	}
	a.Close()
	if _, err := b.Read(buf); err != io.EOF {
		t.Fatalf("waiting read after the peer closed: %v; want io.EOF", err)
	}
	if _, err := ReadNow(b, buf); err != io.EOF {
		t.Fatalf("ReadNow after the peer closed: %v; want io.EOF", err)
	}
	b.Close()
	if _, err := ReadNow(b, buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadNow after Close: %v; want net.ErrClosed", err)
	}
	// A connection Conn did not wrap cannot be read without waiting.
	if ReadsNow(a.(*conn).Conn) {
		t.Fatal("ReadsNow of a connection Conn did not wrap")
	}
	if _, err := ReadNow(a.(*conn).Conn, buf); !errors.Is(err, ErrNotReady) {
		t.Fatalf("an unwrapped connection: %v; want ErrNotReady", err)
	}
}

// Deadlines and Close still end a waiting read, with the errors net's
// own connections give.
func TestConnDeadlineAndCloseEndAWaitingRead(t *testing.T) {
	a, _ := pair(t)
	if err := a.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := a.Read(make([]byte, 1))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("after the deadline: %v; want a timeout", err)
	}
	if err := a.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { _, err := a.Read(make([]byte, 1)); read <- err }()
	a.Close()
	if err := <-read; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after Close: %v; want net.ErrClosed", err)
	}
	if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("writing after Close: %v; want net.ErrClosed", err)
	}
}

func TestConnReportsAResetPeer(t *testing.T) {
	a, b := pair(t)
	under := b
	if c, ok := b.(*conn); ok {
		under = c.Conn
	}
	if err := under.(*net.TCPConn).SetLinger(0); err != nil { // close with a reset
		t.Fatal(err)
	}
	b.Close()
	var err error
	for range 100 { // the reset arrives with the first write or soon after
		if _, err = a.Write([]byte("x")); err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "write" {
		t.Fatalf("writing to a reset peer: %v; want a write *net.OpError", err)
	}
}

// A pipe in the poller, as the stdio hand-over's descriptors are.
func TestFileCarriesAPipeAndCloseEndsARead(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rr, ww := File(r), File(w)
	defer rr.Close()
	data := random(t, 4<<20)
	go func() {
		_, _ = ww.Write(data)
		ww.Close()
	}()
	got, err := io.ReadAll(rr)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v; want %d bytes, the same", len(got), err, len(data))
	}

	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	rr2 := File(r2)
	read := make(chan error, 1)
	go func() { _, err := rr2.Read(make([]byte, 1)); read <- err }()
	rr2.Close()
	if err := <-read; !errors.Is(err, os.ErrClosed) {
		t.Fatalf("after Close: %v; want os.ErrClosed", err)
	}
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
