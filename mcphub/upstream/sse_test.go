package upstream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// endless is a server that sends one SSE event that never ends: short
// data lines, never a blank line.
type endless struct{ line []byte }

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], e.line)
	}
	return n, nil
}

func endlessEvent() io.Reader {
	return &endless{line: []byte("data: " + strings.Repeat("x", 250) + "\n")}
}

// An event of many short data lines is bounded as a single long line is.
func TestEventReaderBoundsEvent(t *testing.T) {
	src := io.LimitReader(endlessEvent(), maxRawMessage*11/10) // then EOF, still without a blank line
	ev := &eventReader{r: bufio.NewReaderSize(src, 8<<10)}
	data, err := ev.next()
	if !errors.Is(err, errTooLong) {
		t.Fatalf("an event of %d bytes: err %v, want errTooLong", len(data), err)
	}
}

// readAll reads r as go-sdk does, in pieces, until an error, within limit:
// a reader that rescans what it holds on every read would take minutes.
func readAll(t *testing.T, r io.Reader, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			if _, err := r.Read(buf); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("reading an event of %d MB took longer than %s", maxRawMessage>>20, limit)
		return nil
	}
}

// The call tagging and the list capture read SSE events whole: an event
// over the limit is refused, in time linear in its size, rather than held
// in memory without bound.
func TestSSEWrappersBoundEvents(t *testing.T) {
	src := func() io.ReadCloser { return io.NopCloser(io.LimitReader(endlessEvent(), maxRawMessage*11/10)) }
	t.Run("tag", func(t *testing.T) {
		err := readAll(t, &tagBody{ReadCloser: src(), tag: "c1"}, 30*time.Second)
		if !errors.Is(err, errTooLong) {
			t.Errorf("err %v, want errTooLong", err)
		}
	})
	t.Run("capture", func(t *testing.T) {
		err := readAll(t, &captureBody{ReadCloser: src(), cap: newListCapture(), sse: true}, 30*time.Second)
		if !errors.Is(err, errTooLong) {
			t.Errorf("err %v, want errTooLong", err)
		}
	})
	t.Run("capture JSON", func(t *testing.T) {
		err := readAll(t, &captureBody{ReadCloser: src(), cap: newListCapture()}, 30*time.Second)
		if !errors.Is(err, errTooLong) {
			t.Errorf("err %v, want errTooLong", err)
		}
	})
}

// oneByte hands out its input a byte per read: every event end falls
// across reads.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), 1)]) }

// Events whose ends arrive split across reads are still found, once.
func TestSSEWrappersSplitReads(t *testing.T) {
	msg := `{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}`
	log := `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}`
	in := "data: " + log + "\r\n\r\n" + ": c\r\r" + "data: " + msg + "\n\n"
	tb := &tagBody{ReadCloser: io.NopCloser(oneByte{strings.NewReader(in)}), tag: "c1"}
	out, err := io.ReadAll(tb)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(out, []byte(`"io.mcptray/call":"c1"`)) != 1 || !bytes.HasSuffix(out, []byte("data: "+msg+"\n\n")) {
		t.Errorf("tagged stream %q", out)
	}

	lc := newListCapture()
	lc.begin()
	req, err := jsonrpc.DecodeMessage([]byte(`{"jsonrpc":"2.0","id":7,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	lc.sent(req)
	cb := &captureBody{ReadCloser: io.NopCloser(oneByte{strings.NewReader(in)}), cap: lc, sse: true}
	if _, err := io.ReadAll(cb); err != nil {
		t.Fatal(err)
	}
	if raw, ok := lc.take("tools/list"); !ok || string(raw) != `{"tools":[]}` {
		t.Errorf("captured %s %v", raw, ok)
	}
}
