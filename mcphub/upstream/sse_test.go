package upstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// endless is a server that sends one SSE event that never ends: short
// data lines, never a blank line.
type endless struct{ line []byte }

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], e.line)
	}
	return n, nil
}

func endlessEvent() io.Reader {
	return &endless{line: []byte("data: " + strings.Repeat("x", 250) + "\n")}
}

// An event of many short data lines is bounded as a single long line is.
func TestEventReaderBoundsEvent(t *testing.T) {
	src := io.LimitReader(endlessEvent(), maxRawMessage*11/10) // then EOF, still without a blank line
	ev := &eventReader{r: bufio.NewReaderSize(src, 8<<10)}
	data, err := ev.next()
	if !errors.Is(err, errTooLong) {
		t.Fatalf("an event of %d bytes: err %v, want errTooLong", len(data), err)
	}
}

// readAll reads r as go-sdk does, in pieces, until an error, within limit:
// a reader that rescans what it holds on every read would take minutes.
func readAll(t *testing.T, r io.Reader, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			if _, err := r.Read(buf); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("reading an event of %d MB took longer than %s", maxRawMessage>>20, limit)
		return nil
	}
}

// The call tagging and the list capture read SSE events whole: an event
// over the limit is refused, in time linear in its size, rather than held
// in memory without bound.
func TestSSEWrappersBoundEvents(t *testing.T) {
	src := func() io.ReadCloser { return io.NopCloser(io.LimitReader(endlessEvent(), maxRawMessage*11/10)) }
	t.Run("tag", func(t *testing.T) {
		err := readAll(t, &tagBody{ReadCloser: src(), tag: "c1"}, 30*time.Second)
		if !errors.Is(err, errTooLong) {
			t.Errorf("err %v, want errTooLong", err)
		}
	})
	t.Run("capture", func(t *testing.T) {
		err := readAll(t, &captureBody{ReadCloser: src(), cap: newListCapture(), sse: true}, 30*time.Second)
		if !errors.Is(err, errTooLong) {
			t.Errorf("err %v, want errTooLong", err)
		}
	})
	t.Run("capture JSON", func(t *testing.T) {
		err := readAll(t, &captureBody{ReadCloser: src(), cap: newListCapture()}, 30*time.Second)
		if !errors.Is(err, errTooLong) {
			t.Errorf("err %v, want errTooLong", err)
		}
	})
}

// oneByte hands out its input a byte per read: every event end falls
// across reads.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) { return o.r.Read(p[:min(len(p), 1)]) }

// Events whose ends arrive split across reads are still found, once.
func TestSSEWrappersSplitReads(t *testing.T) {
	msg := `{"jsonrpc":"2.0","id":7,"result":{"tools":[]}}`
	log := `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}`
	in := "data: " + log + "\r\n\r\n" + ": c\r\r" + "data: " + msg + "\n\n"
	tb := &tagBody{ReadCloser: io.NopCloser(oneByte{strings.NewReader(in)}), tag: "c1"}
	out, err := io.ReadAll(tb)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(out, []byte(`"io.mcptray/call":"c1"`)) != 1 || !bytes.HasSuffix(out, []byte("data: "+msg+"\n\n")) {
		t.Errorf("tagged stream %q", out)
	}

	lc := newListCapture()
	lc.begin()
	req, err := jsonrpc.DecodeMessage([]byte(`{"jsonrpc":"2.0","id":7,"method":"tools/list"}`))
	if err != nil {
		t.Fatal(err)
	}
	lc.sent(req)
	cb := &captureBody{ReadCloser: io.NopCloser(oneByte{strings.NewReader(in)}), cap: lc, sse: true}
	if _, err := io.ReadAll(cb); err != nil {
		t.Fatal(err)
	}
	if raw, ok := lc.take("tools/list"); !ok || string(raw) != `{"tools":[]}` {
		t.Errorf("captured %s %v", raw, ok)
	}
}

// cutAfter hands out its input, then fails as a cut connection does.
type cutAfter struct {
	r   *strings.Reader
	err error
}

func (c *cutAfter) Read(p []byte) (int, error) {
	if n, _ := c.r.Read(p); n > 0 {
		return n, nil
	}
	return 0, c.err
}

func (c *cutAfter) Close() error { return nil }

// On a call's stream, the progress and log notifications go to notify as
// they are read, and not to go-sdk; the last event too when the stream
// ends without its blank line. Events go-sdk does not read (named other
// than message) are left alone, and a cut reaches go-sdk as the error it
// was, so that go-sdk resumes rather than taking half a line for an event.
func TestTagBodyHandsOverNotifications(t *testing.T) {
	logMsg := `{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}`
	progress := `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p","progress":1}}`
	answer := `{"jsonrpc":"2.0","id":7,"result":{}}`
	for _, c := range []struct {
		what, in string
		end      error
		notified []string
		out      string
	}{
		{"in order, ids kept", "id: 1\ndata: " + progress + "\n\nid: 2\ndata: " + logMsg + "\n\ndata: " + answer + "\n\n", io.EOF,
			[]string{"notifications/progress", "notifications/message"}, "id: 1\n\nid: 2\n\ndata: " + answer + "\n\n"},
		{"the last without its blank line", "data: " + logMsg + "\n", io.EOF,
			[]string{"notifications/message"}, ""},
		{"an event of another name", "event: other\ndata: " + logMsg + "\n\n", io.EOF,
			nil, "event: other\ndata: " + logMsg + "\n\n"},
		{"a cut", "id: 1\ndata: " + progress + "\n\nid: 2\ndata: {\"jsonrpc\":", io.ErrUnexpectedEOF,
			[]string{"notifications/progress"}, "id: 1\n\nid: 2\ndata: {\"jsonrpc\":"},
	} {
		var notified []string
		tb := &tagBody{ReadCloser: &cutAfter{strings.NewReader(c.in), c.end}, tag: "c1",
			notify: func(method string, _ json.RawMessage, tag string) bool {
				notified = append(notified, method+"@"+tag)
				return true
			}}
		out, err := io.ReadAll(tb)
		if c.end == io.EOF && err != nil || c.end != io.EOF && !errors.Is(err, c.end) {
			t.Errorf("%s: the body ended with %v, want %v", c.what, err, c.end)
		}
		want := make([]string, len(c.notified))
		for i, m := range c.notified {
			want[i] = m + "@c1"
		}
		if !slices.Equal(notified, want) || string(out) != c.out {
			t.Errorf("%s: notified %v, want %v; go-sdk read %q, want %q", c.what, notified, want, out, c.out)
		}
	}
}

// go-sdk resumes a call's stream cut mid-line (from the last event ID),
// with the call tagged (tagBody in between) as without: the cut reaches it
// as an error, not as an end that would make half a line an event, whose
// decoding failure closes the whole session.
func TestCutStreamResumesThroughTagBody(t *testing.T) {
	var callID atomic.Value
	callID.Store("0")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			if r.Header.Get("Last-Event-ID") != "e1" {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "id: e2\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"done\"}]}}\n\n", callID.Load())
			return
		case http.MethodDelete:
			return
		}
		var m struct {
			ID     json.RawMessage
			Method string
		}
		_ = json.NewDecoder(r.Body).Decode(&m)
		w.Header().Set("Mcp-Session-Id", "s1")
		switch {
		case m.Method == "initialize":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"s","version":"1"}}}`, m.ID)
		case m.Method == "tools/call":
			callID.Store(string(m.ID))
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "id: e1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":\"p\",\"progress\":1}}\n\n")
			fmt.Fprintf(w, "id: e2\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"res", m.ID)
			w.(http.Flusher).Flush()
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
		case len(m.ID) == 0:
			w.WriteHeader(http.StatusAccepted)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"no"}}`, m.ID)
		}
	}))
	t.Cleanup(srv.Close)
	for _, tagged := range []bool{false, true} {
		p := &probe{base: http.DefaultTransport, notify: func(string, json.RawMessage, string) bool { return true }}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).Connect(ctx,
			&mcp.StreamableClientTransport{Endpoint: srv.URL, HTTPClient: &http.Client{Transport: p}, MaxRetries: 2}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		cctx := ctx
		if tagged {
			cctx = WithCallTag(ctx, "c1")
		}
		res, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: "x", Arguments: map[string]any{}})
		if err != nil {
			_, lerr := cs.ListTools(ctx, nil)
			t.Fatalf("tagged %v: the call failed: %v; the session then: %v", tagged, err, lerr)
		}
		if tc, ok := res.Content[0].(*mcp.TextContent); !ok || tc.Text != "done" {
			t.Errorf("tagged %v: result %+v", tagged, res)
		}
	}
}
