package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// bridgeName is the name MCP Tray's entry gets in an IDE's file.
const bridgeName = "mcptray"

// snippet is one way to point an IDE at the bridge.
type snippet struct {
	title string
	entry json.RawMessage // the server entry
	list  string          // "mcpServers" or "servers"
}

// text is the snippet as a person pastes it: the whole file's shape.
func (s snippet) text() string {
	var out strings.Builder
	fmt.Fprintf(&out, "{\n  %q: {\n    %q: ", s.list, bridgeName)
	var ind bytes.Buffer
	_ = json.Indent(&ind, s.entry, "    ", "  ")
	out.WriteString(ind.String())
	out.WriteString("\n  }\n}")
	return out.String()
}

func stdioSnippet(list string, argv []string, vscode bool) snippet {
	e := map[string]any{"command": argv[0], "args": argv[1:]}
	if vscode {
		e["type"] = "stdio"
	}
	data, _ := json.Marshal(e)
	return snippet{title: "stdio (no token needed)", entry: data, list: list}
}

func httpSnippet(list, url, token string, vscode bool) snippet {
	e := map[string]any{"url": url, "headers": map[string]string{"Authorization": "Bearer " + token}}
	if vscode {
		e["type"] = "http"
	}
	data, _ := json.Marshal(e)
	return snippet{title: "HTTP", entry: data, list: list}
}

// newConnectView shows, per IDE, the exact snippets for the stdio and the
// HTTP bridge, with Copy and "Add to this IDE's config".
func newConnectView(u *UI) fyne.CanvasObject {
	tabs := container.NewAppTabs()
	token := "mcptray_pat_…" // until one is created here
	var rebuild func()
	tokenBtn := widget.NewButtonWithIcon("Create a client token for HTTP", theme.ContentAddIcon(), nil)
	tokenNote := widget.NewLabel("The HTTP snippets need a client token. It is shown once; MCP Tray keeps only its hash.")
	tokenNote.Wrapping = fyne.TextWrapWord
	tokenBtn.OnTapped = func() {
		name := fmt.Sprintf("ide-%s", u.opts.Now().Format("20060102-150405"))
		go func() {
			tok, err := u.hub.CreateToken(name)
			u.do(func() {
				if err != nil {
					u.showError("Create a client token", err)
					return
				}
				token = tok
				tokenNote.SetText(fmt.Sprintf("Token %q created and put in the HTTP snippets below. Copy it now: it is not shown again.", name))
				rebuild()
			})
		}()
	}
	ides := append(append([]IDEFile{}, u.opts.IDEFiles...), IDEFile{IDE: "Other", List: "mcpServers"})
	rebuild = func() {
		selected := tabs.SelectedIndex()
		tabs.Items = nil
		for _, f := range ides {
			vscode := f.List == "servers"
			box := container.NewVBox()
			snips := []snippet{stdioSnippet(f.List, u.hub.BridgeCommand(), vscode)}
			if f.LocalOnly {
				l := widget.NewLabel(f.IDE + " reads only local servers from its file: use the stdio bridge.")
				l.Wrapping = fyne.TextWrapWord
				box.Add(l)
			} else {
				snips = append(snips, httpSnippet(f.List, u.hub.BridgeURL(), token, vscode))
			}
			if f.Path != "" {
				where := widget.NewLabel("File: " + f.Path)
				where.Importance = widget.LowImportance
				where.Truncation = fyne.TextTruncateEllipsis
				box.Add(where)
			}
			for _, s := range snips {
				box.Add(u.snippetCard(f, s))
			}
			tabs.Append(container.NewTabItem(f.IDE, container.NewVScroll(box)))
		}
		if selected >= 0 && selected < len(tabs.Items) {
			tabs.SelectIndex(selected)
		}
		tabs.Refresh()
	}
	rebuild()
	return container.NewBorder(container.NewVBox(tokenNote, container.NewHBox(tokenBtn)), nil, nil, nil, tabs)
}

func (u *UI) snippetCard(f IDEFile, s snippet) fyne.CanvasObject {
	text := s.text()
	code := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(text)
	})
	buttons := container.NewHBox(copyBtn)
	if f.Path != "" {
		buttons.Add(widget.NewButtonWithIcon("Add to "+f.IDE+"'s config…", theme.DocumentSaveIcon(), func() {
			u.addToIDE(f, s)
		}))
	}
	return widget.NewCard(s.title, "", container.NewVBox(code, buttons))
}

// addToIDE shows the change to the IDE's file first, then writes it
// atomically with a backup.
func (u *UI) addToIDE(f IDEFile, s snippet) {
	plan, err := planIDEEdit(f, bridgeName, s.entry)
	if err != nil {
		u.showError("Add to "+f.IDE, err)
		return
	}
	diff := lineDiff(string(plan.old), string(plan.updated)) // a new file: old is nil, ""
	view := widget.NewLabelWithStyle(diff, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	intro := widget.NewLabel(fmt.Sprintf("%s will change like this (+ added, - removed). The old file is kept as %s.bak.", f.Path, f.Path))
	if plan.old == nil {
		intro.SetText(f.Path + " does not exist yet; it will be created with:")
	}
	intro.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomConfirm("Add MCP Tray to "+f.IDE, "Write", "Cancel",
		container.NewBorder(intro, nil, nil, nil, container.NewScroll(view)), func(ok bool) {
			if !ok {
				return
			}
			backup, err := plan.apply()
			if err != nil {
				u.showError("Write "+f.Path, err)
				return
			}
			msg := "Done. Restart " + f.IDE + " (or reload its MCP servers) to use MCP Tray."
			if backup != "" {
				msg += "\nThe previous file is " + backup + "."
			}
			dialog.ShowInformation("Added to "+f.IDE, msg, u.win)
		}, u.win)
	d.Resize(fyne.NewSize(640, 460))
	d.Show()
}
