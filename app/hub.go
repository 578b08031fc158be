package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/term"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/bridge"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/store"
	"github.com/mcptray/mcptray/mcphub/upstream"
	"github.com/mcptray/mcptray/oauth"
	"github.com/mcptray/mcptray/oauth/secretstore"
)

// runningHub is a hub with everything it owns: the single-owner lock, the
// keyring, the database, the config watcher and the control socket.
type runningHub struct {
	paths   Paths
	log     *logging
	lock    *control.Lock
	secrets *secretstore.Store // nil when no keyring could be opened
	keyErr  error              // why secrets is nil
	db      *store.Store       // never nil: it records when it can (see store.OpenRetrying)
	oauth   *oauth.Manager     // nil without a keyring
	bridge  *bridge.Bridge
	http    *bridgeListener
	hub     *mcphub.Hub
	ctrl    *control.Server
	started time.Time
	// applied is the configuration last applied from the file: nil while
	// none was (a file refused since the start runs on the defaults,
	// whose retention is not the file's).
	applied atomic.Pointer[config.Config]
	cancel  context.CancelFunc
	// stopping is closed when someone asks the hub to stop ('mcptray stop').
	stopping chan struct{}
	stopOnce sync.Once

	uiMu   sync.Mutex
	mode   string                                  // "serve" or "gui" (a served hub that opened its window is one)
	show   func()                                  // brings the window up; nil until the GUI is there
	shown  chan struct{}                           // closed once show is set
	uiTest func(action, id string) (string, error) // the end-to-end test's hook; nil normally
	// windows carries the show requests of a hub that runs without a
	// window to its main goroutine, which alone may run one (openWindow).
	windows chan windowRequest
}

// windowRequest asks a hub without a window for one, on the display env
// names; ready learns whether it opened.
type windowRequest struct {
	env   map[string]string
	ready chan error
}

func (r *runningHub) setMode(m string) {
	r.uiMu.Lock()
	defer r.uiMu.Unlock()
	r.mode = m
}

// requestWindow brings the window to the front, or asks the main
// goroutine to open it (a hub that ran without one), and waits until it
// is there.
func (r *runningHub) requestWindow(env map[string]string) (opened bool, err error) {
	r.uiMu.Lock()
	show, open := r.show, r.mode == "serve"
	if open {
		r.mode = "gui" // the window is on its way: later asks wait for it
	}
	r.uiMu.Unlock()
	if show != nil {
		show()
		return false, nil
	}
	if !open { // a window is being built (a GUI hub starting, or this one opening)
		select {
		case <-r.shown:
			r.uiMu.Lock()
			show = r.show
			r.uiMu.Unlock()
			show()
			return false, nil
		case <-r.stopping:
			return false, errors.New("the hub is stopping")
		case <-time.After(30 * time.Second):
			return false, errors.New("the window did not come up within 30 s; the hub's log says why")
		}
	}
	req := windowRequest{env: env, ready: make(chan error, 1)}
	select {
	case r.windows <- req:
	case <-r.stopping:
		r.setMode("serve")
		return false, errors.New("the hub is stopping")
	}
	select {
	case err := <-req.ready:
		return err == nil, err
	case <-time.After(30 * time.Second):
		return false, errors.New("the window did not open within 30 s; the hub's log says why")
	}
}

func (r *runningHub) setShow(f func()) {
	r.uiMu.Lock()
	defer r.uiMu.Unlock()
	if r.show == nil && f != nil {
		close(r.shown)
	}
	r.show = f
}

func (r *runningHub) setUITest(f func(action, id string) (string, error)) {
	r.uiMu.Lock()
	defer r.uiMu.Unlock()
	r.uiTest = f
}

// startHub brings a hub up for paths. mode is "serve" or "gui".
func startHub(env *cliEnv, paths Paths, mode string) (*runningHub, error) {
	r := &runningHub{paths: paths, started: time.Now(), mode: mode, stopping: make(chan struct{}), windows: make(chan windowRequest), shown: make(chan struct{})}
	exe, _ := os.Executable()
	lock, err := control.Acquire(paths.Control(), control.Owner{
		PID: os.Getpid(), Started: r.started, Config: paths.Config, Executable: exe, Mode: mode,
	})
	if err != nil {
		return nil, err
	}
	r.lock = lock

	if !paths.isDefaultConfig() {
		// A named file is made if missing, but not its folders: a typo in
		// a path (an IDE's --config) must not start a hub on a new, empty
		// file somewhere.
		if _, err := os.Stat(filepath.Dir(paths.Config)); err != nil {
			lock.Release()
			return nil, fmt.Errorf("the configuration file's folder %s does not exist (is the path %s right?)", filepath.Dir(paths.Config), paths.Config)
		}
	}
	if created, err := config.CreateIfMissing(paths.Config); err != nil {
		lock.Release()
		return nil, err
	} else if created {
		fmt.Fprintf(env.stderr, "Created %s with no servers yet; add servers to it (see docs/config.md) and they connect at once.\n", paths.Config)
	}

	r.log = openLogging(env.stderr, paths.LogFile())
	log := r.log.Logger
	slog.SetDefault(log)

	r.secrets, r.keyErr = openSecrets(paths, term.IsTerminal(int(os.Stdin.Fd())))
	if r.keyErr != nil {
		log.Warn("no keyring: ${keyring:NAME} references and sign-ins are unavailable", "err", r.keyErr)
	}
	// The hub runs without its database; the store says why, retries and
	// resumes recording on its own.
	r.db = store.OpenRetrying(paths.Database(), log)
	r.db.PruneEvents(30 * 24 * time.Hour)

	ver, _, _ := Version()
	bopts := bridge.Options{
		Logger: log, Version: ver,
		RequireToken: func() bool { return r.hub.Config().Hub.Bridge.RequireToken },
		// While the database is unavailable no token verifies and nothing
		// is recorded; both work again once it opens.
		Tokens: r.db, Recorder: r.db, Usage: r.db,
	}
	r.bridge = bridge.New(bopts)
	r.http = &bridgeListener{b: r.bridge, r: r}
	hubOpts := mcphub.Options{
		ConfigPath:    paths.Config,
		Logger:        log,
		ConfigOptions: config.Options{LookupSecret: r.lookupSecret},
		Upstream: upstream.Options{
			ClientInfo: &mcp.Implementation{Name: "mcptray", Title: "MCP Tray", Version: ver},
			Relay:      r.bridge,
		},
		OnConfig: func(cfg *config.Config, _ config.Diff) {
			r.log.setLevel(cfg.Hub.LogLevel)
			r.http.apply(cfg)
			r.applied.Store(cfg)
			r.pruneCalls(cfg)
		},
		ResolveSecret: r.resolveSecret,
	}
	if r.secrets != nil {
		var signIns oauth.Store = r.secrets
		if !paths.isDefaultConfig() {
			// Another file's hub may run beside this one, with servers of
			// the same names: each file has sign-ins of its own.
			signIns = oauth.Namespaced(r.secrets, control.HubID(paths.Config))
		}
		hubOpts.OAuth = oauth.NewManager(oauth.Config{
			Store: signIns, Logger: log, ClientName: "MCP Tray",
			OnEvent: func(server string, e oauth.Event) { r.hub.OnAuthEvent(server, e) },
		})
		r.oauth = hubOpts.OAuth
	} else {
		hubOpts.NoOAuthReason = r.keyErr.Error()
	}
	r.hub = mcphub.New(hubOpts)
	r.bridge.Start(r.hub)
	sub := func() *status.Subscription { return r.hub.Subscribe(4096) }
	go r.db.Follow(sub(), sub)

	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		daily := time.NewTicker(24 * time.Hour)
		defer daily.Stop()
		r.pruneDaily(ctx, daily.C)
	}()
	// Watched before it is first read: an edit saved while that read
	// waits (a keyring prompt) is applied after it, not missed.
	if err := r.hub.Watch(ctx); err != nil {
		log.Error("cannot watch the configuration file; edits need 'mcptray reload' or SIGHUP", "err", err)
	}
	if err := r.hub.Reload(); err != nil {
		fmt.Fprintf(env.stderr, "The configuration has errors; %s (the file is watched):\n%v\n", mcphub.NothingRuns, err)
		r.http.apply(r.hub.Config()) // the bridge still listens, with the defaults
	}

	ctrl, err := control.Listen(paths.Control())
	if err != nil {
		r.Close()
		return nil, err
	}
	r.ctrl = ctrl
	go func() {
		api := control.API{Hub: r.hub, Info: r.info, Streams: r.bridge,
			Shutdown: func() { r.stopOnce.Do(func() { close(r.stopping) }) }}
		if hasGUI {
			api.Show = r.requestWindow
			api.UITest = func(action, id string) (string, error) {
				r.uiMu.Lock()
				hook := r.uiTest
				r.uiMu.Unlock()
				if hook == nil {
					return "", errors.New("no window, or the UI test hook is off (set " + testHooksEnv + "=1)")
				}
				return hook(action, id)
			}
		}
		if err := ctrl.Serve(control.NewAPI(api)); err != nil {
			log.Error("control socket stopped", "err", err)
		}
	}()
	return r, nil
}

func (r *runningHub) info() control.HubInfo {
	ver, rev, _ := Version()
	r.uiMu.Lock()
	mode := r.mode
	r.uiMu.Unlock()
	info := control.HubInfo{Version: ver, Commit: rev, PID: os.Getpid(), Started: r.started, Mode: mode,
		LogFile: r.log.path, Socket: r.paths.Control().Socket, Goroutines: runtime.NumGoroutine()}
	if r.secrets != nil {
		info.Keyring = r.secrets.Backend()
	} else if r.keyErr != nil {
		info.Keyring = "unavailable: " + r.keyErr.Error()
	}
	if err := r.db.Problem(); err != nil {
		info.Database = "not recording: " + err.Error()
	} else {
		info.Database = r.db.Path()
	}
	switch url, err := r.http.address(); {
	case err != nil && url != "":
		info.Bridge = url + " (" + err.Error() + ")"
	case err != nil:
		info.Bridge = "unavailable: " + err.Error()
	default:
		info.Bridge = url
	}
	info.BridgeOpen = r.http.tokenless()
	return info
}

// pruneCalls deletes call records older than the configured retention,
// once a configuration was applied from the file.
func (r *runningHub) pruneCalls(cfg *config.Config) {
	if cfg == nil {
		return
	}
	r.db.PruneCalls(time.Duration(cfg.Hub.Bridge.RecordDays) * 24 * time.Hour)
}

// pruneDaily keeps pruning while the hub runs for days: on each of ticks
// (a daily ticker's), by the retention applied then.
func (r *runningHub) pruneDaily(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			r.pruneCalls(r.applied.Load())
			r.db.PruneEvents(30 * 24 * time.Hour)
		}
	}
}

// lookupSecret resolves ${keyring:NAME} for the configuration.
func (r *runningHub) lookupSecret(name string) (string, bool, error) {
	return keyringLookup(r.secrets, r.keyErr)(name)
}

// resolveSecret reads a ${keyring:NAME} value when it is needed.
func (r *runningHub) resolveSecret(name string) (string, error) {
	v, found, err := r.lookupSecret(name)
	if err == nil && !found {
		err = fmt.Errorf("${keyring:%s} does not exist in the keyring", name)
	}
	return v, err
}

// secretName is where a ${keyring:NAME} value is stored.
func secretName(name string) string { return "secret/" + name }

// Close shuts everything down in order and releases the lock last.
func (r *runningHub) Close() {
	if r.cancel != nil {
		r.cancel()
	}
	if r.ctrl != nil {
		r.ctrl.Close()
	}
	if r.http != nil {
		r.http.close()
	}
	if r.bridge != nil {
		r.bridge.Close()
	}
	if r.hub != nil {
		r.hub.Close()
	}
	if r.oauth != nil {
		r.oauth.Close()
	}
	if r.db != nil {
		_ = r.db.Close()
	}
	if r.log != nil {
		r.log.close()
	}
	r.lock.Release()
}

// openSecrets opens the encrypted secret store. The file keyring's password
// comes from $MCPTRAY_KEYRING_PASSWORD, or is asked once on a terminal.
// The variable is removed once read: nothing this process starts (stdio
// servers, a browser) inherits it.
func openSecrets(paths Paths, interactive bool) (*secretstore.Store, error) {
	var password func() (string, error)
	if pw, ok := os.LookupEnv("MCPTRAY_KEYRING_PASSWORD"); ok {
		os.Unsetenv("MCPTRAY_KEYRING_PASSWORD")
		password = func() (string, error) { return pw, nil }
	} else if interactive {
		password = func() (string, error) {
			fmt.Fprint(os.Stderr, "No OS keyring is available. Password for MCP Tray's encrypted keyring file: ")
			pw, err := term.ReadPassword(int(os.Stdin.Fd()))
			fmt.Fprintln(os.Stderr)
			return string(pw), err
		}
	}
	keys, err := secretstore.OpenKeyring(secretstore.KeyringOptions{
		Backend:  os.Getenv("MCPTRAY_KEYRING"),
		FileDir:  paths.FileKeyring(),
		Password: password,
	})
	if err != nil {
		return nil, err
	}
	return secretstore.New(paths.Secrets(), keys), nil
}
