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
	if !hasGUI {
		return false
	}
	if runtime.GOOS != "linux" {
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

func runOpen(env *cliEnv, args []string) int {
	fs := env.newFlags("open")
	if !env.parseFlags(fs, args) {
		return exitUsage
	}
	return runGUI(env)
}
