package oauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"
)

// Registration methods, as shown in a server's details.
const (
	MethodPreregistered = "pre-registered"
	MethodCIMD          = "client-id-metadata-document"
	MethodDCR           = "dynamic-registration"
)

// registration is the client identity used with one authorization server
// and redirect URI. DCR registrations are stored (client secrets included,
// in the encrypted store) and reused; they are bound to the issuer and the
// redirect URI they were made for (AUTH-15), so a new issuer or a new
// callback port makes a new one. A pre-registered client cannot register
// again: it is bound to its configured issuer, or to the one it first
// signed in with, and a different one is an error.
type registration struct {
	Method       string    `json:"method"`
	ClientID     string    `json:"client_id"`
	ClientSecret string    `json:"client_secret,omitempty"`
	AuthMethod   string    `json:"token_endpoint_auth_method"`
	Issuer       string    `json:"issuer"`
	RedirectURI  string    `json:"redirect_uri"`
	Registered   time.Time `json:"registered"`
}

func (r *registration) creds() clientCreds {
	return clientCreds{ID: r.ClientID, Secret: r.ClientSecret, AuthMethod: r.AuthMethod}
}

// registrationKey names the stored registration of (server, issuer, redirect).
func registrationKey(server, issuer, redirect string) string {
	sum := sha256.Sum256([]byte(issuer + "\n" + redirect))
	return "oauth/client/" + server + "/" + hex.EncodeToString(sum[:8])
}

// ErrNoRegistration means the authorization server offers no way for MCP
// Tray to register: the user must register an app and configure it.
type ErrNoRegistration struct{ Issuer string }

func (e *ErrNoRegistration) Error() string {
	return fmt.Sprintf("the authorization server %s accepts neither dynamic client registration nor client ID metadata documents: "+
		"register an app with the provider (redirect URI http://127.0.0.1:PORT/callback) and put its client ID, and secret as ${keyring:NAME}, "+
		"in the server's \"oauth\" settings", e.Issuer)
}

// register picks the client identity in the 2026-07-28 order (AUTH-11):
// a pre-registered client from the config, then a Client ID Metadata
// Document, then dynamic registration (reusing a stored one), else an
// error asking for a pre-registered client. cfg and hc are the sign-in's
// snapshot of the server's settings.
func (c *Client) register(ctx context.Context, cfg ServerConfig, hc *http.Client, as *authServer, redirect string, fresh bool) (*registration, string, error) {
	if cfg.ClientID != "" {
		if err := c.checkPreregistered(cfg, as.Issuer); err != nil {
			return nil, "", err
		}
		secret, err := cfg.clientSecret()
		if err != nil {
			return nil, "", err // before the browser opens: the provider would refuse the code later
		}
		r := &registration{Method: MethodPreregistered, ClientID: cfg.ClientID, ClientSecret: secret,
			Issuer: as.Issuer, RedirectURI: redirect, AuthMethod: preferredAuthMethod(as, secret != "")}
		return r, "", nil
	}
	if _, cimd := c.m.defaults(); cimd != "" && as.CIMDSupported {
		r := &registration{Method: MethodCIMD, ClientID: cimd, AuthMethod: "none",
			Issuer: as.Issuer, RedirectURI: redirect}
		return r, "", nil
	}
	if as.RegistrationEndpoint == "" {
		return nil, "", &ErrNoRegistration{Issuer: as.Issuer}
	}
	key := registrationKey(cfg.ID, as.Issuer, redirect)
	var stored registration
	ok, err := loadJSON(c.m.cfg.Store, key, &stored)
	switch {
	case errors.Is(err, errDamaged):
		c.log.Warn("the stored client registration is damaged; registering again", "err", err)
	case err != nil:
		return nil, "", err
	case ok && !fresh && stored.Issuer == as.Issuer && stored.RedirectURI == redirect:
		return &stored, key, nil
	}
	r, err := c.registerDynamically(ctx, hc, as, redirect)
	if err != nil {
		return nil, "", err
	}
	if err := saveJSON(c.m.cfg.Store, key, r); err != nil {
		return nil, "", fmt.Errorf("store the client registration: %w", err)
	}
	c.log.Info("registered with the authorization server", "issuer", as.Issuer, "method", MethodDCR, "redirect_uri", redirect)
	return r, key, nil
}

// IssuerMismatchError means a pre-registered client would be sent to an
// authorization server it was not registered with (AUTH-15): the server's
// resource metadata now names another one, or the configured "issuer"
// says so. The sign-in stops before the browser opens.
type IssuerMismatchError struct {
	Server     string
	Issuer     string // the authorization server the server points to now
	BoundTo    string // the one the client ID belongs to
	Configured bool   // BoundTo comes from the config, not from a sign-in
}

func (e *IssuerMismatchError) Error() string {
	if e.Configured {
		return fmt.Sprintf("the server's authorization server is %s, but its \"oauth.issuer\" says the configured client ID belongs to %s: "+
			"register an app with %s and update \"oauth.clientId\" and \"oauth.issuer\", or correct \"oauth.issuer\"", e.Issuer, e.BoundTo, e.Issuer)
	}
	return fmt.Sprintf("the server's authorization server changed from %s to %s; the configured client ID was registered with %s and is not sent to another: "+
		"register an app with %s and update \"oauth.clientId\", or, if this client ID is registered there too, set \"oauth.issuer\" to %q",
		e.BoundTo, e.Issuer, e.BoundTo, e.Issuer, e.Issuer)
}

// preregisteredBinding remembers which authorization server a pre-registered
// client ID first signed in with, when the config does not say.
type preregisteredBinding struct {
	Issuer string    `json:"issuer"`
	Since  time.Time `json:"since"`
}

// preregisteredKey names the binding of (server, client ID). It sits with
// the server's registrations, so Forget deletes it too.
func preregisteredKey(server, clientID string) string {
	sum := sha256.Sum256([]byte(clientID))
	return "oauth/client/" + server + "/preregistered-" + hex.EncodeToString(sum[:8])
}

// checkPreregistered refuses a pre-registered client at an authorization
// server other than its own: the configured issuer if there is one, else
// the one it first signed in with.
func (c *Client) checkPreregistered(cfg ServerConfig, issuer string) error {
	if cfg.Issuer != "" {
		if cfg.Issuer != issuer {
			return &IssuerMismatchError{Server: cfg.ID, Issuer: issuer, BoundTo: cfg.Issuer, Configured: true}
		}
		return nil
	}
	var b preregisteredBinding
	ok, err := loadJSON(c.m.cfg.Store, preregisteredKey(cfg.ID, cfg.ClientID), &b)
	switch {
	case errors.Is(err, errDamaged):
		c.log.Warn("the stored authorization server of the pre-registered client is damaged; it is learnt again at this sign-in", "err", err)
		return nil
	case err != nil:
		return err
	case ok && b.Issuer != issuer:
		return &IssuerMismatchError{Server: cfg.ID, Issuer: issuer, BoundTo: b.Issuer}
	}
	return nil
}

// bindPreregistered records the authorization server a pre-registered
// client signed in with, so that a later change of server is noticed, also
// once a configured issuer is removed from the file.
func (c *Client) bindPreregistered(cfg ServerConfig, issuer string) {
	key := preregisteredKey(cfg.ID, cfg.ClientID)
	var b preregisteredBinding
	if ok, err := loadJSON(c.m.cfg.Store, key, &b); err == nil && ok && b.Issuer == issuer {
		return
	}
	if err := saveJSON(c.m.cfg.Store, key, preregisteredBinding{Issuer: issuer, Since: c.m.now()}); err != nil {
		c.log.Warn("the authorization server of the pre-registered client could not be stored", "err", err)
	}
}

// preferredAuthMethod picks how a pre-registered client authenticates:
// none without a secret, else Basic unless only post is offered.
func preferredAuthMethod(as *authServer, hasSecret bool) string {
	if !hasSecret {
		return "none"
	}
	if len(as.AuthMethodsSupported) > 0 && !slices.Contains(as.AuthMethodsSupported, "client_secret_basic") &&
		slices.Contains(as.AuthMethodsSupported, "client_secret_post") {
		return "client_secret_post"
	}
	return "client_secret_basic"
}

// registerDynamically is RFC 7591 registration as a native application
// (AUTH-14) asking for refresh tokens (AUTH-20).
func (c *Client) registerDynamically(ctx context.Context, hc *http.Client, as *authServer, redirect string) (*registration, error) {
	if err := checkEndpointURL(as.RegistrationEndpoint); err != nil {
		return nil, fmt.Errorf("registration endpoint: %w", err)
	}
	body, _ := json.Marshal(map[string]any{
		"client_name":                c.m.cfg.ClientName,
		"redirect_uris":              []string{redirect},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
		"application_type":           "native",
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, as.RegistrationEndpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("register with %s: %w", hostOf(as.RegistrationEndpoint), err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var rr struct {
		ClientID                string `json:"client_id"`
		ClientSecret            string `json:"client_secret"`
		TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
		Error                   string `json:"error"`
		ErrorDescription        string `json:"error_description"`
	}
	if err := json.Unmarshal(data, &rr); err != nil {
		return nil, fmt.Errorf("registration at %s answered HTTP %d with something that is not JSON", hostOf(as.RegistrationEndpoint), resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		msg := rr.Error
		if rr.ErrorDescription != "" {
			msg += ": " + rr.ErrorDescription
		}
		if rr.Error == "invalid_redirect_uri" {
			return nil, fmt.Errorf("the authorization server rejected MCP Tray's redirect URI %s (%s); register an app with the provider and configure its client ID", redirect, msg)
		}
		return nil, fmt.Errorf("registration at %s failed (HTTP %d %s)", hostOf(as.RegistrationEndpoint), resp.StatusCode, msg)
	}
	if rr.ClientID == "" {
		return nil, fmt.Errorf("registration at %s returned no client_id", hostOf(as.RegistrationEndpoint))
	}
	method := rr.TokenEndpointAuthMethod
	if method == "" {
		method = "client_secret_basic" // RFC 7591 §2 default
		if rr.ClientSecret == "" {
			method = "none"
		}
	}
	return &registration{Method: MethodDCR, ClientID: rr.ClientID, ClientSecret: rr.ClientSecret, AuthMethod: method,
		Issuer: as.Issuer, RedirectURI: redirect, Registered: time.Now()}, nil
}
