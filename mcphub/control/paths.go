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
// symbolic links resolved (two spellings of one file are one hub).
func HubID(configPath string) string {
	p, err := filepath.Abs(configPath)
	if err != nil {
		p = configPath
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:6])
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

func removeIfExists(path string) error {
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
