package ui

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/mcptray/mcptray/mcphub"

	"github.com/mcptray/mcptray/mcphub/status"
)

// A file the hub refused is told outside the window, which is usually
// hidden: a notification once per error, and the tray menu's first item
// opens the file until it is fixed.
func TestABrokenFileIsToldOutsideTheWindow(t *testing.T) {
	ok := mcphub.ServerView{ID: "ok", Name: "ok", Transport: "http", Target: "https://ok.example/mcp", Status: status.Status{Server: "ok", State: status.Connected}}
	hub := newFakeHub(t, ok)
	u := newTestUI(t, hub)
	u.hide()
	broken := errors.New("config.json:3:5: JSON syntax: trailing comma before '}'\nconfig.json:7:1: another")
	hub.setConfigError(broken)
	test.AssertNotificationSent(t, fyne.NewNotification("The configuration file has errors",
		"The last good configuration keeps running. config.json:3:5: JSON syntax: trailing comma before '}'"), func() { u.refresh() })
	// The same error again (another refresh, a status change) is not news.
	test.AssertNotificationSent(t, nil, func() { u.refresh() })
	items := u.trayMenu(hub.Servers(), false).Items
	if len(items) == 0 || items[0].Label != "The configuration file has errors: open it" || items[0].Action == nil {
		t.Errorf("the tray menu does not lead with the broken file: %q", items[0].Label)
	}
	hub.setConfigError(nil)
	u.refresh()
	if items := u.trayMenu(hub.Servers(), false).Items; items[0].Label != "ok: "+stateLabel(ok) {
		t.Errorf("after the fix the tray menu starts with %q", items[0].Label)
	}
	// Broken again later: told again.
	hub.setConfigError(broken)
	test.AssertNotificationSent(t, fyne.NewNotification("The configuration file has errors",
		"The last good configuration keeps running. config.json:3:5: JSON syntax: trailing comma before '}'"), func() { u.refresh() })
}

// A connected server that refused a request for want of scope (AUTH-31)
// keeps its row connected, with the key icon beside it and the reason in
// its detail line; the tray offers the sign-in too.
func TestStepUpShowsTheKeyIcon(t *testing.T) {
	v := mcphub.ServerView{ID: "gh", Name: "gh", Transport: "http", Target: "https://gh.example/mcp",
		Status: status.Status{Server: "gh", State: status.Connected, Counts: status.Counts{Tools: 3},
			Reason:    `the server needs more permissions (scope "repo admin"): sign in again`,
			Challenge: &status.Challenge{Status: 403, Error: "insufficient_scope", Scope: "repo admin"}}}
	hub := newFakeHub(t, v)
	u := newTestUI(t, hub)
	row := u.servers.rows["gh"]
	if !row.auth.Visible() || !strings.Contains(row.detail.Text, "more permissions") || !strings.Contains(row.detail.Text, "3 tools") {
		t.Errorf("the row: key icon shown %v, detail %q", row.auth.Visible(), row.detail.Text)
	}
	if items := u.trayMenu(hub.Servers(), false).Items; items[0].Label != "gh: Authenticate…" {
		t.Errorf("the tray item: %q", items[0].Label)
	}
	test.Tap(row.auth)
	call := hub.nextAuth(t)
	if call.id != "gh" {
		t.Errorf("the key icon signed in to %q", call.id)
	}
	call.done <- nil
}
