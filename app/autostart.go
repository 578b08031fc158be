package app

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"

	"github.com/mcptray/mcptray/build"
	"github.com/mcptray/mcptray/internal/atomicfile"
)

// autostart is the platform's start-at-login entry for the executable exe,
// written from the templates in build/.
type autostart struct {
	exe string
	// home and configDir are the user's folders (tests point them
	// elsewhere).
	home, configDir string
}

func newAutostart() (*autostart, error) {
	exe, err := executable()
	if err != nil {
		return nil, err
	}
	home, _ := os.UserHomeDir()
	cfg, _ := os.UserConfigDir()
	return &autostart{exe: exe, home: home, configDir: cfg}, nil
}

// path is where the entry lives; "" where it is not a file.
func (a *autostart) path() string {
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(a.home, "Library", "LaunchAgents", "io.github.mcptray.plist")
	case "windows":
		return ""
	}
	return filepath.Join(a.configDir, "autostart", "io.github.mcptray.desktop")
}

// Enabled reports whether the entry exists.
func (a *autostart) Enabled() (bool, error) {
	if runtime.GOOS == "windows" {
		return windowsAutostartEnabled()
	}
	_, err := os.Stat(a.path())
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Set writes or deletes the entry.
func (a *autostart) Set(on bool) error {
	if runtime.GOOS == "windows" {
		return setWindowsAutostart(on, a.exe)
	}
	p := a.path()
	if !on {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	content, err := a.entry()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(p, content, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// entry fills the platform's template with the executable's path, quoted
// as the file format needs.
func (a *autostart) entry() ([]byte, error) {
	src, exe := build.LinuxAutostart, desktopQuote(a.exe)
	if runtime.GOOS == "darwin" {
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(a.exe))
		src, exe = build.DarwinLaunchAgent, b.String()
	}
	t, err := template.New("autostart").Parse(src)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := t.Execute(&out, map[string]string{"Exe": exe}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// desktopQuote escapes a path for a double-quoted Exec argument of a
// desktop entry.
func desktopQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\\\`, `"`, `\\"`, "`", "\\\\`", `$`, `\\$`)
	return r.Replace(s)
}

// runAutostart is 'mcptray autostart on|off|status'.
func runAutostart(env *cliEnv, args []string) int {
	fs := env.newFlags("autostart")
	rest, ok := env.parse(fs, args)
	if !ok {
		return exitUsage
	}
	if len(rest) != 1 || (rest[0] != "on" && rest[0] != "off" && rest[0] != "status") {
		fmt.Fprintln(env.stderr, "usage: mcptray autostart on|off|status")
		return exitUsage
	}
	a, err := newAutostart()
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray autostart: %v\n", err)
		return exitFail
	}
	where := a.path()
	if where == "" {
		where = `HKCU\` + `Software\Microsoft\Windows\CurrentVersion\Run "MCP Tray"`
	}
	switch rest[0] {
	case "status":
		on, err := a.Enabled()
		if err != nil {
			fmt.Fprintf(env.stderr, "mcptray autostart: %v\n", err)
			return exitFail
		}
		if on {
			fmt.Fprintf(env.stdout, "MCP Tray starts at login (%s).\n", where)
		} else {
			fmt.Fprintln(env.stdout, "MCP Tray does not start at login.")
		}
		return exitOK
	case "on":
		if err := a.Set(true); err != nil {
			fmt.Fprintf(env.stderr, "mcptray autostart: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(env.stdout, "MCP Tray will start at login (%s runs %s).\n", where, a.exe)
	case "off":
		if err := a.Set(false); err != nil {
			fmt.Fprintf(env.stderr, "mcptray autostart: %v\n", err)
			return exitFail
		}
		fmt.Fprintln(env.stdout, "MCP Tray will not start at login.")
	}
	return exitOK
}
