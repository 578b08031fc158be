// Package app is MCP Tray's entry point: the command line, the wiring of
// hub, store, keyring and control channel, paths and logging. It is the only
// package that may import Fyne's GL driver.
package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/mcptray/mcptray/mcphub/config"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // arguments after the name
	example string
	hidden  bool
	run     func(env *cliEnv, args []string) int
}

// cliEnv is what every command gets: where to print, and the global flags.
type cliEnv struct {
	stdout, stderr io.Writer
	configFlag     string
	helped         bool // a command printed its help (-h): that is success
}

// Exit codes.
const (
	exitOK     = 0
	exitFail   = 1 // the operation failed (transport, auth, no hub...)
	exitBroken = 2 // the server answered but broke an expectation (mcptray test)
	exitHeld   = 3 // serve: another hub holds the configuration
	exitUsage  = 64
)

func commands() []command {
	return []command{
		{name: "open", summary: "open MCP Tray: the window and tray icon over the hub (what 'mcptray' alone does)",
			usage: "[--config FILE]", example: "mcptray open", hidden: !hasGUI, run: runOpen}, // a nogui build has no window
		{name: "serve", summary: "run the hub without a window (for servers, SSH sessions and containers)",
			usage: "[--detach] [--config FILE]", example: "mcptray serve --detach", run: runServe},
		{name: "status", summary: "show each server's state, tool count and last error",
			usage: "[--json] [--config FILE]", example: "mcptray status --json", run: runStatus},
		{name: "validate", summary: "check a configuration file and report every problem with its line and column",
			usage: "[FILE] [--config FILE]", example: "mcptray validate ~/.config/mcptray/config.json", run: runValidate},
		{name: "test", summary: "connect to any MCP server URL, list its tools, optionally call one",
			usage:   "URL [--header K:V]... [--tool NAME --args JSON] [--expect-tools a,b] [-o text|json]",
			example: `mcptray test https://example.com/mcp --tool echo --args '{"message":"hi"}'`, run: runTest},
		{name: "auth", summary: "sign in to a server (opens the browser; --no-browser prints the URL)",
			usage: "NAME [--no-browser] [--config FILE]", example: "mcptray auth github", run: runAuth},
		{name: "logout", summary: "sign out of a server: revoke and delete its tokens",
			usage: "NAME [--config FILE]", example: "mcptray logout github", run: runLogout},
		{name: "reload", summary: "make the running hub read its configuration now",
			usage: "[--config FILE]", example: "mcptray reload", run: runReload},
		{name: "reconnect", summary: "drop a server's session and connect again",
			usage: "NAME [--config FILE]", example: "mcptray reconnect github", run: runReconnect},
		{name: "secret", summary: "store, list or delete values used as ${keyring:NAME} in the configuration",
			usage: "set|delete|list [NAME]", example: "mcptray secret set github-token < token.txt", run: runSecret},
		{name: "bridge", summary: "relay stdin/stdout to the hub's bridge: what IDEs start (starts a hub if none runs)",
			usage: "[--server NAME] [--config FILE]", example: "mcptray bridge --server github", run: runBridge},
		{name: "token", summary: "create, list or revoke the client tokens IDEs use for the HTTP bridge",
			usage: "create NAME [--servers a,b] [--ttl 30d] | list | revoke NAME", example: "mcptray token create cursor --ttl 90d", run: runToken},
		{name: "stats", summary: "per-server and per-tool calls, errors and latency through the bridge",
			usage: "[--days N] [--server NAME] [--json]", example: "mcptray stats --days 30", run: runStats},
		{name: "stop", summary: "stop the running hub",
			usage: "[--config FILE]", example: "mcptray stop", run: runStop},
		{name: "autostart", summary: "start MCP Tray at login, or not (the same switch as in Settings)",
			usage: "on|off|status", example: "mcptray autostart on", run: runAutostart},
		{name: "version", summary: "print version, commit, build date and Go version",
			usage: "", example: "mcptray version", run: runVersion},
		{name: "conformance-client", summary: "client side of the official MCP conformance suite",
			usage: "URL", hidden: true, run: runConformanceClient},
		{name: "probe-display", summary: "check that a window can be opened on this display (the hub asks, before opening its first)",
			usage: "", hidden: true, run: runProbeDisplay},
	}
}

// Main runs mcptray with args (without the program name) and returns the
// process exit code.
func Main(args []string) int {
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr}
	config, args, err := leadingConfig(args)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray: %v\n", err)
		return exitUsage
	}
	env.configFlag = config
	if len(args) == 0 {
		return runDefault(env)
	}
	name := args[0]
	switch name {
	case "-h", "--help", "help":
		if len(args) == 1 {
			printHelp(env.stdout)
			return exitOK
		}
		c, ok := findCommand(args[1])
		if !ok {
			return unknownCommand(env, args[1])
		}
		printCommandHelp(env.stdout, c)
		return exitOK
	case "--version", "-version":
		return runVersion(env, nil)
	}
	c, ok := findCommand(name)
	if !ok {
		return unknownCommand(env, name)
	}
	code := c.run(env, args[1:])
	if env.helped {
		return exitOK
	}
	return code
}

// leadingConfig takes --config FILE (or --config=FILE) off the front of
// args, where it may come before the command as well as after it.
func leadingConfig(args []string) (config string, rest []string, err error) {
	for len(args) > 0 {
		name, value, hasValue := strings.Cut(args[0], "=")
		if name != "--config" && name != "-config" {
			break
		}
		if !hasValue {
			if len(args) < 2 {
				return "", nil, errors.New("--config needs a FILE")
			}
			value, args = args[1], args[1:]
		}
		config, args = value, args[1:]
	}
	return config, args, nil
}

// unknownCommand says name is no command, and which one it may mean.
func unknownCommand(env *cliEnv, name string) int {
	fmt.Fprintf(env.stderr, "mcptray: unknown command %q\n", name)
	if s := suggest(name); s != "" {
		fmt.Fprintf(env.stderr, "Did you mean 'mcptray %s'?\n", s)
	}
	fmt.Fprintln(env.stderr, "Run 'mcptray help' for the list of commands.")
	return exitUsage
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// runDefault is 'mcptray' with no arguments: the tray app where one can run,
// help otherwise.
func runDefault(env *cliEnv) int {
	if canShowWindow() {
		return runGUI(env)
	}
	printHelp(env.stdout)
	return exitOK
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `MCP Tray owns your connections to MCP servers: it signs in, keeps tokens
fresh in the OS keyring, applies config edits live, and offers every server
to your IDEs through one local bridge.

Usage: mcptray <command> [flags]

Commands:
`)
	for _, c := range commands() {
		if !c.hidden {
			fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprint(w, `
Every command takes --config FILE, before or after its name (default:
$MCPTRAY_CONFIG, else the user configuration folder's mcptray/config.json).
Run 'mcptray help COMMAND' for a command's flags and an example.
`)
}

func printCommandHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "mcptray %s: %s\n\nUsage: mcptray %s %s\n", c.name, c.summary, c.name, c.usage)
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n  %s\n", c.example)
	}
}

// suggest returns the command closest to a mistyped one, if close enough.
func suggest(name string) string {
	best, bestDist := "", 3
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	sort.Strings(names)
	for _, n := range names {
		if d := editDistance(name, n); d < bestDist || strings.HasPrefix(n, name) && len(name) >= 2 && bestDist > 1 {
			best, bestDist = n, min(d, 1)
		}
	}
	return best
}

// suggestFlag is the flag of fs closest to an unknown one, if any is close.
func suggestFlag(fs *flag.FlagSet, name string) string {
	best, bestDist := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(name, f.Name); d < bestDist || strings.HasPrefix(f.Name, name) && len(name) >= 2 && bestDist > 1 {
			best, bestDist = f.Name, min(d, 1)
		}
	})
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// newFlags returns a flag set for command c that knows --config and prints
// the command's help on -h.
func (env *cliEnv) newFlags(c string) *flag.FlagSet {
	fs := flag.NewFlagSet("mcptray "+c, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	// Given before the command, --config is already set: it stays the default.
	fs.StringVar(&env.configFlag, "config", env.configFlag, "configuration `FILE`")
	fs.Usage = func() { // asked for (-h): to stdout, as 'mcptray help' does
		if cmd, ok := findCommand(c); ok {
			printCommandHelp(env.stdout, cmd)
		}
		fmt.Fprintln(env.stdout, "\nFlags:")
		fs.SetOutput(env.stdout)
		fs.PrintDefaults()
		fs.SetOutput(env.stderr)
	}
	return fs
}

// parseFlags parses the flags of a command that takes no positional
// arguments, refusing any ("mcptray stats 30" is a mistake, not 7 days).
func (env *cliEnv) parseFlags(fs *flag.FlagSet, args []string) bool {
	pos, ok := env.parse(fs, args)
	if ok && len(pos) > 0 {
		fmt.Fprintf(env.stderr, "%s: unexpected argument %q (it takes flags only)\n", fs.Name(), pos[0])
		fmt.Fprintf(env.stderr, "Run 'mcptray help %s' for usage.\n", strings.TrimPrefix(fs.Name(), "mcptray "))
		return false
	}
	return ok
}

// parse parses flags that may come before, between or after positional
// arguments ("mcptray test URL --tool x" and "mcptray test --tool x URL").
// It returns the positional arguments, or ok=false after printing the
// problem.
func (env *cliEnv) parse(fs *flag.FlagSet, args []string) (pos []string, ok bool) {
	// The full help is for -h; a mistake gets the error, a suggestion and
	// where the help is.
	usage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				env.helped = true
				return nil, false
			}
			if name, found := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); found {
				if s := suggestFlag(fs, strings.TrimLeft(name, "-")); s != "" {
					fmt.Fprintf(env.stderr, "Did you mean --%s?\n", s)
				}
			}
			fmt.Fprintf(env.stderr, "Run 'mcptray help %s' for usage.\n", strings.TrimPrefix(fs.Name(), "mcptray "))
			return nil, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, true
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagGiven reports whether the flag name was on the command line (a
// string flag given "" looks the same as one not given).
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// serverID is the ID of a server named on the command line, normalized as
// the configuration's names are ("My GitHub" is my-github). A name that
// leaves nothing is refused: to some commands no server means every one.
func (env *cliEnv) serverID(cmd, name string) (string, bool) {
	id := config.NormalizeName(name)
	if id == "" {
		fmt.Fprintf(env.stderr, "mcptray %s: %q is not a server name (a name needs a letter or a digit)\n", cmd, name)
		return "", false
	}
	return id, true
}
