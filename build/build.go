// Package build holds the files MCP Tray installs on a machine: the
// platforms' start-at-login entries (templates with {{.Exe}}, the path of
// the mcptray executable). The icon generator is in build/icongen.
package build

import _ "embed"

var (
	// LinuxAutostart is an XDG autostart entry, for
	// $XDG_CONFIG_HOME/autostart/io.github.mcptray.desktop.
	//go:embed linux/mcptray-autostart.desktop
	LinuxAutostart string
	// DarwinLaunchAgent is a LaunchAgent, for
	// ~/Library/LaunchAgents/io.github.mcptray.plist.
	//go:embed darwin/io.github.mcptray.plist
	DarwinLaunchAgent string
)
