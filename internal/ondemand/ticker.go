// Package ondemand is a ticker that runs only while there is work for it.
//
// The hub keeps per-request deadlines (a request's hang-up watch, an
// upstream call's timeout) on one such ticker rather than a timer per
// request: adding a runtime timer wakes a second thread (Go's runtime
// makes sure one polls the network whenever a timer is added while none
// does), which on a bridged call's path cost a thread wake-up per call.
// Stopped, it costs nothing, so an idle hub is not woken either.
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
	// Tick is called on the ticker's goroutine; pending: something still
	// waits for a later tick.
	Tick func(now time.Time) (pending bool)

	mu      sync.Mutex
	running chan struct{} // closed when the running goroutine ends; nil: none runs
	stopped bool
	last    time.Time // the latest Poke
	quit    chan struct{}
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
	if t.quit == nil {
		t.quit = make(chan struct{})
	}
	t.running = make(chan struct{})
	go t.run(t.running)
}

// Stop ends the ticker for good; later Pokes do nothing.
func (t *Ticker) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	if t.quit != nil {
		close(t.quit)
	}
}

func (t *Ticker) run(ended chan struct{}) {
	defer close(ended)
	tk := time.NewTicker(t.Period)
	defer tk.Stop()
	for {
		select {
		case <-t.quit:
			return
		case now := <-tk.C:
			pending := t.Tick(now)
			t.mu.Lock()
			if !pending && now.Sub(t.last) > quiet {
				t.running = nil
				t.mu.Unlock()
				return
			}
			t.mu.Unlock()
		}
	}
}
