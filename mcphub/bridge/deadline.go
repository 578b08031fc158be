package bridge

import (
	"context"
	"sync"
	"time"
)

// The upstream calls' deadlines are kept by one ticker instead of a timer
// per call (internal/ondemand says why); a deadline is enforced within
// one tick.

const deadlineTick = 100 * time.Millisecond

// deadlines are the calls' contexts with a deadline.
type deadlines struct {
	mu   sync.Mutex
	ctxs map[*deadlineCtx]struct{}
}

// deadlineCtx is context.WithTimeout's context without a timer: cancelled
// with context.DeadlineExceeded by the ticker.
type deadlineCtx struct {
	context.Context // context.WithCancelCause's
	cancel          context.CancelCauseFunc
	deadline        time.Time
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.Context) == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return err
}

// withTimeout is context.WithTimeout(context.Background(), d) on the
// bridge's ticker.
func (b *Bridge) withTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &deadlineCtx{Context: ctx, cancel: cancel, deadline: time.Now().Add(d)}
	dl := &b.deadlines
	dl.mu.Lock()
	if dl.ctxs == nil {
		dl.ctxs = map[*deadlineCtx]struct{}{}
	}
	dl.ctxs[c] = struct{}{}
	dl.mu.Unlock()
	b.deadlineTicker.Poke()
	return c, func() {
		dl.mu.Lock()
		delete(dl.ctxs, c)
		dl.mu.Unlock()
		cancel(context.Canceled)
	}
}

// expire cancels the contexts whose deadline has passed (the ticker's
// Tick); pending: some have not.
func (dl *deadlines) expire(now time.Time) (pending bool) {
	var due []*deadlineCtx
	dl.mu.Lock()
	for c := range dl.ctxs {
		if !now.Before(c.deadline) {
			due = append(due, c)
			delete(dl.ctxs, c)
		}
	}
	pending = len(dl.ctxs) > 0
	dl.mu.Unlock()
	for _, c := range due {
		c.cancel(context.DeadlineExceeded)
	}
	return pending
}
