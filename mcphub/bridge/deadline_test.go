package bridge

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A call's context on the bridge's ticker behaves as context.WithTimeout's:
// its deadline is reported, it ends with DeadlineExceeded (its children
// too), and cancelling it first ends it with Canceled.
func TestWithTimeoutOnTheTicker(t *testing.T) {
	b := New(Options{})
	defer b.Close()

	ctx, cancel := b.withTimeout(150 * time.Millisecond)
	defer cancel()
	child, stop := context.WithCancel(ctx)
	defer stop()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 150*time.Millisecond {
		t.Fatalf("Deadline() = %v, %v", d, ok)
	}
	<-child.Done() // the ticker's cancel reaches a child
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("after the deadline: %v", ctx.Err())
	}
	if d, _ := ctx.Deadline(); time.Now().Before(d) {
		t.Fatalf("ended before its deadline %v", d)
	}

	ctx2, cancel2 := b.withTimeout(time.Hour)
	cancel2()
	if !errors.Is(ctx2.Err(), context.Canceled) {
		t.Fatalf("after cancel: %v", ctx2.Err())
	}
	b.deadlines.mu.Lock()
	left := len(b.deadlines.ctxs)
	b.deadlines.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d contexts still kept after they ended", left)
	}
}
