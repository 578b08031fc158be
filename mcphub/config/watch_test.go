package config

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Each way editors save must produce a change report, promptly.
func TestWatchSaveStyles(t *testing.T) {
	for _, tc := range []struct {
		name string
		save func(t *testing.T, path string)
	}{
		{"in place", func(t *testing.T, path string) { write(t, path, "b") }},
		{"temp file and rename (VS Code, JetBrains)", func(t *testing.T, path string) {
			tmp := path + ".tmp"
			write(t, tmp, "b")
			rename(t, tmp, path)
		}},
		{"rename away and recreate (vim)", func(t *testing.T, path string) {
			rename(t, path, path+"~")
			write(t, path, "b")
		}},
		{"delete", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "config.json")
			write(t, path, "a")
			changed := make(chan time.Time, 10)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if err := Watch(ctx, path, DefaultDebounce, slog.Default(), func() { changed <- time.Now() }); err != nil {
				t.Fatal(err)
			}
			saved := time.Now()
			tc.save(t, path)
			select {
			case at := <-changed:
				t.Logf("reported %v after the save", at.Sub(saved).Round(time.Millisecond))
			case <-time.After(5 * time.Second):
				t.Fatal("no change reported")
			}
			// One save, one report: the burst of events is debounced.
			select {
			case <-changed:
				t.Error("a single save was reported twice")
			case <-time.After(4 * DefaultDebounce):
			}
		})
	}
}

// A configuration that is a symbolic link (dotfile managers) is watched at
// its target too.
func TestWatchSymlinkTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles", "mcptray.json")
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, target, "a")
	link := filepath.Join(dir, "config", "config.json")
	_ = os.MkdirAll(filepath.Dir(link), 0o700)
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	changed := startWatch(t, link)
	write(t, target, "b")
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("an edit of the link's target was not reported")
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// A link re-pointed to another target (ln -sfn, as dotfile managers do) is
// followed: edits of the new target are reported.
func TestWatchSymlinkRepointed(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "dotA", "config.json"), filepath.Join(dir, "dotB", "config.json")
	for _, f := range []string{a, b} {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, f, "a")
	}
	link := filepath.Join(dir, "config", "config.json")
	_ = os.MkdirAll(filepath.Dir(link), 0o700)
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	changed := startWatch(t, link)
	if err := os.Symlink(b, link+".new"); err != nil {
		t.Fatal(err)
	}
	rename(t, link+".new", link)
	expectChange(t, changed, "the link re-pointed")
	write(t, b, "b")
	expectChange(t, changed, "an edit of the link's new target")
}

// A configuration folder that is removed and made again (a dotfile
// manager replacing it) is watched again once it is back.
func TestWatchFolderRecreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mcptray")
	path := filepath.Join(dir, "config.json")
	_ = os.MkdirAll(dir, 0o700)
	write(t, path, "a")
	changed := startWatch(t, path)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	expectChange(t, changed, "the folder removed")
	_ = os.MkdirAll(dir, 0o700)
	write(t, path, "b")
	expectChange(t, changed, "the folder back with the file") // found by the look every 2 s
	write(t, path, "c")
	expectChange(t, changed, "an edit in the recreated folder")
}

// startWatch watches path by file events alone (polling would hide a
// missed event) until the test ends; each report is a value.
func startWatch(t *testing.T, path string) <-chan struct{} {
	t.Helper()
	return startWatchWith(t, path, slog.Default(), watchOptions{newWatcher: fsnotify.NewWatcher, noPoll: true})
}

func startWatchWith(t *testing.T, path string, log *slog.Logger, opts watchOptions) <-chan struct{} {
	t.Helper()
	changed := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := watch(ctx, path, DefaultDebounce, log, func() { changed <- struct{}{} }, opts); err != nil {
		t.Fatal(err)
	}
	return changed
}

// expectChange waits long enough for a poll (every 2 s) on a busy machine.
func expectChange(t *testing.T, changed <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s was not reported", what)
	}
	for len(changed) > 0 { // one report per step is all this asks
		<-changed
	}
}
