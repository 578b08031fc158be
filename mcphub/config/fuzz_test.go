package config

import (
	"strings"
	"testing"
)

// FuzzParse: any bytes give a configuration or errors that name the file
// and a position; never a panic.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		DefaultFile, editBase, `{"servers": {"a": {"type": "http", "url": "https://a.example"}}}`,
		`{"mcpServers": {"x": {"command": "c", "args": ["${env:HOME}"], "env": {"K": "${keyring:k}"}}}}`,
		`{"mcpServers": {"x": {"url": "https://x.example", "oauth": {"clientId": "c", "scopes": ["a"]}}}}`,
		`{`, `[]`, `{"mcpServers": {"a": {}, "A": {}}}`, "{\"a\":\"\\ud800\"}", `{"hub": {"bridge": {"port": 1e400}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.json", data, Options{})
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		if cfg == nil {
			t.Fatal("no error and no configuration")
		}
		for _, s := range cfg.Servers {
			if s.ID == "" || (s.URL == "" && s.Command == "") {
				t.Fatalf("accepted a server without an ID or a target: %+v", s)
			}
		}
	})
}
