package upstream

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcptray/mcptray/mcphub/status"
)

// probe is the http.RoundTripper of one upstream connection. It adds the
// configured headers and remembers what the server last answered to a POST,
// so a failed connect can be classified: 401 means sign-in, 400/404/405 to
// the first POST means an old HTTP+SSE server (TC-08).
type probe struct {
	base    http.RoundTripper
	headers map[string]string
	capture *listCapture

	mu         sync.Mutex
	postStatus int               // status of the last POST
	challenge  *status.Challenge // from the last 401/403
}

func (p *probe) RoundTrip(req *http.Request) (*http.Response, error) {
	if len(p.headers) > 0 {
		req = req.Clone(req.Context())
		for k, v := range p.headers {
			req.Header.Set(k, v)
		}
	}
	capturing := req.Method == http.MethodPost && p.capture != nil && p.capture.on.Load() && p.noteListRequest(req)
	resp, err := p.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if req.Method == http.MethodPost {
		p.mu.Lock()
		p.postStatus = resp.StatusCode
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			p.challenge = parseChallenge(resp)
		}
		p.mu.Unlock()
	}
	if capturing && resp.StatusCode == http.StatusOK {
		ct := resp.Header.Get("Content-Type")
		resp.Body = &captureBody{ReadCloser: resp.Body, cap: p.capture, sse: strings.HasPrefix(ct, "text/event-stream")}
	}
	return resp, nil
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

// lastPost returns the status of the last POST and the last challenge, and
// forgets them, so each connect attempt is judged on its own answers.
func (p *probe) lastPost() (int, *status.Challenge) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, c := p.postStatus, p.challenge
	p.postStatus, p.challenge = 0, nil
	return s, c
}

// parseChallenge reads the Bearer challenge of a 401 or 403 (AUTH-01). A
// header that does not parse still yields the status, so the state is right
// even when the details are lost.
func parseChallenge(resp *http.Response) *status.Challenge {
	c := &status.Challenge{Status: resp.StatusCode}
	challenges, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		return c
	}
	for _, ch := range challenges {
		if ch.Scheme != "bearer" && len(challenges) > 1 {
			continue
		}
		c.Scheme = ch.Scheme
		c.ResourceMetadata = ch.Params["resource_metadata"]
		c.Scope = ch.Params["scope"]
		c.Error = ch.Params["error"]
		c.ErrorDescription = ch.Params["error_description"]
		break
	}
	return c
}
