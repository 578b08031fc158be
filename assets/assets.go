// Package assets holds MCP Tray's icons, embedded in the binary. The PNGs
// are drawn by build/icongen; key.svg is drawn by hand.
package assets

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

var (
	//go:embed icon.png
	iconPNG []byte
	//go:embed key.svg
	keySVG []byte
	//go:embed tray-ok.png
	trayOK []byte
	//go:embed tray-signin.png
	traySignIn []byte
	//go:embed tray-error.png
	trayError []byte
	//go:embed tray-paused.png
	trayPaused []byte
)

var (
	// Icon is the application icon.
	Icon = fyne.NewStaticResource("mcptray.png", iconPNG)
	// Key is the Authenticate button's icon (monochrome, for theming).
	Key = fyne.NewStaticResource("key.svg", keySVG)
	// TrayOK, TraySignIn, TrayError and TrayPaused are the tray icons:
	// every server fine, some need sign-in, some failing, all paused.
	TrayOK     = fyne.NewStaticResource("tray-ok.png", trayOK)
	TraySignIn = fyne.NewStaticResource("tray-signin.png", traySignIn)
	TrayError  = fyne.NewStaticResource("tray-error.png", trayError)
	TrayPaused = fyne.NewStaticResource("tray-paused.png", trayPaused)
)
