package ui

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

// Settings follows the port the bridge runs on (the file's
// hub.bridge.port was edited), so Apply never writes an old one back; a
// port the person is typing is left alone.
func TestSettingsFollowsTheBridgePort(t *testing.T) {
	hub := newFakeHub(t)
	u := newTestUI(t, hub)
	if got := u.settings.port.Text; got != "48800" {
		t.Fatalf("Settings shows port %q, want 48800", got)
	}
	hub.setBridgeURL("http://127.0.0.1:48900/mcp")
	u.refresh()
	if got := u.settings.port.Text; got != "48900" {
		t.Errorf("after the port moved, Settings shows %q, want 48900", got)
	}
	test.Type(u.settings.port, "1") // the person starts typing (at the cursor: the start)
	hub.setBridgeURL("http://127.0.0.1:48950/mcp")
	u.refresh()
	if got := u.settings.port.Text; got != "148900" {
		t.Errorf("what the person typed was replaced: %q", got)
	}
}
