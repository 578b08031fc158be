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
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mcptray/mcptray/mcphub/config"
)

// Describe turns an error from a connect attempt into a sentence a person
// can act on. It never includes header values, environment values (but
// PATH) or the URL's path and query (which may hold API keys): see redact.
func Describe(err error, srv config.Server) string {
	return redact(describe(err, srv), srv)
}

// Redact is err's text without the server's secrets, for errors that reach
// a person or an IDE as they are.
func Redact(err error, srv config.Server) string { return redact(err.Error(), srv) }

// redact removes the server's secrets from msg, in whatever form a library
// may have quoted them: the URL loses its query ("?…") and, where a segment
// looks like a key (hosted servers put keys in the path too), its path
// ("/…"); header values, environment
// values and the URL's query values, password and long path segments
// become [redacted]. PATH stays: it is not secret and explains a command
// not found.
func redact(msg string, srv config.Server) string {
	type swap struct{ old, new string }
	var swaps []swap
	secret := func(s string) {
		if len(s) >= 6 { // short values (flags, "1", "true") are not secrets and would mangle the text
			swaps = append(swaps, swap{s, "[redacted]"})
		}
	}
	for _, v := range srv.Headers {
		secret(v)
		if _, tok, ok := strings.Cut(v, " "); ok { // "Bearer xyz": xyz alone too
			secret(tok)
		}
	}
	for k, v := range srv.Env {
		if !strings.EqualFold(k, "PATH") {
			secret(v)
		}
	}
	u, err := url.Parse(srv.URL)
	// A key in the path is a long segment; words ("mcp", "servers") are
	// short, and a path of words stays shown: it helps tell a wrong one.
	pathKey := err == nil && slices.ContainsFunc(strings.Split(u.Path+"/"+u.EscapedPath(), "/"), func(seg string) bool { return len(seg) >= 16 })
	if err == nil && (u.RawQuery != "" || pathKey || u.User != nil) {
		path, rest := u.EscapedPath(), "?…"
		if pathKey {
			path, rest = "/…", "/…"
		}
		short := u.Scheme + "://" + u.Host + path
		if u.RawQuery != "" && !pathKey {
			short += "?…"
		}
		// The URL as written, as net/url writes it (Redacted is what
		// net/http's errors quote) and decoded, and from the path on.
		for _, s := range []string{srv.URL, u.String(), u.Redacted()} {
			swaps = append(swaps, swap{s, short})
			if d, err := url.PathUnescape(s); err == nil {
				swaps = append(swaps, swap{d, short})
			}
			if d, err := url.QueryUnescape(s); err == nil { // '+' as a space too
				swaps = append(swaps, swap{d, short})
			}
		}
		if pathKey {
			for _, s := range []string{u.RequestURI(), u.EscapedPath(), u.Path} {
				swaps = append(swaps, swap{s, rest})
			}
		} else if u.RawQuery != "" {
			swaps = append(swaps, swap{u.RequestURI(), u.EscapedPath() + rest})
		}
		secret(u.RawQuery)
		if q, err := url.QueryUnescape(u.RawQuery); err == nil {
			secret(q)
		}
		for _, kv := range strings.Split(u.RawQuery, "&") {
			_, v, _ := strings.Cut(kv, "=")
			secret(v) // as written ("%2b" and "%2B" decode alike)
			if d, err := url.QueryUnescape(v); err == nil {
				secret(d)
				secret(url.QueryEscape(d))
				secret(url.PathEscape(d))
			}
		}
		if u.User != nil {
			secret(u.User.Username()) // a key, for some (https://KEY@host)
			if pw, ok := u.User.Password(); ok {
				secret(pw)
			}
		}
		// A key in the path may be quoted on its own (a 404's body).
		for _, seg := range strings.Split(u.Path+"/"+u.EscapedPath(), "/") {
			if len(seg) >= 16 {
				secret(seg)
			}
		}
	}
	// Longest first, so a value inside a longer form does not leave the
	// rest of that form behind.
	slices.SortStableFunc(swaps, func(a, b swap) int { return len(b.old) - len(a.old) })
	for _, s := range swaps {
		msg = strings.ReplaceAll(msg, s.old, s.new)
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
	case srv.Transport == config.TransportStdio && (errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF")):
		return "the command exited or closed its output before answering"
	case errors.Is(err, io.EOF):
		return fmt.Sprintf("%s closed the connection before answering", hostOf(srv.URL))
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
	// Redacted before it is cut: a secret cut in two is no longer found.
	line = redact(line, t.srv)
	if len(line) > 300 {
		cut := 300
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut] + "…"
	}
	t.log.Debug("server stderr", "line", line)
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
