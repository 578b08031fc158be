package bridge

import (
	"bytes"
	"sync"
)

const (
	// outQueueSize is how many frames a client may be behind before what
	// it can do without is dropped or held back.
	outQueueSize = 256
	// maxHeldFrames bounds the notifications held back for a client that is
	// behind (distinct ones: list_changed of each kind, resource updates).
	maxHeldFrames = 64
)

// delivery says what becomes of a frame when its client is behind.
type delivery int

const (
	// dropWhenBehind: progress, log messages, keep-alives.
	dropWhenBehind delivery = iota
	// holdWhenBehind: notifications that must arrive but need arrive only
	// once (list_changed, resources/updated): held back, identical ones
	// merged, and queued when the client catches up.
	holdWhenBehind
)

// outQueue writes a client's frames from a goroutine of its own, in order.
// A client that reads slowly must not stall whoever produces its frames:
// an upstream's notifications are delivered one at a time per upstream
// session, and catalog changes by one goroutine for every client, so one
// blocked write would hold every other client's notifications behind it.
// Notifications are offered (never waiting); a response or a server
// request is put, waiting for room, and written by the caller itself when
// nothing is queued or being written: handing every answer to the
// writer goroutine cost a thread wake-up per call once a client had had
// one notification.
type outQueue struct {
	write func([]byte) error

	mu      sync.Mutex
	cond    sync.Cond
	frames  [][]byte
	held    [][]byte      // holdWhenBehind frames that found no room
	writing bool          // a frame is being written (by run or by put)
	err     error         // the first write error: the client is gone
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
// error the rest is discarded, so nobody waits.
func (q *outQueue) run() {
	defer close(q.stopped)
	q.mu.Lock()
	for {
		for q.writing || len(q.frames) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.frames) == 0 {
			q.mu.Unlock()
			return
		}
		f := q.frames[0]
		q.frames[0] = nil
		q.frames = q.frames[1:]
		if len(q.held) > 0 && len(q.frames) < outQueueSize/2 {
			q.frames = append(q.frames, q.held...)
			q.held = nil
		}
		q.cond.Broadcast() // room for a waiting put
		q.writeLocked(f)
	}
}

// writeLocked writes f with the lock released, marked as writing so that
// nothing else writes meanwhile. After a write error nothing is written.
func (q *outQueue) writeLocked(f []byte) {
	if q.err != nil {
		return
	}
	q.writing = true
	q.mu.Unlock()
	err := q.write(f)
	q.mu.Lock()
	q.writing = false
	if err != nil && q.err == nil {
		q.err = err
	}
	q.cond.Broadcast() // the writer may go on
}

// put queues a frame, waiting while the client is outQueueSize behind. It
// fails once the exchange is over or the client is gone.
func (q *outQueue) put(f []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.frames) >= outQueueSize && !q.closed && q.err == nil {
		q.cond.Wait()
	}
	switch {
	case q.err != nil:
		return q.err
	case q.closed:
		return errResponseDone
	case q.idle():
		q.writeLocked(f)
		return q.err
	}
	q.frames = append(q.frames, f)
	q.cond.Broadcast()
	return nil
}

// idle: nothing queued, held or being written; a frame may be written
// at once without overtaking any.
func (q *outQueue) idle() bool {
	return len(q.frames) == 0 && len(q.held) == 0 && !q.writing
}

// offer queues a notification without ever waiting (see delivery).
func (q *outQueue) offer(f []byte, d delivery) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed || q.err != nil:
	case len(q.frames) < outQueueSize:
		q.frames = append(q.frames, f)
		q.cond.Broadcast()
	case d == holdWhenBehind && len(q.held) < maxHeldFrames:
		for _, h := range q.held {
			if bytes.Equal(h, f) {
				return
			}
		}
		q.held = append(q.held, f)
	}
}

// enqueue hands a frame to the writer without waiting and without writing
// it here, for a caller that holds a lock of its own (a resumable
// stream's log, whose order it keeps). A frame that must arrive is always
// queued; another is dropped while the client is outQueueSize behind. It
// reports false once the exchange is over or the client gone.
func (q *outQueue) enqueue(f []byte, must bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed || q.err != nil:
		return false
	case must || len(q.frames) < outQueueSize:
		q.frames = append(q.frames, f)
		q.cond.Broadcast()
	}
	return true
}

// failed reports the write error that ended the client, if any.
func (q *outQueue) failed() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

// end queues the last frame (nil: none), takes no more, and waits until
// everything queued is written or discarded.
func (q *outQueue) end(last []byte) {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		switch {
		case last == nil:
		case q.idle():
			q.writeLocked(last)
		default:
			q.frames = append(q.frames, q.held...)
			q.frames = append(q.frames, last)
			q.held = nil
		}
		q.cond.Broadcast()
	}
	q.mu.Unlock()
	<-q.stopped
}
