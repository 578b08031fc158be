package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Options supplies what parsing needs from outside the file.
type Options struct {
	// LookupEnv resolves ${env:NAME}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// LookupSecret resolves ${keyring:NAME}. found=false means there is no
	// such entry (an error in the file); err means the keyring could not be
	// asked, and only the server that needs the value waits for it (see
	// Server.SecretUnreadable). An err from KeyringDown or NoKeyring is the
	// whole keyring's: it is not asked again while the file is read, and
	// NoKeyring's is not retried either. nil means no keyring is available,
	// and every ${keyring:...} is an error.
	LookupSecret func(name string) (value string, found bool, err error)
	// HomeDir resolves ${userHome}; empty means os.UserHomeDir.
	HomeDir string
}

// Load reads and parses the file at path.
func Load(path string, opts Options) (*Config, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, &Error{Issues: []Issue{{File: path, Msg: "this is a folder, not a file: the configuration must be a JSON file"}}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{Issues: []Issue{{File: path, Msg: "the file does not exist"}}}
		}
		return nil, &Error{Issues: []Issue{{File: path, Msg: fmt.Sprintf("cannot read the file: %v", errors.Unwrap(err))}}}
	}
	return Parse(path, data, opts)
}

// Parse validates data as the configuration file at path. On failure the
// error is an *Error listing every problem with its line and column.
func Parse(path string, data []byte, opts Options) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.HomeDir == "" {
		opts.HomeDir, _ = os.UserHomeDir()
	}
	b := &builder{path: path, data: data, opts: opts}
	root, err := parseTree(data)
	if err != nil {
		var se *syntaxError
		if errors.As(err, &se) {
			b.issue(se.off, "JSON syntax: %s", se.msg)
		} else {
			b.issue(0, "JSON syntax: %v", err)
		}
		return nil, &Error{Issues: b.issues}
	}
	cfg := b.build(root)
	if len(b.issues) > 0 {
		return nil, &Error{Issues: b.issues, Warnings: b.warnings}
	}
	cfg.Warnings = b.warnings
	return cfg, nil
}

type builder struct {
	path     string
	data     []byte
	opts     Options
	issues   []Issue
	warnings []Issue
	// unreadable is the first keyring value of the server being built that
	// could not be read; keyringDown the LookupSecret error after which the
	// keyring is not asked again (KeyringDown, NoKeyring).
	unreadable  *Issue
	keyringDown error
}

func (b *builder) at(off int, format string, args ...any) Issue {
	line, col := lineCol(b.data, off)
	return Issue{File: b.path, Position: Position{line, col}, Msg: fmt.Sprintf(format, args...)}
}

func (b *builder) issue(off int, format string, args ...any) {
	b.issues = append(b.issues, b.at(off, format, args...))
}

func (b *builder) warn(off int, format string, args ...any) {
	b.warnings = append(b.warnings, b.at(off, format, args...))
}

func (b *builder) pos(off int) Position {
	l, c := lineCol(b.data, off)
	return Position{l, c}
}

// expect reports a type mismatch and returns false when n is not of kind k.
func (b *builder) expect(n *node, k kind, what string) bool {
	if n.kind != k {
		b.issue(n.off, "%s must be %s %s, not %s", what, article(k), k, describe(n))
		return false
	}
	return true
}

func article(k kind) string {
	if k == kindArray || k == kindObject {
		return "an"
	}
	return "a"
}

func describe(n *node) string {
	switch n.kind {
	case kindString:
		return strconv.Quote(n.str)
	case kindNumber:
		return n.num
	case kindBool:
		return strconv.FormatBool(n.boolean)
	default:
		return article(n.kind) + " " + n.kind.String()
	}
}

func (b *builder) build(root *node) *Config {
	cfg := Default(b.path)
	if !b.expect(root, kindObject, "the top level of the file") {
		return cfg
	}
	byID := map[string]Server{}
	for _, m := range root.members {
		switch m.key {
		case "hub":
			b.hub(m.value, &cfg.Hub)
		case "mcpServers", "servers":
			if !b.expect(m.value, kindObject, fmt.Sprintf("%q", m.key)) {
				continue
			}
			for _, sm := range m.value.members {
				s, ok := b.server(sm)
				if !ok {
					continue
				}
				if prev, dup := byID[s.ID]; dup {
					b.issue(sm.keyOff, "server %q has the same name as %q at line %d after normalisation (both are %q)",
						s.Name, prev.Name, prev.Pos.Line, s.ID)
					continue
				}
				byID[s.ID] = s
				cfg.Servers = append(cfg.Servers, s)
			}
		case "$schema":
		case "inputs":
			b.warn(m.keyOff, "\"inputs\" (VS Code prompts) is not supported: store secrets with 'mcptray secret set NAME' and use ${keyring:NAME}")
		default:
			b.warn(m.keyOff, "unknown top-level key %q is ignored (expected \"hub\", \"mcpServers\" or \"servers\")", m.key)
		}
	}
	return cfg
}

func (b *builder) hub(n *node, h *Hub) {
	if !b.expect(n, kindObject, `"hub"`) {
		return
	}
	for _, m := range n.members {
		v := m.value
		switch m.key {
		case "bridge":
			if !b.expect(v, kindObject, `"hub.bridge"`) {
				continue
			}
			for _, bm := range v.members {
				switch bm.key {
				case "port":
					if p, ok := b.integer(bm.value, `"hub.bridge.port"`, MinBridgePort, MaxBridgePort); ok {
						h.Bridge.Port = p
					}
				case "requireToken":
					if b.expect(bm.value, kindBool, `"hub.bridge.requireToken"`) {
						h.Bridge.RequireToken = bm.value.boolean
					}
				case "recordDays":
					if d, ok := b.integer(bm.value, `"hub.bridge.recordDays"`, 1, MaxRecordDays); ok {
						h.Bridge.RecordDays = d
					}
				default:
					b.warn(bm.keyOff, "unknown key %q in \"hub.bridge\" is ignored", bm.key)
				}
			}
		case "oauth":
			if !b.expect(v, kindObject, `"hub.oauth"`) {
				continue
			}
			for _, om := range v.members {
				switch om.key {
				case "callbackPort":
					if p, ok := b.integer(om.value, `"hub.oauth.callbackPort"`, 1024, 65535); ok {
						h.OAuth.CallbackPort = p
					}
				case "clientMetadataUrl":
					if !b.expect(om.value, kindString, `"hub.oauth.clientMetadataUrl"`) {
						continue
					}
					if u, err := url.Parse(om.value.str); err != nil || u.Scheme != "https" || u.Host == "" || u.Path == "" || u.Path == "/" {
						b.issue(om.value.off, "\"hub.oauth.clientMetadataUrl\" must be an https URL with a path (the Client ID Metadata Document), not %q", om.value.str)
						continue
					}
					h.OAuth.ClientMetadataURL = om.value.str
				default:
					b.warn(om.keyOff, "unknown key %q in \"hub.oauth\" is ignored", om.key)
				}
			}
		case "toolSeparator":
			if !b.expect(v, kindString, `"hub.toolSeparator"`) {
				continue
			}
			if v.str == "" || len(v.str) > 8 || strings.IndexFunc(v.str, func(r rune) bool { return !isToolNameRune(r) }) >= 0 {
				b.issue(v.off, "\"hub.toolSeparator\" must be 1 to 8 of the characters A-Z a-z 0-9 _ . - (tool names allow nothing else), not %q", v.str)
				continue
			}
			h.ToolSeparator = v.str
		case "logLevel":
			if !b.expect(v, kindString, `"hub.logLevel"`) {
				continue
			}
			lvl := strings.ToLower(v.str)
			if !slices.Contains([]string{"debug", "info", "warn", "error"}, lvl) {
				b.issue(v.off, "\"hub.logLevel\" must be \"debug\", \"info\", \"warn\" or \"error\", not %q", v.str)
				continue
			}
			h.LogLevel = lvl
		default:
			b.warn(m.keyOff, "unknown key %q in \"hub\" is ignored", m.key)
		}
	}
}

// isToolNameRune reports whether r may appear in an MCP tool name (SEP-986,
// SPEC-REQUIREMENTS LC-14).
func isToolNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
}

// NormalizeName turns a server name into its ID: lower case, every run of
// characters other than a-z, 0-9, '_' and '-' replaced by one '-', no
// leading or trailing '-', at most 64 characters. "My GitHub" -> "my-github".
func NormalizeName(name string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			sb.WriteRune(r)
			dash = r == '-'
			continue
		}
		if !dash {
			sb.WriteByte('-')
			dash = true
		}
	}
	id := strings.Trim(sb.String(), "-")
	if len(id) > 64 {
		id = strings.TrimRight(id[:64], "-")
	}
	return id
}

// Keys a server entry may have. Keys other tools write that MCP Tray does not
// use are accepted silently, so a pasted entry does not produce noise.
var foreignServerKeys = []string{"alwaysAllow", "autoApprove", "description", "disabledTools", "gallery", "version", "autoStart", "notes"}

func (b *builder) server(m member) (Server, bool) {
	s := Server{Name: m.key, ID: NormalizeName(m.key), Pos: b.pos(m.keyOff), Timeout: DefaultTimeout}
	n := m.value
	where := fmt.Sprintf("server %q", m.key)
	switch {
	case s.ID == "":
		b.issue(m.keyOff, "server name %q has no letters or digits (names become tool prefixes and URL paths)", m.key)
		return s, false
	case s.ID == ReservedID:
		b.issue(m.keyOff, "server name %q is reserved for MCP Tray's own tools", m.key)
		return s, false
	}
	if !b.expect(n, kindObject, where) {
		return s, false
	}
	before := len(b.issues)
	b.unreadable = nil

	var typeNode *node
	for _, mm := range n.members {
		v := mm.value
		field := fmt.Sprintf("%s: %q", where, mm.key)
		switch mm.key {
		case "type", "transport":
			if typeNode != nil {
				b.issue(mm.keyOff, "%s: give either \"type\" or \"transport\", not both", where)
				continue
			}
			typeNode = v
		case "url":
			if b.expect(v, kindString, field) {
				s.URL = b.expand(v, field, false)
			}
		case "command":
			if b.expect(v, kindString, field) {
				s.Command = b.expand(v, field, false)
			}
		case "args":
			if b.expect(v, kindArray, field) {
				for i, a := range v.items {
					if b.expect(a, kindString, fmt.Sprintf("%s[%d]", field, i)) {
						s.Args = append(s.Args, b.expand(a, field, false))
					}
				}
			}
		case "env":
			s.Env = b.stringMap(v, field)
		case "headers":
			s.Headers = b.stringMap(v, field)
			if v.kind == kindObject {
				for _, h := range v.members {
					if !validHeaderName(h.key) {
						b.issue(h.keyOff, "%s: %q is not a valid HTTP header name", field, h.key)
					}
				}
			}
		case "cwd":
			if b.expect(v, kindString, field) {
				s.Cwd = b.expand(v, field, false)
			}
		case "disabled":
			if b.expect(v, kindBool, field) {
				s.Disabled = v.boolean
			}
		case "enabled": // some tools write the positive form
			if b.expect(v, kindBool, field) {
				s.Disabled = !v.boolean
			}
		case "protocolVersion":
			if !b.expect(v, kindString, field) {
				continue
			}
			if !slices.Contains(mcp.SupportedProtocolVersions(), v.str) {
				b.issue(v.off, "%s: unknown protocol version %q (known: %s)", field, v.str, strings.Join(mcp.SupportedProtocolVersions(), ", "))
				continue
			}
			s.ProtocolVersion = v.str
		case "timeout":
			if secs, ok := b.seconds(v, field); ok {
				s.Timeout = secs
			}
		case "oauth":
			s.OAuth = b.oauth(v, where)
		case "envFile":
			b.warn(mm.keyOff, "%s: \"envFile\" is not supported; list the variables under \"env\"", where)
		default:
			if !slices.Contains(foreignServerKeys, mm.key) {
				b.warn(mm.keyOff, "%s: unknown key %q is ignored", where, mm.key)
			}
		}
	}

	b.transport(&s, n, typeNode, where)
	s.shown = shownTarget(s.Transport, n)
	if !s.Disabled && b.unreadable != nil {
		var ke keyringError
		s.SecretUnreadable, s.NoKeyring = b.unreadable, errors.As(b.keyringDown, &ke) && ke.lasting
	}
	return s, len(b.issues) == before
}

// shownTarget is the server's URL or command line as written (Target).
func shownTarget(t Transport, n *node) string {
	if t != TransportStdio {
		if u := n.get("url"); u != nil && u.kind == kindString {
			return u.str
		}
		return ""
	}
	c := n.get("command")
	if c == nil || c.kind != kindString {
		return ""
	}
	line := []string{c.str}
	if a := n.get("args"); a != nil && a.kind == kindArray {
		for _, arg := range a.items {
			if arg.kind == kindString {
				line = append(line, arg.str)
			}
		}
	}
	return strings.Join(line, " ")
}

// transport decides and checks the server's transport from "type" (or
// "transport") and the presence of "url" and "command".
func (b *builder) transport(s *Server, n, typeNode *node, where string) {
	if typeNode != nil {
		if !b.expect(typeNode, kindString, where+": \"type\"") {
			return
		}
		switch strings.ToLower(typeNode.str) {
		case "stdio":
			s.Transport = TransportStdio
		case "http", "streamable-http", "streamablehttp", "streamable_http", "streamable":
			s.Transport = TransportHTTP
		case "sse":
			s.Transport = TransportSSE
		default:
			b.issue(typeNode.off, "%s: unknown transport %q (use \"stdio\", \"http\" or \"sse\")", where, typeNode.str)
			return
		}
	}
	hasURL, hasCmd := n.get("url") != nil, n.get("command") != nil
	switch {
	case s.Transport == "" && hasURL && hasCmd:
		b.issue(n.off, "%s has both \"url\" and \"command\": give one (a remote server has a url, a local one a command)", where)
		return
	case s.Transport == "" && hasURL:
		s.Transport = TransportHTTP
	case s.Transport == "" && hasCmd:
		s.Transport = TransportStdio
	case s.Transport == "":
		b.issue(n.off, "%s is missing \"url\" (for a remote server) or \"command\" (for a local one)", where)
		return
	}
	if s.Transport == TransportStdio {
		if !hasCmd {
			b.issue(n.off, "%s: transport \"stdio\" needs \"command\"", where)
		} else if strings.TrimSpace(s.Command) == "" {
			b.issue(n.get("command").off, "%s: \"command\" is empty", where)
		}
		if hasURL {
			b.issue(n.get("url").off, "%s: \"url\" is not used with transport \"stdio\"", where)
		}
		if n.get("headers") != nil {
			b.warn(n.get("headers").off, "%s: \"headers\" are not used with transport \"stdio\" (use \"env\")", where)
		}
		return
	}
	if !hasURL {
		b.issue(n.off, "%s: transport %q needs \"url\"", where, s.Transport)
		return
	}
	if hasCmd {
		b.issue(n.get("command").off, "%s: \"command\" is not used with transport %q", where, s.Transport)
	}
	for _, k := range []string{"args", "env", "cwd"} { // a local command's, left over from one
		if m := n.get(k); m != nil {
			b.warn(m.off, "%s: %q is not used with transport %q (it is for a local command)", where, k, s.Transport)
		}
	}
	b.checkURL(s, n.get("url"), where)
}

func (b *builder) checkURL(s *Server, n *node, where string) {
	if n.kind != kindString {
		return
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		b.issue(n.off, "%s: \"url\" is not a valid URL: %v", where, errors.Unwrap(err))
		return
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			b.warn(n.off, "%s: \"url\" uses plain http to a remote host; credentials would travel unencrypted (use https)", where)
		}
	case "":
		b.issue(n.off, "%s: \"url\" %q has no scheme (start it with https://)", where, n.str) // as written: no ${env:} value
		return
	default:
		b.issue(n.off, "%s: \"url\" has scheme %q; only http and https are supported", where, u.Scheme)
		return
	}
	if u.Host == "" {
		b.issue(n.off, "%s: \"url\" %q has no host", where, n.str)
	}
	if u.User != nil {
		b.issue(n.off, "%s: \"url\" must not contain a user name or password; use \"headers\" with ${keyring:NAME}", where)
	}
	if u.Fragment != "" {
		b.issue(n.off, "%s: \"url\" must not contain a #fragment", where)
	}
}

// checkIssuer accepts an authorization server's issuer identifier as RFC
// 8414 §2 defines it: https (http only on loopback), no query or fragment.
func (b *builder) checkIssuer(n *node, field string) bool {
	u, err := url.Parse(n.str)
	switch {
	case err != nil || u.Host == "" || u.User != nil:
		b.issue(n.off, "%s must be the authorization server's issuer URL, like \"https://login.example.com\", not %q", field, n.str)
	case u.Scheme != "https" && (u.Scheme != "http" || !isLoopbackHost(u.Hostname())):
		b.issue(n.off, "%s must be an https URL (http only on loopback), not %q", field, n.str)
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(n.str, "?#"):
		b.issue(n.off, "%s must not have a query or a fragment (RFC 8414): %q", field, n.str)
	default:
		return true
	}
	return false
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1" || strings.HasPrefix(h, "127.")
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r > 0x7e || r <= 0x20 || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}

func (b *builder) stringMap(n *node, field string) map[string]string {
	if !b.expect(n, kindObject, field) {
		return nil
	}
	out := make(map[string]string, len(n.members))
	for _, m := range n.members {
		if b.expect(m.value, kindString, fmt.Sprintf("%s.%s", field, m.key)) {
			out[m.key] = b.expand(m.value, field+"."+m.key, true)
		}
	}
	return out
}

func (b *builder) integer(n *node, field string, lo, hi int) (int, bool) {
	if !b.expect(n, kindNumber, field) {
		return 0, false
	}
	v, err := strconv.Atoi(n.num)
	if err != nil || v < lo || v > hi {
		b.issue(n.off, "%s must be a whole number from %d to %d, not %s", field, lo, hi, n.num)
		return 0, false
	}
	return v, true
}

func (b *builder) seconds(n *node, field string) (time.Duration, bool) {
	if !b.expect(n, kindNumber, field+" (seconds)") {
		return 0, false
	}
	f, err := strconv.ParseFloat(n.num, 64)
	if err != nil || f <= 0 || f > 86400 || math.IsNaN(f) {
		b.issue(n.off, "%s must be a number of seconds above 0 and at most 86400, not %s", field, n.num)
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

func (b *builder) oauth(n *node, where string) *OAuth {
	field := where + ": \"oauth\""
	if !b.expect(n, kindObject, field) {
		return nil
	}
	o := &OAuth{}
	for _, m := range n.members {
		v := m.value
		f := fmt.Sprintf("%s.%s", field, m.key)
		switch m.key {
		case "clientId":
			if b.expect(v, kindString, f) {
				o.ClientID = v.str
			}
		case "clientSecret":
			if !b.expect(v, kindString, f) {
				continue
			}
			name, ok := strings.CutPrefix(v.str, "${keyring:")
			name, ok2 := strings.CutSuffix(name, "}")
			if !ok || !ok2 || name == "" || strings.ContainsAny(name, "${}") {
				b.issue(v.off, "%s must be a keyring reference like \"${keyring:NAME}\" (secrets do not belong in the file); store it with 'mcptray secret set NAME'", f)
				continue
			}
			b.lookupSecret(v.off, f, name)
			o.ClientSecretRef = name
		case "scopes":
			switch v.kind {
			case kindString:
				o.Scopes = strings.Fields(v.str)
			case kindArray:
				for i, it := range v.items {
					if b.expect(it, kindString, fmt.Sprintf("%s[%d]", f, i)) {
						o.Scopes = append(o.Scopes, it.str)
					}
				}
			default:
				b.issue(v.off, "%s must be a list of strings or one space-separated string, not %s", f, describe(v))
			}
		case "callbackPort":
			if p, ok := b.integer(v, f, 1024, 65535); ok {
				o.CallbackPort = p
			}
		case "issuer":
			if b.expect(v, kindString, f) && b.checkIssuer(v, f) {
				o.Issuer = v.str
			}
		case "allowPrivateNetwork":
			if b.expect(v, kindBool, f) {
				o.AllowPrivateNetwork = v.boolean
			}
		default:
			b.warn(m.keyOff, "%s: unknown key %q is ignored", field, m.key)
		}
	}
	if o.ClientSecretRef != "" && o.ClientID == "" {
		b.issue(n.off, "%s has \"clientSecret\" but no \"clientId\"", field)
	}
	if o.Issuer != "" && o.ClientID == "" {
		b.issue(n.off, "%s has \"issuer\" but no \"clientId\" (it names the authorization server a pre-registered client belongs to)", field)
	}
	return o
}
