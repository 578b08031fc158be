package app

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/mcptray/mcptray/mcphub/control"
)

// Set at build time with -ldflags "-X github.com/mcptray/mcptray/app.version=..."
// (the Makefile does); go install builds fall back to the module's build info.
var (
	version = ""
	commit  = ""
	date    = ""
)

// Version returns the version, commit and build date of this binary.
func Version() (ver, rev, built string) {
	ver, rev, built = version, commit, date
	if info, ok := debug.ReadBuildInfo(); ok {
		if ver == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			ver = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && rev == "":
				rev = s.Value
			case s.Key == "vcs.time" && built == "":
				built = s.Value
			}
		}
	}
	if ver == "" {
		ver = "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return ver, rev, built
}

// otherBuild says how the running hub differs from this binary (MCP Tray
// was updated, or rebuilt, while the hub ran on), or "" when they are the
// same build.
func otherBuild(hub control.HubInfo) string {
	ver, rev, _ := Version()
	if hub.Version == ver && hub.Commit == rev {
		return ""
	}
	return fmt.Sprintf("Note: the running hub is MCP Tray %s, this mcptray is %s. To run this one: "+
		"'mcptray stop', then 'mcptray' (or 'mcptray serve'); IDEs then restart their MCP Tray server.",
		buildName(hub.Version, hub.Commit), buildName(ver, rev))
}

func buildName(ver, rev string) string {
	if rev == "" {
		return ver
	}
	return ver + " (commit " + rev + ")"
}

func runVersion(env *cliEnv, args []string) int {
	ver, rev, built := Version()
	fmt.Fprintf(env.stdout, "mcptray %s\ncommit:  %s\nbuilt:   %s\ngo:      %s %s/%s\n",
		ver, orUnknown(rev), orUnknown(built), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
