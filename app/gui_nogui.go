//go:build nogui

package app

import "fmt"

// hasGUI: built with -tags nogui, a pure-Go binary for servers and
// containers: everything but the window.
const hasGUI = false

func runGUI(env *cliEnv) int {
	fmt.Fprintln(env.stderr, "mcptray: this build has no window (built with -tags nogui). Run 'mcptray serve' for the hub.")
	return exitFail
}
