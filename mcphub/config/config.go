// Package config reads, validates and watches MCP Tray's configuration file.
//
// The file is JSON. It accepts the shapes people already have, so they can
// paste: Claude Desktop / Cursor ("mcpServers") and VS Code ("servers"), plus
// MCP Tray's own settings under "hub". A parsed Config is immutable; the hub
// diffs a new Config against the running one (see Diff) and touches only the
// servers that changed. docs/config.md documents the format.
package config

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// Transport is how the hub reaches an upstream server.
type Transport string

const (
	// TransportStdio runs a local command and speaks MCP on its stdin/stdout.
	TransportStdio Transport = "stdio"
	// TransportHTTP is Streamable HTTP, falling back to the legacy HTTP+SSE
	// transport when the server answers as the spec says an old server does.
	TransportHTTP Transport = "http"
	// TransportSSE is the legacy (2024-11-05) HTTP+SSE transport only.
	TransportSSE Transport = "sse"
)

// Defaults for hub settings.
const (
	DefaultBridgePort    = 48800
	DefaultRecordDays    = 90
	MaxRecordDays        = 3650 // the longest retention hub.bridge.recordDays allows
	DefaultCallbackPort  = 48801
	DefaultToolSeparator = "__"
	DefaultLogLevel      = "info"
	DefaultTimeout       = 60 * time.Second
)

// The range of hub.bridge.port, which the settings view checks too.
const (
	MinBridgePort = 1
	MaxBridgePort = 65535
)

// ReservedID is the name the bridge uses for its own tools (mcptray__usage_stats).
const ReservedID = "mcptray"

// Default is the configuration of a file with no settings and no servers:
// what runs until a file has been read and validated.
func Default(path string) *Config {
	return &Config{
		Path: path,
		Hub: Hub{
			Bridge:        Bridge{Port: DefaultBridgePort, RequireToken: true, RecordDays: DefaultRecordDays},
			OAuth:         HubOAuth{CallbackPort: DefaultCallbackPort},
			ToolSeparator: DefaultToolSeparator,
			LogLevel:      DefaultLogLevel,
		},
	}
}

// Config is one validated configuration file.
type Config struct {
	Path     string
	Hub      Hub
	Servers  []Server // in file order
	Warnings []Issue  // things that are accepted but probably not meant
}

// Hub holds MCP Tray's own settings (the "hub" object).
type Hub struct {
	Bridge        Bridge
	OAuth         HubOAuth
	ToolSeparator string // between server and tool name in aggregated names
	LogLevel      string // debug, info, warn or error
}

// HubOAuth holds sign-in settings shared by every server.
type HubOAuth struct {
	CallbackPort int // loopback port of the sign-in redirect
	// ClientMetadataURL is an https URL serving MCP Tray's Client ID
	// Metadata Document; empty disables CIMD registration.
	ClientMetadataURL string
}

// Bridge configures the local endpoint IDEs connect to.
type Bridge struct {
	Port         int  // loopback TCP port of the HTTP bridge
	RequireToken bool // false only for local testing (logged loudly)
	RecordDays   int  // call records older than this many days are pruned
}

// Server is one upstream MCP server.
type Server struct {
	// Name is the key as written in the file; ID is its normalised form,
	// used in tool prefixes, bridge URLs and on the command line.
	Name string
	ID   string

	Transport Transport
	URL       string            // http and sse
	Headers   map[string]string // expanded values: may hold secrets, never log them
	Command   string            // stdio
	Args      []string
	Env       map[string]string // expanded values: may hold secrets, never log them
	Cwd       string
	// shown is the URL or command line as written in the file, with its
	// ${env:} references unexpanded (Target).
	shown string

	Disabled bool
	// ProtocolVersion pins the version offered upstream; empty means the
	// newest, falling back to the initialize era when the server is older.
	ProtocolVersion string
	Timeout         time.Duration // per request
	OAuth           *OAuth

	// SecretUnreadable is set when a ${keyring:} value in "headers" or
	// "env" could not be read (the keyring is locked or failing; not when
	// the entry does not exist, which is an error in the file). The server
	// cannot start until the value can be read; the rest of the file runs
	// meanwhile. Never set on a disabled server, which needs no secrets.
	SecretUnreadable *Issue
	// NoKeyring: the failure was NoKeyring's, which reading again cannot
	// clear (this process has no keyring).
	NoKeyring bool

	// Pos is where the entry starts in the file. It is not part of the
	// server's identity: moving an entry does not restart it.
	Pos Position
}

// OAuth holds per-server sign-in settings.
type OAuth struct {
	ClientID string
	// ClientSecretRef names a keyring entry (from "${keyring:NAME}"); the
	// secret itself is read only when it is needed.
	ClientSecretRef string
	Scopes          []string
	CallbackPort    int // 0: the hub's default
	// Issuer is the authorization server ClientID is registered with
	// (AUTH-15); "": the one it first signs in with.
	Issuer string
	// AllowPrivateNetwork lets sign-in requests reach private and loopback
	// addresses: for an intranet server given by name (AUTH-33's override).
	AllowPrivateNetwork bool
}

// Position is a place in the file, 1-based.
type Position struct {
	Line, Column int
}

// Issue is one problem found in a file.
type Issue struct {
	File string
	Position
	Msg string
}

func (i Issue) String() string {
	if i.Line == 0 {
		return fmt.Sprintf("%s: %s", i.File, i.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", i.File, i.Line, i.Column, i.Msg)
}

// Error is returned when a file is not a valid configuration. It lists every
// problem found, each with file, line and column.
type Error struct {
	Issues []Issue
	// Warnings are what the file would have been warned of (Config.Warnings)
	// as far as it could be read: one pass of 'mcptray validate' shows all.
	// Not part of Error().
	Warnings []Issue
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		lines[i] = is.String()
	}
	return strings.Join(lines, "\n")
}

// Server returns the server with the given ID, or nil.
func (c *Config) Server(id string) *Server {
	for i := range c.Servers {
		if c.Servers[i].ID == id {
			return &c.Servers[i]
		}
	}
	return nil
}

// Equal reports whether two entries describe the same connection. Position
// is ignored, so that editing one entry never restarts its neighbours.
func (s Server) Equal(o Server) bool {
	return s.Name == o.Name && s.ID == o.ID && s.Transport == o.Transport &&
		s.URL == o.URL && maps.Equal(s.Headers, o.Headers) &&
		s.Command == o.Command && slices.Equal(s.Args, o.Args) &&
		maps.Equal(s.Env, o.Env) && s.Cwd == o.Cwd && s.Disabled == o.Disabled &&
		s.ProtocolVersion == o.ProtocolVersion && s.Timeout == o.Timeout &&
		oauthEqual(s.OAuth, o.OAuth) && issueEqual(s.SecretUnreadable, o.SecretUnreadable)
}

// issueEqual compares two issues' messages; where they are is not a
// setting.
func issueEqual(a, b *Issue) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Msg == b.Msg
}

func oauthEqual(a, b *OAuth) bool {
	if a == nil || b == nil {
		return a == b
	}
	// Every field: one left out is a setting whose change is never applied
	// (TestCompareSignInSettings).
	return a.ClientID == b.ClientID && a.ClientSecretRef == b.ClientSecretRef &&
		slices.Equal(a.Scopes, b.Scopes) && a.CallbackPort == b.CallbackPort && a.Issuer == b.Issuer &&
		a.AllowPrivateNetwork == b.AllowPrivateNetwork
}

// Target is what the server points at, for display: its URL or its command
// line as written in the file. It never contains header or environment
// values, nor what an ${env:} reference stands for (a key kept out of the
// file is kept out of logs, status and the database too).
func (s Server) Target() string {
	if s.shown != "" {
		return s.shown
	}
	if s.Transport == TransportStdio {
		return strings.Join(append([]string{s.Command}, s.Args...), " ")
	}
	return s.URL
}

// HasStaticAuth reports whether the server's requests carry an
// Authorization header of the configuration: its credentials are those,
// not a sign-in's.
func (s Server) HasStaticAuth() bool {
	for k := range s.Headers {
		if strings.EqualFold(k, "Authorization") {
			return true
		}
	}
	return false
}

// LogValue keeps headers and environment values out of logs.
func (s Server) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID),
		slog.String("transport", string(s.Transport)),
		slog.String("target", s.Target()),
		slog.Bool("disabled", s.Disabled),
	)
}

// Diff is what changed between two configurations.
type Diff struct {
	Added, Removed, Changed, Unchanged []string // server IDs
	HubChanged                         bool
}

// Compare returns what must happen to move from old (nil: nothing running)
// to new.
func Compare(old, new *Config) Diff {
	var d Diff
	oldByID := map[string]Server{}
	if old != nil {
		for _, s := range old.Servers {
			oldByID[s.ID] = s
		}
		d.HubChanged = old.Hub != new.Hub
	}
	for _, s := range new.Servers {
		prev, ok := oldByID[s.ID]
		switch {
		case !ok:
			d.Added = append(d.Added, s.ID)
		case prev.Equal(s):
			d.Unchanged = append(d.Unchanged, s.ID)
		default:
			d.Changed = append(d.Changed, s.ID)
		}
		delete(oldByID, s.ID)
	}
	if old != nil {
		for _, s := range old.Servers {
			if _, gone := oldByID[s.ID]; gone {
				d.Removed = append(d.Removed, s.ID)
			}
		}
	}
	return d
}
