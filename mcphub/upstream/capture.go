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
	cap *listCapture
	sse bool
	buf []byte // JSON: the whole body; SSE: the current unfinished event
}

func (b *captureBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.buf = append(b.buf, p[:n]...)
	if b.sse {
		b.scanEvents()
	} else if err == io.EOF {
		b.record(b.buf)
	}
	return n, err
}

// scanEvents records every complete SSE event in buf and keeps the rest.
func (b *captureBody) scanEvents() {
	for {
		end, next := eventEnd(b.buf)
		if end < 0 {
			return
		}
		var data []byte
		for line := range bytes.Lines(b.buf[:end]) {
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
		b.buf = b.buf[next:]
	}
}

// eventEnd finds the blank line that ends an SSE event: the event's length
// and where the next one starts, or -1.
func eventEnd(buf []byte) (end, next int) {
	for i := 0; i+1 < len(buf); i++ {
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
