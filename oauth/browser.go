package oauth

import (
	"context"
	"fmt"
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
	return nil
}

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
