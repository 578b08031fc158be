package oauth

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcptray/mcptray/oauth/oauthtest"
)

const noS256 = "does not support PKCE with S256"

// AUTH-10: metadata that does not offer PKCE with S256 is refused, however
// sound its endpoints: without code_challenge_methods_supported, with an
// empty list, or with plain alone. S256 is accepted, also next to plain.
func TestCheckMetadataRequiresS256(t *testing.T) {
	for name, tc := range map[string]struct {
		methods string // the code_challenge_methods_supported member, if any
		ok      bool
	}{
		"absent":         {"", false},
		"empty":          {`,"code_challenge_methods_supported":[]`, false},
		"plain only":     {`,"code_challenge_methods_supported":["plain"]`, false},
		"S256":           {`,"code_challenge_methods_supported":["S256"]`, true},
		"plain and S256": {`,"code_challenge_methods_supported":["plain","S256"]`, true},
	} {
		t.Run(name, func(t *testing.T) {
			doc := `{"issuer":"https://as.example","authorization_endpoint":"https://as.example/authorize",` +
				`"token_endpoint":"https://as.example/token","registration_endpoint":"https://as.example/register"` + tc.methods + `}`
			var m oauthex.AuthServerMeta
			if err := json.Unmarshal([]byte(doc), &m); err != nil {
				t.Fatal(err)
			}
			as, err := checkMetadata(&m)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.ok && as.AuthorizationEndpoint != "https://as.example/authorize":
				t.Errorf("authorization endpoint = %q", as.AuthorizationEndpoint)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), noS256) || !strings.Contains(err.Error(), "https://as.example")):
				t.Errorf("err = %v, want it to say that https://as.example %s", err, noS256)
			}
		})
	}
}

// AUTH-10: a sign-in at an authorization server without S256 stops at
// discovery: no registration, no authorization request, no browser.
func TestSignInRefusesAuthorizationServerWithoutS256(t *testing.T) {
	for name, opts := range map[string]oauthtest.Options{
		"absent":     {NoCodeChallengeMethods: true},
		"empty":      {CodeChallengeMethods: []string{}},
		"plain only": {CodeChallengeMethods: []string{"plain"}},
	} {
		t.Run(name, func(t *testing.T) {
			srv := oauthtest.NewServer(opts)
			defer srv.Close()
			refused(t, srv, noS256)
			if n := srv.Counts(); n.MetadataRequests == 0 || n.Registrations != 0 || n.Authorizations != 0 {
				t.Errorf("counts %+v: want the metadata read, then nothing", n)
			}
		})
	}
}

// AUTH-04: protected resource metadata that lists no authorization server
// is a discovery failure. The server's origin is not taken for one instead
// (the 2025-03-26 fallback is for servers without such metadata): nothing
// is asked of any authorization server, nothing is registered, no browser
// opens.
func TestResourceMetadataWithoutAuthorizationServers(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{NoAuthorizationServers: true})
	defer srv.Close()
	refused(t, srv, "lists no authorization server")
	if n := srv.Counts(); n.MetadataRequests != 0 || n.Registrations != 0 || n.Authorizations != 0 {
		t.Errorf("counts %+v: want no request to the authorization server", n)
	}
	if got := srv.Unserved(); len(got) != 0 {
		t.Errorf("the client guessed endpoints on the server's origin: %v", got)
	}
}
