package ui

import (
	"errors"
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
