package ondemand

import (
	"sync/atomic"
	"testing"
	"time"
)

// The ticker runs from a Poke, goes on while Tick has something pending,
// stops a second after the last Poke once nothing is, starts again on the
// next Poke, and ends for good with Stop.
func TestTickerRunsOnDemand(t *testing.T) {
	var pending atomic.Bool
	var last atomic.Int64 // the latest tick, unix ns
	tk := &Ticker{Period: 10 * time.Millisecond, Tick: func(now time.Time) bool {
		last.Store(now.UnixNano())
		return pending.Load()
	}}
	ended := func() chan struct{} {
		tk.mu.Lock()
		defer tk.mu.Unlock()
		return tk.running
	}
	if ended() != nil {
		t.Fatal("running before any Poke")
	}

	pending.Store(true)
	poked := time.Now()
	tk.Poke()
	run := ended()
	time.Sleep(2 * quiet) // the subject: it keeps ticking past the quiet second while work is pending
	if ended() != run || time.Since(time.Unix(0, last.Load())) > time.Second {
		t.Fatal("stopped while work was pending")
	}
	pending.Store(false)
	<-run // stops by itself
	if stoppedAfter := time.Unix(0, last.Load()).Sub(poked); stoppedAfter < quiet {
		t.Fatalf("last tick %v after the Poke, before the quiet second", stoppedAfter)
	}

	tk.Poke()
	again := ended()
	if again == nil {
		t.Fatal("a Poke after it stopped did not start it again")
	}
	tk.Stop()
	<-again
	tk.Poke()
	if ended() != again {
		t.Fatal("a Poke after Stop started it")
	}
}
