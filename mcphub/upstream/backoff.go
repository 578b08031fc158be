package upstream

import (
	"math/rand/v2"
	"time"
)

// Backoff spaces out reconnection attempts: Min, doubling per failed attempt,
// capped at Max, each delay moved randomly by up to ±Jitter of itself so that
// many servers failing together do not retry in lockstep.
type Backoff struct {
	Min, Max time.Duration
	Jitter   float64 // 0..1
}

// DefaultBackoff retries after about 1 s, 2 s, 4 s ... up to a minute.
var DefaultBackoff = Backoff{Min: time.Second, Max: time.Minute, Jitter: 0.2}

// Delay returns the wait before attempt number n (0 for the first retry).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Min
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter > 0 {
		f := 1 + b.Jitter*(2*rand.Float64()-1)
		d = time.Duration(float64(d) * f)
	}
	return max(d, 0)
}
