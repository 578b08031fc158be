package upstream

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/oauth"
)

// Transport names as reported in the status.
const (
	TransportStreamable = "streamable-http"
	TransportSSE        = "sse"
	TransportStdio      = "stdio"
)

// attempt is one connection to the server and everything that must be
// released with it.
type attempt struct {
	session   *mcp.ClientSession
	catalog   *Catalog
	capture   *listCapture
	transport string
	began     time.Time
	cancel    context.CancelFunc // ends the session's context
	cmd       *exec.Cmd          // stdio only
	stderr    *stderrTail        // stdio only
	probe     *probe             // HTTP only
}

func (a *attempt) close() {
	if a.session != nil {
		_ = a.session.Close()
	}
	a.cancel()
	if a.cmd != nil {
		killGroup(a.cmd) // grandchildren (npx -> node) that outlived the child
	}
}

// connect makes one attempt: transport, initialize (or discover), catalogs.
func (c *Conn) connect(ctx context.Context) (*attempt, error) {
	// The session lives in attCtx (go-sdk's SSE client ties its stream to
	// the Connect context), so the time limit is a watchdog, not a deadline.
	attCtx, cancel := context.WithCancel(ctx)
	att := &attempt{began: time.Now(), cancel: cancel, capture: newListCapture()}
	limit := max(c.srv.Timeout, 5*time.Second)
	watchdog := time.AfterFunc(limit, cancel)
	err := c.handshake(attCtx, att)
	if err == nil {
		att.catalog, err = fetchCatalog(attCtx, att.session, att.capture, c.log)
		if err != nil && att.probe != nil {
			// Some servers let initialize through and ask for sign-in on
			// tools/list: that is needs_auth too.
			err = c.classify(err, att.probe)
		}
	}
	if !watchdog.Stop() && err != nil && ctx.Err() == nil {
		err = fmt.Errorf("no complete answer within %s: %w", limit, err)
	}
	if err != nil {
		att.close()
		return nil, err
	}
	return att, nil
}

func (c *Conn) handshake(ctx context.Context, att *attempt) error {
	opts := &mcp.ClientSessionOptions{ProtocolVersion: c.srv.ProtocolVersion}
	switch c.srv.Transport {
	case "stdio":
		t, err := c.stdioTransport(att)
		if err != nil {
			return err
		}
		att.transport = TransportStdio
		att.session, err = c.client.Connect(ctx, t, opts)
		if err != nil && att.stderr != nil {
			if tail := att.stderr.Tail(); tail != "" {
				err = &processError{err: err, stderr: tail}
			}
		}
		return err

	case "sse":
		p := c.newProbe(att, true)
		att.transport = TransportSSE
		var err error
		att.session, err = c.client.Connect(ctx, captureTransport{&mcp.SSEClientTransport{Endpoint: c.srv.URL, HTTPClient: &http.Client{Transport: p}}, att.capture}, opts)
		return c.classify(err, p)

	default: // http: Streamable HTTP, then legacy HTTP+SSE (TC-08)
		p := c.newProbe(att, false)
		att.transport = TransportStreamable
		var err error
		att.session, err = c.client.Connect(ctx, &mcp.StreamableClientTransport{
			Endpoint:     c.srv.URL,
			HTTPClient:   &http.Client{Transport: p},
			MaxRetries:   2,
			OAuthHandler: c.opts.Auth,
		}, opts)
		if err == nil {
			return c.checkEra(att, p)
		}
		v := p.result()
		// TC-08: an old HTTP+SSE server refuses the POST with 400, 404 or 405;
		// a modern server's JSON-RPC error (TC-09) or a sign-in request is
		// not that.
		oldServer := v.denied == nil && !v.rpcError &&
			(v.status == http.StatusBadRequest || v.status == http.StatusNotFound || v.status == http.StatusMethodNotAllowed)
		if !oldServer {
			return c.classifyVerdict(err, v)
		}
		c.log.Debug("streamable HTTP refused; trying legacy HTTP+SSE", "status", v.status)
		p.auth = c.opts.Auth
		att.transport = TransportSSE
		att.session, err = c.client.Connect(ctx, captureTransport{&mcp.SSEClientTransport{Endpoint: c.srv.URL, HTTPClient: &http.Client{Transport: p}}, att.capture}, opts)
		if err != nil {
			return fmt.Errorf("streamable HTTP answered %d and legacy SSE failed too: %w", v.status, c.classify(err, p))
		}
		return nil
	}
}

// checkEra refuses a session that fell back to the initialize era only
// because its server/discover never reached the server (a server still
// starting, a network blip): the session would stay on the older era for
// its whole life. The attempt fails and the next one asks again; if the
// same happens twice in a row, the older era is taken.
func (c *Conn) checkEra(att *attempt, p *probe) error {
	lost := p.lostDiscover()
	modern := att.session.InitializeResult() != nil && att.session.InitializeResult().ProtocolVersion >= "2026-07-28"
	if lost == nil || modern || c.srv.ProtocolVersion != "" || c.eraRetried {
		c.eraRetried = false
		return nil
	}
	c.eraRetried = true
	_ = att.session.Close()
	att.session = nil
	return fmt.Errorf("server/discover did not reach the server (%w); asking again rather than settling for the older protocol", lost)
}

// newProbe returns the RoundTripper of one attempt. For the SSE transport
// (sse) it also applies OAuth, since go-sdk's SSE client has no hook for it.
func (c *Conn) newProbe(att *attempt, sse bool) *probe {
	origin, _ := url.Parse(c.srv.URL) // checked by the config: an error leaves nil, which sends no headers
	p := &probe{base: c.opts.HTTPTransport, origin: origin, headers: c.srv.Headers, capture: att.capture, listenEnded: make(chan struct{}, 1),
		onStepUp: c.wantsMoreScope}
	if sse {
		p.auth = c.opts.Auth
	}
	if c.opts.Relay != nil {
		p.notify = c.relayNotification
	}
	att.probe = p
	return p
}

// classify turns a failed connect into a needsAuthError when the server
// asked for credentials.
func (c *Conn) classify(err error, p *probe) error {
	if err == nil {
		return nil
	}
	return c.classifyVerdict(err, p.result())
}

func (c *Conn) classifyVerdict(err error, v verdict) error {
	code, ch := v.status, v.denied
	if ch != nil {
		code = ch.Status
	}
	if code == http.StatusUnauthorized && c.srv.HasStaticAuth() && (ch == nil || ch.ResourceMetadata == "") {
		// A 401 to a request that carried configured credentials, with no
		// pointer to an OAuth server, is no server asking for sign-in.
		rejected := &CredentialsRejectedError{}
		if ch != nil {
			rejected.Detail = ch.Error
		}
		return rejected
	}
	var oa *oauth.NeedsAuthError
	if errors.As(err, &oa) {
		// The OAuth client knows why better than the status code does (the
		// grant was revoked, more scopes are needed...).
		return &NeedsAuthError{Challenge: orEmpty(ch, code), Reason: oa.Reason}
	}
	switch {
	case code == http.StatusUnauthorized:
		return &NeedsAuthError{Challenge: orEmpty(ch, code)}
	case code == http.StatusForbidden && ch != nil && ch.Error == "insufficient_scope":
		return &NeedsAuthError{Challenge: orEmpty(ch, code)}
	case code == http.StatusForbidden:
		return fmt.Errorf("the server refused access (HTTP 403%s)", errorSuffix(ch))
	}
	return err
}

func orEmpty(ch *status.Challenge, code int) *status.Challenge {
	if ch == nil {
		return &status.Challenge{Status: code}
	}
	return ch
}

func errorSuffix(ch *status.Challenge) string {
	if ch == nil || ch.Error == "" {
		return ""
	}
	return ": " + ch.Error
}

// privateEnv are the hub's own secrets among its environment variables:
// a stdio server never inherits them (it may still be given one by name
// in its "env").
var privateEnv = []string{"MCPTRAY_KEYRING_PASSWORD"}

// serverEnviron is the hub's environment without privateEnv.
func serverEnviron() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.ContainsFunc(privateEnv, func(p string) bool { return strings.EqualFold(k, p) })
	})
}

// stdioTransport starts nothing yet: go-sdk starts the command on Connect.
func (c *Conn) stdioTransport(att *attempt) (mcp.Transport, error) {
	cmd := exec.Command(c.srv.Command, c.srv.Args...)
	envPath, hasPath := c.envPath()
	if hasPath && filepath.Base(c.srv.Command) == c.srv.Command { // a bare name, which exec.Command looked up in the hub's PATH
		if found, ok := lookPathIn(c.srv.Command, envPath); ok {
			cmd.Path, cmd.Err = found, nil // as exec.Command would set them
		}
	}
	if cmd.Err != nil {
		if errors.Is(cmd.Err, exec.ErrNotFound) {
			if hasPath {
				// PATH only: the other env values may be secrets.
				return nil, fmt.Errorf("command %q was not found on the server's PATH (%s) nor on the hub's", c.srv.Command, envPath)
			}
			return nil, fmt.Errorf("command %q was not found on PATH", c.srv.Command)
		}
		return nil, cmd.Err
	}
	if filepath.IsAbs(c.srv.Command) {
		// Starting it would say only "fork/exec PATH: no such file or
		// directory" or "permission denied".
		fi, err := os.Stat(c.srv.Command)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("command %q does not exist", c.srv.Command)
		case err == nil && (fi.IsDir() || runtime.GOOS != "windows" && fi.Mode()&0o111 == 0):
			return nil, fmt.Errorf("command %q is not an executable file", c.srv.Command)
		}
	}
	cmd.Env = serverEnviron()
	for k, v := range c.srv.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = c.srv.Cwd
	setProcessGroup(cmd)
	att.stderr = newStderrTail(c.log, c.srv)
	cmd.Stderr = att.stderr
	// A grandchild that inherited stderr would keep Wait (and so shutdown)
	// blocked after the server itself exited; the group is killed after.
	cmd.WaitDelay = 300 * time.Millisecond
	att.cmd = cmd
	return captureTransport{&mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}, att.capture}, nil
}

// envPath is the PATH the server's "env" sets, if it sets one. The command
// is looked up there first: a hub started from a desktop session lacks
// what a shell profile adds (nvm's npx, ~/.local/bin).
func (c *Conn) envPath() (string, bool) {
	for k, v := range c.srv.Env {
		if k == "PATH" || runtime.GOOS == "windows" && strings.EqualFold(k, "PATH") {
			return v, true
		}
	}
	return "", false
}

// lookPathIn finds name in the directories of path as exec.LookPath does
// in the hub's PATH. Relative directories are skipped: exec.LookPath
// refuses what they find too (exec.ErrDot).
func lookPathIn(name, path string) (string, bool) {
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		// With a directory in it, LookPath checks just that file: an
		// executable regular file; on Windows, also with PATHEXT's endings.
		if found, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return found, true
		}
	}
	return "", false
}
