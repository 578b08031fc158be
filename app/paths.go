package app

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/mcptray/mcptray/mcphub/control"
)

// Paths are the places MCP Tray reads and writes, resolved once per run.
type Paths struct {
	Config  string // the configuration file
	Data    string // database, encrypted secrets
	Logs    string // log files
	Runtime string // control socket, lock, control secret (private)
}

func (p Paths) Database() string { return filepath.Join(p.Data, "mcptray.db") }
func (p Paths) Secrets() string  { return filepath.Join(p.Data, "secrets") }
func (p Paths) FileKeyring() string {
	return filepath.Join(p.Data, "keyring")
}
func (p Paths) LogFile() string { return filepath.Join(p.Logs, "mcptray.log") }
func (p Paths) Control() control.Paths {
	return control.PathsFor(p.Runtime, p.Config)
}

// resolvePaths finds every location. The configuration file comes from
// --config, else $MCPTRAY_CONFIG, else the user configuration folder.
// isDefaultConfig reports whether p's configuration is the file used when
// none is named (--config, MCPTRAY_CONFIG).
func (p Paths) isDefaultConfig() bool {
	dir, err := os.UserConfigDir()
	return err == nil && control.HubID(filepath.Join(dir, "mcptray", "config.json")) == control.HubID(p.Config)
}

func resolvePaths(configFlag string) (Paths, error) {
	var p Paths
	switch {
	case configFlag != "":
		p.Config = configFlag
	case os.Getenv("MCPTRAY_CONFIG") != "":
		p.Config = os.Getenv("MCPTRAY_CONFIG")
	default:
		dir, err := os.UserConfigDir()
		if err != nil {
			return p, fmt.Errorf("find the configuration folder: %w (set MCPTRAY_CONFIG)", err)
		}
		p.Config = filepath.Join(dir, "mcptray", "config.json")
	}
	abs, err := filepath.Abs(p.Config)
	if err != nil {
		return p, err
	}
	p.Config = abs

	home, homeErr := os.UserHomeDir()
	switch runtime.GOOS {
	case "darwin":
		p.Data = filepath.Join(home, "Library", "Application Support", "mcptray")
		p.Logs = filepath.Join(home, "Library", "Logs", "mcptray")
	case "windows":
		local := os.Getenv("LocalAppData")
		if local == "" {
			local = filepath.Join(home, "AppData", "Local")
		}
		p.Data = filepath.Join(local, "mcptray")
		p.Logs = filepath.Join(local, "mcptray", "logs")
		p.Runtime = filepath.Join(local, "mcptray", "run")
	default:
		p.Data = xdg("XDG_DATA_HOME", filepath.Join(home, ".local", "share"), "mcptray")
		p.Logs = xdg("XDG_STATE_HOME", filepath.Join(home, ".local", "state"), "mcptray")
	}
	// Without a home folder the paths above would be relative, to
	// wherever the process happens to run.
	if !filepath.IsAbs(p.Data) || !filepath.IsAbs(p.Logs) {
		return p, fmt.Errorf("find the data folder: %v (set HOME)", homeErr)
	}
	if p.Runtime == "" {
		p.Runtime = runtimeDir()
	}
	return p, nil
}

// loginRuntimeRoot holds the per-user runtime folders that systemd-logind
// makes, and XDG_RUNTIME_DIR usually names.
var loginRuntimeRoot = "/run/user"

// runtimeDir is the user's runtime folder, where the hub's lock, socket
// and secret live. Every process of the user must find the same one, also
// from a shell whose environment lacks XDG_RUNTIME_DIR (tmux, su, some SSH
// sessions) while the IDE's has it: so without the variable, the folder
// the login manager makes (/run/user/UID) is used when it is there and
// private, and only otherwise a folder in the temp folder.
func runtimeDir() string {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "mcptray")
	}
	uid := strconv.Itoa(os.Getuid())
	if login := filepath.Join(loginRuntimeRoot, uid); control.PrivateFolder(login) {
		return filepath.Join(login, "mcptray")
	}
	return filepath.Join(os.TempDir(), "mcptray-"+uid)
}

// xdg returns $env/app when env holds an absolute path (the XDG spec says to
// ignore relative ones), else fallback/app.
func xdg(env, fallback, app string) string {
	if v := os.Getenv(env); v != "" && filepath.IsAbs(v) {
		return filepath.Join(v, app)
	}
	return filepath.Join(fallback, app)
}

// executable is this program's path with symbolic links resolved: the
// file itself, whatever link a package manager started it through, which
// is what an IDE's or a login item's command should name, and where the
// relay program lies beside it.
func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return exe, nil
}
