//go:build nogui

package app

import (
	"errors"
	"fmt"
	"os"
)

// hasGUI: built with -tags nogui, a pure-Go binary for servers and
// containers: everything but the window.
const hasGUI = false

func runGUI(env *cliEnv) int {
	fmt.Fprintln(env.stderr, "mcptray: this build has no window (built with -tags nogui). Run 'mcptray serve' for the hub.")
	return exitFail
}

// openWindow cannot: no show request reaches a hub of this build.
func openWindow(_ *cliEnv, _ *runningHub, req windowRequest, _ chan os.Signal) bool {
	req.ready <- errors.New("this build has no window")
	return false
}

func runProbeDisplay(env *cliEnv, _ []string) int {
	fmt.Fprintln(env.stderr, "this build has no window")
	return exitFail
}
