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

// Tickers of one period tick together, on one clock: the same ticks.
func TestTickersOfOnePeriodShareAClock(t *testing.T) {
	const period = 7 * time.Millisecond // no other test's period
	seen := [2]chan time.Time{make(chan time.Time, 100), make(chan time.Time, 100)}
	var tks [2]*Ticker
	for i := range tks {
		tks[i] = &Ticker{Period: period, Tick: func(now time.Time) bool {
			select {
			case seen[i] <- now:
			default:
			}
			return true
		}}
		defer tks[i].Stop()
	}
	tks[0].Poke()
	<-seen[0] // the clock runs
	tks[1].Poke()
	poked := time.Now()
	ticks := map[time.Time]int{}
	for i := range tks {
		for n := 0; n < 3; {
			if now := <-seen[i]; now.After(poked) {
				ticks[now]++
				n++
			}
		}
	}
	shared := 0
	for _, n := range ticks {
		if n == 2 {
			shared++
		}
	}
	if shared < 2 {
		t.Fatalf("the two tickers shared %d of their ticks, want them on one clock: %v", shared, ticks)
	}
}
