//go:build !nogui

package app

import (
	"os"

	"github.com/godbus/dbus/v5"
)

// trayHost reports whether a system tray host is there to show the tray
// icon (a StatusNotifierWatcher on the session bus), and why not. Without
// one Fyne's tray crashes on quit (fyne#6403), so the app then runs with
// the window only.
func trayHost() (bool, string) {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return false, "no D-Bus session bus"
	}
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false, "the D-Bus session bus cannot be reached: " + err.Error()
	}
	defer conn.Close()
	var has bool
	err = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
	if err != nil || !has {
		return false, "no StatusNotifierWatcher on the session bus (the desktop shows no tray icons)"
	}
	return true, ""
}
