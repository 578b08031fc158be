package app

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/mcphub/status"
)

// The keyring password a hub was started with never reaches the stdio
// servers it starts.
func TestStdioServersDoNotSeeTheKeyringPassword(t *testing.T) {
	u := newUserEnv(t)
	envFile := filepath.Join(u.dir, "server-env")
	u.writeConfig(t, fmt.Sprintf(`{"mcpServers": {"envdump": {"command": "sh", "args": ["-c", "env > %s; exit 1"]}}}`, envFile))
	u.serve(t)
	u.watch(t).until(t, "envdump exited", func(st *control.StatusResponse) bool {
		return len(st.Servers) == 1 && st.Servers[0].Status.State == status.Error
	})
	data, err := os.ReadFile(envFile) // written before it exited
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(string(data), "\n")
	if i := slices.IndexFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "MCPTRAY_KEYRING_PASSWORD=") }); i >= 0 {
		t.Errorf("the stdio server was given %s", env[i])
	}
}

// Whatever opens the keyring removes the password from its environment,
// so nothing it starts later (servers, a browser) inherits it.
func TestOpenSecretsRemovesThePassword(t *testing.T) {
	t.Setenv("MCPTRAY_KEYRING", "file")
	t.Setenv("MCPTRAY_KEYRING_PASSWORD", "unit-test-password")
	if _, err := openSecrets(Paths{Data: t.TempDir()}, false); err != nil {
		t.Fatal(err)
	}
	if pw, ok := os.LookupEnv("MCPTRAY_KEYRING_PASSWORD"); ok {
		t.Errorf("MCPTRAY_KEYRING_PASSWORD=%s is still in the environment", pw)
	}
}

// A value piped to 'mcptray secret set' is stored whole, every line of
// it: a PEM key is the usual multi-line secret.
func TestSecretSetFromPipeKeepsEveryLine(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {}}`)
	pem := "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\nq7BFUAkGA1UEBhMCVVMxCzAJBgNVBAgMAkNB\n-----END PRIVATE KEY-----"
	cmd := exec.Command(binPath, "secret", "set", "pem")
	cmd.Env = u.env
	cmd.Stdin = strings.NewReader(pem + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, stderr.String())
	}

	// Read it back as the hub does.
	t.Setenv("HOME", u.dir)
	t.Setenv("XDG_DATA_HOME", filepath.Join(u.dir, "data"))
	t.Setenv("MCPTRAY_KEYRING_PASSWORD", "e2e-test-password")
	paths, err := resolvePaths(u.config)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := openSecrets(paths, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := secrets.Get(secretName("pem"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != pem {
		t.Errorf("stored %q, want %q", got, pem)
	}
}

// A keyring that cannot be read (here: opened with the wrong password)
// holds back only the server whose entry needs a value from it. validate
// says it could not check that entry; the hub runs the rest of the file.
func TestUnreadableKeyringHoldsBackOneServer(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, fmt.Sprintf(`{"mcpServers": {
  "needs": {"command": %q, "env": {"TOKEN": "${keyring:tok}"}},
  "free": {"command": %q}
}}`, testpeers.EverythingServerBin(t), testpeers.EverythingServerBin(t)))
	cmd := exec.Command(binPath, "secret", "set", "tok")
	cmd.Env = u.env
	cmd.Stdin = strings.NewReader("s3cret\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	u.env = append(u.env, "MCPTRAY_KEYRING_PASSWORD=not-the-password") // the last one counts

	_, stderr, code := u.run(t, "validate")
	if code != exitFail || !strings.Contains(stderr, `server "needs": "env".TOKEN: reading ${keyring:tok} from the keyring failed`) ||
		!strings.Contains(stderr, "could not be checked fully: the keyring could not be read for 1 server(s); the hub would hold them back until it is started with a keyring") {
		t.Errorf("validate: exit %d\n%s", code, stderr)
	}

	u.serve(t)
	u.watch(t).until(t, "needs held back and free connected", func(st *control.StatusResponse) bool {
		states := map[string]status.State{}
		for _, s := range st.Servers {
			states[s.ID] = s.Status.State
		}
		return st.ConfigError == "" && states["needs"] == status.Error && states["free"] == status.Connected
	})
	out, _, _ := u.run(t, "status")
	// The password is wrong for the life of the process: no retries.
	if !strings.Contains(out, "reading ${keyring:tok} from the keyring failed") ||
		!strings.Contains(out, "start MCP Tray again once its keyring can be opened") || strings.Contains(out, "s3cret") {
		t.Errorf("status:\n%s", out)
	}
}

// 'token create --servers' warns of a name the configuration does not
// have, also when its entries use ${keyring:} values (which it does not
// read: it lost the warning, the file failing to load without a keyring).
func TestTokenScopeWarningWithKeyringValues(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {"github": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer ${keyring:gh}"}}}}`)
	_, stderr, code := u.run(t, "token", "create", "ide", "--servers", "github,gihtub")
	if code != 0 || !strings.Contains(stderr, `has no server "gihtub" (yet)`) || strings.Contains(stderr, `"github"`) {
		t.Errorf("token create: exit %d\n%s", code, stderr)
	}
}

// The secret commands say what is missing: a secret to delete, any
// secret to list, and where a value comes from (never the command line).
func TestSecretCommandsSayWhatIsMissing(t *testing.T) {
	u := newUserEnv(t)
	u.writeConfig(t, `{"mcpServers": {}}`)
	if out, _, code := u.run(t, "secret", "list"); code != 0 || !strings.Contains(out, "No secrets yet") {
		t.Errorf("secret list of none: exit %d\n%s", code, out)
	}
	if out, errOut, code := u.run(t, "secret", "delete", "nope"); code != exitFail || out != "" ||
		!strings.Contains(errOut, "no secret is named nope ('mcptray secret list' shows them)") {
		t.Errorf("secret delete nope: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if _, errOut, code := u.run(t, "secret", "set", "foo", "barvalue"); code != exitUsage ||
		!strings.Contains(errOut, "the value is read from stdin or a prompt, never from the command line") {
		t.Errorf("secret set foo barvalue: exit %d\n%s", code, errOut)
	}
	// One that exists is deleted (and "foo" is not taken for "foobar").
	set := exec.Command(binPath, "secret", "set", "foobar")
	set.Env, set.Stdin = u.env, strings.NewReader("barvalue\n")
	if out, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set foobar: %v\n%s", err, out)
	}
	if _, errOut, code := u.run(t, "secret", "delete", "foo"); code != exitFail || !strings.Contains(errOut, "no secret is named foo") {
		t.Errorf("secret delete foo, with foobar stored: exit %d\n%s", code, errOut)
	}
	if out, errOut, code := u.run(t, "secret", "delete", "foobar"); code != 0 || !strings.Contains(out, "Deleted ${keyring:foobar}") {
		t.Errorf("secret delete foobar: exit %d\n%s%s", code, out, errOut)
	}
}
