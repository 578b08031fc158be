package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DefaultFile is what a new configuration file contains: every hub setting
// that has a default, at it, and no servers. JSON has no comments; docs/config.md
// explains each field.
const DefaultFile = `{
  "hub": {
    "bridge": {
      "port": 48800,
      "requireToken": true,
      "recordDays": 90
    },
    "oauth": {
      "callbackPort": 48801
    },
    "toolSeparator": "__",
    "logLevel": "info"
  },
  "mcpServers": {}
}
`

// CreateIfMissing writes DefaultFile at path unless a file is already there.
// It reports whether it created one.
func CreateIfMissing(path string) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("create config folder: %w", err)
	}
	// O_EXCL: two processes starting at once must not both write it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create config file: %w", err)
	}
	if _, err := f.WriteString(DefaultFile); err != nil {
		f.Close()
		return false, fmt.Errorf("write config file %s: %w", path, err)
	}
	return true, f.Close()
}
