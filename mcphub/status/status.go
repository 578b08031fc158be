// Package status is the per-server status model of DESIGN.md and the one
// event stream that carries every change of it: the store, the command line
// and the UI all read the same stream.
package status

import (
	"net/http"
	"time"
)

// State is where a server is in its life.
type State string

const (
	Disabled       State = "disabled"       // switched off in the config
	Connecting     State = "connecting"     // a connection attempt is under way
	Connected      State = "connected"      // initialized, catalogs fetched
	NeedsAuth      State = "needs_auth"     // the server wants a sign-in
	Authenticating State = "authenticating" // a sign-in flow is under way
	Refreshing     State = "refreshing"     // tokens are being refreshed
	Error          State = "error"          // failed; see Reason and NextRetry
)

// States is every State, for input that must name one ('status --wait').
var States = []State{Connected, Connecting, NeedsAuth, Authenticating, Refreshing, Error, Disabled}

// Severity orders states from good to bad, for the tray icon's "worst state".
func (s State) Severity() int {
	switch s {
	case Connected, Disabled:
		return 0
	case Connecting, Refreshing, Authenticating:
		return 1
	case NeedsAuth:
		return 2
	default:
		return 3
	}
}

// Status is the state of one server at one moment.
type Status struct {
	Server    string    `json:"server"` // server ID
	State     State     `json:"state"`
	Reason    string    `json:"reason,omitempty"`    // why (error, needs_auth), as a sentence
	NextRetry time.Time `json:"next_retry,omitzero"` // when the next attempt is due (error)
	Since     time.Time `json:"since"`               // when this state began
	Transport string    `json:"transport,omitempty"` // as connected: "streamable-http", "sse", "stdio"
	// ProtocolVersion is the version negotiated with the upstream.
	ProtocolVersion string     `json:"protocol_version,omitempty"`
	ServerInfo      string     `json:"server_info,omitempty"` // "name version" the upstream reported
	Counts          Counts     `json:"counts"`
	Challenge       *Challenge `json:"challenge,omitempty"` // what the last 401 said
	// LastError is the reason of the most recent error state, kept after
	// the server recovers, so a flapping server shows why.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// WantsStepUp reports a connected server that refused a request for want
// of scope (403 insufficient_scope, AUTH-31): its tools work, and a
// sign-in would grant what the refused ones need.
func (s Status) WantsStepUp() bool {
	return (s.State == Connected || s.State == Refreshing) && s.Challenge != nil && s.Challenge.Status == http.StatusForbidden
}

// Counts is the size of a server's catalogs.
type Counts struct {
	Tools             int `json:"tools"`
	Resources         int `json:"resources"`
	ResourceTemplates int `json:"resource_templates"`
	Prompts           int `json:"prompts"`
}

// Challenge is what an upstream's WWW-Authenticate header said with a 401
// or 403 (RFC 6750 §3, RFC 9728 §5.1). It holds no secret.
type Challenge struct {
	Status           int    `json:"status"` // 401 or 403
	Scheme           string `json:"scheme,omitempty"`
	ResourceMetadata string `json:"resource_metadata,omitempty"`
	Scope            string `json:"scope,omitempty"`
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}
