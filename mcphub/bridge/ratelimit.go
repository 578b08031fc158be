package bridge

import (
	"sync"
	"time"
)

// failLimiter makes guessing client tokens loud: failed verifications
// spend a bucket (a burst of 10, refilled at 1 a second); with the bucket
// empty, a token that does not verify is answered 429 (retry in a second)
// instead of 401, and the failures are logged once a minute. Every token
// is still checked (one indexed lookup): one that verifies always passes,
// whether the IDE used it a moment ago or it was made a moment ago, so a
// process hammering the port cannot lock the IDEs out. (The tokens carry
// 256 random bits: guessing one is not slowed, it is hopeless.)
type failLimiter struct {
	mu       sync.Mutex
	now      func() time.Time
	bucket   float64
	last     time.Time
	failed   int // failures since the last log line
	loggedAt time.Time
}

const (
	failBurst    = 10
	failPerSec   = 1.0
	failLogEvery = time.Minute
)

func newFailLimiter() *failLimiter {
	return &failLimiter{now: time.Now, bucket: failBurst}
}

func (l *failLimiter) refill(now time.Time) {
	if !l.last.IsZero() {
		l.bucket = min(failBurst, l.bucket+now.Sub(l.last).Seconds()*failPerSec)
	}
	l.last = now
}

// fail records a failed verification: limited when the bucket was empty
// (429), and how many failed since the last report when one is due (at
// most one a minute), else 0.
func (l *failLimiter) fail() (limited bool, report int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.refill(now)
	limited = l.bucket < 1
	if !limited {
		l.bucket--
	}
	l.failed++
	if now.Sub(l.loggedAt) < failLogEvery {
		return limited, 0
	}
	report = l.failed
	l.failed, l.loggedAt = 0, now
	return limited, report
}
