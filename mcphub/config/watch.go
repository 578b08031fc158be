package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is how long the watcher waits after the last change
// before it reports one. Editors save in bursts (rename away, create,
// write); one report per save is the goal, well inside the 250 ms budget.
const DefaultDebounce = 40 * time.Millisecond

// pollEvery is how often the file is compared with what was last seen, for
// edits that send no file events: a network file system (NFS, SMB, sshfs,
// WSL's /mnt/c) edited from elsewhere, or no fsnotify at all.
const pollEvery = 2 * time.Second

// Watch calls onChange (from one goroutine, never concurrently) after the
// file at path was written, replaced, renamed or removed, until ctx ends.
//
// It watches the folder, not the file: editors save by writing a new file
// and renaming it over the old one, and a watch on the old file would be
// lost with it (DEPENDENCIES.md §5). When path is a symbolic link (dotfile
// managers), the folder of the link's target is watched too, even before
// the target exists, and the link is followed again whenever it changes;
// a folder the link no longer points into is no longer watched. A watched
// folder that is removed is looked for every 2 s until it is back, then
// watched again. Every 2 s the file's size, time and identity are also
// compared with the last seen, so edits that send no events are noticed
// too; without fsnotify (it cannot be created) that is all there is.
func Watch(ctx context.Context, path string, debounce time.Duration, log *slog.Logger, onChange func()) error {
	return watch(ctx, path, debounce, log, onChange, watchOptions{newWatcher: fsnotify.NewWatcher})
}

// watchOptions lets tests take either way of noticing an edit away.
type watchOptions struct {
	newWatcher func() (*fsnotify.Watcher, error)
	noPoll     bool // only file events count
}

func watch(ctx context.Context, path string, debounce time.Duration, log *slog.Logger, onChange func(), opts watchOptions) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("watch %s: %w", path, err)
	}
	fw := &fileWatch{abs: abs}
	fw.see()
	if fw.w, err = opts.newWatcher(); err != nil {
		fw.w = nil
		// Often the per-user limit of inotify instances (128 by default).
		log.Warn("cannot watch the configuration file for changes; polling it instead, so edits are noticed within 2 s", "err", err)
	}
	if !fw.follow() {
		log.Warn("cannot watch the configuration's folder; trying again every 2 s, and edits are noticed within 2 s meanwhile", "config", abs)
		fw.missing = true
	}
	go fw.run(ctx, debounce, log, onChange, !opts.noPoll)
	return nil
}

// fileWatch is Watch's state, owned by its goroutine after Watch returns.
type fileWatch struct {
	w       *fsnotify.Watcher // nil without file events
	abs     string            // the configuration's path
	target  string            // where the link at abs points; "" when it is not one
	names   map[string]bool   // abs and target: the files whose events count
	dirs    map[string]bool   // their folders, watched
	missing bool              // a folder is not watched (gone): try again on each tick
	seen    fileStamp         // the file when last reported, for polling
	// seenSum is the file's content when last reported, kept while its
	// time is too recent to tell a later edit apart (racyFor); nil after.
	seenSum []byte
}

// racyFor is how long after a file's modification time an edit of the
// same size can still leave that time unchanged: file systems keep it in
// ticks of up to 2 s (FAT; some network file systems), and a poll that
// compares only the stamp would miss such an edit. While a file is this
// recent, polling compares its content too.
const racyFor = 2 * pollEvery

// see notes the file as reported now: its stamp, and its content while
// that stamp cannot be trusted (racyFor).
func (fw *fileWatch) see() {
	fw.seen, fw.seenSum = statFile(fw.abs), nil
	if f := fw.seen.file; f != nil && time.Since(f.ModTime()) < racyFor {
		fw.seenSum = contentSum(fw.abs)
	}
}

// changedUnseen reports whether polling finds the file changed since it
// was last reported: its stamp, or, while that is recent, its content.
func (fw *fileWatch) changedUnseen() bool {
	if !statFile(fw.abs).same(fw.seen) {
		return true
	}
	if fw.seenSum == nil {
		return false
	}
	if !bytes.Equal(contentSum(fw.abs), fw.seenSum) {
		return true
	}
	if time.Since(fw.seen.file.ModTime()) >= racyFor {
		fw.seenSum = nil // any later edit has a later time
	}
	return false
}

// contentSum is the SHA-256 of the file at abs (through a link); nil when
// it cannot be read.
func contentSum(abs string) []byte {
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(data)
	return sum[:]
}

// follow resolves the link at abs again and watches the folders of abs
// and of its target, and no others: a folder the link left may be deleted
// (home-manager's old generations), and its removal is no concern of ours.
// It reports whether every folder is watched.
func (fw *fileWatch) follow() bool {
	fw.target = linkTarget(fw.abs)
	fw.names = map[string]bool{fw.abs: true}
	if fw.target != "" {
		fw.names[fw.target] = true
	}
	dirs := map[string]bool{}
	for name := range fw.names {
		dirs[filepath.Dir(name)] = true
	}
	old := fw.dirs
	fw.dirs = dirs
	if fw.w == nil {
		return true
	}
	for dir := range old {
		if !dirs[dir] {
			_ = fw.w.Remove(dir) // fails only when the watch went with its folder
		}
	}
	ok := true
	for dir := range dirs {
		if fw.w.Add(dir) != nil {
			ok = false
		}
	}
	return ok
}

// linkTarget is the file the link at abs finally points to, "" when abs
// is not a link. A target that does not exist yet (a dotfile link made
// before its file) is found by reading the links hop by hop.
func linkTarget(abs string) string {
	if target, err := filepath.EvalSymlinks(abs); err == nil {
		if target == abs {
			return ""
		}
		return target
	}
	p := abs
	for range 40 { // as many hops as Linux follows
		dest, err := os.Readlink(p)
		if err != nil {
			break // p is not a link: the end of the chain
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(p), dest)
		}
		p = dest
	}
	if p == abs {
		return ""
	}
	return p
}

// fileStamp is what polling compares: the link at abs (or the file, when
// abs is not a link) and the file it leads to; nil when missing.
type fileStamp struct{ link, file os.FileInfo }

// statFile costs one stat, or two for a link.
func statFile(abs string) fileStamp {
	var s fileStamp
	if fi, err := os.Lstat(abs); err == nil {
		s.link, s.file = fi, fi
		if fi.Mode()&os.ModeSymlink != 0 {
			s.file = nil
			if fi, err := os.Stat(abs); err == nil {
				s.file = fi
			}
		}
	}
	return s
}

func (s fileStamp) same(o fileStamp) bool {
	return sameFile(s.link, o.link) && sameFile(s.file, o.file)
}

func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}

func (fw *fileWatch) run(ctx context.Context, debounce time.Duration, log *slog.Logger, onChange func(), poll bool) {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if fw.w != nil {
		defer fw.w.Close()
		events, errs = fw.w.Events, fw.w.Errors
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// One ticker polls the file and looks for a missing folder.
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			name := filepath.Clean(ev.Name)
			switch {
			case fw.dirs[name] && ev.Op&(fsnotify.Remove|fsnotify.Rename) != 0:
				// The folder itself went, and its watch with it.
				if !fw.missing {
					log.Warn("the configuration's folder is gone; watching for it to come back", "folder", name)
					fw.missing = true
				}
				timer.Reset(debounce)
			case fw.names[name] && ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Remove) != 0:
				if name == fw.abs && fw.target != "" || ev.Op&fsnotify.Create != 0 {
					fw.follow() // a link re-pointed, or one made where a file was
				}
				timer.Reset(debounce)
			}
		case err, ok := <-errs:
			if !ok {
				return
			}
			log.Warn("config watcher", "err", err)
			// An overflow means events were lost: check the file anyway.
			timer.Reset(debounce)
		case <-tick.C:
			if fw.missing && fw.follow() {
				log.Info("the configuration's folder is back; watching it again")
				fw.missing = false
				timer.Reset(debounce)
			}
			if poll && fw.changedUnseen() {
				fw.follow() // the link may have been re-pointed unseen
				timer.Reset(debounce)
			}
		case <-timer.C:
			// Taken before the reload reads the file: an edit in between
			// is then reported again rather than missed.
			fw.see()
			onChange()
		}
	}
}
