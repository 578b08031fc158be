package bridge

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A 2025-11-25 client whose connection drops while a response streams
// (progress, a server's question, then the answer) may GET the rest with
// Last-Event-ID (TS-09). So such a stream begins with a priming event (an
// ID, no data) and every event has an ID, and its events are kept until
// the answer has been written to a client that reads; a resuming GET gets
// the events after the one it names, then the rest as they come. The call
// itself goes on without its connection (TS-13), so its answer is never
// lost while the log is kept.

// resumableFrom is the first protocol version whose clients resume
// (priming events arrived with 2025-11-25; earlier clients ignore IDs).
const resumableFrom = "2025-11-25"

const (
	// maxLoggedBytes bounds the events kept before the answer, which is
	// kept whatever its size; older ones are dropped first, and a resume
	// from before them is refused.
	maxLoggedBytes = 4 << 20
	// logKeptFor is how long an answer nobody read waits for a resume.
	logKeptFor = 5 * time.Minute
)

// eventLog is one response stream's events.
type eventLog struct {
	id string // the stream's; its events are id/1, id/2, ...

	mu     sync.Mutex
	seq    int           // the last event's number
	events []loggedEvent // newest last
	bytes  int
	first  int             // the oldest event kept (older ones were dropped)
	sink   *outQueue       // where events are written now: the POST's stream, a resuming GET's, or nil
	reader context.Context // the sink's request: done once its client hung up
	done   bool            // the answer is in the log
	over   chan struct{}
}

type loggedEvent struct {
	seq   int
	frame []byte // the whole SSE event, id line included
}

func newEventLog(id string) *eventLog {
	return &eventLog{id: id, first: 1, over: make(chan struct{})}
}

// priming is the stream's first event: its ID tells the client that the
// stream can be resumed.
func (l *eventLog) priming() []byte {
	return []byte("id: " + l.id + "/0\ndata: \n\n")
}

// recordLocked gives the frame the next ID and keeps it. Events before
// the answer are kept up to maxLoggedBytes, the oldest dropped first; the
// answer (last) is kept whatever its size, and drops none.
func (l *eventLog) recordLocked(frame []byte, last bool) []byte {
	l.seq++
	id := l.id + "/" + strconv.Itoa(l.seq)
	ev := make([]byte, 0, len(frame)+len(id)+28)
	ev = append(ev, "id: "...)
	ev = append(ev, id...)
	ev = append(ev, "\nevent: message\ndata: "...)
	ev = append(ev, frame...)
	ev = append(ev, "\n\n"...)
	l.events = append(l.events, loggedEvent{l.seq, ev})
	if last {
		return ev
	}
	l.bytes += len(ev)
	for l.bytes > maxLoggedBytes && len(l.events) > 1 {
		l.bytes -= len(l.events[0].frame)
		l.events[0] = loggedEvent{}
		l.events = l.events[1:]
		l.first = l.events[0].seq
	}
	return ev
}

// The log's lock is held while an event is handed to the reader's queue,
// so events go out in the order of their IDs; nothing is written to a
// connection under it (outQueue.enqueue): a reader that stopped reading
// holds up neither the server's notifications nor a resume.

// put sends a frame that must arrive (a server's question). Without a
// reader it is only kept: a resume gets it.
func (l *eventLog) put(frame []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return errResponseDone
	}
	l.sendLocked(l.recordLocked(frame, false), true)
	return nil
}

// offer sends a notification without waiting; a reader far behind misses
// it (the log keeps it for a resume).
func (l *eventLog) offer(frame []byte, _ delivery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return
	}
	l.sendLocked(l.recordLocked(frame, false), false)
}

func (l *eventLog) sendLocked(ev []byte, must bool) {
	if l.sink != nil && !l.sink.enqueue(ev, must) {
		l.sink, l.reader = nil, nil // that reader is gone; a resume takes over
	}
}

// finish logs the answer and writes it to the reader, if any, ending its
// stream. It reports whether the answer reached a reader's connection.
func (l *eventLog) finish(frame []byte) (delivered bool) {
	l.mu.Lock()
	if l.done {
		l.mu.Unlock()
		return false
	}
	var ev []byte
	if frame != nil {
		ev = l.recordLocked(frame, true)
	}
	l.done = true
	sink, reader := l.sink, l.reader
	l.sink, l.reader = nil, nil
	l.mu.Unlock()
	// over is closed once the answer is written, or known lost: a resuming
	// GET that sees it ends its stream after the answer, not before.
	defer close(l.over)
	if sink == nil {
		return false
	}
	sink.end(ev)
	// A write into a connection the client just closed can still succeed:
	// its request's end says more.
	return sink.failed() == nil && reader.Err() == nil
}

// attach makes q, the stream of the request whose context is reader, the
// one events are written to.
func (l *eventLog) attach(q *outQueue, reader context.Context) {
	l.mu.Lock()
	l.sink, l.reader = q, reader
	l.mu.Unlock()
}

// kept reports whether the events after seq are all kept.
func (l *eventLog) kept(seq int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return seq >= l.first-1 && seq <= l.seq
}

// resume makes q (of the request whose context is reader) the stream's
// reader from after event seq: what it missed is queued first, then what
// comes. ok is false when events after seq were dropped (or seq is not of
// this stream).
func (l *eventLog) resume(q *outQueue, reader context.Context, seq int) (done, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq < l.first-1 || seq > l.seq {
		return false, false
	}
	gone := false
	for _, ev := range l.events {
		if ev.seq > seq && !q.enqueue(ev.frame, true) {
			gone = true // this reader is gone too
			break
		}
	}
	if !l.done && !gone {
		l.sink, l.reader = q, reader
	}
	return l.done, true
}

// detach forgets q as the reader (its client went away).
func (l *eventLog) detach(q *outQueue) {
	l.mu.Lock()
	if l.sink == q {
		l.sink, l.reader = nil, nil
	}
	l.mu.Unlock()
}

// startLog begins a session's resumable stream.
func (s *session) startLog() *eventLog {
	l := newEventLog("r" + strconv.FormatUint(s.seq.Add(1), 36))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if s.logs == nil {
		s.logs = map[string]*eventLog{}
	}
	s.logs[l.id] = l
	return l
}

// endLog forgets a stream's log: at once when its answer was read, else
// after logKeptFor, should its client come back for it.
func (s *session) endLog(l *eventLog, delivered bool) {
	forget := func() {
		s.mu.Lock()
		delete(s.logs, l.id)
		s.mu.Unlock()
	}
	if delivered {
		forget()
		return
	}
	time.AfterFunc(logKeptFor, forget)
}

// logOf finds the stream a Last-Event-ID names, and the event's number.
func (s *session) logOf(lastEventID string) (*eventLog, int, bool) {
	stream, n, ok := strings.Cut(lastEventID, "/")
	if !ok {
		return nil, 0, false
	}
	seq, err := strconv.Atoi(n)
	if err != nil || seq < 0 {
		return nil, 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.logs[stream]
	return l, seq, l != nil
}

// resumeStream answers a GET with Last-Event-ID: the rest of that
// response stream, which ends once its answer is written.
func (b *Bridge) resumeStream(w http.ResponseWriter, r *http.Request, s *session, lastEventID string) {
	l, seq, ok := s.logOf(lastEventID)
	if !ok || !l.kept(seq) {
		httpError(w, http.StatusBadRequest, "Last-Event-ID names no stream of this session that can be resumed from there (its answer was read, it ended over 5 minutes ago, or the events after it were too many to keep)")
		return
	}
	out := &httpOut{w: w}
	q := out.stream()
	done, ok := l.resume(q, r.Context(), seq)
	if !ok {
		q.end(nil)
		return // dropped meanwhile; the headers are sent, so the stream just ends
	}
	if done {
		q.end(nil)
		if q.failed() == nil {
			s.endLog(l, true)
		}
		return
	}
	select {
	case <-l.over: // finish wrote the answer to q and ended it, unless q was detached
		q.end(nil)
	case <-r.Context().Done():
		l.detach(q)
		q.end(nil)
	case <-s.gone:
		l.detach(q)
		q.end(nil)
	}
}
