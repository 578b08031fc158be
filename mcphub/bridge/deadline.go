package bridge

import (
	"context"
	"sync"
	"time"
)

// The upstream calls' deadlines are kept by one ticker instead of a timer
// per call: adding a runtime timer wakes a second thread (Go's runtime
// makes sure one polls the network whenever a timer is added while none
// does), which was one thread wake-up per bridged call. The ticker runs
// while calls have deadlines and for a second after, and a deadline is
// enforced within one tick.

const deadlineTick = 100 * time.Millisecond

// deadlines are the calls' contexts with a deadline, and their ticker.
type deadlines struct {
	mu      sync.Mutex
	ctxs    map[*deadlineCtx]struct{}
	ticking bool
	last    time.Time // the latest deadline added
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
	now := time.Now()
	c := &deadlineCtx{Context: ctx, cancel: cancel, deadline: now.Add(d)}
	dl := &b.deadlines
	dl.mu.Lock()
	if dl.ctxs == nil {
		dl.ctxs = map[*deadlineCtx]struct{}{}
	}
	dl.ctxs[c] = struct{}{}
	dl.last = now
	if !dl.ticking {
		dl.ticking = true
		go b.tickDeadlines()
	}
	dl.mu.Unlock()
	return c, func() {
		dl.mu.Lock()
		delete(dl.ctxs, c)
		dl.mu.Unlock()
		cancel(context.Canceled)
	}
}

// tickDeadlines cancels the contexts whose deadline has passed, until
// none is left and none has come for a second, or the bridge closes.
func (b *Bridge) tickDeadlines() {
	t := time.NewTicker(deadlineTick)
	defer t.Stop()
	dl := &b.deadlines
	for {
		var now time.Time
		select {
		case now = <-t.C:
		case <-b.stop:
			dl.mu.Lock()
			dl.ticking = false
			dl.mu.Unlock()
			return
		}
		var due []*deadlineCtx
		dl.mu.Lock()
		for c := range dl.ctxs {
			if !now.Before(c.deadline) {
				due = append(due, c)
				delete(dl.ctxs, c)
			}
		}
		quiet := len(dl.ctxs) == 0 && now.Sub(dl.last) > time.Second
		if quiet {
			dl.ticking = false
		}
		dl.mu.Unlock()
		for _, c := range due {
			c.cancel(context.DeadlineExceeded)
		}
		if quiet {
			return
		}
	}
}
