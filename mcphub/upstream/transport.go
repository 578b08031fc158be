package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/oauth"
)

// probe is the http.RoundTripper of one upstream connection. It adds the
// configured headers and remembers what the server last answered to a POST,
// so a failed connect can be classified: 401 means sign-in, 400/404/405 to
// the first POST means an old HTTP+SSE server (TC-08).
//
// Headers and tokens go only to the server's own origin (AUTH-28): a
// redirect, or a legacy server's "endpoint" event, may name another host,
// and what is added here is past net/http's own stripping of credentials
// on redirects.
type probe struct {
	base    http.RoundTripper
	origin  *url.URL // the server's URL: where headers and tokens may go
	headers map[string]string
	capture *listCapture
	// auth signs requests for the legacy SSE transport, which has no OAuth
	// hook of its own; nil for Streamable HTTP (go-sdk calls it there).
	auth auth.OAuthHandler

	mu         sync.Mutex
	postStatus int  // status of the last POST, or of a 401/403
	rpcError   bool // that answer's body was a JSON-RPC error: a modern server, not an old one
	// denied is the challenge of a 401/403 in this attempt, kept until a
	// later request succeeds: go-sdk answers a refused server/discover by
	// trying initialize, whose failure must not hide the sign-in request.
	denied *status.Challenge
	// discoverErr is a server/discover that never reached the server (a
	// connection refused): go-sdk then falls back to initialize, which is
	// no evidence that the server only speaks the older era.
	discoverErr error
	// listenEnded is told when go-sdk's subscriptions/listen stream (a
	// 2026-07-28 session's change notifications) ends under it (TC-15).
	listenEnded chan struct{}
	// onStepUp learns of a 403 insufficient_scope (AUTH-31); nil: nobody.
	onStepUp func(*status.Challenge)
	// notify takes the progress and log notifications on a call's stream
	// (tagBody); nil without a relay.
	notify func(method string, params json.RawMessage, tag string) bool
}

func (p *probe) RoundTrip(req *http.Request) (*http.Response, error) {
	return p.send(p.prepare(req))
}

// send is RoundTrip for a request that has the configured headers already:
// prepare's copy, or the raw path's own request, which builds them in.
func (p *probe) send(req *http.Request) (*http.Response, error) {
	own := p.ownOrigin(req.URL)
	if p.auth != nil && own {
		if err := p.sign(req); err != nil {
			return nil, err
		}
	}
	capturing := req.Method == http.MethodPost && p.capture != nil && p.capture.on.Load() && p.noteListRequest(req)
	resp, err := p.base.RoundTrip(req)
	if err != nil {
		if req.Header.Get("Mcp-Method") == "server/discover" {
			p.mu.Lock()
			p.discoverErr = err
			p.mu.Unlock()
		}
		return nil, err
	}
	p.record(req, resp)
	if p.auth != nil && own && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
		// As go-sdk's Streamable client does: let the handler refresh, then
		// retry once. It never opens a browser.
		err := p.auth.Authorize(req.Context(), req, resp)
		// The handler should close the refused answer; a second Close is
		// harmless, and one never made would hold a connection per attempt.
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		retry := p.prepare(req)
		if req.GetBody != nil {
			if retry.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		if err := p.sign(retry); err != nil {
			return nil, err
		}
		if resp, err = p.base.RoundTrip(retry); err != nil {
			return nil, err
		}
		p.record(retry, resp)
	}
	if tag, ok := req.Context().Value(callTagKey{}).(string); ok && resp.StatusCode == http.StatusOK &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body = &tagBody{ReadCloser: resp.Body, tag: tag, notify: p.notify}
	}
	if p.listenEnded != nil && resp.StatusCode == http.StatusOK && listsListen(req) {
		resp.Body = &endSignal{ReadCloser: resp.Body, ended: p.listenEnded, ctx: req.Context()}
	}
	if capturing && resp.StatusCode == http.StatusOK {
		ct := resp.Header.Get("Content-Type")
		resp.Body = &captureBody{ReadCloser: resp.Body, cap: p.capture, sse: strings.HasPrefix(ct, "text/event-stream")}
	}
	return resp, nil
}

// prepare returns a copy of req with the configured headers (a
// RoundTripper must not modify its request).
func (p *probe) prepare(req *http.Request) *http.Request {
	if len(p.headers) == 0 && p.auth == nil || !p.ownOrigin(req.URL) {
		return req
	}
	req = req.Clone(req.Context())
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	return req
}

// ownOrigin reports whether u is on the server's origin: the same host and
// port, and the same scheme or http upgraded to https (a server's own
// redirect to TLS).
func (p *probe) ownOrigin(u *url.URL) bool {
	o := p.origin
	if o == nil || !strings.EqualFold(u.Hostname(), o.Hostname()) {
		return false
	}
	if u.Scheme == o.Scheme {
		return portOf(u) == portOf(o)
	}
	return o.Scheme == "http" && u.Scheme == "https" && (o.Port() == "" || o.Port() == "80") && (u.Port() == "" || u.Port() == "443")
}

// portOf is u's port, the scheme's default when none is written.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// sign adds the OAuth access token. Without a grant the request goes out
// unsigned and the server's challenge says what it needs.
func (p *probe) sign(req *http.Request) error { return signWith(p.auth, req) }

// signWith adds h's access token, if it has one.
func signWith(h auth.OAuthHandler, req *http.Request) error {
	ts, err := h.TokenSource(req.Context())
	if err != nil || ts == nil {
		return err
	}
	tok, err := ts.Token()
	var na *oauth.NeedsAuthError
	switch {
	case errors.As(err, &na):
		return nil
	case err != nil:
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return nil
}

func (p *probe) record(req *http.Request, resp *http.Response) {
	denied := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if req.Method != http.MethodPost && !denied && !ok {
		return
	}
	rpcErr := false
	if !ok && req.Method == http.MethodPost {
		// Small error bodies only; the transport still reads the copy.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if msg, err := jsonrpc.DecodeMessage(body); err == nil {
			r, isResp := msg.(*jsonrpc.Response)
			rpcErr = isResp && r.Error != nil
		}
	}
	var ch *status.Challenge
	if denied {
		ch = parseChallenge(resp)
	}
	p.mu.Lock()
	switch {
	case denied:
		p.denied = ch
	case ok:
		p.denied = nil
	}
	if req.Method == http.MethodPost || denied {
		p.postStatus, p.rpcError = resp.StatusCode, rpcErr
	}
	p.mu.Unlock()
	if ch != nil && ch.Status == http.StatusForbidden && ch.Error == "insufficient_scope" && p.onStepUp != nil {
		p.onStepUp(ch)
	}
}

// noteListRequest records the ID of a list request in the body, leaving the
// body readable for the real transport.
func (p *probe) noteListRequest(req *http.Request) bool {
	if req.GetBody == nil {
		return false
	}
	rc, err := req.GetBody()
	if err != nil {
		return false
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Contains(body, []byte(`/list"`)) {
		return false
	}
	msg, err := jsonrpc.DecodeMessage(body)
	if err != nil {
		return false
	}
	r, ok := msg.(*jsonrpc.Request)
	if !ok || !isListMethod(r.Method) {
		return false
	}
	p.capture.sent(r)
	return true
}

// verdict is what the server's answers in this attempt say.
type verdict struct {
	status   int               // of the last POST (or 401/403)
	rpcError bool              // that answer carried a JSON-RPC error
	denied   *status.Challenge // a sign-in request not yet answered by a success
}

// lostDiscover is the transport error of this attempt's server/discover,
// if it had one.
func (p *probe) lostDiscover() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.discoverErr
}

// result returns the verdict and forgets it, so each connect attempt is
// judged on its own answers.
func (p *probe) result() verdict {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := verdict{p.postStatus, p.rpcError, p.denied}
	p.postStatus, p.rpcError, p.denied = 0, false, nil
	return v
}

// parseChallenge reads the Bearer challenge of a 401 or 403 (AUTH-01). A
// header that does not parse still yields the status, so the state is right
// even when the details are lost; oauth.ParseWWWAuthenticate keeps the
// challenges it can read.
func parseChallenge(resp *http.Response) *status.Challenge {
	c := &status.Challenge{Status: resp.StatusCode}
	if ch, ok := oauth.BearerChallenge(resp.Header); ok {
		c.Scheme = ch.Scheme
		c.ResourceMetadata = ch.Params["resource_metadata"]
		c.Scope = ch.Params["scope"]
		c.Error = ch.Params["error"]
		c.ErrorDescription = ch.Params["error_description"]
	}
	return c
}
