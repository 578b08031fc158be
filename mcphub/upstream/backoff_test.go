package upstream

import (
	"testing"
	"time"
)

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 10 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for n, w := range want {
		if got := b.Delay(n); got != w*time.Second {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w*time.Second)
		}
	}
}

func TestBackoffJitterStaysInBounds(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute, Jitter: 0.2}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := b.Delay(2) // nominal 4 s
		if d < 3200*time.Millisecond || d > 4800*time.Millisecond {
			t.Fatalf("Delay(2) = %v, outside 4s ± 20%%", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Errorf("jitter produced only %d distinct delays", len(seen))
	}
}
