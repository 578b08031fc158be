package mcphub

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/atomicfile"
	"github.com/mcptray/mcptray/internal/testleak"
	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/status"
)

// The configuration file deleted, truncated mid-write, replaced by a
// folder, then saved 100 times a second: the last good configuration keeps
// running (the server's session is never replaced), every bad state is
// reported, the final good file is applied, and no goroutine or file
// descriptor is left behind.
func TestConfigFileChaos(t *testing.T) {
	peer := testpeers.StartEverythingHTTP(t)
	good := func(level string) string {
		return fmt.Sprintf(`{"hub": {"logLevel": %q}, "mcpServers": {"a": {"url": %q}}}`, level, peer.URL)
	}
	h, path, sub := testHub(t, good("info"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := h.Watch(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, sub, map[string]status.State{"a": status.Connected})
	conn, _ := h.Conn("a")
	session := conn.Session()
	time.Sleep(300 * time.Millisecond) // start-up goroutines settle before the baseline: nothing announces it
	before := testleak.Take(t)

	// waitConfigError waits (on the hub's events) until the running
	// configuration's error mentions want, or clears when want is "".
	waitConfig := func(what, want string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			err := h.ConfigError()
			if want == "" && err == nil || want != "" && err != nil && strings.Contains(err.Error(), want) {
				return
			}
			select {
			case <-sub.C:
			case <-deadline:
				t.Fatalf("%s: config error %v, want %q", what, err, want)
			}
		}
	}
	untouched := func(what string) {
		t.Helper()
		if c, _ := h.Conn("a"); c != conn || c.Session() != session || c.Status().State != status.Connected {
			t.Fatalf("%s: the running server was disturbed", what)
		}
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitConfig("deleted", "does not exist")
	untouched("deleted")

	// Truncated mid-write (a non-atomic writer caught halfway).
	whole := good("debug")
	if err := os.WriteFile(path, []byte(whole[:len(whole)/2]), 0o600); err != nil {
		t.Fatal(err)
	}
	waitConfig("truncated", "JSON syntax")
	untouched("truncated")

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	waitConfig("a folder", "folder")
	untouched("a folder")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}

	// 100 saves a second for two seconds, alternating good files.
	tick := time.NewTicker(10 * time.Millisecond)
	levels := []string{"debug", "warn"}
	for i := range 200 {
		<-tick.C
		if err := atomicfile.WriteFile(path, []byte(good(levels[i%2])), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tick.Stop()
	waitConfig("after the storm", "")
	deadline := time.After(20 * time.Second)
	for h.Config().Hub.LogLevel != "warn" {
		select {
		case <-sub.C:
		case <-deadline:
			t.Fatalf("the last save was not applied: log level %q", h.Config().Hub.LogLevel)
		}
	}
	untouched("after the storm")

	before.Check(t, 5, 3)
}
