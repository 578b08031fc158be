package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/mcptray/mcptray/mcphub/config"
)

// showImport offers the servers of the IDE files found on this machine:
// what would be added, duplicates shown but not offered.
func (u *UI) showImport() {
	found, errs := readIDEServers(u.opts.IDEFiles, u.nameTaken, u.hub.BridgeURL())
	list := container.NewVBox()
	var checks []*widget.Check
	var offered []foundEntry
	for _, e := range found {
		label := fmt.Sprintf("%s  (from %s)", e.Name, e.From.IDE)
		if e.Skip != "" {
			l := widget.NewLabel(label + ": skipped, " + e.Skip)
			l.Importance = widget.LowImportance
			list.Add(l)
			continue
		}
		c := widget.NewCheck(label, nil)
		c.SetChecked(true)
		checks = append(checks, c)
		offered = append(offered, e)
		list.Add(c)
	}
	for _, err := range errs {
		l := widget.NewLabel(err.Error())
		l.Wrapping = fyne.TextWrapWord
		l.Importance = widget.WarningImportance
		list.Add(l)
	}
	if len(found) == 0 && len(errs) == 0 {
		var where []string
		for _, f := range u.opts.IDEFiles {
			where = append(where, f.Path)
		}
		dialog.ShowInformation("Nothing to import", "No IDE configuration files were found. Looked at:\n"+strings.Join(where, "\n"), u.win)
		return
	}
	intro := widget.NewLabel("These servers will be added to MCP Tray's configuration:")
	status := widget.NewLabel("")
	status.Wrapping = fyne.TextWrapWord
	progress := widget.NewProgressBarInfinite()
	progress.Hide()
	content := container.NewBorder(intro, container.NewVBox(progress, status), nil, nil, container.NewVScroll(list))
	var dlg *dialog.CustomDialog
	importBtn := widget.NewButton("Import", nil)
	importBtn.Importance = widget.HighImportance
	if len(offered) == 0 {
		importBtn.Disable()
		intro.SetText("Every server found is already configured.")
	}
	importBtn.OnTapped = func() {
		var chosen []foundEntry
		for i, c := range checks {
			if c.Checked {
				chosen = append(chosen, offered[i])
			}
		}
		importBtn.Disable()
		progress.Show()
		go func() {
			var problems []string
			added := 0
			for _, e := range chosen {
				u.do(func() { status.SetText("Adding " + e.Name + "…") })
				if err := u.hub.EditConfig(config.Edit{Name: e.Name, Entry: e.Entry}); err != nil {
					problems = append(problems, e.Name+": "+err.Error())
					continue
				}
				added++
			}
			u.do(func() {
				progress.Hide()
				u.refresh()
				if len(problems) > 0 {
					status.SetText(fmt.Sprintf("Added %d; not added:\n%s", added, strings.Join(problems, "\n")))
					return
				}
				dlg.Hide()
			})
		}()
	}
	dlg = dialog.NewCustomWithoutButtons("Import from your IDEs", content, u.win)
	dlg.SetButtons([]fyne.CanvasObject{widget.NewButton("Close", func() { dlg.Hide() }), importBtn})
	dlg.Resize(fyne.NewSize(620, 420))
	dlg.Show()
}
