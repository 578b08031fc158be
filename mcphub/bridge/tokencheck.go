package bridge

import (
	"errors"
	"time"

	"github.com/mcptray/mcptray/mcphub/store"
)

// streamCheckPeriod is how often the tokens of open streams (GET, and
// 2026-07-28 subscriptions/listen) are checked again. A stream outlives
// the request that checked its token; with the store caching a verdict for
// as long, a revoked or expired token's streams and sessions end within a
// second.
const streamCheckPeriod = 500 * time.Millisecond

// watchStream puts a token-authenticated stream under the bridge's one
// sweep (an idle hub with streams open wakes twice a second, not twice a
// second per stream); the returned func takes it off.
func (b *Bridge) watchStream(s *session, key store.TokenHash) (done func()) {
	b.mu.Lock()
	b.streams[s] = key
	b.mu.Unlock()
	b.streamTicker.Poke()
	return func() {
		b.mu.Lock()
		delete(b.streams, s)
		b.mu.Unlock()
	}
}

// checkStreams is the sweep's Tick. It must not wait (the clock is
// shared), and a check may read the database, so the work runs on a
// goroutine of its own, one at a time (ending a session unsubscribes
// upstream on goroutines of their own: a hung server cannot stop it).
func (b *Bridge) checkStreams(time.Time) (pending bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.streams) == 0 {
		return false
	}
	if !b.checking.CompareAndSwap(false, true) {
		return true
	}
	streams := make(map[*session]store.TokenHash, len(b.streams))
	for s, k := range b.streams {
		streams[s] = k
	}
	go func() {
		defer b.checking.Store(false)
		invalid := map[store.TokenHash]bool{}
		for s, k := range streams {
			bad, seen := invalid[k]
			if !seen {
				_, err := b.opts.Tokens.VerifyTokenHash(k)
				bad = errors.Is(err, store.ErrTokenInvalid)
				invalid[k] = bad
			}
			if bad {
				b.unregister(s) // closes s.gone: the stream's request ends
			}
		}
	}()
	return true
}
