package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// listCapture keeps the raw JSON of list results exactly as the server sent
// them. go-sdk decodes tool schemas into map[string]any, which reorders keys
// and rounds big numbers; the bridge passes schemas through unchanged, so
// the catalog keeps the bytes. Capture is switched on only while the catalog
// fetcher lists (one list call at a time per connection), so bridged calls
// never pay for it.
type listCapture struct {
	on      atomic.Bool
	mu      sync.Mutex
	pending map[any]string             // request ID -> list method
	results map[string]json.RawMessage // list method -> raw result of its last response
}

func newListCapture() *listCapture {
	return &listCapture{pending: map[any]string{}, results: map[string]json.RawMessage{}}
}

func isListMethod(m string) bool {
	switch m {
	case "tools/list", "prompts/list", "resources/list", "resources/templates/list":
		return true
	}
	return false
}

// begin switches capture on for one list call.
func (c *listCapture) begin() {
	c.mu.Lock()
	clear(c.results)
	c.mu.Unlock()
	c.on.Store(true)
}

// take returns the raw result of the last response to method and switches
// capture off.
func (c *listCapture) take(method string) (json.RawMessage, bool) {
	c.on.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, ok := c.results[method]
	clear(c.pending)
	return raw, ok
}

func (c *listCapture) sent(msg jsonrpc.Message) {
	if !c.on.Load() {
		return
	}
	if r, ok := msg.(*jsonrpc.Request); ok && r.IsCall() && isListMethod(r.Method) {
		c.mu.Lock()
		c.pending[r.ID.Raw()] = r.Method
		c.mu.Unlock()
	}
}

func (c *listCapture) received(msg jsonrpc.Message) {
	if !c.on.Load() {
		return
	}
	r, ok := msg.(*jsonrpc.Response)
	if !ok || r.Error != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id := r.ID.Raw()
	if m, ok := c.pending[id]; ok {
		c.results[m] = bytes.Clone(r.Result)
		delete(c.pending, id)
	}
}

// captureTransport wraps a stdio or legacy SSE transport. (Streamable HTTP
// connections cannot be wrapped: go-sdk reaches them through an unexported
// interface, so for them the capture sits in the HTTP layer; see
// captureBody.)
type captureTransport struct {
	mcp.Transport
	cap *listCapture
}

func (t captureTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	conn, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return captureConn{conn, t.cap}, nil
}

type captureConn struct {
	mcp.Connection
	cap *listCapture
}

func (c captureConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	msg, err := c.Connection.Read(ctx)
	if err == nil {
		c.cap.received(msg)
	}
	return msg, err
}

func (c captureConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	c.cap.sent(msg)
	return c.Connection.Write(ctx, msg)
}

// captureBody reads a Streamable HTTP response (JSON or SSE) on behalf of
// go-sdk and records list results on the way. Every complete message is
// recorded before its last byte is handed to go-sdk, so the capture is in
// place before the caller can see the result.
type captureBody struct {
	io.ReadCloser
	cap    *listCapture
	sse    bool
	buf    []byte    // JSON: the whole body
	events sseEvents // SSE
}

func (b *captureBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.sse {
		b.events.add(p[:n])
		if terr := b.events.take(b.recordEvent); terr != nil {
			return n, terr
		}
		return n, err
	}
	b.buf = append(b.buf, p[:n]...)
	if len(b.buf) > maxRawMessage {
		return n, errTooLong
	}
	if err == io.EOF {
		b.record(b.buf)
	}
	return n, err
}

// recordEvent records the message of one SSE event.
func (b *captureBody) recordEvent(event []byte, end int) {
	var data []byte
	for line := range bytes.Lines(event[:end]) {
		line = bytes.TrimRight(line, "\r\n")
		if d, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(d, []byte(" "))...)
		}
	}
	if len(data) > 0 {
		b.record(data)
	}
}

// sseEvents splits an SSE stream into whole events as its bytes arrive.
// Each byte is searched for an event's end once (an event of megabytes
// arrives in thousands of reads), and an event longer than maxRawMessage
// is refused rather than held.
type sseEvents struct {
	buf     []byte // the unfinished event, then what add appended
	scanned int    // buf[:scanned] holds no event end
}

func (s *sseEvents) add(p []byte) { s.buf = append(s.buf, p...) }

// take calls f with each whole event in the buffer, in order: the event
// with the blank line that ends it, and the length of its fields. The
// event is valid only during the call. The unfinished rest is kept.
func (s *sseEvents) take(f func(event []byte, end int)) error {
	used := 0
	for {
		// An end is up to 4 bytes long: the last 3 scanned may start one.
		end, next := eventEndFrom(s.buf[used:], max(s.scanned-3, 0))
		if end < 0 {
			s.scanned = len(s.buf) - used
			break
		}
		if end > maxRawMessage {
			return errTooLong
		}
		f(s.buf[used:used+next], end)
		used += next
		s.scanned = 0
	}
	if used > 0 {
		// Keep the unfinished event at the start of the same array.
		s.buf = s.buf[:copy(s.buf, s.buf[used:])]
	}
	if len(s.buf) > maxRawMessage {
		return errTooLong
	}
	return nil
}

// rest returns the unfinished event and forgets it.
func (s *sseEvents) rest() []byte {
	r := s.buf
	s.buf, s.scanned = nil, 0
	return r
}

// eventEnd finds the blank line that ends an SSE event: the event's length
// and where the next one starts, or -1.
func eventEnd(buf []byte) (end, next int) { return eventEndFrom(buf, 0) }

// eventEndFrom is eventEnd for a buf whose first from bytes start no end.
func eventEndFrom(buf []byte, from int) (end, next int) {
	for i := from; i+1 < len(buf); i++ {
		if buf[i] != '\n' && buf[i] != '\r' {
			continue
		}
		switch {
		case buf[i] == '\n' && buf[i+1] == '\n':
			return i + 1, i + 2
		case buf[i] == '\r' && buf[i+1] == '\r':
			return i + 1, i + 2
		case i+3 < len(buf) && string(buf[i:i+4]) == "\r\n\r\n":
			return i + 2, i + 4
		}
	}
	return -1, -1
}

func (b *captureBody) record(data []byte) {
	if msg, err := jsonrpc.DecodeMessage(data); err == nil {
		b.cap.received(msg)
	}
}
