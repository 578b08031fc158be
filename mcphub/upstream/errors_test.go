package upstream

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcptray/mcptray/mcphub/config"
)

// An error our own transport returned (the OAuth client's) is shown
// without go-sdk's wrapping; go-sdk's words about which request failed
// stay for everything else.
func TestDescribeDropsTheSDKWrappingOfOurErrors(t *testing.T) {
	srv := config.Server{ID: "s", URL: "https://mcp.example/mcp"}
	ours := errors.New("the token endpoint auth.example timed out (no answer in time)")
	for err, want := range map[error]string{
		fmt.Errorf(`calling "initialize": sending "initialize": rejected by transport: %w`, ours): ours.Error(),
		fmt.Errorf(`rejected by transport: %w`, ours):                                             ours.Error(),
		fmt.Errorf(`calling "tools/list": %w`, errors.New("the server is busy")):                  `calling "tools/list": the server is busy`,
	} {
		if got := Describe(err, srv); got != want {
			t.Errorf("Describe(%q) = %q, want %q", err, got, want)
		}
	}
}

// A key in the URL's path or query is not shown in any form a library may
// quote the URL in: as written, decoded, or as net/http's errors do.
func TestRedactRemovesURLSecrets(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // no answer: the client's error quotes the URL
		}
	}))
	defer hs.Close()
	raw := hs.URL + "/api/s/SECRETPATHTOKEN123/mcp?key=abc%2Bdef123&v=1"
	srv := config.Server{ID: "h", Transport: config.TransportHTTP, URL: raw}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := url.PathUnescape(raw)
	if err != nil {
		t.Fatal(err)
	}
	_, getErr := http.Get(raw)
	if getErr == nil {
		t.Fatal("the request succeeded")
	}
	errs := []error{
		getErr,
		fmt.Errorf("POST %s: connection reset", raw),
		fmt.Errorf("POST %s: connection reset", decoded),
		fmt.Errorf("POST %s: connection reset", u.Redacted()),
		fmt.Errorf("GET %s: 404 no server SECRETPATHTOKEN123", u.RequestURI()),
		fmt.Errorf("bad key %q", u.Query().Get("key")),
	}
	secrets := []string{"SECRETPATHTOKEN123", "abc%2Bdef123", "abc+def123"}
	for _, err := range errs {
		for _, out := range []string{Describe(err, srv), Redact(err, srv)} {
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%q shows %q (from %q)", out, s, err)
				}
			}
		}
	}
	if got, want := Redact(errs[1], srv), "POST "+hs.URL+"/…: connection reset"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
}

// An HTTP server that hangs up is not described as a command that exited.
func TestDescribeEOF(t *testing.T) {
	eof := fmt.Errorf(`calling "initialize": %w`, io.EOF)
	httpSrv := config.Server{ID: "h", Transport: config.TransportHTTP, URL: "https://mcp.example/mcp"}
	if got := Describe(eof, httpSrv); got != "mcp.example closed the connection before answering" {
		t.Errorf("HTTP: %q", got)
	}
	stdioSrv := config.Server{ID: "s", Transport: config.TransportStdio, Command: "x"}
	if got := Describe(eof, stdioSrv); got != "the command exited or closed its output before answering" {
		t.Errorf("stdio: %q", got)
	}
}

// A URL whose path has no key-like segment keeps its path in errors (it
// tells a wrong path apart); its query goes.
func TestRedactKeepsAPathOfWords(t *testing.T) {
	srv := config.Server{ID: "s", URL: "https://mcp.example.com/v1/mcp?api_key=abcdef123456"}
	got := redact(`Post "https://mcp.example.com/v1/mcp?api_key=abcdef123456": 404 at /v1/mcp?api_key=abcdef123456`, srv)
	if want := `Post "https://mcp.example.com/v1/mcp?…": 404 at /v1/mcp?…`; got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
	plain := config.Server{ID: "p", URL: "http://127.0.0.1:8080/mcp"}
	if got := redact(`Post "http://127.0.0.1:8080/mcp": EOF`, plain); got != `Post "http://127.0.0.1:8080/mcp": EOF` {
		t.Errorf("a URL with nothing secret: %q", got)
	}
}

// A long stderr line is redacted before it is cut short: a secret that
// straddles the cut is not left half shown.
func TestStderrTailRedactsBeforeCutting(t *testing.T) {
	secret := "sk-live-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	srv := config.Server{ID: "s", Command: "x", Env: map[string]string{"API_KEY": secret}}
	tail := newStderrTail(slog.New(slog.DiscardHandler), srv)
	line := strings.Repeat("é", 135) + "Authorization: Bearer " + secret + " and more\n" // the cut falls inside the secret
	if _, err := tail.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	got := tail.Tail()
	if strings.Contains(got, secret[:8]) || !utf8.ValidString(got) {
		t.Errorf("tail: %q", got)
	}
}
