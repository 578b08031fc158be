//go:build !windows

package app

import "errors"

var errNotWindows = errors.New("not Windows")

func windowsAutostartEnabled() (bool, error) { return false, errNotWindows }
func setWindowsAutostart(bool, string) error { return errNotWindows }
