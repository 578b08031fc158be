package bridge

import (
	"sync"
	"time"

	"github.com/mcptray/mcptray/mcphub/store"
)

// failLimiter slows down guessing of client tokens. Failed verifications
// spend a bucket (a burst of 10, refilled at 1 a second); with the bucket
// empty, tokens not seen to verify lately are answered 429 without being
// checked. Tokens that did verify in the last 10 minutes always pass, so
// a process hammering the port cannot lock the IDEs out. (The tokens carry
// 256 random bits: this is defence in depth, and it makes an attack loud.)
type failLimiter struct {
	mu       sync.Mutex
	now      func() time.Time
	bucket   float64
	last     time.Time
	known    map[store.TokenHash]time.Time // tokens that verified, and when
	failed   int                           // failures since the last log line
	loggedAt time.Time
}

const (
	failBurst    = 10
	failPerSec   = 1.0
	knownFor     = 10 * time.Minute
	failLogEvery = time.Minute
)

func newFailLimiter() *failLimiter {
	return &failLimiter{now: time.Now, bucket: failBurst, known: map[store.TokenHash]time.Time{}}
}

// allow reports whether the token may be verified now.
func (l *failLimiter) allow(key store.TokenHash) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if at, ok := l.known[key]; ok && now.Sub(at) < knownFor {
		return true
	}
	l.refill(now)
	return l.bucket >= 1
}

func (l *failLimiter) refill(now time.Time) {
	if !l.last.IsZero() {
		l.bucket = min(failBurst, l.bucket+now.Sub(l.last).Seconds()*failPerSec)
	}
	l.last = now
}

// fail records a failed verification. It returns how many failed since
// the last report when one is due (at most one a minute), else 0.
func (l *failLimiter) fail() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.refill(now)
	l.bucket = max(0, l.bucket-1)
	l.failed++
	if now.Sub(l.loggedAt) < failLogEvery {
		return 0
	}
	n := l.failed
	l.failed, l.loggedAt = 0, now
	return n
}

// ok records a token that verified. The set is swept only when a new
// token joins a large one, not on every request.
func (l *failLimiter) ok(key store.TokenHash) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if _, seen := l.known[key]; !seen && len(l.known) >= 64 {
		for h, at := range l.known {
			if now.Sub(at) >= knownFor {
				delete(l.known, h)
			}
		}
	}
	l.known[key] = now
}
