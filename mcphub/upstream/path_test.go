package upstream

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
)

// A command is found on the PATH the server's "env" sets, which the hub's
// own PATH lacks (npx under nvm, for a hub started at login): in the
// first of its directories that has it as an executable file.
func TestStdioCommandOnConfiguredPath(t *testing.T) {
	bin := testpeers.EverythingServerBin(t)
	notExec, withExec := t.TempDir(), t.TempDir()
	const name = "mcptray-path-test-server"
	if err := os.WriteFile(filepath.Join(notExec, name), []byte("#!/bin/sh\nexit 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withExec, name), []byte("#!/bin/sh\nexec "+bin+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	events, opts := collect(nil)
	c := Start(config.Server{ID: "p", Transport: config.TransportStdio, Command: name,
		Env:     map[string]string{"PATH": notExec + string(os.PathListSeparator) + withExec},
		Timeout: 20 * time.Second}, opts)
	defer c.Stop()
	for st := range events {
		switch st.State {
		case status.Connected:
			return
		case status.Error:
			t.Fatalf("reason = %q", st.Reason)
		}
	}
}

// A command on neither PATH is reported with the PATH searched, and
// without the server's other env values.
func TestStdioCommandNotOnConfiguredPath(t *testing.T) {
	dir := t.TempDir()
	events, opts := collect(nil)
	c := Start(config.Server{ID: "p", Transport: config.TransportStdio, Command: "no-such-command-mcptray",
		Env:     map[string]string{"PATH": dir, "API_KEY": "sk-SUPERSECRET-123"},
		Timeout: time.Second}, opts)
	defer c.Stop()
	st := waitFor(t, events, status.Error)
	want := `command "no-such-command-mcptray" was not found on the server's PATH (` + dir + `) nor on the hub's`
	if st.Reason != want || strings.Contains(st.Reason, "sk-SUPERSECRET-123") {
		t.Errorf("reason = %q, want %q", st.Reason, want)
	}
}
