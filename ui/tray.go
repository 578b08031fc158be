package ui

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/status"
)

// updateTray sets the tray icon to the worst state and rebuilds the menu:
// a line per server (those needing sign-in act as Authenticate), then the
// app's commands.
func (u *UI) updateTray(views []mcphub.ServerView, paused bool) {
	desk, ok := u.app.(desktop.App)
	if !ok || !u.opts.TrayAvailable {
		return
	}
	o := overallOf(views, paused)
	if u.configErr != nil && !paused {
		o = overallError // an edit that was refused needs the person as much
	}
	desk.SetSystemTrayIcon(o.icon())
	desk.SetSystemTrayMenu(u.trayMenu(views, paused))
}

func (u *UI) trayMenu(views []mcphub.ServerView, paused bool) *fyne.Menu {
	var items []*fyne.MenuItem
	if u.configErr != nil {
		broken := fyne.NewMenuItem("The configuration file has errors: open it", u.openConfig)
		broken.Icon = theme.ErrorIcon()
		items = append(items, broken, fyne.NewMenuItemSeparator())
	}
	for _, v := range views {
		id := v.ID
		label := v.Name + ": " + stateLabel(v)
		item := fyne.NewMenuItem(label, func() { u.Show(); u.servers.selectRow(id) })
		item.Icon = stateIcon(v.Status.State)
		if v.Status.State == status.NeedsAuth || v.Status.WantsStepUp() {
			item.Label = v.Name + ": Authenticate…"
			item.Action = func() { u.authenticate(id, true) }
		}
		items = append(items, item)
	}
	if len(items) > 0 {
		items = append(items, fyne.NewMenuItemSeparator())
	}
	pause := "Pause all"
	if paused {
		pause = "Resume all"
	}
	items = append(items,
		fyne.NewMenuItem("Open MCP Tray", u.Show),
		fyne.NewMenuItem("Connect an IDE…", func() { u.Show(); u.tabs.SelectIndex(1) }),
		fyne.NewMenuItem("Open config file", u.openConfig),
		fyne.NewMenuItem(pause, u.togglePause),
	)
	// Fyne adds Quit itself at the end of a tray menu.
	return fyne.NewMenu("MCP Tray", items...)
}

// notifyConfig sends a desktop notification when the file is refused
// (once per error, not per save of the same), and keeps the error for the
// tray: the window, which shows it, is usually hidden.
func (u *UI) notifyConfig(err error) {
	last := u.configErr
	u.configErr = err
	if err == nil || (last != nil && last.Error() == err.Error()) {
		return
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	runs := u.hub.WhileBroken()
	u.app.SendNotification(fyne.NewNotification("The configuration file has errors",
		strings.ToUpper(runs[:1])+runs[1:]+". "+first))
}

// notify sends a desktop notification when a server newly needs sign-in
// or starts failing: once per state change, not once per retry.
func (u *UI) notify(views []mcphub.ServerView) {
	// A server removed and added again is new: it is notified again.
	for id := range u.notified {
		if _, ok := find(views, id); !ok {
			delete(u.notified, id)
		}
	}
	for _, v := range views {
		st := v.Status.State
		last, seen := u.notified[v.ID]
		switch st {
		case status.NeedsAuth, status.Error:
			if seen && last == st {
				continue
			}
			u.notified[v.ID] = st
			title := v.Name + " needs you to sign in"
			body := "Open MCP Tray and press Authenticate."
			if st == status.Error {
				title = v.Name + " is failing"
				body = v.Status.Reason
			}
			u.app.SendNotification(fyne.NewNotification(title, body))
		case status.Connected, status.Disabled:
			delete(u.notified, v.ID)
		}
	}
}
