// Package control is the local channel between the running hub and every
// other mcptray process (status, reload, auth, the stdio bridge, the GUI):
// HTTP over a unix socket in a private folder, each request carrying a
// secret from a 0600 file. It also holds the lock that makes one hub the
// single owner of a configuration file.
package control

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Paths are the files of one hub, derived from its configuration file so
// that every process pointed at the same file finds the same hub.
type Paths struct {
	Dir    string // private runtime folder (0700)
	Lock   string // held by the hub; says which process it is
	Socket string // the control socket
	Secret string // the control secret (0600)
}

// PathsFor returns the paths for the hub of configPath under runtimeDir.
func PathsFor(runtimeDir, configPath string) Paths {
	id := HubID(configPath)
	return Paths{
		Dir:    runtimeDir,
		Lock:   filepath.Join(runtimeDir, "hub-"+id+".lock"),
		Socket: filepath.Join(runtimeDir, "hub-"+id+".sock"),
		Secret: filepath.Join(runtimeDir, "hub-"+id+".secret"),
	}
}

// HubID identifies a configuration file: the hash of its absolute path with
// symbolic links resolved (two spellings of one file are one hub). The
// links are resolved in the part of the path that exists, so a file not
// created yet has the ID it will have once it is (the first hub creates
// it after taking the lock).
func HubID(configPath string) string {
	p, err := filepath.Abs(configPath)
	if err != nil {
		p = configPath
	}
	sum := sha256.Sum256([]byte(resolveExisting(p)))
	return hex.EncodeToString(sum[:6])
}

// resolveExisting resolves the symbolic links of the longest part of p
// that exists, and keeps the rest as it is.
func resolveExisting(p string) string {
	var rest []string
	for dir := p; ; {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			return filepath.Join(append([]string{real}, rest...)...)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return p
		}
		rest = append([]string{filepath.Base(dir)}, rest...)
		dir = parent
	}
}

// EnsurePrivateDir creates dir (0700) and checks that it is a real folder
// owned by this user and closed to others: in a shared temp folder another
// user could otherwise plant a symlink or a socket of their own.
func EnsurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder (a symbolic link or file is in its place)", dir)
	}
	if runtime.GOOS == "windows" {
		return nil // per-user profile folders carry ACLs instead of modes
	}
	if !ownedByMe(fi) {
		return fmt.Errorf("%s belongs to another user", dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("%s is open to other users and cannot be closed: %w", dir, err)
		}
	}
	return nil
}

// checkPrivate is a client's check of the hub's folder and secret before
// it trusts them: both must be this user's and closed to others. Otherwise
// another local user who made the folder first (in a shared temp folder)
// could pose as the hub, read what the CLI sends and, through the stdio
// hand-over, the IDE's stream.
func checkPrivate(p Paths) error {
	fi, err := os.Lstat(p.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNoHub
	}
	if err != nil {
		return err
	}
	if err := private(p.Dir, fi, true); err != nil {
		return err
	}
	fi, err = os.Lstat(p.Secret)
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNoHub
	}
	if err != nil {
		return err
	}
	return private(p.Secret, fi, false)
}

// PrivateFolder reports whether path is a folder (not a link) of this
// user's, closed to others.
func PrivateFolder(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && private(path, fi, true) == nil
}

func private(path string, fi fs.FileInfo, dir bool) error {
	switch {
	case dir && !fi.IsDir(), !dir && !fi.Mode().IsRegular():
		return fmt.Errorf("refusing the hub's %s: not a plain %s (a symbolic link or something else is in its place)", path, map[bool]string{true: "folder", false: "file"}[dir])
	case runtime.GOOS == "windows":
		return nil // per-user profile folders carry ACLs instead of modes
	case !ownedByMe(fi):
		return fmt.Errorf("refusing the hub's %s: it belongs to another user", path)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("refusing the hub's %s: it is open to other users (mode %v)", path, fi.Mode().Perm())
	}
	return nil
}

func removeIfExists(path string) error {
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
