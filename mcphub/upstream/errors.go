package upstream

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/mcptray/mcptray/mcphub/config"
)

// Describe turns an error from a connect attempt into a sentence a person
// can act on. It never includes header values, environment values or URL
// query values (which may be API keys): any that a library put into an
// error message is replaced by [redacted].
func Describe(err error, srv config.Server) string {
	return redact(describe(err, srv), srv)
}

// Redact is err's text with the server's secrets (header, environment and
// URL query values) replaced by [redacted], for errors that reach a person
// or an IDE as they are.
func Redact(err error, srv config.Server) string { return redact(err.Error(), srv) }

func redact(msg string, srv config.Server) string {
	var secrets []string
	for _, v := range srv.Headers {
		secrets = append(secrets, v)
		if _, tok, ok := strings.Cut(v, " "); ok { // "Bearer xyz": xyz alone too
			secrets = append(secrets, tok)
		}
	}
	for _, v := range srv.Env {
		secrets = append(secrets, v)
	}
	if u, err := url.Parse(srv.URL); err == nil {
		for _, vs := range u.Query() {
			secrets = append(secrets, vs...)
		}
	}
	for _, s := range secrets {
		if len(s) >= 6 { // short values (flags, "1", "true") are not secrets and would mangle the text
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

func describe(err error, srv config.Server) string {
	var (
		pe    *processError
		dnsE  *net.DNSError
		opE   *net.OpError
		urlE  *url.Error
		certE *x509.UnknownAuthorityError
		hostE x509.HostnameError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pe):
		return fmt.Sprintf("%s; its last output: %s", describe(pe.err, srv), pe.stderr)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled) && strings.Contains(err.Error(), "no complete answer"):
		return firstClause(err)
	case errors.As(err, &dnsE):
		return fmt.Sprintf("cannot resolve host %q (%s)", dnsE.Name, dnsE.Err)
	case errors.As(err, &certE), errors.As(err, &hostE):
		return fmt.Sprintf("TLS certificate of %s is not trusted: %v", hostOf(srv.URL), err)
	case errors.As(err, &opE) && opE.Op == "dial":
		reason := "unreachable"
		if strings.Contains(opE.Err.Error(), "refused") {
			reason = "connection refused"
		} else if opE.Timeout() {
			reason = "timed out"
		}
		return fmt.Sprintf("cannot connect to %s (%s)", hostOf(srv.URL), reason)
	case errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF") && srv.Transport == "stdio":
		return "the command exited or closed its output before answering"
	case errors.As(err, &urlE):
		return fmt.Sprintf("request to %s failed: %v", hostOf(srv.URL), urlE.Err)
	}
	return refusedByUs.ReplaceAllString(strings.TrimSpace(err.Error()), "")
}

// refusedByUs is go-sdk's wrapping of an error our own transport returned
// (the OAuth client's: a locked keyring, a refresh that failed): `calling
// "initialize": sending "initialize": rejected by transport: ` says
// nothing to a person; what follows is ours and does.
var refusedByUs = regexp.MustCompile(`^(?:(?:calling|sending) "[^"]*": )*rejected by transport: `)

// firstClause keeps an error readable when wrapped contexts pile up.
func firstClause(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": "); i > 0 && strings.HasPrefix(s, "no complete answer") {
		return s[:i]
	}
	return s
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

// processError carries what a stdio server printed before it failed.
type processError struct {
	err    error
	stderr string
}

func (e *processError) Error() string { return e.err.Error() + "; stderr: " + e.stderr }
func (e *processError) Unwrap() error { return e.err }

// stderrTail logs a stdio server's stderr line by line (at debug level:
// servers write logs there, not errors; LC-28) and keeps the last lines to
// explain a failure.
type stderrTail struct {
	log     *slog.Logger
	srv     config.Server // whose secrets a logged line must not show
	mu      sync.Mutex
	partial []byte
	lines   []string
}

const tailLines = 5

func newStderrTail(log *slog.Logger, srv config.Server) *stderrTail {
	return &stderrTail{log: log, srv: srv}
}

func (t *stderrTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.addLine(string(bytes.TrimRight(t.partial[:i], "\r")))
		t.partial = t.partial[i+1:]
	}
	if len(t.partial) > 4096 { // a very long line without a newline
		t.addLine(string(t.partial))
		t.partial = t.partial[:0]
	}
	return len(p), nil
}

func (t *stderrTail) addLine(line string) {
	if strings.TrimSpace(line) == "" {
		return
	}
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	t.log.Debug("server stderr", "line", redact(line, t.srv))
	t.lines = append(t.lines, line)
	if len(t.lines) > tailLines {
		t.lines = t.lines[1:]
	}
}

// Tail returns the last lines joined with " | ".
func (t *stderrTail) Tail() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if len(t.partial) > 0 {
		lines = append(lines[:len(lines):len(lines)], string(t.partial))
	}
	return strings.Join(lines, " | ")
}
