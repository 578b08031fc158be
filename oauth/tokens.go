package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mcptray/mcptray/oauth/secretstore"
)

// Tokens is one server's token set, stored encrypted in the secret store.
// Expiry is absolute wall-clock time, so a token that expired while the
// machine slept or the app was closed is known to be expired.
type Tokens struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Scope        string    `json:"scope,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Obtained     time.Time `json:"obtained"`

	// Where the tokens came from and where to refresh them (AUTH-26,
	// AUTH-28: tokens are used only with the issuer and resource they were
	// issued for).
	Issuer             string `json:"issuer"`
	Resource           string `json:"resource"`
	TokenEndpoint      string `json:"token_endpoint"`
	RevocationEndpoint string `json:"revocation_endpoint,omitempty"`
	Registration       string `json:"registration"` // key of the client registration used
}

// lifetime is how long the access token was valid when obtained.
func (t *Tokens) lifetime() time.Duration {
	if t.Expiry.IsZero() {
		return 0
	}
	return t.Expiry.Sub(t.Obtained)
}

// expiresWithin reports whether the access token expires within d of now,
// a wall-clock time (Manager.now).
func (t *Tokens) expiresWithin(now time.Time, d time.Duration) bool {
	if t.Expiry.IsZero() {
		return false
	}
	return !now.Add(d).Before(t.Expiry.Round(0))
}

func tokenKey(server string) string { return "oauth/token/" + server }

// Store is where tokens and registrations are kept: secretstore.Store, or
// NewMemoryStore in tests and the conformance client.
type Store interface {
	Get(name string) ([]byte, error) // secretstore.ErrNotFound when absent
	Set(name string, value []byte) error
	Delete(name string) error
	List(prefix string) ([]string, error)
}

// errDamaged marks a stored record that was read but is not valid JSON.
var errDamaged = errors.New("damaged")

func loadJSON(s Store, key string, v any) (bool, error) {
	data, err := s.Get(key)
	if errors.Is(err, secretstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("stored %s is %w: %v", key, errDamaged, err)
	}
	return true, nil
}

func saveJSON(s Store, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.Set(key, data)
}

// TokenError is an OAuth error response from the token endpoint (RFC 6749
// §5.2). Its Code decides between "sign in again" (grantGone) and "try
// again later" (anything else).
type TokenError struct {
	Status      int
	Code        string
	Description string
}

func (e *TokenError) Error() string {
	if e.Description != "" {
		return fmt.Sprintf("%s: %s", e.Code, e.Description)
	}
	return e.Code
}

// clientCreds is how the client authenticates at the token endpoint.
type clientCreds struct {
	ID, Secret string
	AuthMethod string // client_secret_basic, client_secret_post or none
}

// tokenRequest posts form to the token endpoint with client
// authentication (AUTH-16) and decodes the answer. A response that is not
// a token (HTML, a proxy's error page) is a transient error, not a grant
// failure. now stamps the tokens' lifetime.
func tokenRequest(ctx context.Context, hc *http.Client, endpoint string, creds clientCreds, form url.Values, now func() time.Time) (*Tokens, error) {
	if err := checkEndpointURL(endpoint); err != nil {
		return nil, fmt.Errorf("token endpoint: %w", err)
	}
	resp, err := postForm(ctx, hc, endpoint, creds, form)
	if err != nil {
		return nil, tokenRequestError(ctx, endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// newHTTPClient never follows a POST: the form carries the code or
		// the refresh token, which must not travel to another URL.
		where := "nowhere"
		if loc, err := resp.Location(); err == nil {
			where = loc.Host + loc.Path
		}
		return nil, fmt.Errorf("the token endpoint %s answered HTTP %d, a redirect to %s; token requests are never redirected",
			hostOf(endpoint), resp.StatusCode, where)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, tokenRequestError(ctx, endpoint, err)
	}
	// A refused request may say when to try again (a 429 or 503 usually).
	fail := func(err error) error {
		if wait := parseRetryAfter(resp.Header.Get("Retry-After"), now()); wait > 0 {
			return &waitError{err: err, wait: wait}
		}
		return err
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var tr struct {
		AccessToken      string      `json:"access_token"`
		TokenType        string      `json:"token_type"`
		ExpiresIn        json.Number `json:"expires_in"`
		RefreshToken     string      `json:"refresh_token"`
		Scope            string      `json:"scope"`
		Error            string      `json:"error"`
		ErrorDescription string      `json:"error_description"`
	}
	if jerr := json.Unmarshal(body, &tr); jerr != nil || ct == "text/html" {
		return nil, fail(fmt.Errorf("the token endpoint %s answered HTTP %d with something that is not an OAuth response", hostOf(endpoint), resp.StatusCode))
	}
	if tr.Error != "" || resp.StatusCode != http.StatusOK {
		code := tr.Error
		if code == "" {
			code = fmt.Sprintf("http_%d", resp.StatusCode)
		}
		return nil, fail(&TokenError{Status: resp.StatusCode, Code: code, Description: tr.ErrorDescription})
	}
	if tr.AccessToken == "" {
		return nil, fmt.Errorf("the token endpoint %s returned no access_token", hostOf(endpoint))
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, fmt.Errorf("the token endpoint returned a %q token; only Bearer tokens are supported", tr.TokenType)
	}
	obtained := now()
	t := &Tokens{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, TokenType: "Bearer", Scope: tr.Scope, Obtained: obtained}
	// Zero, negative or unreadable: the lifetime is unknown, as when
	// expires_in is missing.
	if secs, err := tr.ExpiresIn.Float64(); err == nil && secs > 0 {
		t.Expiry = obtained.Add(time.Duration(min(secs, maxExpiresIn.Seconds()) * float64(time.Second)))
	}
	return t, nil
}

// maxExpiresIn caps expires_in: more than time.Duration holds (292 years)
// would wrap to an expiry in the past and a refresh loop. Ten years is
// beyond any real access token, so the cap changes nothing else.
const maxExpiresIn = 10 * 365 * 24 * time.Hour

// tokenRequestError names the token endpoint that failed, and says so
// plainly when it did not answer in time.
func tokenRequestError(ctx context.Context, endpoint string, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || os.IsTimeout(err) {
		return fmt.Errorf("the token endpoint %s timed out (no answer in time): %w", hostOf(endpoint), err)
	}
	return fmt.Errorf("token request to %s: %w", hostOf(endpoint), err)
}

// postForm posts an OAuth form with the client authentication the client
// registered (AUTH-16): Basic (credentials form-encoded first, RFC 6749
// §2.3.1), in the form, or just the client_id for public clients.
func postForm(ctx context.Context, hc *http.Client, endpoint string, creds clientCreds, form url.Values) (*http.Response, error) {
	switch creds.AuthMethod {
	case "client_secret_post":
		form.Set("client_id", creds.ID)
		form.Set("client_secret", creds.Secret)
	case "client_secret_basic":
	default:
		form.Set("client_id", creds.ID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if creds.AuthMethod == "client_secret_basic" {
		req.SetBasicAuth(url.QueryEscape(creds.ID), url.QueryEscape(creds.Secret))
	}
	return hc.Do(req)
}

// isTransient reports an error that says nothing about the grant itself:
// a network failure, a timeout, a 5xx, a rate limit (429), any other OAuth
// error but grantGone's, an answer that was not OAuth. Tokens are kept and
// the refresh is retried later. A NeedsAuthError (the client identity the
// grant was issued to is gone) is not: retrying cannot bring it back.
func isTransient(err error) bool {
	var te *TokenError
	if errors.As(err, &te) {
		return !grantGone(te.Code)
	}
	return !errors.As(err, new(*NeedsAuthError))
}

// grantGone reports the RFC 6749 §5.2 errors after which no retry can
// succeed: the grant was revoked or expired (invalid_grant), or the
// provider no longer knows the client or lets it refresh (invalid_client,
// unauthorized_client). Only a new sign-in helps.
func grantGone(code string) bool {
	switch code {
	case "invalid_grant", "invalid_client", "unauthorized_client":
		return true
	}
	return false
}

// waitError is a refused token request whose answer said when to try
// again (Retry-After).
type waitError struct {
	err  error
	wait time.Duration
}

func (e *waitError) Error() string { return e.err.Error() }
func (e *waitError) Unwrap() error { return e.err }

// retryAfter is how long the token endpoint asked to wait before the next
// try; 0 when it did not say.
func retryAfter(err error) time.Duration {
	var we *waitError
	if errors.As(err, &we) {
		return we.wait
	}
	return 0
}

// maxRetryAfter bounds a Retry-After: a provider's "come back tomorrow"
// must not leave an expired token unrefreshed that long.
const maxRetryAfter = 5 * time.Minute

// parseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): seconds,
// or an HTTP date, which now (the wall clock) turns into a wait. It
// returns 0 for a missing, unreadable or past value, and at most
// maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var wait time.Duration
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		wait = time.Duration(min(secs, uint64(maxRetryAfter/time.Second))) * time.Second
	} else if errors.Is(err, strconv.ErrRange) {
		wait = maxRetryAfter
	} else if at, err := http.ParseTime(v); err == nil {
		wait = at.Sub(now)
	}
	return min(max(wait, 0), maxRetryAfter)
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

// Namespaced is s with every name under its own folder ns: the sign-ins
// of one configuration file, apart from another's. Two hubs on two files
// that both name a server "github" would otherwise share its grant, and
// each rotate its refresh token from under the other (a provider that
// detects reuse then revokes the grant).
func Namespaced(s Store, ns string) Store {
	return namespaced{s, "hub/" + ns + "/"}
}

type namespaced struct {
	s      Store
	prefix string
}

func (n namespaced) Get(name string) ([]byte, error)     { return n.s.Get(n.prefix + name) }
func (n namespaced) Set(name string, value []byte) error { return n.s.Set(n.prefix+name, value) }
func (n namespaced) Delete(name string) error            { return n.s.Delete(n.prefix + name) }

func (n namespaced) List(prefix string) ([]string, error) {
	names, err := n.s.List(n.prefix + prefix)
	for i, name := range names {
		names[i] = strings.TrimPrefix(name, n.prefix)
	}
	return names, err
}
