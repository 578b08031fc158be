package oauth

import (
	"net/http"
	"reflect"
	"testing"
)

// AUTH-01: the Bearer challenge's resource_metadata, scope and error are
// read from WWW-Authenticate, whatever else the header holds.
func TestParseChallenge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header []string // one element per header line
		want   Challenge
	}{
		{"DPoP before Bearer",
			[]string{`DPoP algs="ES256", Bearer resource_metadata="u", scope="a b", error="insufficient_scope"`},
			Challenge{ResourceMetadata: "u", Scope: "a b", Error: "insufficient_scope"}},
		{"separate header lines",
			[]string{`DPoP algs="ES256"`, `Bearer resource_metadata="u", scope="a b"`},
			Challenge{ResourceMetadata: "u", Scope: "a b"}},
		{"Bearer line before another",
			[]string{`Bearer error="invalid_token", resource_metadata="u"`, `Basic realm="api"`},
			Challenge{ResourceMetadata: "u", Error: "invalid_token"}},
		{"commas and a scheme name inside quotes",
			[]string{`Bearer error="invalid_token", error_description="expired, Basic realm=x", scope="read write", resource_metadata="https://mcp.example/prm?a=1,2"`},
			Challenge{ResourceMetadata: "https://mcp.example/prm?a=1,2", Scope: "read write", Error: "invalid_token"}},
		{"escaped quotes",
			[]string{`Bearer error_description="say \"no\", twice", scope="a"`},
			Challenge{Scope: "a"}},
		{"scheme in any case",
			[]string{`DPoP algs="ES256", bEaReR scope="s", resource_metadata="u"`},
			Challenge{ResourceMetadata: "u", Scope: "s"}},
		{"parameter names in any case",
			[]string{`Bearer Resource_Metadata="u", SCOPE="s", Error="invalid_token"`},
			Challenge{ResourceMetadata: "u", Scope: "s", Error: "invalid_token"}},
		{"unquoted values",
			[]string{`Bearer error=insufficient_scope, scope=admin`},
			Challenge{Scope: "admin", Error: "insufficient_scope"}},
		{"another scheme's parameters are not the Bearer one's",
			[]string{`DPoP error="use_dpop_nonce", resource_metadata="wrong", Bearer realm="r"`},
			Challenge{}},
		{"empty quoted value",
			[]string{`Bearer realm="", resource_metadata="u", scope="s"`},
			Challenge{ResourceMetadata: "u", Scope: "s"}},
		{"token68 challenge before Bearer",
			[]string{`Negotiate YIIB9wYGKwYBBQUCoIIB6zCCAeeg, Bearer resource_metadata="u"`},
			Challenge{ResourceMetadata: "u"}},
		{"an unreadable challenge before Bearer",
			[]string{`Custom realm="x" junk, Bearer resource_metadata="u"`},
			Challenge{ResourceMetadata: "u"}},
		{"unquoted URL",
			[]string{`Bearer resource_metadata=https://mcp.example/prm, scope=s`},
			Challenge{ResourceMetadata: "https://mcp.example/prm", Scope: "s"}},
		{"no header", nil, Challenge{}},
		{"unreadable", []string{`Bearer scope="unterminated`}, Challenge{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := ParseChallenge(&http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{"Www-Authenticate": tc.header}})
			tc.want.Status = http.StatusUnauthorized
			if ch != tc.want {
				t.Errorf("%q\ngot  %+v\nwant %+v", tc.header, ch, tc.want)
			}
		})
	}
}

// Every challenge of a header is read, each with its own parameters:
// token68 credentials, an empty list element and an empty quoted value
// included; a repeated parameter keeps its first value.
func TestParseWWWAuthenticate(t *testing.T) {
	got := ParseWWWAuthenticate([]string{
		`Negotiate YIIB9w==, Basic realm="a, b", , Bearer realm="", scope=x, scope=y, DPoP algs="ES256 PS256"`,
		`Custom`,
	})
	want := []AuthChallenge{
		{Scheme: "negotiate", Params: map[string]string{}},
		{Scheme: "basic", Params: map[string]string{"realm": "a, b"}},
		{Scheme: "bearer", Params: map[string]string{"realm": "", "scope": "x"}},
		{Scheme: "dpop", Params: map[string]string{"algs": "ES256 PS256"}},
		{Scheme: "custom", Params: map[string]string{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}
