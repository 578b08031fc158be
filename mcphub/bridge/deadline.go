package bridge

import (
	"context"
	"sync"
	"time"
)

// The upstream calls' deadlines, and what is to happen some time after a
// call, are kept by one ticker instead of a timer per call
// (internal/ondemand says why); either happens within one tick of its time.

const deadlineTick = 100 * time.Millisecond

// deadlines are the calls' contexts with a deadline, and the functions
// afterTick was given.
type deadlines struct {
	mu    sync.Mutex
	ctxs  map[*deadlineCtx]struct{}
	later []delayed
}

// delayed is a function to run at a time.
type delayed struct {
	at time.Time
	f  func()
}

// afterTick runs f on the ticker once d has passed (within a tick):
// time.AfterFunc for work after a call, without a timer per call.
func (b *Bridge) afterTick(d time.Duration, f func()) {
	dl := &b.deadlines
	dl.mu.Lock()
	dl.later = append(dl.later, delayed{at: time.Now().Add(d), f: f})
	dl.mu.Unlock()
	b.deadlineTicker.Poke()
}

// deadlineCtx is context.WithTimeout's context without a timer: cancelled
// with context.DeadlineExceeded by the ticker.
type deadlineCtx struct {
	context.Context // context.WithCancelCause's
	cancel          context.CancelCauseFunc
	dl              *deadlines
	// Under dl.mu: the deadline, and while held (holds > 0) the time that
	// was left when the first hold began.
	deadline time.Time
	holds    int
	left     time.Duration
}

func (c *deadlineCtx) Deadline() (time.Time, bool) {
	c.dl.mu.Lock()
	defer c.dl.mu.Unlock()
	if c.holds > 0 {
		return time.Now().Add(c.left), true
	}
	return c.deadline, true
}

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
	dl := &b.deadlines
	c := &deadlineCtx{Context: ctx, cancel: cancel, dl: dl, deadline: time.Now().Add(d)}
	dl.mu.Lock()
	if dl.ctxs == nil {
		dl.ctxs = map[*deadlineCtx]struct{}{}
	}
	dl.ctxs[c] = struct{}{}
	dl.mu.Unlock()
	b.deadlineTicker.Poke()
	return c, func() {
		cancel(context.Canceled) // first: a hold released meanwhile sees it (holdDeadline)
		dl.mu.Lock()
		delete(dl.ctxs, c)
		dl.mu.Unlock()
	}
}

// holdDeadline stops the clock of ctx (a withTimeout context) until
// release is called: time a person spends answering a server's question
// (elicitation, sampling) is not the server's time. Holds nest. For any
// other context it does nothing.
func (b *Bridge) holdDeadline(ctx context.Context) (release func()) {
	c, ok := ctx.(*deadlineCtx)
	if !ok {
		return func() {}
	}
	dl := &b.deadlines
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if _, running := dl.ctxs[c]; !running && c.holds == 0 {
		return func() {} // expired or cancelled already
	}
	if c.holds == 0 {
		c.left = time.Until(c.deadline)
		delete(dl.ctxs, c)
	}
	c.holds++
	var once sync.Once
	return func() {
		once.Do(func() {
			dl.mu.Lock()
			c.holds--
			if c.holds == 0 && c.Context.Err() == nil {
				c.deadline = time.Now().Add(c.left)
				dl.ctxs[c] = struct{}{}
			}
			dl.mu.Unlock()
			b.deadlineTicker.Poke()
		})
	}
}

// expire cancels the contexts whose deadline has passed and runs the
// functions whose time has come (the ticker's Tick); pending: some have
// not.
func (dl *deadlines) expire(now time.Time) (pending bool) {
	var due []*deadlineCtx
	var run []func()
	dl.mu.Lock()
	for c := range dl.ctxs {
		if !now.Before(c.deadline) {
			due = append(due, c)
			delete(dl.ctxs, c)
		}
	}
	later := dl.later[:0]
	for _, d := range dl.later {
		if now.Before(d.at) {
			later = append(later, d)
		} else {
			run = append(run, d.f)
		}
	}
	clear(dl.later[len(later):]) // the functions run are not kept alive
	dl.later = later
	pending = len(dl.ctxs) > 0 || len(dl.later) > 0
	dl.mu.Unlock()
	for _, c := range due {
		c.cancel(context.DeadlineExceeded)
	}
	for _, f := range run {
		f()
	}
	return pending
}
