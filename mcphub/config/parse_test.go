package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testOpts = Options{
	LookupEnv: func(k string) (string, bool) {
		v, ok := map[string]string{"TOKEN": "tok-from-env", "EMPTY": ""}[k]
		return v, ok
	},
	LookupSecret: func(name string) (string, bool, error) {
		switch name {
		case "gh":
			return "secret-from-keyring", true, nil
		case "locked":
			return "", false, errors.New("the keyring is locked")
		}
		return "", false, nil
	},
	HomeDir: "/home/dev",
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Parse("config.json", []byte(src), testOpts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg
}

func TestClaudeDesktopShape(t *testing.T) {
	cfg := mustParse(t, `{
  "mcpServers": {
    "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "${userHome}/src"], "env": {"DEBUG": "1"}},
    "GitHub": {"url": "https://api.githubcopilot.com/mcp/", "headers": {"Authorization": "Bearer ${keyring:gh}"}}
  }
}`)
	if len(cfg.Servers) != 2 {
		t.Fatalf("got %d servers, want 2", len(cfg.Servers))
	}
	fs := cfg.Servers[0]
	if fs.ID != "filesystem" || fs.Transport != TransportStdio || fs.Command != "npx" ||
		fs.Args[2] != "/home/dev/src" || fs.Env["DEBUG"] != "1" {
		t.Errorf("filesystem = %+v", fs)
	}
	gh := cfg.Servers[1]
	if gh.Name != "GitHub" || gh.ID != "github" || gh.Transport != TransportHTTP ||
		gh.Headers["Authorization"] != "Bearer secret-from-keyring" {
		t.Errorf("github = %+v", gh)
	}
	if gh.Pos != (Position{Line: 4, Column: 5}) {
		t.Errorf("github position = %+v, want 4:5", gh.Pos)
	}
	if cfg.Hub.Bridge.Port != DefaultBridgePort || !cfg.Hub.Bridge.RequireToken || cfg.Hub.Bridge.RecordDays != DefaultRecordDays || cfg.Hub.ToolSeparator != "__" {
		t.Errorf("hub defaults = %+v", cfg.Hub)
	}
}

func TestVSCodeShape(t *testing.T) {
	cfg := mustParse(t, `{
  "servers": {
    "remote": {"type": "http", "url": "https://example.com/mcp", "headers": {"X-Key": "${env:TOKEN}"}},
    "legacy": {"type": "sse", "url": "http://127.0.0.1:3001/sse"},
    "local":  {"type": "stdio", "command": "node", "args": ["server.js"], "cwd": "/tmp"}
  },
  "hub": {"bridge": {"port": 49000, "requireToken": false, "recordDays": 30}, "toolSeparator": ".", "logLevel": "DEBUG"}
}`)
	want := []Transport{TransportHTTP, TransportSSE, TransportStdio}
	for i, s := range cfg.Servers {
		if s.Transport != want[i] {
			t.Errorf("%s: transport %q, want %q", s.ID, s.Transport, want[i])
		}
	}
	if cfg.Servers[0].Headers["X-Key"] != "tok-from-env" {
		t.Errorf("env not expanded: %q", cfg.Servers[0].Headers["X-Key"])
	}
	if cfg.Hub.Bridge.Port != 49000 || cfg.Hub.Bridge.RequireToken || cfg.Hub.Bridge.RecordDays != 30 || cfg.Hub.ToolSeparator != "." || cfg.Hub.LogLevel != "debug" {
		t.Errorf("hub = %+v", cfg.Hub)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("unexpected warnings: %v", cfg.Warnings)
	}
}

func TestServerSettings(t *testing.T) {
	cfg := mustParse(t, `{"mcpServers": {"a": {
  "url": "https://a.example/mcp", "disabled": true, "protocolVersion": "2025-06-18", "timeout": 2.5,
  "oauth": {"clientId": "abc", "clientSecret": "${keyring:gh}", "scopes": "read write", "callbackPort": 48900,
    "issuer": "https://login.a.example/tenant", "allowPrivateNetwork": true}
}}}`)
	s := cfg.Servers[0]
	if !s.Disabled || s.ProtocolVersion != "2025-06-18" || s.Timeout != 2500*time.Millisecond {
		t.Errorf("server = %+v", s)
	}
	o := s.OAuth
	if o == nil || o.ClientID != "abc" || o.ClientSecretRef != "gh" || strings.Join(o.Scopes, ",") != "read,write" || o.CallbackPort != 48900 ||
		o.Issuer != "https://login.a.example/tenant" || !o.AllowPrivateNetwork {
		t.Errorf("oauth = %+v", o)
	}
}

func TestEmptyConfigIsValid(t *testing.T) {
	cfg := mustParse(t, DefaultFile)
	if len(cfg.Servers) != 0 || len(cfg.Warnings) != 0 {
		t.Errorf("default file: %+v", cfg)
	}
	// The new file spells out every hub setting at its default.
	if empty := mustParse(t, `{}`); !reflect.DeepEqual(cfg.Hub, empty.Hub) || !reflect.DeepEqual(cfg.Hub, Default("").Hub) {
		t.Errorf("default file's hub = %+v, an empty file's %+v", cfg.Hub, empty.Hub)
	}
	for _, key := range []string{"port", "requireToken", "recordDays", "callbackPort", "toolSeparator", "logLevel"} {
		if !strings.Contains(DefaultFile, `"`+key+`"`) {
			t.Errorf("the default file leaves out %q", key)
		}
	}
}

// Each bad input is reported with its exact position and message.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"syntax: missing comma", "{\n  \"mcpServers\": {}\n  \"hub\": {}\n}",
			`config.json:3:3: JSON syntax: unexpected '"' (expected ',' or '}')`},
		{"syntax: trailing comma", `{"mcpServers": {"a": {"command": "x"},}}`,
			`config.json:1:38: JSON syntax: trailing comma before '}' is not allowed in JSON`},
		// Reported at the comma, the line to edit, not at the '}' below it.
		{"syntax: trailing comma, a line above", "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"},\n  }\n}",
			`config.json:3:26: JSON syntax: trailing comma before '}' is not allowed in JSON`},
		{"syntax: trailing comma in an array", "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"args\": [\n  \"-v\",\n]}}}",
			`config.json:2:7: JSON syntax: trailing comma before ']' is not allowed in JSON`},
		{"syntax: comment", "{\n  // my servers\n  \"mcpServers\": {}\n}",
			`config.json:2:3: JSON syntax: unexpected '/' (comments are not allowed in JSON) (expected a quoted key)`},
		{"syntax: empty file", "", `config.json:1:1: JSON syntax: the file is empty (expected a JSON object)`},
		{"syntax: unterminated string", "{\"mcpServers\": {\"a\n", `config.json:1:19: JSON syntax: line break inside a string (missing '"'?)`},
		{"syntax: duplicate key", `{"mcpServers": {"a": {"command": "x"}, "a": {"command": "y"}}}`,
			`config.json:1:40: JSON syntax: key "a" appears twice in the same object`},
		{"top level not object", `[]`, `config.json:1:1: the top level of the file must be an object, not an array`},
		{"unknown transport", `{"servers": {"a": {"type": "htp", "url": "https://x"}}}`,
			`config.json:1:28: server "a": unknown transport "htp" (use "stdio", "http" or "sse")`},
		{"missing url and command", `{"mcpServers": {"a": {"args": []}}}`,
			`config.json:1:22: server "a" is missing "url" (for a remote server) or "command" (for a local one)`},
		{"both url and command", `{"mcpServers": {"a": {"url": "https://x", "command": "y"}}}`,
			`config.json:1:22: server "a" has both "url" and "command": give one (a remote server has a url, a local one a command)`},
		{"http without url", `{"servers": {"a": {"type": "http", "command": "x"}}}`,
			`config.json:1:19: server "a": transport "http" needs "url"`},
		{"stdio without command", `{"servers": {"a": {"type": "stdio", "url": "https://x"}}}`,
			"config.json:1:19: server \"a\": transport \"stdio\" needs \"command\"\n" +
				`config.json:1:44: server "a": "url" is not used with transport "stdio"`},
		{"invalid url scheme", `{"mcpServers": {"a": {"url": "ftp://x/mcp"}}}`,
			`config.json:1:30: server "a": "url" has scheme "ftp"; only http and https are supported`},
		{"url without scheme", `{"mcpServers": {"a": {"url": "example.com/mcp"}}}`,
			`config.json:1:30: server "a": "url" "example.com/mcp" has no scheme (start it with https://)`},
		{"url with password", `{"mcpServers": {"a": {"url": "https://u:p@x/mcp"}}}`,
			`config.json:1:30: server "a": "url" must not contain a user name or password; use "headers" with ${keyring:NAME}`},
		{"duplicate after normalisation", "{\"mcpServers\": {\"GitHub\": {\"command\": \"x\"}},\n \"servers\": {\"github\": {\"command\": \"y\"}}}",
			`config.json:2:14: server "github" has the same name as "GitHub" at line 1 after normalisation (both are "github")`},
		{"name without letters", `{"mcpServers": {"!!": {"command": "x"}}}`,
			`config.json:1:17: server name "!!" has no letters or digits (names become tool prefixes and URL paths)`},
		{"reserved name", `{"mcpServers": {"MCPTray": {"command": "x"}}}`,
			`config.json:1:17: server name "MCPTray" is reserved for MCP Tray's own tools`},
		{"missing keyring entry", `{"mcpServers": {"a": {"url": "https://x", "headers": {"Authorization": "Bearer ${keyring:nope}"}}}}`,
			`config.json:1:72: server "a": "headers".Authorization: ${keyring:nope} does not exist in the keyring (add it with 'mcptray secret set nope')`},
		{"keyring in args", `{"mcpServers": {"a": {"command": "x", "args": ["${keyring:gh}"]}}}`,
			`config.json:1:48: server "a": "args": ${keyring:gh} is only allowed in "headers" and "env" values, where it cannot leak into logs or process lists`},
		{"unset env var", `{"mcpServers": {"a": {"command": "x", "env": {"A": "${env:NOPE}"}}}}`,
			`config.json:1:52: server "a": "env".A: environment variable NOPE (from ${env:NOPE}) is not set`},
		{"vs code input", `{"servers": {"a": {"url": "https://x", "headers": {"K": "${input:key}"}}}}`,
			`config.json:1:57: server "a": "headers".K: ${input:key} is a VS Code prompt, which MCP Tray cannot show; store the value with 'mcptray secret set key' and write ${keyring:key}`},
		{"unknown reference", `{"mcpServers": {"a": {"command": "${workspaceFolder}/x"}}}`,
			`config.json:1:34: server "a": "command": unknown reference ${workspaceFolder} (use ${env:NAME}, ${keyring:NAME} or ${userHome})`},
		{"wrong type", `{"mcpServers": {"a": {"command": "x", "args": "-y pkg"}}}`,
			`config.json:1:47: server "a": "args" must be an array, not "-y pkg"`},
		{"port out of range", `{"hub": {"bridge": {"port": 70000}}}`,
			`config.json:1:29: "hub.bridge.port" must be a whole number from 1 to 65535, not 70000`},
		{"bad separator", `{"hub": {"toolSeparator": "::"}}`,
			`config.json:1:27: "hub.toolSeparator" must be 1 to 8 of the characters A-Z a-z 0-9 _ . - (tool names allow nothing else), not "::"`},
		{"bad log level", `{"hub": {"logLevel": "loud"}}`,
			`config.json:1:22: "hub.logLevel" must be "debug", "info", "warn" or "error", not "loud"`},
		{"issuer without client", `{"mcpServers": {"a": {"url": "https://x", "oauth": {"issuer": "https://login.example"}}}}`,
			`config.json:1:52: server "a": "oauth" has "issuer" but no "clientId" (it names the authorization server a pre-registered client belongs to)`},
		{"allowPrivateNetwork not a bool", `{"mcpServers": {"a": {"url": "https://x", "oauth": {"allowPrivateNetwork": "yes"}}}}`,
			`config.json:1:76: server "a": "oauth".allowPrivateNetwork must be a boolean, not "yes"`},
		{"issuer over http", `{"mcpServers": {"a": {"url": "https://x", "oauth": {"clientId": "c", "issuer": "http://login.example"}}}}`,
			`config.json:1:80: server "a": "oauth".issuer must be an https URL (http only on loopback), not "http://login.example"`},
		{"issuer with query", `{"mcpServers": {"a": {"url": "https://x", "oauth": {"clientId": "c", "issuer": "https://login.example?x=1"}}}}`,
			`config.json:1:80: server "a": "oauth".issuer must not have a query or a fragment (RFC 8414): "https://login.example?x=1"`},
		{"issuer not a URL", `{"mcpServers": {"a": {"url": "https://x", "oauth": {"clientId": "c", "issuer": "login.example"}}}}`,
			`config.json:1:80: server "a": "oauth".issuer must be the authorization server's issuer URL, like "https://login.example.com", not "login.example"`},
		{"secret in file", `{"mcpServers": {"a": {"url": "https://x", "oauth": {"clientId": "c", "clientSecret": "s3cr3t"}}}}`,
			`config.json:1:86: server "a": "oauth".clientSecret must be a keyring reference like "${keyring:NAME}" (secrets do not belong in the file); store it with 'mcptray secret set NAME'`},
		{"unknown protocol version", `{"mcpServers": {"a": {"command": "x", "protocolVersion": "2099-01-01"}}}`,
			`config.json:1:58: server "a": "protocolVersion": unknown protocol version "2099-01-01" (known: ` + "2026-07-28, 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)"},
		{"invalid header name", `{"mcpServers": {"a": {"url": "https://x", "headers": {"Bad Header": "v"}}}}`,
			`config.json:1:55: server "a": "headers": "Bad Header" is not a valid HTTP header name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("config.json", []byte(tc.src), testOpts)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if got := cerr.Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// A keyring that cannot be read (locked) holds back only the server that
// needs it: the file is valid, the others run.
func TestUnreadableKeyringHoldsBackOneServer(t *testing.T) {
	cfg := mustParse(t, `{"mcpServers": {
  "a": {"url": "https://x", "headers": {"K": "${keyring:locked}", "L": "${keyring:locked}"}},
  "b": {"command": "x", "env": {"T": "${keyring:gh}"}},
  "off": {"command": "x", "env": {"T": "${keyring:locked}"}, "disabled": true}
}}`)
	a, b, off := cfg.Server("a"), cfg.Server("b"), cfg.Server("off")
	if a.SecretUnreadable == nil {
		t.Fatal("a: SecretUnreadable not set")
	}
	want := `config.json:2:46: server "a": "headers".K: reading ${keyring:locked} from the keyring failed: the keyring is locked`
	if got := a.SecretUnreadable.String(); got != want {
		t.Errorf("a: got  %s\nwant %s", got, want)
	}
	if b.SecretUnreadable != nil || b.Env["T"] != "secret-from-keyring" {
		t.Errorf("b: %+v", b)
	}
	if off.SecretUnreadable != nil {
		t.Errorf("a disabled server needs no secrets: %v", off.SecretUnreadable)
	}
	// Once it can be read the server is a changed one (it starts); the
	// same failure again is not (it is not restarted for nothing).
	readable := *a
	readable.SecretUnreadable = nil
	if a.Equal(readable) {
		t.Error("an entry whose keyring value became readable compares equal")
	}
	again := *a
	again.SecretUnreadable = &Issue{Position: Position{9, 9}, Msg: a.SecretUnreadable.Msg}
	if !a.Equal(again) {
		t.Error("the same keyring failure at another place compares unequal")
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	_, err := Parse("c.json", []byte(`{"mcpServers": {"a": {}, "b": {"type": "tcp", "url": "https://x"}}}`), testOpts)
	var cerr *Error
	if !errors.As(err, &cerr) || len(cerr.Issues) != 2 {
		t.Fatalf("want 2 issues, got %v", err)
	}
}

func TestWarnings(t *testing.T) {
	cfg := mustParse(t, `{"mcpServers": {"a": {"url": "http://example.com/mcp", "alwaysAllow": [], "colour": "red"}}, "extra": 1}`)
	var got []string
	for _, w := range cfg.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		`config.json:1:75: server "a": unknown key "colour" is ignored`,
		`config.json:1:30: server "a": "url" uses plain http to a remote host; credentials would travel unencrypted (use https)`,
		`config.json:1:94: unknown top-level key "extra" is ignored (expected "hub", "mcpServers" or "servers")`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"GitHub": "github", "My Server": "my-server", "a.b/c": "a-b-c", "--x--": "x",
		"snake_case": "snake_case", "Ünïcode": "n-code", strings.Repeat("a", 70): strings.Repeat("a", 64),
	} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompare(t *testing.T) {
	old := mustParse(t, `{"mcpServers": {
  "keep": {"command": "x"},
  "change": {"url": "https://a/mcp"},
  "drop": {"command": "y"}
}}`)
	// "keep" moves two lines down, which must not count as a change.
	new := mustParse(t, `{"mcpServers": {
  "change": {"url": "https://b/mcp"},
  "add": {"command": "z"},

  "keep": {"command": "x"}
}}`)
	d := Compare(old, new)
	if strings.Join(d.Added, ",") != "add" || strings.Join(d.Removed, ",") != "drop" ||
		strings.Join(d.Changed, ",") != "change" || strings.Join(d.Unchanged, ",") != "keep" || d.HubChanged {
		t.Errorf("diff = %+v", d)
	}
}

// Every sign-in setting counts: a server whose oauth block changed in any
// key is restarted with it.
func TestCompareSignInSettings(t *testing.T) {
	base := `{"mcpServers": {"s": {"url": "https://a/mcp", "oauth": {"clientId": "c"%s}}}}`
	old := mustParse(t, fmt.Sprintf(base, ""))
	for _, extra := range []string{`, "allowPrivateNetwork": true`, `, "issuer": "https://login.example"`,
		`, "scopes": "read"`, `, "callbackPort": 48900`} {
		if d := Compare(old, mustParse(t, fmt.Sprintf(base, extra))); strings.Join(d.Changed, ",") != "s" {
			t.Errorf("adding %s: %+v", extra, d)
		}
	}
	if d := Compare(old, mustParse(t, fmt.Sprintf(base, ""))); strings.Join(d.Unchanged, ",") != "s" {
		t.Errorf("the same settings: %+v", d)
	}
}

func TestLineColCountsCharacters(t *testing.T) {
	data := []byte("{\n  \"é\": x}")
	if l, c := lineCol(data, strings.Index(string(data), "x")); l != 2 || c != 8 {
		t.Errorf("lineCol = %d:%d, want 2:8", l, c)
	}
}

// What an ${env:} reference stands for is kept out of what is shown,
// logged and stored: the server's target is the URL or command line as
// written, and an error about the URL quotes it as written.
func TestEnvValuesStayOutOfTargetsAndErrors(t *testing.T) {
	cfg := mustParse(t, `{"mcpServers": {
  "zap": {"url": "https://mcp.example/api?key=${env:TOKEN}"},
  "local": {"command": "run-${env:TOKEN}", "args": ["--key", "${env:TOKEN}"]}
}}`)
	if got := cfg.Servers[0].Target(); got != "https://mcp.example/api?key=${env:TOKEN}" {
		t.Errorf("zap's target: %q", got)
	}
	if got := cfg.Servers[1].Target(); got != "run-${env:TOKEN} --key ${env:TOKEN}" {
		t.Errorf("local's target: %q", got)
	}
	if cfg.Servers[0].URL != "https://mcp.example/api?key=tok-from-env" || cfg.Servers[1].Args[1] != "tok-from-env" {
		t.Errorf("the values are not expanded where they are used: %q %q", cfg.Servers[0].URL, cfg.Servers[1].Args)
	}
	for _, url := range []string{"mcp.example/api?key=${env:TOKEN}", "https:///api?key=${env:TOKEN}"} {
		_, err := Parse("config.json", []byte(`{"mcpServers": {"zap": {"url": "`+url+`"}}}`), testOpts)
		if err == nil || strings.Contains(err.Error(), "tok-from-env") || !strings.Contains(err.Error(), "${env:TOKEN}") {
			t.Errorf("url %s: %v, want an error quoting the URL as written", url, err)
		}
	}
}

// A remote server's entry with a local command's keys (left over from an
// edit, or pasted from another entry) is warned about, not silently used
// for nothing; a local command's are not.
func TestCommandKeysOnARemoteServer(t *testing.T) {
	cfg := mustParse(t, `{"mcpServers": {"r": {"url": "https://example.com/mcp", "args": ["-y"], "env": {"A": "1"}}, "l": {"command": "x", "args": ["-y"]}}}`)
	var got []string
	for _, w := range cfg.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		`config.json:1:65: server "r": "args" is not used with transport "http" (it is for a local command)`,
		`config.json:1:80: server "r": "env" is not used with transport "http" (it is for a local command)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
