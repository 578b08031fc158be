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

// afterTick runs a function once its time has passed, within a tick, and
// keeps nothing after.
func TestAfterTick(t *testing.T) {
	b := New(Options{})
	defer b.Close()
	type ran struct{ at, due time.Time }
	done := make(chan ran, 2)
	for _, d := range []time.Duration{150 * time.Millisecond, 300 * time.Millisecond} {
		due := time.Now().Add(d)
		b.afterTick(d, func() { done <- ran{time.Now(), due} })
	}
	for range 2 {
		r := <-done
		if r.at.Before(r.due) {
			t.Fatalf("ran %v before its time", r.due.Sub(r.at))
		}
	}
	b.deadlines.mu.Lock()
	left := len(b.deadlines.later)
	b.deadlines.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d functions still kept after they ran", left)
	}
}
