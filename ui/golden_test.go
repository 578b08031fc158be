package ui

import (
	"image/color"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/oauth"
)

// variant is the default theme held in one variant, for the light and
// dark images.
type variant struct{ v fyne.ThemeVariant }

func (t variant) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return theme.DefaultTheme().Color(n, t.v)
}
func (variant) Font(s fyne.TextStyle) fyne.Resource     { return theme.DefaultTheme().Font(s) }
func (variant) Icon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }
func (variant) Size(n fyne.ThemeSizeName) float32       { return theme.DefaultTheme().Size(n) }

// everyState is one server in each state a row can show.
func everyState() []mcphub.ServerView {
	at := func(id, transport, target string, st status.Status) mcphub.ServerView {
		st.Server = id
		st.Since = testNow.Add(-3 * time.Minute)
		return mcphub.ServerView{ID: id, Name: id, Transport: transport, Target: target, Status: st}
	}
	signedIn := &oauth.Info{SignedIn: true, Expiry: testNow.Add(40 * time.Minute), Scopes: []string{"read", "write"},
		Registration: oauth.MethodDCR, Refreshable: true}
	views := []mcphub.ServerView{
		at("github", "http", "https://api.githubcopilot.com/mcp/", status.Status{State: status.Connected,
			Counts: status.Counts{Tools: 41, Prompts: 2}, ServerInfo: "github-mcp-server 1.0.0", ProtocolVersion: "2026-07-28"}),
		at("linear", "http", "https://mcp.linear.app/mcp", status.Status{State: status.NeedsAuth,
			Reason: "Linear asks you to sign in (scope read)."}),
		at("notion", "http", "https://mcp.notion.com/mcp", status.Status{State: status.Authenticating}),
		at("sentry", "http", "https://mcp.sentry.dev/mcp", status.Status{State: status.Refreshing}),
		at("jira", "sse", "https://jira.example.com/sse", status.Status{State: status.Connecting}),
		at("local-db", "stdio", "postgres-mcp --dsn ${env:DSN}", status.Status{State: status.Error,
			Reason: "the command exited at start: could not connect to server", NextRetry: testNow.Add(25 * time.Second)}),
		at("archive", "http", "https://archive.example.com/mcp", status.Status{State: status.Disabled}),
	}
	views[0].Auth = signedIn
	views[6].Disabled = true
	return views
}

// Golden images of the server list with a server in every state, in the
// light and the dark theme (testdata/servers-*.png; a failed run writes
// testdata/failed/).
func TestServerListImages(t *testing.T) {
	for _, v := range []struct {
		name    string
		variant fyne.ThemeVariant
	}{{"light", theme.VariantLight}, {"dark", theme.VariantDark}} {
		t.Run(v.name, func(t *testing.T) {
			hub := newFakeHub(t, everyState()...)
			u := newTestUI(t, hub)
			u.app.Settings().SetTheme(variant{v.variant})
			u.refresh()
			test.AssertImageMatches(t, "servers-"+v.name+".png", u.win.Canvas().Capture())
		})
	}
}
