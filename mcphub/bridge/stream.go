package bridge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// maxLine bounds one JSON-lines message.
const maxLine = 16 << 20

// ServeStream serves one JSON-lines connection (the stdio bridge, relayed
// over the control socket) until it closes or ctx ends. server is "" for
// every server, else the one server the client sees; client names it in
// the call records.
func (b *Bridge) ServeStream(ctx context.Context, rw io.ReadWriter, server, client string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := newSession(b, view{server: server}, caller{name: client})
	s.lines = true
	w := &lineWriter{w: rw}
	defer w.close()
	s.openStream(w)
	b.register(s)
	defer b.unregister(s)

	r := bufio.NewReaderSize(rw, 64<<10)
	var listens, requests sync.WaitGroup
	// The stream's end is the client's: what it asked is cancelled
	// upstream and a subscriptions/listen ends, before waiting for them.
	defer func() {
		cancel()
		s.cancelAll()
		listens.Wait()
		requests.Wait()
	}()
	for {
		line, err := readLine(r)
		if errors.Is(err, errLineTooLong) {
			// Its rest was skipped: the next line is the next message.
			_ = w.send(encodeError(nil, errorf(codeInvalidRequest, "%v; it was skipped", err)))
			continue
		}
		if len(bytes.TrimSpace(line)) > 0 {
			msg, perr := parseMessage(line)
			switch {
			case perr != nil:
				_ = w.send(encodeError(idOf(msg), perr))
			case msg.isResponse():
				s.answer(msg)
			case msg.isNotify():
				b.notification(s, msg)
			default:
				params := parseParams(msg.Params)
				meta := params.Meta
				x := &exchange{sess: s, msg: msg, out: w, caps: s.caps, params: params, meta: meta}
				if _, modern := meta[metaProtocolVersion]; modern && msg.Method != "initialize" {
					if rerr := checkModern(metaVersion(meta), meta); rerr != nil {
						_ = w.send(encodeError(msg.ID, rerr))
						continue
					}
					x.modern, x.caps = true, b.capsOf(meta[metaClientCaps])
				}
				if msg.Method == "initialize" {
					// Answered before the next line is read: what follows
					// belongs to the initialized session.
					_ = w.send(b.answer(ctx, x))
					continue
				}
				if msg.Method == "subscriptions/listen" {
					// Its out becomes the session's stream, which outlives it.
					listens.Go(func() {
						if frame := b.answer(ctx, x); frame != nil {
							_ = w.send(frame)
						}
					})
					continue
				}
				out := &requestLines{w: w}
				x.out = out
				requests.Go(func() { _ = out.respond(b.answer(ctx, x)) })
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Input ended (an IDE shutting down, or a script that
				// piped its requests in): the answers under way, most of
				// them a moment away, are still written, for a while.
				answered := make(chan struct{})
				go func() { requests.Wait(); close(answered) }()
				select {
				case <-answered:
				case <-time.After(eofGrace):
				case <-ctx.Done():
				}
				return nil
			}
			return err
		}
	}
}

// eofGrace is how long the requests under way when the input ends have to
// be answered before they are cancelled: an IDE that closes its input
// waits for the bridge to exit.
const eofGrace = 2 * time.Second

var errLineTooLong = errors.New("a message is longer than 16 MiB, the limit of one line")

// readLine reads one line. A line over maxLine is read to its end but not
// kept (errLineTooLong), so the connection can go on with the next one.
func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			if len(buf) > maxLine {
				tooLong, buf = true, nil
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return nil, errLineTooLong
		}
		return buf, err
	}
}

// lineWriter writes whole lines, one message each, from any goroutine.
// Frames are written directly until the first notification; from then on
// every frame goes through an outQueue, in order, so a client that stops
// reading holds up nobody.
type lineWriter struct {
	mu sync.Mutex // held while writing
	w  io.Writer

	qmu    sync.Mutex
	q      *outQueue
	closed bool // the connection is over: notifications are dropped
}

func (l *lineWriter) queue() *outQueue {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return l.q
}

func (l *lineWriter) write(line []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.w.Write(line)
	return err
}

func (l *lineWriter) send(frame []byte) error {
	if q := l.queue(); q != nil {
		return q.put(asLine(frame))
	}
	return l.write(asLine(frame))
}

func (l *lineWriter) offer(frame []byte, d delivery) {
	l.qmu.Lock()
	if l.closed {
		l.qmu.Unlock()
		return
	}
	if l.q == nil {
		l.q = newOutQueue(l.write)
	}
	q := l.q
	l.qmu.Unlock()
	q.offer(asLine(frame), d)
}

// close stops the queue's writer, once what is queued is written; later
// notifications (a progress trailing its call) are dropped.
func (l *lineWriter) close() {
	l.qmu.Lock()
	l.closed = true
	q := l.q
	l.qmu.Unlock()
	if q != nil {
		q.end(nil)
	}
}

// requestLines is one request's part of a JSON-lines connection: what
// belongs to the request (its progress, log messages) goes out only until
// its response (LC-10: a finished request gets no more progress), while
// the connection goes on.
type requestLines struct {
	w    *lineWriter
	mu   sync.Mutex // held while offering: respond waits for an offer under way
	done bool
}

func (r *requestLines) send(frame []byte) error { return r.w.send(frame) }

func (r *requestLines) offer(frame []byte, d delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		r.w.offer(frame, d)
	}
}

// respond writes the request's response (none for nil: the client
// cancelled it); nothing offered later follows it.
func (r *requestLines) respond(frame []byte) error {
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
	if frame == nil {
		return nil
	}
	return r.w.send(frame)
}

func asLine(frame []byte) []byte {
	buf := make([]byte, 0, len(frame)+1)
	return append(append(buf, frame...), '\n')
}
