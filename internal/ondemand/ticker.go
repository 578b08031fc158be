// Package ondemand is a ticker that runs only while there is work for it.
//
// The hub keeps per-request deadlines (a request's hang-up watch, an
// upstream call's timeout) on such tickers rather than a timer per
// request: adding a runtime timer wakes a second thread (Go's runtime
// makes sure one polls the network whenever a timer is added while none
// does), which on a bridged call's path cost a thread wake-up per call.
// The tickers of one period share one clock: every timer that fires wakes
// a thread and Go's sysmon thread, so three tickers of 100 ms each cost
// three such wake-ups per period where one does. Stopped, a ticker costs
// nothing, so an idle hub is not woken either.
package ondemand

import (
	"sync"
	"time"
)

// quiet is how long the ticker goes on after the last Poke while Tick
// reports nothing pending.
const quiet = time.Second

// Ticker calls Tick every Period from the first Poke until Tick reports
// nothing pending and no Poke has come for a second; the next Poke starts
// it again. Set the fields before the first Poke.
type Ticker struct {
	Period time.Duration
	// Tick is called on the clock's goroutine, which the tickers of one
	// period share: it must not wait. pending: something still waits for
	// a later tick.
	Tick func(now time.Time) (pending bool)

	mu      sync.Mutex
	running chan struct{} // closed when the ticker leaves its clock; nil: not ticking
	stopped bool
	last    time.Time // the latest Poke
}

// Poke notes that work came, starting the ticker if it is not running.
func (t *Ticker) Poke() {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = now
	if t.running != nil || t.stopped {
		return
	}
	t.running = make(chan struct{})
	clockOf(t.Period).add(t)
}

// Stop ends the ticker for good; later Pokes do nothing, and no Tick
// starts after Stop returns.
func (t *Ticker) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	if t.running != nil {
		clockOf(t.Period).remove(t)
		close(t.running)
	}
}

// tick runs Tick unless the ticker was stopped, and takes it off its
// clock when it is done.
func (t *Ticker) tick(c *clock, now time.Time) {
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	pending := t.Tick(now)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !pending && !t.stopped && now.Sub(t.last) > quiet {
		c.remove(t)
		close(t.running)
		t.running = nil
	}
}

// clock ticks every period for the tickers on it, while there are any.
type clock struct {
	period time.Duration

	mu      sync.Mutex
	tickers map[*Ticker]struct{}
	running bool
}

var clocks = struct {
	sync.Mutex
	byPeriod map[time.Duration]*clock
}{byPeriod: map[time.Duration]*clock{}}

// clockOf returns the process's clock of the period.
func clockOf(period time.Duration) *clock {
	clocks.Lock()
	defer clocks.Unlock()
	c := clocks.byPeriod[period]
	if c == nil {
		c = &clock{period: period, tickers: map[*Ticker]struct{}{}}
		clocks.byPeriod[period] = c
	}
	return c
}

func (c *clock) add(t *Ticker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tickers[t] = struct{}{}
	if !c.running {
		c.running = true
		go c.run()
	}
}

func (c *clock) remove(t *Ticker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tickers, t)
}

func (c *clock) run() {
	tk := time.NewTicker(c.period)
	defer tk.Stop()
	var due []*Ticker
	for now := range tk.C {
		c.mu.Lock()
		if len(c.tickers) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		due = due[:0]
		for t := range c.tickers {
			due = append(due, t)
		}
		c.mu.Unlock()
		for _, t := range due {
			t.tick(c, now)
		}
	}
}
