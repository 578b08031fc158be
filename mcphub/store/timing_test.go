package store

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"
)

// Rejecting a client token takes as long when its hash is a near miss of
// a stored one (equal but for its last two bytes) as when it has nothing in
// common with it: tokens are looked up by their SHA-256 and compared in
// constant time, so a guesser learns nothing from how long a refusal took.
// The near miss is made on the hash, which is what the store compares: a
// token that differs from a real one in its last characters hashes to
// something unrelated, so measuring one would test nothing. What this can
// catch is a refusal that does more work the closer the hash (a prefix
// lookup, a second query), not the nanoseconds of a comparison that stops
// early. Medians of interleaved samples, so load on the machine hits both
// sides alike.
func TestTokenRejectionTimeDoesNotDependOnTheMatch(t *testing.T) {
	s, _ := openTemp(t)
	secret, _, err := s.CreateToken(context.Background(), "real", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	real := HashToken(secret)
	const samples = 3000
	var nearTimes, farTimes []time.Duration
	measure := func(h TokenHash) time.Duration {
		start := time.Now()
		_, err := s.VerifyTokenHash(h)
		d := time.Since(start)
		if !errors.Is(err, ErrTokenInvalid) {
			t.Fatalf("a wrong token was not refused: %v", err)
		}
		return d
	}
	for i := range samples {
		// Each sample a fresh candidate, so no cache answers. The last
		// byte always differs; the one before takes turns.
		near := real
		near[31] ^= byte(1 + i%255)
		near[30] ^= byte(i / 255)
		var far TokenHash
		_, _ = rand.Read(far[:])
		if far[0] == real[0] {
			far[0] ^= 0xff // from the first byte on
		}
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
