package oauth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pkg/browser"
)

// Opener shows an authorization URL to the person who asked to sign in:
// the system browser, a printed line, or (in tests) an HTTP client that
// follows it. It is only ever called because a person asked (AUTH-24 and
// the peers' "browser tab storms": never from a background request).
type Opener func(ctx context.Context, authURL string) error

// CheckBrowserURL accepts only https URLs, or http to a loopback host
// (AUTH-24): never javascript:, file:, data:, a shell-looking string or
// plain http to another machine.
func CheckBrowserURL(raw string) error {
	if err := checkEndpointURL(raw); err != nil {
		return fmt.Errorf("refusing to open the authorization URL: %w", err)
	}
	// Characters RFC 3986 never allows unencoded: a URL that has them was
	// made to be misread by something on the way to the browser.
	if i := strings.IndexFunc(raw, func(r rune) bool { return r < 0x21 || r == 0x7f || strings.ContainsRune(notInURLs, r) }); i >= 0 {
		return fmt.Errorf("refusing to open the authorization URL: it contains %q, which URLs never contain unencoded", raw[i])
	}
	return nil
}

// notInURLs are printable characters RFC 3986 does not allow in a URL.
const notInURLs = "\"'`<>\\^{}|"

// SystemBrowser opens authURL in the default browser. The URL is checked
// first and passed as one argument to xdg-open, open or rundll32, never
// through a shell (the CVE-2025-6514 class). It does not wait for the
// browser: some xdg-open setups only return when the browser exits.
func SystemBrowser(ctx context.Context, authURL string) error {
	if err := CheckBrowserURL(authURL); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- browser.OpenURL(authURL) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("cannot open a browser here (%v); open the URL yourself", err)
		}
		return nil
	case <-time.After(3 * time.Second):
		return nil // the opener is still running: the browser is up
	case <-ctx.Done():
		return ctx.Err()
	}
}
