package app

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// TestAuthCommandEndToEnd signs in the way a person on a headless machine
// does: 'mcptray auth NAME --no-browser' prints the URL, a browser
// elsewhere opens it, the person pastes the address it ends on. Afterwards
// no secret the provider issued may be found in the log, the database, the
// config or the secret store's files.
func TestAuthCommandEndToEnd(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	u := newUserEnv(t)
	u.writeConfig(t, fmt.Sprintf(`{"hub": {"oauth": {"callbackPort": %d}}, "mcpServers": {"demo": {"url": %q}}}`,
		testpeers.FreePort(t), srv.URL()))
	h := u.serve(t)
	w := u.watch(t)
	w.until(t, "demo needs sign-in", func(st *control.StatusResponse) bool {
		return len(st.Servers) == 1 && st.Servers[0].Status.State == "needs_auth"
	})

	stdout, printed := u.signInNoBrowser(t, "demo")
	if !strings.Contains(stdout, "Signed in to demo: connected, 3 tools.") {
		t.Errorf("stdout: %s\nstderr: %s", stdout, printed)
	}
	out, _, code := u.run(t, "status")
	if code != 0 || !regexp.MustCompile(`demo\s+connected\s+3`).MatchString(out) {
		t.Errorf("status after sign-in:\n%s", out)
	}

	// Sign out, and the server needs sign-in again.
	if out, errOut, code := u.run(t, "logout", "demo"); code != 0 {
		t.Fatalf("logout: %s %s", out, errOut)
	}
	w.until(t, "demo needs sign-in again", func(st *control.StatusResponse) bool {
		return st.Servers[0].Status.State == "needs_auth"
	})
	if srv.Counts().Revocations == 0 {
		t.Error("logout revoked nothing at the provider")
	}

	// Secrets never leave the keyring: grep everything MCP Tray wrote.
	secrets := srv.Secrets()
	if len(secrets) < 4 {
		t.Fatalf("the provider issued only %d secrets?", len(secrets))
	}
	var files []string
	_ = filepath.Walk(u.dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	checked := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		checked++
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s contains a secret issued by the provider (%.10s...)", f, s)
			}
		}
	}
	for _, s := range secrets {
		if strings.Contains(h.output(), s) || strings.Contains(printed, s) {
			t.Errorf("the hub's or the CLI's output contains a secret (%.10s...)", s)
		}
	}
	t.Logf("grepped %d files (log, database, config, encrypted secrets) for %d issued secrets", checked, len(secrets))
}

// TestFilesArePrivate: every file MCP Tray writes for a user (config, data,
// logs, runtime) is 0600 and every folder 0700, after a hub ran, signed in
// and made a token.
func TestFilesArePrivate(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	u := newUserEnv(t)
	u.writeConfig(t, fmt.Sprintf(`{"hub": {"bridge": {"port": %d}, "oauth": {"callbackPort": %d}}, "mcpServers": {"demo": {"url": %q}}}`,
		testpeers.FreePort(t), testpeers.FreePort(t), srv.URL()))
	if err := os.Chmod(u.config, 0o600); err != nil {
		t.Fatal(err)
	}
	u.serve(t)
	w := u.watch(t)
	w.until(t, "demo needs sign-in", func(st *control.StatusResponse) bool {
		return len(st.Servers) == 1 && st.Servers[0].Status.State == "needs_auth"
	})
	if _, errOut, code := u.run(t, "token", "create", "ide"); code != 0 {
		t.Fatalf("token create: %s", errOut)
	}
	checked := 0
	for _, root := range []string{"data/mcptray", "state/mcptray", "run/mcptray", "config/mcptray"} {
		_ = filepath.Walk(filepath.Join(u.dir, root), func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return nil
			}
			checked++
			mode := fi.Mode()
			switch {
			case mode.IsDir() && mode.Perm() != 0o700:
				t.Errorf("%s: folder mode %v, want 0700", p, mode.Perm())
			case mode.IsRegular() && mode.Perm()&0o077 != 0:
				t.Errorf("%s: file mode %v, want 0600", p, mode.Perm())
			case mode&os.ModeSocket != 0 && mode.Perm()&0o077 != 0:
				t.Errorf("%s: socket mode %v, want 0600", p, mode.Perm())
			}
			return nil
		})
	}
	if checked < 6 {
		t.Fatalf("only %d paths checked", checked)
	}
	t.Logf("%d files and folders checked", checked)
}

// signInNoBrowser signs in as a person on a headless machine does: 'mcptray
// auth NAME --no-browser' prints the URL, a browser elsewhere opens it (no
// redirect is followed: the loopback address is unreachable from there),
// and the person pastes the address it ends on. It returns the command's
// stdout and stderr.
func (u *userEnv) signInNoBrowser(t testing.TB, name string) (string, string) {
	t.Helper()
	cmd := exec.Command(binPath, "auth", name, "--no-browser")
	cmd.Env = u.env
	stdin, _ := cmd.StdinPipe()
	stderr, _ := cmd.StderrPipe()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read the printed URL, "open it in a browser on another machine" (no
	// redirect is followed: the loopback address is unreachable from there),
	// and paste the address the browser ends on.
	urlRE := regexp.MustCompile(`^\s+(http\S+/authorize\?\S+)$`)
	sc := bufio.NewScanner(stderr)
	var printed strings.Builder
	for sc.Scan() {
		printed.WriteString(sc.Text() + "\n")
		m := urlRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noFollow.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		fmt.Fprintln(stdin, resp.Header.Get("Location"))
		break
	}
	go func() { _, _ = io.Copy(&printed, stderr) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("mcptray auth: %v\nstderr:\n%s", err, printed.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("mcptray auth did not finish:\n%s", printed.String())
	}
	return stdout.String(), printed.String()
}
