// Package ui is MCP Tray's window and tray menu, in Fyne. It never imports
// Fyne's GL driver (only app/ does), so it tests without a display, and it
// talks to the hub only through the Hub interface below: app/ adapts the
// real hub, tests use a hub of their own.
package ui

import (
	"context"
	"time"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/store"
)

// Hub is everything the window needs of the hub. Methods that can take
// time are called off the UI goroutine.
type Hub interface {
	// Servers lists the configured servers in file order, with status.
	Servers() []mcphub.ServerView
	// Changes signals (coalesced) that servers, status or config changed;
	// stop ends the subscription.
	Changes() (changes <-chan struct{}, stop func())
	// ConfigError is why the file on disk is not the one running, or nil.
	ConfigError() error
	// WhileBroken says what runs while the file has errors.
	WhileBroken() string
	// Paused reports "Pause all".
	Paused() bool
	SetPaused(paused bool)

	// Authenticate signs in (opening the browser) and returns once the
	// server is connected with the new tokens, or why not.
	Authenticate(ctx context.Context, id string) error
	Reconnect(id string) error
	// SignOut revokes the grant at the provider and deletes the tokens.
	SignOut(ctx context.Context, id string) error
	// Catalog is what a connected server offers.
	Catalog(id string) Catalog
	// RecentErrors are a server's last errors, newest first.
	RecentErrors(ctx context.Context, id string, n int) ([]ErrorRecord, error)

	// ConfigPath is the configuration file; EditConfig changes it (the
	// hub applies the result at once).
	ConfigPath() string
	EditConfig(e config.Edit) error

	// Usage and RecentCalls read the call records of the bridge.
	Usage(ctx context.Context, since time.Time) (*store.Usage, error)
	RecentCalls(ctx context.Context, n int) ([]store.Call, error)
	// CreateToken makes a client token for the HTTP bridge and returns
	// it (shown once).
	CreateToken(name string) (string, error)
	// BridgeURL is the aggregated HTTP endpoint, e.g.
	// http://127.0.0.1:48800/mcp; BridgeCommand the stdio bridge's argv.
	BridgeURL() string
	BridgeCommand() []string

	// Environment facts for Settings.
	Environment() Environment
	// Autostart reports and sets starting at login.
	Autostart() (bool, error)
	SetAutostart(on bool) error
}

// Catalog is what a server offers, for its details.
type Catalog struct {
	Tools, Resources, Prompts []Item
}

// Item is one tool, resource or prompt.
type Item struct {
	Name, Description string
}

// ErrorRecord is one error a server had.
type ErrorRecord struct {
	Time   time.Time
	Reason string
}

// Environment is where things are, for Settings and diagnostics.
type Environment struct {
	Version        string
	KeyringBackend string // e.g. "Secret Service", "encrypted file"
	LogPath        string
	DataDir        string
}
