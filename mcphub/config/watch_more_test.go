package config

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/mcptray/mcptray/internal/testlog"
)

// A link made before its target exists (a dotfiles checkout not yet
// there) is watched at the target's folder: creating the target and
// editing it are reported, by file events alone.
func TestWatchSymlinkTargetNotYetThere(t *testing.T) {
	for _, tc := range []struct {
		name string
		link func(t *testing.T, dir, link string) (target string)
	}{
		{"absolute", func(t *testing.T, dir, link string) string {
			target := filepath.Join(dir, "dotfiles", "mcptray.json")
			symlink(t, target, link)
			return target
		}},
		{"relative, two hops", func(t *testing.T, dir, link string) string {
			mkdir(t, filepath.Join(dir, "hop"))
			symlink(t, "../hop/config.json", link)
			symlink(t, "../dotfiles/mcptray.json", filepath.Join(dir, "hop", "config.json"))
			return filepath.Join(dir, "dotfiles", "mcptray.json")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mkdir(t, filepath.Join(dir, "dotfiles"))
			mkdir(t, filepath.Join(dir, "config"))
			link := filepath.Join(dir, "config", "config.json")
			target := tc.link(t, dir, link)
			changed := startWatch(t, link)
			write(t, target, "a")
			expectChange(t, changed, "creating the link's target")
			write(t, target, "bb")
			expectChange(t, changed, "an edit of the link's target")
		})
	}
}

// A link re-pointed to a new folder (home-manager's next generation) stops
// the watch of the old one, so deleting the old folder later is no
// "folder is gone" to look for forever.
func TestWatchSymlinkOldTargetDropped(t *testing.T) {
	dir := t.TempDir()
	gen1, gen2 := filepath.Join(dir, "gen1", "config.json"), filepath.Join(dir, "gen2", "config.json")
	for _, f := range []string{gen1, gen2} {
		mkdir(t, filepath.Dir(f))
		write(t, f, "a")
	}
	mkdir(t, filepath.Join(dir, "config"))
	link := filepath.Join(dir, "config", "config.json")
	symlink(t, gen1, link)
	var logs testlog.Buffer
	changed := startWatchWith(t, link, slog.New(slog.NewTextHandler(&logs, nil)),
		watchOptions{newWatcher: fsnotify.NewWatcher, noPoll: true})
	symlink(t, gen2, link+".new")
	rename(t, link+".new", link)
	expectChange(t, changed, "the link re-pointed")
	if err := os.RemoveAll(filepath.Dir(gen1)); err != nil {
		t.Fatal(err)
	}
	// Events come in order: once this edit is reported, the removal's
	// events were handled too.
	write(t, gen2, "bb")
	expectChange(t, changed, "an edit of the new target")
	if l := logs.String(); strings.Contains(l, "folder is gone") {
		t.Errorf("the old target's folder was still watched; its removal was taken for the configuration's:\n%s", l)
	}
}

// Without file events (fsnotify cannot be created: the inotify instance
// limit; or a network file system edited from elsewhere sends none), the
// file is polled: edits of a link's target, a replaced target, a
// re-pointed link and a removal are all reported, and the fallback is
// logged once, at warn.
func TestWatchPollingWithoutEvents(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "dotA", "config.json"), filepath.Join(dir, "dotB", "config.json")
	for _, f := range []string{a, b} {
		mkdir(t, filepath.Dir(f))
		write(t, f, "a")
	}
	mkdir(t, filepath.Join(dir, "config"))
	link := filepath.Join(dir, "config", "config.json")
	symlink(t, a, link)
	var logs testlog.Buffer
	noEvents := func() (*fsnotify.Watcher, error) { return nil, errors.New("too many open files") }
	changed := startWatchWith(t, link, slog.New(slog.NewTextHandler(&logs, nil)), watchOptions{newWatcher: noEvents})
	// Each edit changes the size: two writes within one tick of the
	// file system's clock can share an mtime.
	write(t, a, "bb")
	expectChange(t, changed, "an edit of the link's target in place")
	write(t, a+".tmp", "ccc")
	rename(t, a+".tmp", a)
	expectChange(t, changed, "the link's target replaced")
	symlink(t, b, link+".new")
	rename(t, link+".new", link)
	expectChange(t, changed, "the link re-pointed")
	write(t, b, "dddd")
	expectChange(t, changed, "an edit of the new target")
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changed, "the configuration removed")
	l := logs.String()
	if n := strings.Count(l, "level=WARN"); n != 1 || !strings.Contains(l, "within 2 s") || !strings.Contains(l, "too many open files") {
		t.Errorf("want one warning that edits are noticed within 2 s, with the cause; the log:\n%s", l)
	}
}

// An edit that keeps the file's size and modification time (two saves
// within one tick of a coarse file system clock: FAT, some network file
// systems) is still found by polling, which compares a recent file's
// content too.
func TestWatchPollingSeesSameStampEdits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	write(t, path, "aa")
	stamp := time.Now().Add(-time.Second).Truncate(2 * time.Second)
	if err := os.Chtimes(path, stamp, stamp); err != nil {
		t.Fatal(err)
	}
	noEvents := func() (*fsnotify.Watcher, error) { return nil, errors.New("no file events here") }
	changed := startWatchWith(t, path, slog.New(slog.NewTextHandler(io.Discard, nil)), watchOptions{newWatcher: noEvents})
	f, err := os.OpenFile(path, os.O_WRONLY, 0) // in place: the same file
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("bb"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(path, stamp, stamp); err != nil { // the clock's tick had not passed
		t.Fatal(err)
	}
	expectChange(t, changed, "an edit of the same size and time")
}

// With both file events and polling, a save is reported once: the poll
// after the report finds nothing new.
func TestWatchPollingRepeatsNoReport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	write(t, path, "a")
	changed := startWatchWith(t, path, slog.Default(), watchOptions{newWatcher: fsnotify.NewWatcher})
	write(t, path, "bb")
	expectChange(t, changed, "the save")
	select {
	case <-changed:
		t.Error("a save reported by its events was reported again by the poll")
	case <-time.After(pollEvery + time.Second):
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
