package upstream

import (
	"net/http"
	"testing"

	"github.com/mcptray/mcptray/mcphub/status"
)

// AUTH-01: the Bearer challenge of a 401 or 403 is read from
// WWW-Authenticate, whatever else the header holds.
func TestParseChallenge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header []string // one element per header line
		want   status.Challenge
	}{
		{"DPoP before Bearer",
			[]string{`DPoP algs="ES256", Bearer resource_metadata="u", scope="a b", error="insufficient_scope"`},
			status.Challenge{Scheme: "bearer", ResourceMetadata: "u", Scope: "a b", Error: "insufficient_scope"}},
		{"separate header lines",
			[]string{`DPoP algs="ES256"`, `Bearer resource_metadata="u", scope="a b"`},
			status.Challenge{Scheme: "bearer", ResourceMetadata: "u", Scope: "a b"}},
		{"Bearer line before another",
			[]string{`Bearer error="invalid_token", resource_metadata="u"`, `Basic realm="api"`},
			status.Challenge{Scheme: "bearer", ResourceMetadata: "u", Error: "invalid_token"}},
		{"commas and a scheme name inside quotes",
			[]string{`Bearer error="invalid_token", error_description="expired, Basic realm=x", scope="read write", resource_metadata="https://mcp.example/prm?a=1,2"`},
			status.Challenge{Scheme: "bearer", ResourceMetadata: "https://mcp.example/prm?a=1,2", Scope: "read write",
				Error: "invalid_token", ErrorDescription: "expired, Basic realm=x"}},
		{"escaped quotes",
			[]string{`Bearer error_description="say \"no\", twice", scope="a"`},
			status.Challenge{Scheme: "bearer", Scope: "a", ErrorDescription: `say "no", twice`}},
		{"scheme in any case",
			[]string{`DPoP algs="ES256", bEaReR scope="s", resource_metadata="u"`},
			status.Challenge{Scheme: "bearer", ResourceMetadata: "u", Scope: "s"}},
		{"parameter names in any case",
			[]string{`Bearer Resource_Metadata="u", SCOPE="s", Error="invalid_token"`},
			status.Challenge{Scheme: "bearer", ResourceMetadata: "u", Scope: "s", Error: "invalid_token"}},
		{"unquoted values",
			[]string{`Bearer error=insufficient_scope, scope=admin`},
			status.Challenge{Scheme: "bearer", Scope: "admin", Error: "insufficient_scope"}},
		{"another scheme's parameters are not the Bearer one's",
			[]string{`DPoP error="use_dpop_nonce", resource_metadata="wrong", Bearer realm="r"`},
			status.Challenge{Scheme: "bearer"}},
		{"empty quoted value",
			[]string{`Bearer realm="", resource_metadata="u", scope="s"`},
			status.Challenge{Scheme: "bearer", ResourceMetadata: "u", Scope: "s"}},
		{"token68 challenge before Bearer",
			[]string{`Negotiate YIIB9wYGKwYBBQUCoIIB6zCCAeeg, Bearer resource_metadata="u"`},
			status.Challenge{Scheme: "bearer", ResourceMetadata: "u"}},
		{"an unreadable challenge before Bearer",
			[]string{`Custom realm="x" junk, Bearer resource_metadata="u"`},
			status.Challenge{Scheme: "bearer", ResourceMetadata: "u"}},
		{"unquoted URL",
			[]string{`Bearer resource_metadata=https://mcp.example/prm, scope=s`},
			status.Challenge{Scheme: "bearer", ResourceMetadata: "https://mcp.example/prm", Scope: "s"}},
		{"no header", nil, status.Challenge{}},
		{"unreadable", []string{`Bearer scope="unterminated`}, status.Challenge{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parseChallenge(&http.Response{StatusCode: http.StatusForbidden, Header: http.Header{"Www-Authenticate": tc.header}})
			tc.want.Status = http.StatusForbidden
			if c == nil || *c != tc.want {
				t.Errorf("%q\ngot  %+v\nwant %+v", tc.header, c, tc.want)
			}
		})
	}
}
