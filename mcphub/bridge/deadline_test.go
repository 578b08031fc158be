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

// A held deadline does not pass while held (holds nest), runs on with the
// time that was left once the last hold is released, and a hold released
// after the call ended leaves nothing behind.
func TestHoldDeadline(t *testing.T) {
	b := New(Options{})
	defer b.Close()
	tick := func(now time.Time) { b.deadlines.expire(now) } // the ticker's step, at a chosen time

	ctx, cancel := b.withTimeout(time.Minute)
	defer cancel()
	first := b.holdDeadline(ctx)
	second := b.holdDeadline(ctx)
	tick(time.Now().Add(time.Hour))
	if ctx.Err() != nil {
		t.Fatalf("a held deadline passed: %v", ctx.Err())
	}
	first()
	first() // twice is once
	tick(time.Now().Add(time.Hour))
	if ctx.Err() != nil {
		t.Fatalf("passed with a hold left: %v", ctx.Err())
	}
	second()
	if d, _ := ctx.Deadline(); time.Until(d) < 59*time.Second || time.Until(d) > time.Minute {
		t.Fatalf("after the holds the deadline is %v away, want the minute that was left", time.Until(d))
	}
	tick(time.Now().Add(2 * time.Minute))
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("released, past its deadline: %v", ctx.Err())
	}

	ctx2, cancel2 := b.withTimeout(time.Minute)
	release := b.holdDeadline(ctx2)
	cancel2()
	release()
	b.deadlines.mu.Lock()
	left := len(b.deadlines.ctxs)
	b.deadlines.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d contexts kept after a hold outlived its call", left)
	}
}
