package bridge

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

// recorder is an outQueue's writer that records what it wrote; a frame
// equal to block waits for gate.
type recorder struct {
	mu    sync.Mutex
	got   []string
	block string
	gate  chan struct{}
	fail  string // a frame whose write fails
}

func (r *recorder) write(f []byte) error {
	if string(f) == r.block {
		<-r.gate
	}
	if string(f) == r.fail {
		return errors.New("the client is gone")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, string(f))
	return nil
}

func (r *recorder) written() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// A frame put on an idle queue is written before put returns (by the
// caller, no hand-off); while a notification is being written, a frame
// waits behind it; the last frame ends the stream; order is kept.
func TestOutQueueWritesInOrderAndDirectlyWhenIdle(t *testing.T) {
	r := &recorder{block: "n1", gate: make(chan struct{})}
	q := newOutQueue(r.write)
	if err := q.put([]byte("r0")); err != nil {
		t.Fatal(err)
	}
	if got := r.written(); !slices.Equal(got, []string{"r0"}) {
		t.Fatalf("after put on an idle queue: %v, want [r0] written", got)
	}
	q.offer([]byte("n1"), dropWhenBehind) // its write waits for the gate
	if err := q.put([]byte("r1")); err != nil {
		t.Fatal(err)
	}
	if got := r.written(); !slices.Equal(got, []string{"r0"}) {
		t.Fatalf("r1 overtook n1: %v", got)
	}
	close(r.gate)
	q.end([]byte("last"))
	if got := r.written(); !slices.Equal(got, []string{"r0", "n1", "r1", "last"}) {
		t.Fatalf("written %v, want [r0 n1 r1 last]", got)
	}
	if err := q.put([]byte("late")); !errors.Is(err, errResponseDone) {
		t.Fatalf("put after end: %v, want errResponseDone", err)
	}
}

// A failed write ends the client: put says so, nothing more is written.
func TestOutQueueStopsAtAWriteError(t *testing.T) {
	r := &recorder{fail: "r0"}
	q := newOutQueue(r.write)
	if err := q.put([]byte("r0")); err == nil {
		t.Fatal("put whose write failed returned nil")
	}
	q.offer([]byte("n1"), dropWhenBehind)
	if err := q.put([]byte("r1")); err == nil {
		t.Fatal("put after a failed write returned nil")
	}
	q.end([]byte("last"))
	if got := r.written(); len(got) != 0 {
		t.Fatalf("written after the failure: %v", got)
	}
}
