package ui

import (
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// After the bridge moved, the snippets show where it is now.
func TestConnectFollowsBridgeURL(t *testing.T) {
	hub := newFakeHub(t)
	u := newTestUI(t, hub)
	hub.setBridgeURL("http://127.0.0.1:48801/mcp")
	u.refresh()
	var text []string
	for _, item := range u.connect.tabs.Items {
		text = append(text, labels(item.Content)...)
	}
	all := strings.Join(text, "\n")
	if !strings.Contains(all, "127.0.0.1:48801") || strings.Contains(all, ":48800") {
		t.Errorf("snippets after the move:\n%s", all)
	}
}

// buttons lists the buttons under o, in order.
func buttons(o fyne.CanvasObject) []*widget.Button {
	var out []*widget.Button
	switch o := o.(type) {
	case *widget.Button:
		out = append(out, o)
	case *fyne.Container:
		for _, c := range o.Objects {
			out = append(out, buttons(c)...)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(o).Objects() {
			out = append(out, buttons(c)...)
		}
	}
	return out
}

// "Add to ...'s config" writes the bridge's current URL, even before the
// hub's change has redrawn the snippets.
func TestConnectAddUsesCurrentURL(t *testing.T) {
	hub := newFakeHub(t)
	u := newTestUI(t, hub)
	u.connect.ides = []IDEFile{{IDE: "Cursor", Path: filepath.Join(t.TempDir(), "mcp.json"), List: "mcpServers"}}
	u.connect.rebuild()
	hub.setBridgeURL("http://127.0.0.1:48801/mcp")
	var add *widget.Button
	for _, b := range buttons(u.connect.tabs.Items[0].Content) {
		if b.Text == "Add to Cursor's config…" {
			add = b // the last is the HTTP snippet's
		}
	}
	if add == nil {
		t.Fatal("no Add button")
	}
	test.Tap(add)
	shown := strings.Join(labels(u.win.Canvas().Overlays().Top()), "\n")
	if !strings.Contains(shown, "127.0.0.1:48801") || strings.Contains(shown, ":48800") {
		t.Errorf("the change to write:\n%s", shown)
	}
}

// A double click on Create a client token makes one token.
func TestCreateTokenOncePerPress(t *testing.T) {
	hub := newFakeHub(t)
	hub.holdToken = make(chan chan struct{}, 2)
	u := newTestUI(t, hub)
	btn := u.connect.tokenBtn
	test.Tap(btn)
	test.Tap(btn)
	release := held(t, hub.holdToken, "create a token")
	if !btn.Disabled() {
		t.Error("Create a client token can be pressed while it runs")
	}
	close(release)
	u.settle(t, "the token to be shown", func() bool { return !btn.Disabled() })
	select {
	case <-hub.holdToken:
		t.Error("a second token was created")
	default:
	}
}
