package oauth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

func FuzzParseChallenge(f *testing.F) {
	f.Add(`Bearer resource_metadata="https://a.example/prm", scope="a b", error="invalid_token"`)
	f.Add(`DPoP algs="ES256", Bearer realm="x"`)
	f.Add(`Bearer "`)
	f.Fuzz(func(t *testing.T, header string) {
		ch := ParseChallenge(&http.Response{StatusCode: 403, Header: http.Header{"Www-Authenticate": {header}}})
		if ch.Status != 403 {
			t.Fatalf("status %d", ch.Status)
		}
	})
}

// FuzzParseWWWAuthenticate: any header gives challenges whose schemes and
// parameter names are lower-case tokens; never a panic.
func FuzzParseWWWAuthenticate(f *testing.F) {
	f.Add(`Negotiate YIIB9w==, Basic realm="a, b", , Bearer realm="", scope=x, DPoP algs="ES256 PS256"`)
	f.Add(`Bearer error_description="say \"no\", twice\`)
	f.Add(`Custom realm="x" junk, Bearer resource_metadata=https://a.example/prm`)
	f.Fuzz(func(t *testing.T, header string) {
		for _, c := range ParseWWWAuthenticate(strings.Split(header, "\n")) {
			if c.Scheme == "" || c.Scheme != strings.ToLower(c.Scheme) || strings.ContainsAny(c.Scheme, " \t,=\"") {
				t.Fatalf("scheme %q", c.Scheme)
			}
			for name := range c.Params {
				if name == "" || name != strings.ToLower(name) || strings.ContainsAny(name, " \t,=\"") {
					t.Fatalf("parameter name %q", name)
				}
			}
		}
	})
}

// FuzzAuthServerMetadata: metadata is accepted only with S256 and safe
// endpoints (https, or http on loopback); never a panic.
func FuzzAuthServerMetadata(f *testing.F) {
	f.Add(`{"issuer":"https://as.example","authorization_endpoint":"https://as.example/authorize","token_endpoint":"https://as.example/token","code_challenge_methods_supported":["S256"]}`)
	f.Add(`{"issuer":"https://as.example","authorization_endpoint":"javascript:alert(1)","token_endpoint":"https://as.example/token","code_challenge_methods_supported":["S256"]}`)
	f.Add(`{"authorization_endpoint":"http://10.0.0.1/a","token_endpoint":"file:///etc/passwd","code_challenge_methods_supported":["plain"]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		var m oauthex.AuthServerMeta
		if json.Unmarshal([]byte(doc), &m) != nil {
			return
		}
		as, err := checkMetadata(&m)
		if err != nil {
			return
		}
		for _, u := range []string{as.AuthorizationEndpoint, as.TokenEndpoint} {
			if err := checkEndpointURL(u); err != nil {
				t.Fatalf("accepted an unsafe endpoint %q: %v", u, err)
			}
		}
	})
}

// FuzzCallbackQuery: any redirect query parses; a browser URL is opened
// only when it is http(s) with a host.
func FuzzCallbackQuery(f *testing.F) {
	f.Add("code=abc&state=xyz&iss=https%3A%2F%2Fas.example")
	f.Add("error=access_denied&error_description=%3Cscript%3E&state=")
	f.Add("state=a&state=b&iss")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		res, state := parseRedirect(q)
		if state != q.Get("state") || res.Code != q.Get("code") {
			t.Fatalf("parsed %+v %q from %q", res, state, raw)
		}
	})
}

func FuzzCheckBrowserURL(f *testing.F) {
	for _, s := range []string{"https://as.example/authorize?x=1", "javascript:alert(1)", "file:///etc/passwd",
		"data:text/html,x", "http://evil.example/", "https://a.example/$(rm -rf ~)", "http://127.0.0.1:8080/a", "HTTPS://A.EXAMPLE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if CheckBrowserURL(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted an unparsable URL %q", raw)
		}
		scheme := strings.ToLower(u.Scheme)
		if scheme != "https" && scheme != "http" || u.Host == "" {
			t.Fatalf("would open %q", raw)
		}
		if strings.ContainsAny(raw, "\x00\t\n\r \"'`<>\\^{}|") {
			t.Fatalf("would open a URL with characters URLs never contain: %q", raw)
		}
	})
}
