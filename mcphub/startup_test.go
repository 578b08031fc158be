package mcphub

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcptray/mcptray/mcphub/config"
)

// A hub watches its file before it first reads it (app's startHub does
// so): an edit saved while that first read waits for the keyring (an
// unlock prompt) is applied once it is done, not missed.
func TestAnEditDuringTheFirstReadIsApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	v1 := `{"mcpServers": {"a": {"command": "true", "disabled": true, "env": {"K": "${keyring:k}"}}}}`
	v2 := `{"mcpServers": {"a": {"command": "true", "disabled": true, "env": {"K": "${keyring:k}"}}, "b": {"command": "true", "disabled": true}}}`
	if err := os.WriteFile(path, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	lookup := func(string) (string, bool, error) {
		once.Do(func() { // the person saves the file while the prompt is up
			if err := os.WriteFile(path, []byte(v2), 0o600); err != nil {
				t.Error(err)
			}
		})
		return "value", true, nil
	}
	h := New(Options{ConfigPath: path, ConfigOptions: config.Options{LookupSecret: lookup}})
	t.Cleanup(h.Close)
	sub := h.Subscribe(64)
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := h.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second) // the watcher's poll would see it within 2 s too
	for h.Config().Server("b") == nil {
		select {
		case <-sub.C:
		case <-timeout:
			t.Fatalf("the edit saved during the first read was not applied: %d server(s) run", len(h.Config().Servers))
		}
	}
}
