package bridge

import "sync"

// outQueueSize is how many frames a client may be behind before its
// progress and log notifications are dropped.
const outQueueSize = 256

// outQueue writes a client's frames from a goroutine of its own, in order.
// A client that reads slowly must not stall whoever produces its frames:
// an upstream's notifications are delivered one at a time per upstream
// session, so one blocked write would hold every other client's
// notifications behind it, queued without bound. Frames a client can do
// without (progress, log messages, keep-alives) are offered and dropped
// when it is outQueueSize frames behind; the others wait for room.
type outQueue struct {
	write func([]byte) error

	mu      sync.Mutex
	cond    sync.Cond
	frames  [][]byte
	closed  bool          // no more frames are taken
	stopped chan struct{} // closed when the writer is done
}

func newOutQueue(write func([]byte) error) *outQueue {
	q := &outQueue{write: write, stopped: make(chan struct{})}
	q.cond.L = &q.mu
	go q.run()
	return q
}

// run writes frames until the queue is closed and empty. After a write
// error (the client is gone) the rest is discarded, so nobody waits.
func (q *outQueue) run() {
	defer close(q.stopped)
	var err error
	q.mu.Lock()
	for {
		for len(q.frames) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.frames) == 0 {
			q.mu.Unlock()
			return
		}
		f := q.frames[0]
		q.frames[0] = nil
		q.frames = q.frames[1:]
		q.cond.Broadcast() // room for a waiting put
		q.mu.Unlock()
		if err == nil {
			err = q.write(f)
		}
		q.mu.Lock()
	}
}

// put queues a frame, waiting while the client is outQueueSize behind.
func (q *outQueue) put(f []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.frames) >= outQueueSize && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return errResponseDone
	}
	q.frames = append(q.frames, f)
	q.cond.Broadcast()
	return nil
}

// offer queues a frame the client can do without, unless it is behind.
func (q *outQueue) offer(f []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if len(q.frames) >= outQueueSize {
		return
	}
	q.frames = append(q.frames, f)
	q.cond.Broadcast()
}

// end queues the last frame (nil: none), takes no more, and waits until
// everything queued is written or discarded.
func (q *outQueue) end(last []byte) {
	q.mu.Lock()
	if !q.closed {
		if last != nil {
			q.frames = append(q.frames, last)
		}
		q.closed = true
		q.cond.Broadcast()
	}
	q.mu.Unlock()
	<-q.stopped
}
