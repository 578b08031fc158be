package ui

import (
	"os"
	"strings"
	"testing"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/oauth"
)

// writeConfig puts a configuration file in place of the fake hub's.
func writeConfig(t *testing.T, hub *fakeHub, data string) {
	t.Helper()
	if err := os.WriteFile(hub.path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// saved waits for the form to close and fails on a refused save.
func (u *testUI) saved(t *testing.T, f *serverForm) {
	t.Helper()
	u.settle(t, "the dialog to close", func() bool { return !f.open || f.message.Visible() })
	if f.message.Visible() {
		t.Fatalf("the save was refused: %s", f.message.Text)
	}
}

// A server written with "enabled": false shows as disabled and stays so
// through Edit and Save.
func TestEditKeepsEnabledFalse(t *testing.T) {
	hub := newFakeHub(t, mcphub.ServerView{ID: "alpha", Name: "alpha", Disabled: true, Status: status.Status{State: status.Disabled}})
	writeConfig(t, hub, `{"mcpServers": {"alpha": {"url": "https://a.example/mcp", "enabled": false}}}`)
	u := newTestUI(t, hub)
	f := u.showServerForm("alpha")
	if !f.disabled.Checked {
		t.Error(`the form shows a server with "enabled": false as enabled`)
	}
	f.save()
	u.saved(t, f)
	cfg, err := config.Load(hub.path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Servers) != 1 || !cfg.Servers[0].Disabled {
		data, _ := os.ReadFile(hub.path)
		t.Errorf("the server is enabled after Save:\n%s", data)
	}
}

// A new name is a new server to the hub, which signs the old one out:
// Edit asks first, and cancelling changes nothing.
func TestRenameAsksFirst(t *testing.T) {
	hub := newFakeHub(t, mcphub.ServerView{ID: "alpha", Name: "alpha", Transport: "http", Target: "https://a.example/mcp",
		Status: status.Status{State: status.Connected}, Auth: &oauth.Info{SignedIn: true}})
	writeConfig(t, hub, `{"mcpServers": {"alpha": {"url": "https://a.example/mcp"}}}`)
	before, _ := os.ReadFile(hub.path)
	u := newTestUI(t, hub)
	f := u.showServerForm("alpha")
	f.name.SetText("beta")
	f.save()
	if f.confirm == nil {
		t.Fatal("a rename was saved without asking")
	}
	f.confirm.Hide() // Cancel
	if after, _ := os.ReadFile(hub.path); string(after) != string(before) || !f.open {
		t.Errorf("after Cancel (dialog open %v):\n%s", f.open, after)
	}
	f.save()
	f.confirm.Confirm()
	u.saved(t, f)
	if after, _ := os.ReadFile(hub.path); !strings.Contains(string(after), `"beta"`) || strings.Contains(string(after), `"alpha"`) {
		t.Errorf("after Rename:\n%s", after)
	}
}

// A new case is the same server: no clash with itself, and nothing to
// ask, since the ID stays.
func TestRenameCaseOnly(t *testing.T) {
	hub := newFakeHub(t, mcphub.ServerView{ID: "github", Name: "github", Transport: "http", Target: "https://api.githubcopilot.com/mcp/",
		Status: status.Status{State: status.Connected}})
	writeConfig(t, hub, `{"mcpServers": {"github": {"url": "https://api.githubcopilot.com/mcp/"}}}`)
	u := newTestUI(t, hub)
	f := u.showServerForm("github")
	f.name.SetText("GitHub")
	f.save()
	if f.confirm != nil {
		t.Fatal("a change of case asked as a rename would")
	}
	u.saved(t, f)
	if after, _ := os.ReadFile(hub.path); !strings.Contains(string(after), `"GitHub"`) {
		t.Errorf("after the change of case:\n%s", after)
	}
}
