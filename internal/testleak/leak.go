// Package testleak checks that a test left no goroutine or file
// descriptor behind.
package testleak

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// Baseline is what the process had before the test's work.
type Baseline struct{ goroutines, fds int }

// Take records the process's goroutines and open file descriptors.
func Take(t testing.TB) Baseline {
	t.Helper()
	return Baseline{runtime.NumGoroutine(), openFDs(t)}
}

// Check fails the test unless the counts come back to the baseline, within
// the given slack, in 10 s: goroutines exiting and connections closing take
// a moment, and nothing announces that they are done.
func (b Baseline) Check(t testing.TB, goroutineSlack, fdSlack int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > b.goroutines+goroutineSlack || openFDs(t) > b.fds+fdSlack {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after; file descriptors: %d before, %d after\n%s",
				b.goroutines, runtime.NumGoroutine(), b.fds, openFDs(t), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openFDs counts this process's open file descriptors (Linux).
func openFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count file descriptors: %v", err)
	}
	return len(entries)
}
