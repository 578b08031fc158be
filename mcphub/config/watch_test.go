package config

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
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
	changed := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Watch(ctx, link, DefaultDebounce, slog.Default(), func() { changed <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
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
