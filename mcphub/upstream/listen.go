package upstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A 2026-07-28 server's list_changed notifications come on a long
// subscriptions/listen stream, which go-sdk opens once, when it connects.
// A server may end that stream (an HTTP timeout, a proxy, a restart of
// its front end) while the session, stateless, goes on; go-sdk then
// listens no more, and the hub would never hear of a change again. So
// the probe tells when that stream ends, and the hub listens again, on
// its own requests, until the session ends (TC-15). Each new stream is
// followed by a refresh of every list: changes while nobody listened are
// not lost.

// ownListenKey marks the hub's own listen requests, which the probe does
// not watch (the relisten loop does).
type ownListenKey struct{}

// listsListen reports whether req is go-sdk's subscriptions/listen for
// list changes, the one it opens on connecting. Its listens for resource
// updates (one per subscribed URI, ended by Unsubscribe) are not; nor are
// the hub's own.
func listsListen(req *http.Request) bool {
	if req.Header.Get("Mcp-Method") != "subscriptions/listen" || req.Context().Value(ownListenKey{}) != nil || req.GetBody == nil {
		return false
	}
	body, err := req.GetBody()
	if err != nil {
		return false
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, 64<<10))
	return err == nil && !bytes.Contains(data, []byte(`"resourceSubscriptions"`))
}

// endSignal is go-sdk's listen response body: it tells ended once the
// server ends the stream (a read fails while its request is live), not
// when go-sdk closes it (the session's end).
type endSignal struct {
	io.ReadCloser
	ended chan<- struct{}
	ctx   context.Context // the request's
}

func (e *endSignal) Read(p []byte) (int, error) {
	n, err := e.ReadCloser.Read(p)
	if err != nil && e.ctx.Err() == nil {
		select {
		case e.ended <- struct{}{}:
		default:
		}
	}
	return n, err
}

// listenWatched is the channel told when go-sdk's listen stream of a
// 2026-07-28 HTTP session ends; nil (never ready) for other sessions.
func (c *Conn) listenWatched(att *attempt) <-chan struct{} {
	if att.transport != TransportStreamable || att.probe == nil || att.catalog == nil || att.catalog.ProtocolVersion < "2026-07-28" {
		return nil
	}
	return att.probe.listenEnded
}

// listenBackoff bounds the wait between listen attempts.
const (
	listenBackoffMin = time.Second
	listenBackoffMax = time.Minute
)

// relisten keeps a subscriptions/listen stream open until ctx (the
// session) ends: 1 s after a stream ends, doubling to a minute while
// they fail, back to 1 s after one that lasted 30 s.
func (c *Conn) relisten(ctx context.Context, att *attempt) {
	body, kinds := c.listenRequest(att)
	if kinds == nil {
		return
	}
	rp := newRawPath(c.srv.URL, att.probe, att.session.ID(), att.catalog.ProtocolVersion)
	rp.post = maps.Clone(rp.post)
	rp.post["Mcp-Method"] = []string{"subscriptions/listen"}
	c.log.Info("upstream ended its change notification stream; listening again")
	wait := listenBackoffMin
	for {
		began := time.Now()
		err := c.listenOnce(ctx, rp, body, att, kinds)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) >= 30*time.Second {
			wait = listenBackoffMin
		}
		c.log.Debug("upstream change notification stream ended", "err", Redact(err, c.srv), "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, listenBackoffMax)
	}
}

// listenRequest is the subscriptions/listen request for the lists the
// server said change (as go-sdk asks), and those lists; none when no list
// changes.
func (c *Conn) listenRequest(att *attempt) (body []byte, kinds []catalogKind) {
	caps := att.catalog.Capabilities
	if caps == nil {
		return nil, nil
	}
	n := map[string]bool{}
	if caps.Tools != nil && caps.Tools.ListChanged {
		n["toolsListChanged"] = true
		kinds = append(kinds, kindTools)
	}
	if caps.Prompts != nil && caps.Prompts.ListChanged {
		n["promptsListChanged"] = true
		kinds = append(kinds, kindPrompts)
	}
	if caps.Resources != nil && caps.Resources.ListChanged {
		n["resourcesListChanged"] = true
		kinds = append(kinds, kindResources, kindTemplates)
	}
	if kinds == nil {
		return nil, nil
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "mcptray-listen", "method": "subscriptions/listen",
		"params": map[string]any{"notifications": n, "_meta": map[string]any{
			mcp.MetaKeyProtocolVersion:    att.catalog.ProtocolVersion,
			mcp.MetaKeyClientInfo:         c.opts.ClientInfo,
			mcp.MetaKeyClientCapabilities: map[string]any{},
		}}})
	if err != nil {
		return nil, nil
	}
	return body, kinds
}

// listenOnce opens one listen stream and reads it to its end. Once the
// server acknowledged it, the lists it is about (kinds) are refreshed.
func (c *Conn) listenOnce(ctx context.Context, rp *rawPath, body []byte, att *attempt, kinds []catalogKind) error {
	resp, err := c.rawSend(context.WithValue(ctx, ownListenKey{}, true), rp, http.MethodPost, bytes.NewReader(body), rp.post)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return fmt.Errorf("subscriptions/listen: the server answered %s (%s)", resp.Status, resp.Header.Get("Content-Type"))
	}
	ev := &eventReader{r: bufio.NewReaderSize(resp.Body, 16<<10)}
	for {
		data, err := ev.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("the server ended the stream")
			}
			return err
		}
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.Method {
		case "notifications/subscriptions/acknowledged":
			c.listChanged(att.session, kinds...)
		case "notifications/tools/list_changed":
			c.listChanged(att.session, kindTools)
		case "notifications/prompts/list_changed":
			c.listChanged(att.session, kindPrompts)
		case "notifications/resources/list_changed":
			c.listChanged(att.session, kindResources, kindTemplates)
		case "":
			if len(m.ID) > 0 {
				return errors.New("the server answered the listen request: the stream is over")
			}
		}
	}
}
