package config

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long the watcher waits after the last change
// before it reports one. Editors save in bursts (rename away, create,
// write); one report per save is the goal, well inside the 250 ms budget.
const DefaultDebounce = 40 * time.Millisecond

// Watch calls onChange (from one goroutine, never concurrently) after the
// file at path was written, replaced, renamed or removed, until ctx ends.
//
// It watches the folder, not the file: editors save by writing a new file
// and renaming it over the old one, and a watch on the old file would be
// lost with it (DEPENDENCIES.md §5). When path is a symbolic link (dotfile
// managers), the folder of the link's target is watched too.
func Watch(ctx context.Context, path string, debounce time.Duration, log *slog.Logger, onChange func()) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	names := map[string]bool{abs: true}
	if target, err := filepath.EvalSymlinks(abs); err == nil && target != abs {
		names[target] = true
	}
	for name := range names {
		if err := w.Add(filepath.Dir(name)); err != nil {
			w.Close()
			return fmt.Errorf("watch the folder of %s: %w", name, err)
		}
	}
	go func() {
		defer w.Close()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if names[filepath.Clean(ev.Name)] && ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Remove) != 0 {
					timer.Reset(debounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("config watcher", "err", err)
				// An overflow means events were lost: check the file anyway.
				timer.Reset(debounce)
			case <-timer.C:
				onChange()
			}
		}
	}()
	return nil
}
