package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/mcphub/status"
)

// runIn is run in the folder dir.
func (u *userEnv) runIn(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env, cmd.Dir = u.env, dir
	return runCommand(t, cmd)
}

// hubStatus is 'mcptray status --json' of the user's running hub.
func (u *userEnv) hubStatus(t *testing.T) (pid int) {
	t.Helper()
	out, errOut, code := u.run(t, "status", "--json")
	var st struct {
		Hub struct {
			PID int `json:"pid"`
		} `json:"hub"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Hub.PID == 0 {
		t.Fatalf("status --json: exit %d\n%s%s", code, out, errOut)
	}
	return st.Hub.PID
}

// A hub started in the background (by an IDE's bridge, from its project
// folder) runs in the home folder: stdio servers without a "cwd" must not
// run in whichever project happened to start it.
func TestDetachedHubRunsInTheHomeFolder(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {}}`)
	project := filepath.Join(u.dir, "project")
	if err := os.Mkdir(project, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := u.runIn(t, project, "serve", "--detach"); code != 0 {
		t.Fatalf("serve --detach: exit %d\n%s", code, errOut)
	}
	t.Cleanup(func() { u.run(t, "stop") })
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", u.hubStatus(t)))
	if err != nil {
		t.Fatal(err)
	}
	if cwd != u.dir {
		t.Errorf("the hub runs in %s, want the home folder %s", cwd, u.dir)
	}
}

// A relative --config names the file in the folder the command runs in,
// as an IDE starting the bridge in its project means it; the hub started
// in the background (in the home folder) serves that file.
func TestDetachedHubServesARelativeConfig(t *testing.T) {
	u := newUserEnv(t)
	project := filepath.Join(u.dir, "project")
	if err := os.Mkdir(project, 0o700); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(project, "mcptray.json")
	if err := os.WriteFile(want, []byte(`{"mcpServers": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := u.runIn(t, project, "serve", "--detach", "--config", "mcptray.json")
	if code != 0 {
		t.Fatalf("serve --detach --config mcptray.json: exit %d\n%s", code, errOut)
	}
	if stop := fmt.Sprintf("'mcptray stop --config %q' stops it", want); !strings.Contains(errOut, stop) {
		t.Errorf("serve --detach says %q, want the command that stops this hub, %s", errOut, stop)
	}
	t.Cleanup(func() { u.runIn(t, project, "stop", "--config", "mcptray.json") })
	out, errOut, code := u.runIn(t, project, "status", "--json", "--config", "mcptray.json")
	var st struct {
		ConfigPath string `json:"config_path"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.ConfigPath != want {
		t.Fatalf("status of the hub for %s: exit %d, serving %q\n%s%s", want, code, st.ConfigPath, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(u.dir, "mcptray.json")); err == nil {
		t.Error("the hub made mcptray.json in the home folder")
	}
	// A second start is told another hub holds the file (exit 3).
	if _, errOut, code := u.runIn(t, project, "serve", "--detach", "--config", "mcptray.json"); code != exitHeld || !strings.Contains(errOut, "already") {
		t.Errorf("a second serve --detach: exit %d, want %d\n%s", code, exitHeld, errOut)
	}
}

// Asking a command for its help is success: exit 0, the help on stdout.
func TestCommandHelpExitsZero(t *testing.T) {
	u := newUserEnv(t)
	for _, c := range []string{"serve", "bridge", "stats", "token"} {
		out, errOut, code := u.run(t, c, "--help")
		if code != exitOK || !strings.Contains(out, "Usage: mcptray "+c) {
			t.Errorf("mcptray %s --help: exit %d\nstdout: %s\nstderr: %s", c, code, out, errOut)
		}
	}
}

// A --server that names no server (nothing is left once normalized) is a
// mistake, never "every server"; so is such a name in a token's --servers.
func TestCommandsRefuseAnEmptyServerName(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {}}`)
	t.Cleanup(func() { u.run(t, "stop") }) // in case one was started
	for _, name := range []string{"", "é", "--", " - "} {
		for _, args := range [][]string{{"bridge", "--server", name}, {"stats", "--server", name}} {
			_, errOut, code := u.run(t, args...)
			if code != exitUsage || !strings.Contains(errOut, fmt.Sprintf("%q is not a server name", name)) {
				t.Errorf("%q: exit %d, stderr:\n%s", args, code, errOut)
			}
		}
	}
	_, errOut, code := u.run(t, "token", "create", "ide", "--servers", "github,é")
	if code != exitUsage || !strings.Contains(errOut, `"é" is not a server name`) {
		t.Errorf("token create --servers github,é: exit %d, stderr:\n%s", code, errOut)
	}
	if out, _, _ := u.run(t, "token", "list"); strings.Contains(out, "ide") {
		t.Errorf("a token was created all the same:\n%s", out)
	}
}

// Commands that name a server take the name as written in the
// configuration, as bridge, token and stats do.
func TestServerCommandsNormalizeNames(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {"My Tool": {"command": "sh", "args": ["-c", "exit 1"]}}}`)
	u.serve(t)
	out, errOut, code := u.run(t, "reconnect", "My Tool")
	if code != 0 || !strings.Contains(out, "Reconnecting my-tool.") {
		t.Errorf("reconnect \"My Tool\": exit %d\n%s%s", code, out, errOut)
	}
	// A local command has no sign-in: the hub found it, and says so.
	_, errOut, code = u.run(t, "auth", "My Tool")
	if code != exitFail || !strings.Contains(errOut, "my-tool is a local command") {
		t.Errorf("auth \"My Tool\": exit %d\n%s", code, errOut)
	}
	_, errOut, code = u.run(t, "logout", "My Tool")
	if code != exitFail || !strings.Contains(errOut, "my-tool has no sign-in") {
		t.Errorf("logout \"My Tool\": exit %d\n%s", code, errOut)
	}
	for _, cmd := range []string{"auth", "logout", "reconnect"} {
		if _, errOut, code := u.run(t, cmd, "é"); code != exitUsage || !strings.Contains(errOut, `"é" is not a server name`) {
			t.Errorf("%s é: exit %d\n%s", cmd, code, errOut)
		}
	}
}

// MCP Tray updated while its hub runs on: status says the hub is another
// build than this mcptray, and how to switch; the same build says nothing.
func TestStatusNamesAHubOfAnotherBuild(t *testing.T) {
	older := filepath.Join(t.TempDir(), "mcptray-older")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/mcptray/mcptray/app.version=0.9.0 -X github.com/mcptray/mcptray/app.commit=0123456789ab", "-o", older, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building an older mcptray: %v\n%s", err, out)
	}
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {}}`)
	hub := u.startProgram(t, older, nil, nil, "serve")
	out, errOut, code := u.run(t, "status", "--json")
	if code != exitOK || !strings.Contains(errOut, "the running hub is MCP Tray 0.9.0 (commit 0123456789ab), this mcptray is ") ||
		!strings.Contains(errOut, "'mcptray stop'") {
		t.Errorf("status of an older hub: exit %d, stderr:\n%s", code, errOut)
	}
	var st struct{ Running bool }
	if err := json.Unmarshal([]byte(out), &st); err != nil || !st.Running {
		t.Errorf("status --json with the note: %v\n%s", err, out)
	}
	hub.quit(t)

	u.serve(t)
	if _, errOut, _ := u.run(t, "status"); strings.Contains(errOut, "Note:") {
		t.Errorf("status of a hub of this very build:\n%s", errOut)
	}
}

// A hub that was killed leaves its socket and secret behind; status
// --json still says, in JSON, that none runs.
func TestStatusJSONAfterAHubWasKilled(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {}}`)
	h := u.serve(t)
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-h.done
	out, errOut, code := u.run(t, "status", "--json")
	if code != exitFail || !strings.Contains(out, `"running":false`) {
		t.Errorf("status --json after kill -9: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestStatusWaitRefusesAnUnknownState(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {}}`)
	_, errOut, code := u.run(t, "status", "--wait", "conected", "--timeout", "1s")
	if code != exitUsage || !strings.Contains(errOut, `--wait "conected" is not a state; use one of connected, `) {
		t.Errorf("status --wait conected: exit %d\n%s", code, errOut)
	}
}

// An IDE starts a bridge while the hub is shutting down (its servers
// take seconds to stop): the bridge starts a new hub once the old one has
// let go, instead of waiting for a hub that never comes.
func TestBridgeStartsAHubWhileOneShutsDown(t *testing.T) {
	bin := testpeers.EverythingServerBin(t)
	u := newUserEnv(t)
	// A server that ignores SIGTERM: the hub's shutdown waits for it.
	u.writeConfig(t, fmt.Sprintf(`{"hub": {"bridge": {"port": %d}, "oauth": {"callbackPort": %d}},
 "mcpServers": {"slow": {"command": "sh", "args": ["-c", "trap '' TERM; %s; sleep 60"]}}}`,
		testpeers.FreePort(t), testpeers.FreePort(t), bin))
	old := u.serve(t)
	w := u.watch(t)
	w.until(t, "slow connected", allConnected("slow"))
	t.Cleanup(func() { u.run(t, "stop") })

	// Stop it, and wait until its control socket is closed.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subscribed, ended := make(chan struct{}), make(chan struct{})
	go func() {
		_ = w.client.EventsFrom(ctx, func() { close(subscribed) }, func(status.Event) {})
		close(ended)
	}()
	waitChan(t, subscribed, "the event stream")
	if err := old.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitChan(t, ended, "the old hub's control socket to close")
	select {
	case <-old.done:
		t.Fatal("the old hub stopped at once: the test needs one that is still shutting down")
	default:
	}

	c := mcp.NewClient(&mcp.Implementation{Name: "ide", Version: "1"}, nil)
	cs, stderr, _ := u.bridgeClient(t, nil, c, "2025-11-25", "--server", "slow")
	if !strings.Contains(stderr.String(), "started in the background") {
		t.Errorf("the bridge did not say it started a hub: %q", stderr)
	}
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if pid := u.hubStatus(t); pid == old.cmd.Process.Pid {
		t.Errorf("the bridge reached the old hub (process %d)", pid)
	}
}

// An empty --servers (a script's empty "$LIST") restricts to nothing: it
// is refused, never an unrestricted token.
func TestTokenCreateRefusesAnEmptyServers(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {}}`)
	for _, args := range [][]string{{"--servers", ""}, {"--servers="}, {"--servers", " "}, {"--servers", ",,"}} {
		_, errOut, code := u.run(t, append([]string{"token", "create", "ide"}, args...)...)
		if code != exitUsage || !strings.Contains(errOut, "names no server (leave --servers out for a token that covers every server)") {
			t.Errorf("token create ide %q: exit %d, stderr:\n%s", args, code, errOut)
		}
	}
	if out, _, _ := u.run(t, "token", "list"); !strings.Contains(out, "No client tokens yet") {
		t.Errorf("a token was created all the same:\n%s", out)
	}
}

// 'mcptray test' never shows the password of a URL; it says what went
// wrong in its own terms: a time limit, the --header it was given.
func TestTestCommandReports(t *testing.T) {
	peer := testpeers.StartEverythingHTTP(t)
	u := newUserEnv(t)
	withPassword := strings.Replace(peer.URL, "http://", "http://user:pw-s3cret@", 1)
	for _, output := range []string{"text", "json"} {
		out, errOut, code := u.run(t, "test", withPassword, "-o", output)
		if code != 0 || strings.Contains(out+errOut, "pw-s3cret") || !strings.Contains(out, "user:xxxxx@127.0.0.1") {
			t.Errorf("test -o %s of a URL with a password: exit %d\n%s%s", output, code, out, errOut)
		}
	}
	_, errOut, code := u.run(t, "test", peer.URL, "--timeout", "1us")
	if code != exitFail || !strings.Contains(errOut, "mcptray test: no answer within 1µs") {
		t.Errorf("test --timeout 1us: exit %d\n%s", code, errOut)
	}

	rejects := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(rejects.Close)
	_, errOut, code = u.run(t, "test", rejects.URL+"/mcp", "--header", "Authorization: Bearer not-the-token")
	if code != exitFail || !strings.Contains(errOut, "HTTP 401: invalid_token); check the --header values") || strings.Contains(errOut, `"headers"`) {
		t.Errorf("test with a rejected --header: exit %d\n%s", code, errOut)
	}
}

// A --wait that times out names the servers that did not get there, with
// their state and why, and not the ones that did.
func TestStatusWaitNamesTheServersBehind(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, fmt.Sprintf(`{"mcpServers": {"fine": {"command": %q}, "broken": {"command": "sh", "args": ["-c", "exit 1"]}}}`,
		testpeers.EverythingServerBin(t)))
	u.serve(t)
	_, errOut, code := u.run(t, "status", "--wait", "connected", "--timeout", "3s")
	if code != exitFail || !strings.Contains(errOut, "not every server reached connected within 3s:\n  broken: error, ") || strings.Contains(errOut, "fine") {
		t.Errorf("status --wait connected: exit %d\n%s", code, errOut)
	}
}

// stats --server of a name the configuration does not have warns: it is
// likely a typo, though a removed server's records still show.
func TestStatsWarnsOfAnUnknownServer(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {"github": {"url": "https://mcp.example.com/mcp"}}}`)
	_, errOut, _ := u.run(t, "stats", "--server", "gihtub")
	if !strings.Contains(errOut, `has no server "gihtub"`) {
		t.Errorf("stats --server gihtub:\n%s", errOut)
	}
	if _, errOut, _ := u.run(t, "stats", "--server", "GitHub"); strings.Contains(errOut, "has no server") {
		t.Errorf("stats --server GitHub:\n%s", errOut)
	}
}

// --config may come before the command; 'help' of no command is a
// mistake, as the command itself would be.
func TestConfigBeforeTheCommandAndHelpOfAnUnknownOne(t *testing.T) {
	u := newUserEnv(t)
	other := filepath.Join(u.dir, "other.json")
	for _, args := range [][]string{{"--config", other, "status"}, {"--config=" + other, "status"}} {
		_, errOut, code := u.run(t, args...)
		if code != exitFail || !strings.Contains(errOut, "No MCP Tray hub is running for "+other) {
			t.Errorf("%q: exit %d\n%s", args, code, errOut)
		}
	}
	out, errOut, code := u.run(t, "help", "frobnicate")
	if code != exitUsage || out != "" || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("help frobnicate: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

// A hub started on a broken file runs no servers, and says so (not that a
// last good configuration runs, when there never was one), in status and
// to a bridge's IDE log; once the file was good, a broken edit keeps that.
func TestBrokenFileAtStartRunsNothing(t *testing.T) {
	u := newUserEnv(t)
	good := fmt.Sprintf(`{"hub": {"bridge": {"port": %d}, "oauth": {"callbackPort": %d}}, "mcpServers": {}}`, testpeers.FreePort(t), testpeers.FreePort(t))
	broken := strings.Replace(good, `{}}`, `{},}`, 1)
	u.writeConfig(t, broken)
	u.serve(t)
	out, _, _ := u.run(t, "status")
	if !strings.Contains(out, "errors; no servers run until it is fixed") || strings.Contains(out, "last good") {
		t.Errorf("status of a hub started on a broken file:\n%s", out)
	}
	_, stderr, code := u.run(t, "bridge")
	if code != 0 || !strings.Contains(stderr, "mcptray bridge: the configuration file has errors, and no servers run until it is fixed") {
		t.Errorf("bridge over a hub started on a broken file: exit %d, stderr %q", code, stderr)
	}
	w := u.watch(t)
	u.writeConfig(t, good)
	w.until(t, "the file good", func(st *control.StatusResponse) bool { return st.ConfigError == "" })
	u.writeConfig(t, broken)
	st := w.until(t, "the file broken again", func(st *control.StatusResponse) bool { return st.ConfigError != "" })
	if st.ConfigRuns != "the last good configuration keeps running" {
		t.Errorf("after a good file, a broken one: %q", st.ConfigRuns)
	}
}

// A configuration file named in a folder that does not exist (a typo in
// an IDE's --config) starts no hub and makes no folders; one named in a
// folder that exists is made, as the default one is.
func TestNamedConfigInAMissingFolder(t *testing.T) {
	u := newUserEnv(t)
	typo := filepath.Join(u.dir, "projcet", "mcptray.json")
	_, errOut, code := u.run(t, "bridge", "--config", typo)
	if code != exitFail || !strings.Contains(errOut, "folder "+filepath.Dir(typo)+" does not exist") {
		t.Errorf("bridge --config %s: exit %d\n%s", typo, code, errOut)
	}
	if _, err := os.Stat(filepath.Dir(typo)); err == nil {
		t.Error("the folder of the mistyped path was made")
	}
	named := filepath.Join(u.dir, "mcptray.json")
	if _, errOut, code := u.run(t, "serve", "--detach", "--config", named); code != 0 {
		t.Fatalf("serve --detach --config %s: exit %d\n%s", named, code, errOut)
	}
	t.Cleanup(func() { u.run(t, "stop", "--config", named) })
	if _, err := os.Stat(named); err != nil {
		t.Errorf("the named file in an existing folder was not made: %v", err)
	}
}
