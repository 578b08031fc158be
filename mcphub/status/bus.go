package status

import (
	"sync"
	"time"
)

// Kind says what an event is about.
type Kind string

const (
	// KindStatus: a server's Status changed (state, reason, counts...).
	KindStatus Kind = "status"
	// KindRemoved: a server left the configuration.
	KindRemoved Kind = "removed"
	// KindConfig: a configuration file was applied or rejected.
	KindConfig Kind = "config"
)

// Event is one entry of the stream.
type Event struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Kind   Kind      `json:"kind"`
	Status *Status   `json:"status,omitempty"` // KindStatus, KindRemoved
	// ConfigError is the rejected file's error (KindConfig); empty when a
	// file was applied.
	ConfigError string `json:"config_error,omitempty"`
}

// Bus fans events out to subscribers. Publishing never blocks: a subscriber
// that falls behind by more than its buffer loses events and is told so by
// a closed Lagged channel, after which it should resubscribe and reread the
// current state. The hub is never slowed by a slow reader.
type Bus struct {
	mu   sync.Mutex
	seq  uint64
	subs map[*Subscription]struct{}
}

// Subscription receives events in order.
type Subscription struct {
	C      <-chan Event
	c      chan Event
	Lagged chan struct{} // closed when events were dropped
	bus    *Bus
	once   sync.Once
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: map[*Subscription]struct{}{}} }

// Subscribe starts a subscription with room for buffer pending events.
func (b *Bus) Subscribe(buffer int) *Subscription {
	c := make(chan Event, buffer)
	s := &Subscription{C: c, c: c, Lagged: make(chan struct{}), bus: b}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Close ends the subscription; C is closed.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	s.closeLocked()
}

func (s *Subscription) closeLocked() {
	s.once.Do(func() {
		delete(s.bus.subs, s)
		close(s.c)
	})
}

// Publish stamps e with a sequence number and time and delivers it.
func (b *Bus) Publish(e Event) Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	e.Seq = b.seq
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	for s := range b.subs {
		select {
		case s.c <- e:
		default:
			close(s.Lagged)
			s.closeLocked()
		}
	}
	return e
}
