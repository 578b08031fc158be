package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const editBase = `{
  "hub": {"logLevel": "info"},
  "mcpServers": {
    "alpha": {"url": "https://a.example/mcp"},
    "beta": {
      "command": "beta-server",
      "args": ["--fast"]
    },
    "gamma": {"url": "https://g.example/mcp", "headers": {"X-Team": "one"}}
  }
}
`

func TestEditKeepsEverythingElse(t *testing.T) {
	for _, tc := range []struct {
		name string
		base string
		edit Edit
		want string
	}{
		{"add at the end", editBase, Edit{Name: "delta", Entry: json.RawMessage(`{"url":"https://d.example/mcp"}`)}, `{
  "hub": {"logLevel": "info"},
  "mcpServers": {
    "alpha": {"url": "https://a.example/mcp"},
    "beta": {
      "command": "beta-server",
      "args": ["--fast"]
    },
    "gamma": {"url": "https://g.example/mcp", "headers": {"X-Team": "one"}},
    "delta": {
      "url": "https://d.example/mcp"
    }
  }
}
`},
		{"replace in place", editBase, Edit{Name: "beta", Entry: json.RawMessage(`{"command":"beta-server","args":["--slow"]}`)}, `{
  "hub": {"logLevel": "info"},
  "mcpServers": {
    "alpha": {"url": "https://a.example/mcp"},
    "beta": {
      "command": "beta-server",
      "args": [
        "--slow"
      ]
    },
    "gamma": {"url": "https://g.example/mcp", "headers": {"X-Team": "one"}}
  }
}
`},
		{"rename in place", editBase, Edit{Name: "alpha", Rename: "first", Entry: json.RawMessage(`{"url":"https://a.example/mcp"}`)}, `{
  "hub": {"logLevel": "info"},
  "mcpServers": {
    "first": {
      "url": "https://a.example/mcp"
    },
    "beta": {
      "command": "beta-server",
      "args": ["--fast"]
    },
    "gamma": {"url": "https://g.example/mcp", "headers": {"X-Team": "one"}}
  }
}
`},
		{"remove the first", editBase, Edit{Name: "alpha"}, `{
  "hub": {"logLevel": "info"},
  "mcpServers": {
    "beta": {
      "command": "beta-server",
      "args": ["--fast"]
    },
    "gamma": {"url": "https://g.example/mcp", "headers": {"X-Team": "one"}}
  }
}
`},
		{"remove the middle", editBase, Edit{Name: "beta"}, `{
  "hub": {"logLevel": "info"},
  "mcpServers": {
    "alpha": {"url": "https://a.example/mcp"},
    "gamma": {"url": "https://g.example/mcp", "headers": {"X-Team": "one"}}
  }
}
`},
		{"remove the last", editBase, Edit{Name: "gamma"}, `{
  "hub": {"logLevel": "info"},
  "mcpServers": {
    "alpha": {"url": "https://a.example/mcp"},
    "beta": {
      "command": "beta-server",
      "args": ["--fast"]
    }
  }
}
`},
		{"remove the only one", `{"mcpServers": {"solo": {"url": "https://s.example"}}}`, Edit{Name: "solo"}, `{"mcpServers": {}}`},
		{"add to the new file", DefaultFile, Edit{Name: "one", Entry: json.RawMessage(`{"url":"https://o.example/mcp"}`)},
			strings.Replace(DefaultFile, `"mcpServers": {}`, "\"mcpServers\": {\n    \"one\": {\n      \"url\": \"https://o.example/mcp\"\n    }\n  }", 1)},
		{"add without a server list", `{"hub": {}}`, Edit{Name: "one", Entry: json.RawMessage(`{"url":"https://o.example/mcp"}`)}, `{"hub": {},
  "mcpServers": {
    "one": {
      "url": "https://o.example/mcp"
    }
  }
}`},
		{"VS Code shape", `{"servers": {"a": {"type": "http", "url": "https://a.example"}}}`, Edit{Name: "b", Entry: json.RawMessage(`{"type":"stdio","command":"b"}`)},
			`{"servers": {"a": {"type": "http", "url": "https://a.example"},
  "b": {
    "type": "stdio",
    "command": "b"
  }
}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Preview([]byte(tc.base), tc.edit)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if _, err := Parse("test.json", got, Options{}); err != nil {
				t.Errorf("the result does not parse: %v", err)
			}
		})
	}
}

func TestSetDisabledKeepsKeyOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(editBase), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := SetDisabled(path, "gamma", true)
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Entry) != `{"url":"https://g.example/mcp","headers":{"X-Team":"one"},"disabled":true}` {
		t.Errorf("entry %s", e.Entry)
	}
	if err := Apply(path, e, Options{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Servers[2].Disabled || cfg.Servers[0].Disabled {
		t.Errorf("disabled: %v %v", cfg.Servers[0].Disabled, cfg.Servers[2].Disabled)
	}
	e, err = SetDisabled(path, "gamma", false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(e.Entry), "disabled") {
		t.Errorf("enabled entry still says disabled: %s", e.Entry)
	}
	if _, err := SetDisabled(path, "nope", true); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown server: %v", err)
	}
}

// An entry that says "enabled": false (the form some tools write) is
// enabled and disabled in that form; a "disabled" beside it goes.
func TestSetDisabledOfAnEnabledEntry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	cfg := `{"mcpServers": {"a": {"url": "https://a.example/mcp", "enabled": false}, "b": {"url": "https://b.example/mcp", "disabled": true, "enabled": false}}}`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		disabled bool
		entry    string
	}{
		{"a", false, `{"url":"https://a.example/mcp","enabled":true}`},
		{"a", true, `{"url":"https://a.example/mcp","enabled":false}`},
		{"b", false, `{"url":"https://b.example/mcp","enabled":true}`},
	} {
		e, err := SetDisabled(path, c.name, c.disabled)
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Entry) != c.entry {
			t.Errorf("%s disabled=%v: entry %s, want %s", c.name, c.disabled, e.Entry, c.entry)
		}
		if err := Apply(path, e, Options{}); err != nil {
			t.Fatal(err)
		}
		loaded, err := Load(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range loaded.Servers {
			if s.ID == c.name && s.Disabled != c.disabled {
				t.Errorf("%s: Disabled = %v after SetDisabled(%v)", c.name, s.Disabled, c.disabled)
			}
		}
	}
}

// An edit whose result is not a valid configuration is refused with the
// parser's message, and the file is left as it was.
func TestApplyRefusesInvalidResult(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "config.json")
	if err := os.WriteFile(real, []byte(editBase), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	err := Apply(link, Edit{Name: "bad", Entry: json.RawMessage(`{"url":"ftp://x.example"}`)}, Options{})
	if err == nil || !strings.Contains(err.Error(), "ftp") {
		t.Fatalf("err %v, want the invalid scheme named", err)
	}
	if data, _ := os.ReadFile(real); string(data) != editBase {
		t.Error("the file changed after a refused edit")
	}
	// A good edit goes through the symlink to the real file.
	if err := Apply(link, Edit{Name: "alpha"}, Options{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was replaced by a file")
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
	}
	if data, _ := os.ReadFile(real); strings.Contains(string(data), "alpha") {
		t.Error("alpha not removed")
	}
}

func TestSetSetting(t *testing.T) {
	e, _ := SetSetting(48900, "hub", "bridge", "port")
	got, err := Preview([]byte(DefaultFile), e)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(DefaultFile, `"port": 48800`, `"port": 48900`, 1); string(got) != want {
		t.Errorf("got\n%s", got)
	}
	got, err = Preview([]byte(`{"mcpServers": {}}`), e)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("x.json", got, Options{})
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	if cfg.Hub.Bridge.Port != 48900 {
		t.Errorf("port %d in\n%s", cfg.Hub.Bridge.Port, got)
	}
}

// Entry reads a server's entry the way Load reads the file: a byte-order
// mark is fine, and an unknown name is named in the error.
func TestEntryReadsLikeLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, append([]byte("\ufeff"), editBase...), 0o600); err != nil {
		t.Fatal(err)
	}
	raw, err := Entry(path, "gamma")
	if err != nil || !strings.Contains(string(raw), "https://g.example/mcp") {
		t.Fatalf("Entry = %s, %v", raw, err)
	}
	if _, err := Entry(path, "nope"); !errors.Is(err, ErrNoSuchServer) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown server: %v", err)
	}
}

// Two edits at once (the window's actions run on goroutines of their own)
// are both applied.
func TestConcurrentEditsAreBothApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	for round := range 30 {
		if err := os.WriteFile(path, []byte(`{"mcpServers": {"a": {"url": "https://a.example/mcp"}, "b": {"url": "https://b.example/mcp"}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, name := range []string{"a", "b"} {
			wg.Go(func() {
				<-start
				e, err := SetDisabled(path, name, true)
				if err == nil {
					err = Apply(path, e, Options{})
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		cfg, err := Load(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range cfg.Servers {
			if !s.Disabled {
				t.Fatalf("round %d: the edit of %s was lost", round, s.ID)
			}
		}
	}
}
