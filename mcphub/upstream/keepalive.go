package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A 2026-07-28 session would stay connected after its server died: go-sdk
// pings only initialize-era sessions (the new protocol has no ping), and
// its HTTP client reports a request that never reached the server as
// refused, not as the session's end. So the hub asks server/discover,
// which every such server answers cheaply, at the KeepAlive interval; two
// failures in a row end the session, as go-sdk's pings do.

// keepAliveFailures is how many failed asks in a row mean the server is
// gone (go-sdk's KeepAliveFailureThreshold for the initialize era).
const keepAliveFailures = 2

// keepAlive watches a 2026-07-28 HTTP session until ctx ends. The channel
// gets why the server is gone; it is nil (never ready) for sessions that
// need no watching.
func (c *Conn) keepAlive(ctx context.Context, att *attempt) <-chan error {
	if att.transport != TransportStreamable || att.probe == nil || att.catalog == nil ||
		att.catalog.ProtocolVersion < "2026-07-28" || c.opts.KeepAlive <= 0 {
		return nil
	}
	v := att.catalog.ProtocolVersion
	rp := newRawPath(c.srv.URL, att.probe, att.session.ID(), v)
	rp.post = maps.Clone(rp.post)
	rp.post["Mcp-Method"] = []string{"server/discover"}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "mcptray-keepalive", "method": "server/discover",
		"params": map[string]any{"_meta": map[string]any{
			mcp.MetaKeyProtocolVersion:    v,
			mcp.MetaKeyClientInfo:         c.opts.ClientInfo,
			mcp.MetaKeyClientCapabilities: map[string]any{},
		}}})
	if err != nil {
		return nil
	}
	gone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(c.opts.KeepAlive)
		defer tick.Stop()
		failures := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := c.discoverAlive(ctx, rp, body)
			switch {
			case ctx.Err() != nil:
				return
			case err == nil:
				failures = 0
				continue
			}
			if failures++; failures >= keepAliveFailures {
				gone <- fmt.Errorf("the server stopped answering: %w", err)
				return
			}
		}
	}()
	return gone
}

// discoverAlive asks server/discover once. Only a request that did not
// reach a server, or a server error, counts against it: a refusal (401,
// 404) is an answer, which the session's own requests deal with.
func (c *Conn) discoverAlive(ctx context.Context, rp *rawPath, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.KeepAlive)
	defer cancel()
	resp, err := c.rawSend(ctx, rp, http.MethodPost, bytes.NewReader(body), rp.post)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("server/discover: the server answered %s", resp.Status)
	}
	return nil
}
