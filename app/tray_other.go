//go:build !linux && !nogui

package app

// trayHost: macOS and Windows always have a menu bar / notification area.
func trayHost() (bool, string) { return true, "" }
