package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"
)

// Rejecting a client token takes as long for a near miss (all but the
// last two or three characters of a real token) as for a token with
// nothing in common:
// tokens are looked up by their SHA-256 and compared in constant time, so
// a guesser learns nothing from how long a refusal took. Medians of
// interleaved samples, so load on the machine hits both sides alike.
func TestTokenRejectionTimeDoesNotDependOnTheMatch(t *testing.T) {
	s, _ := openTemp(t)
	secret, _, err := s.CreateToken(context.Background(), "real", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	near := []byte(secret)
	far := []byte(secret)
	const samples = 3000
	var nearTimes, farTimes []time.Duration
	measure := func(tok []byte) time.Duration {
		start := time.Now()
		_, err := s.VerifyToken(string(tok))
		d := time.Since(start)
		if !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("a wrong token was not refused: %v", err)
		}
		return d
	}
	for i := range samples {
		// Each sample a fresh candidate, so no cache answers.
		near[len(near)-1] = "ghijklmnopqrstuvwxyz"[i%20]
		near[len(near)-2] = "ghijklmnopqrstuvwxyz"[i/20%20]
		if string(near) == secret { // the real token's own ending: change one more character
			near[len(near)-3] ^= 1
		}
		random := make([]byte, (len(secret)-len(TokenPrefix))/2)
		_, _ = rand.Read(random)
		copy(far[len(TokenPrefix):], hex.EncodeToString(random))
		if i%2 == 0 {
			nearTimes = append(nearTimes, measure(near))
			farTimes = append(farTimes, measure(far))
		} else {
			farTimes = append(farTimes, measure(far))
			nearTimes = append(nearTimes, measure(near))
		}
	}
	n, f := median(nearTimes), median(farTimes)
	ratio := float64(n) / float64(f)
	t.Logf("median rejection: near miss %v, unrelated %v (ratio %.3f)", n, f, ratio)
	if ratio < 0.8 || ratio > 1.25 {
		t.Errorf("a near miss is rejected in %v, an unrelated token in %v: the time depends on the match", n, f)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
