package app

import (
	"os"
	"runtime"
)

// testHooksEnv turns on the control socket's UI test hook (the end-to-end
// test presses the key icon through it).
const testHooksEnv = "MCPTRAY_UI_TEST_HOOKS"

// canShowWindow: this build has a window, and there is a display to open
// it on.
func canShowWindow() bool {
	return hasGUI && hasDisplay(os.Getenv)
}

// hasDisplay reports whether the environment getenv reads names a
// display; on Linux that is DISPLAY or WAYLAND_DISPLAY, elsewhere there
// always is one.
func hasDisplay(getenv func(string) string) bool {
	if runtime.GOOS != "linux" {
		return true
	}
	return getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != ""
}

func runOpen(env *cliEnv, args []string) int {
	fs := env.newFlags("open")
	if !env.parseFlags(fs, args) {
		return exitUsage
	}
	return runGUI(env)
}
