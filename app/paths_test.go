package app

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Every process of a user finds the same runtime folder (and so the same
// hub lock and socket), whether or not its environment has
// XDG_RUNTIME_DIR: a hub started from tmux without it and an IDE with it
// must not end up with a hub each.
func TestRuntimeFolderWithAndWithoutXDGRuntimeDir(t *testing.T) {
	root := t.TempDir()
	old := loginRuntimeRoot
	loginRuntimeRoot = root
	t.Cleanup(func() { loginRuntimeRoot = old })
	login := filepath.Join(root, strconv.Itoa(os.Getuid()))
	if err := os.Mkdir(login, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", login)
	with := runtimeDir()
	t.Setenv("XDG_RUNTIME_DIR", "")
	if without := runtimeDir(); without != with || with != filepath.Join(login, "mcptray") {
		t.Errorf("runtime folder %s with XDG_RUNTIME_DIR, %s without", with, without)
	}
	// A login folder others can enter is not used; the temp folder is.
	if err := os.Chmod(login, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := runtimeDir(), filepath.Join(os.TempDir(), "mcptray-"+strconv.Itoa(os.Getuid())); got != want {
		t.Errorf("with an open login folder: %s, want %s", got, want)
	}
}

// Without a home folder the data and log folders are not made relative to
// wherever the command runs: it says to set HOME, unless the XDG folders
// are given.
func TestPathsWithoutAHomeFolder(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the XDG folders are Linux's")
	}
	t.Setenv("HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("XDG_STATE_HOME", "relative/state") // ignored, as the XDG spec says
	cfg := filepath.Join(t.TempDir(), "config.json")
	if _, err := resolvePaths(cfg); err == nil || !strings.Contains(err.Error(), "set HOME") {
		t.Errorf("no HOME: %v", err)
	}
	data, state := t.TempDir(), t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	t.Setenv("XDG_STATE_HOME", state)
	p, err := resolvePaths(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Data != filepath.Join(data, "mcptray") || p.Logs != filepath.Join(state, "mcptray") {
		t.Errorf("data %s, logs %s", p.Data, p.Logs)
	}
}
