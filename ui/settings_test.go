package ui

import (
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

// When start at login cannot be changed, the box shows what is set, and
// says why.
func TestAutostartFailureRevertsCheckbox(t *testing.T) {
	hub := newFakeHub(t)
	hub.autostartErr = errors.New("cannot write the autostart entry")
	u := newTestUI(t, hub)
	box, msg := u.settings.autostart, u.settings.autoMsg
	test.Tap(box)
	u.settle(t, "the failure to show", func() bool { return msg.Text != "" })
	if box.Checked || box.Disabled() {
		t.Errorf("after the failure: checked %v, disabled %v", box.Checked, box.Disabled())
	}
	if !strings.Contains(msg.Text, "cannot write the autostart entry") {
		t.Errorf("message %q", msg.Text)
	}
	hub.mu.Lock()
	defer hub.mu.Unlock()
	if hub.autostartCalls != 1 {
		t.Errorf("SetAutostart called %d times; putting the box back is no request", hub.autostartCalls)
	}
}
