package ui

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/mcptray/mcptray/mcphub/config"
)

// settingsView: the bridge port, start at login, and where things are.
type settingsView struct {
	u         *UI
	port      *widget.Entry
	shownPort string // the running bridge's port as last put in port
	autostart *widget.Check
	autoMsg   *widget.Label // why start at login cannot be read or changed
	root      fyne.CanvasObject
}

func (s *settingsView) object() fyne.CanvasObject { return s.root }

func newSettingsView(u *UI) *settingsView {
	env := u.hub.Environment()
	port := widget.NewEntry()
	shownPort := bridgePort(u.hub.BridgeURL())
	port.SetText(shownPort)
	portMsg := widget.NewLabel("")
	portMsg.Wrapping = fyne.TextWrapWord
	applyPort := widget.NewButton("Apply", func() {
		n, err := strconv.Atoi(port.Text)
		if err != nil || n < config.MinBridgePort || n > config.MaxBridgePort {
			portMsg.Importance = widget.DangerImportance
			portMsg.SetText(fmt.Sprintf("The port is a number from %d to %d.", config.MinBridgePort, config.MaxBridgePort))
			return
		}
		e, _ := config.SetSetting(n, "hub", "bridge", "port")
		go func() {
			err := u.hub.EditConfig(e)
			u.do(func() {
				if err != nil {
					portMsg.Importance = widget.DangerImportance
					portMsg.SetText(err.Error())
					return
				}
				portMsg.Importance = widget.MediumImportance
				portMsg.SetText(fmt.Sprintf("The bridge now listens on 127.0.0.1:%d. Update the HTTP URL in your IDEs.", n))
			})
		}()
	})
	port.OnSubmitted = func(string) { applyPort.OnTapped() }

	autostart := widget.NewCheck("Start MCP Tray when I log in", nil)
	autoMsg := widget.NewLabel("")
	autoMsg.Wrapping = fyne.TextWrapWord
	if on, err := u.hub.Autostart(); err != nil {
		autostart.Disable()
		autoMsg.SetText(err.Error())
	} else {
		autostart.SetChecked(on)
	}
	var changed func(on bool)
	changed = func(on bool) {
		autostart.Disable() // until the hub answers
		go func() {
			err := u.hub.SetAutostart(on)
			u.do(func() {
				autostart.Enable()
				if err == nil {
					autoMsg.SetText("")
					return
				}
				autoMsg.SetText("Could not change it: " + err.Error())
				// The box shows what is set, not what was asked, and
				// putting it back is no new request.
				autostart.OnChanged = nil
				autostart.SetChecked(!on)
				autostart.OnChanged = changed
			})
		}()
	}
	autostart.OnChanged = changed

	open := func(path string) func() {
		return func() {
			if err := u.opts.OpenURL(&url.URL{Scheme: "file", Path: path}); err != nil {
				u.showError("Open "+path, err)
			}
		}
	}
	pathRow := func(path string, openDir bool) fyne.CanvasObject {
		l := widget.NewLabel(path)
		l.Truncation = fyne.TextTruncateEllipsis
		target := path
		if openDir {
			target = filepath.Dir(path)
		}
		return container.NewBorder(nil, nil, nil, widget.NewButtonWithIcon("Open", theme.FolderOpenIcon(), open(target)), l)
	}
	form := widget.NewForm(
		widget.NewFormItem("Bridge port", container.NewBorder(nil, portMsg, nil, applyPort, port)),
		widget.NewFormItem("Start at login", container.NewVBox(autostart, autoMsg)),
		widget.NewFormItem("Token storage", widget.NewLabel(env.KeyringBackend)),
		widget.NewFormItem("Configuration", pathRow(u.hub.ConfigPath(), false)),
		widget.NewFormItem("Log file", pathRow(env.LogPath, true)),
		widget.NewFormItem("Version", widget.NewLabel(env.Version)),
	)
	return &settingsView{u: u, port: port, shownPort: shownPort, autostart: autostart, autoMsg: autoMsg, root: container.NewVScroll(container.NewPadded(form))}
}

// update follows the running bridge's port (an edit of the file, or
// Apply, moves it), unless the person is typing another one in.
func (s *settingsView) update() {
	running := bridgePort(s.u.hub.BridgeURL())
	if running == s.shownPort {
		return
	}
	if s.port.Text == s.shownPort {
		s.port.SetText(running)
	}
	s.shownPort = running
}

// bridgePort is the port of the bridge's URL, "" when it has none.
func bridgePort(bridgeURL string) string {
	if bu, err := url.Parse(bridgeURL); err == nil {
		return bu.Port()
	}
	return ""
}
