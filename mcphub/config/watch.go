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
// managers), the folder of the link's target is watched too, and the
// link is followed again whenever it changes. A watched folder that is
// removed is looked for every second until it is back, then watched again.
func Watch(ctx context.Context, path string, debounce time.Duration, log *slog.Logger, onChange func()) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	fw := &fileWatch{w: w, abs: abs, names: map[string]bool{abs: true}, dirs: map[string]bool{}}
	fw.follow()
	for dir := range fw.dirs {
		if err := w.Add(dir); err != nil {
			w.Close()
			return fmt.Errorf("watch the folder %s: %w", dir, err)
		}
	}
	go fw.run(ctx, debounce, log, onChange)
	return nil
}

// fileWatch is Watch's state, owned by its goroutine after Watch returns.
type fileWatch struct {
	w      *fsnotify.Watcher
	abs    string          // the configuration's path
	target string          // where the link at abs points; "" when it is not one
	names  map[string]bool // abs and target: the files whose events count
	dirs   map[string]bool // their folders, watched
}

// follow resolves the link at abs again, adding the new target's folder
// to dirs (the caller watches it). A target that left keeps its folder
// watched: an unneeded folder costs only events that are ignored.
func (fw *fileWatch) follow() {
	target, err := filepath.EvalSymlinks(fw.abs)
	if err != nil || target == fw.abs {
		target = ""
	}
	if target != fw.target {
		delete(fw.names, fw.target)
		fw.target = target
	}
	if target != "" {
		fw.names[target] = true
	}
	for name := range fw.names {
		fw.dirs[filepath.Dir(name)] = true
	}
}

// watchAll (re)adds every folder's watch, reporting whether all are on.
func (fw *fileWatch) watchAll() bool {
	ok := true
	for dir := range fw.dirs {
		if fw.w.Add(dir) != nil {
			ok = false
		}
	}
	return ok
}

func (fw *fileWatch) run(ctx context.Context, debounce time.Duration, log *slog.Logger, onChange func()) {
	defer fw.w.Close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var lookAgain *time.Ticker // while a watched folder is gone
	var lookAgainC <-chan time.Time
	defer func() {
		if lookAgain != nil {
			lookAgain.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-fw.w.Events:
			if !ok {
				return
			}
			name := filepath.Clean(ev.Name)
			switch {
			case fw.dirs[name] && ev.Op&(fsnotify.Remove|fsnotify.Rename) != 0:
				// The folder itself went, and its watch with it.
				if lookAgain == nil {
					log.Warn("the configuration's folder is gone; watching for it to come back", "folder", name)
					lookAgain = time.NewTicker(time.Second)
					lookAgainC = lookAgain.C
				}
				timer.Reset(debounce)
			case fw.names[name] && ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Remove) != 0:
				if name == fw.abs && fw.target != "" || ev.Op&fsnotify.Create != 0 {
					fw.follow() // a link re-pointed, or one made where a file was
					fw.watchAll()
				}
				timer.Reset(debounce)
			}
		case err, ok := <-fw.w.Errors:
			if !ok {
				return
			}
			log.Warn("config watcher", "err", err)
			// An overflow means events were lost: check the file anyway.
			timer.Reset(debounce)
		case <-lookAgainC:
			fw.follow()
			if fw.watchAll() {
				log.Info("the configuration's folder is back; watching it again")
				lookAgain.Stop()
				lookAgain, lookAgainC = nil, nil
				timer.Reset(debounce)
			}
		case <-timer.C:
			onChange()
		}
	}
}
