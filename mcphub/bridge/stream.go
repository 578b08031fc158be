package bridge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
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
	s := newSession(b, view{server: server}, client)
	w := &lineWriter{w: rw}
	s.setStream(w)
	b.register(s)
	defer b.unregister(s)

	r := bufio.NewReaderSize(rw, 64<<10)
	var wg sync.WaitGroup
	defer wg.Wait()
	// The stream's end is the client's: what it asked is cancelled
	// upstream (before waiting for it to finish).
	defer s.cancelAll()
	for {
		line, err := readLine(r)
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
				meta := requestMeta(msg.Params)
				x := &exchange{sess: s, msg: msg, out: w, caps: s.caps, meta: meta}
				if _, modern := meta[metaProtocolVersion]; modern && msg.Method != "initialize" {
					if rerr := checkModern(meta); rerr != nil {
						_ = w.send(encodeError(msg.ID, rerr))
						continue
					}
					x.modern, x.caps = true, parseCaps(meta[metaClientCaps])
				}
				if msg.Method == "initialize" {
					// Answered before the next line is read: what follows
					// belongs to the initialized session.
					_ = w.send(b.answer(ctx, x))
					continue
				}
				wg.Go(func() { _ = w.send(b.answer(ctx, x)) })
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

var errLineTooLong = errors.New("a message is longer than 16 MiB")

func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxLine {
			return nil, errLineTooLong
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return buf, err
		}
	}
}

// lineWriter writes whole lines, one message each, from any goroutine.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) send(frame []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	buf := make([]byte, 0, len(frame)+1)
	buf = append(append(buf, frame...), '\n')
	_, err := l.w.Write(buf)
	return err
}
