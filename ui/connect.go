package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
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

// connectView shows, per IDE, the exact snippets for the stdio and the
// HTTP bridge, with Copy and "Add to this IDE's config". It follows the
// bridge: after a port change the old snippets point nowhere.
type connectView struct {
	u         *UI
	ides      []IDEFile
	tabs      *container.AppTabs
	tokenBtn  *widget.Button
	tokenNote *widget.Label
	token     string   // the client token in the HTTP snippets
	url       string   // the bridge URL the snippets show
	command   []string // the stdio bridge's argv the snippets show
	root      fyne.CanvasObject
}

func newConnectView(u *UI) *connectView {
	c := &connectView{u: u, token: "mcptray_pat_…"} // until one is created here
	c.ides = append(append([]IDEFile{}, u.opts.IDEFiles...), IDEFile{IDE: "Other", List: "mcpServers"})
	c.tabs = container.NewAppTabs()
	c.tokenBtn = widget.NewButtonWithIcon("Create a client token for HTTP", theme.ContentAddIcon(), c.createToken)
	c.tokenNote = widget.NewLabel("The HTTP snippets need a client token. It is shown once; MCP Tray keeps only its hash.")
	c.tokenNote.Wrapping = fyne.TextWrapWord
	c.rebuild()
	c.root = container.NewBorder(container.NewVBox(c.tokenNote, container.NewHBox(c.tokenBtn)), nil, nil, nil, c.tabs)
	return c
}

func (c *connectView) object() fyne.CanvasObject { return c.root }

// update redraws the snippets if the bridge moved.
func (c *connectView) update() {
	if c.u.hub.BridgeURL() != c.url || !slices.Equal(c.u.hub.BridgeCommand(), c.command) {
		c.rebuild()
	}
}

// createToken makes one token per press: the button waits for the hub, so
// a double click does not make two.
func (c *connectView) createToken() {
	c.tokenBtn.Disable()
	name := fmt.Sprintf("ide-%s", c.u.opts.Now().Format("20060102-150405"))
	go func() {
		tok, err := c.u.hub.CreateToken(name)
		c.u.do(func() {
			c.tokenBtn.Enable()
			if err != nil {
				c.u.showError("Create a client token", err)
				return
			}
			c.token = tok
			c.tokenNote.SetText(fmt.Sprintf("Token %q created and put in the HTTP snippets below. Copy it now: it is not shown again.", name))
			c.rebuild()
		})
	}()
}

// snippets are the ways f's IDE reaches the bridge, as last read.
func (c *connectView) snippets(f IDEFile) []snippet {
	vscode := f.List == "servers"
	snips := []snippet{stdioSnippet(f.List, c.command, vscode)}
	if !f.LocalOnly {
		snips = append(snips, httpSnippet(f.List, c.url, c.token, vscode))
	}
	return snips
}

func (c *connectView) rebuild() {
	c.url, c.command = c.u.hub.BridgeURL(), c.u.hub.BridgeCommand()
	selected := c.tabs.SelectedIndex()
	c.tabs.Items = nil
	for _, f := range c.ides {
		box := container.NewVBox()
		if f.LocalOnly {
			l := widget.NewLabel(f.IDE + " reads only local servers from its file: use the stdio bridge.")
			l.Wrapping = fyne.TextWrapWord
			box.Add(l)
		}
		if f.Path != "" {
			where := widget.NewLabel("File: " + f.Path)
			where.Importance = widget.LowImportance
			where.Truncation = fyne.TextTruncateEllipsis
			box.Add(where)
		}
		for i, s := range c.snippets(f) {
			box.Add(c.snippetCard(f, s, i))
		}
		c.tabs.Append(container.NewTabItem(f.IDE, container.NewVScroll(box)))
	}
	if selected >= 0 && selected < len(c.tabs.Items) {
		c.tabs.SelectIndex(selected)
	}
	c.tabs.Refresh()
}

// snippetCard shows s, the i-th of f's snippets. Its buttons take the
// snippet at the bridge's current address, even before a redraw.
func (c *connectView) snippetCard(f IDEFile, s snippet, i int) fyne.CanvasObject {
	current := func() snippet {
		c.update()
		return c.snippets(f)[i]
	}
	code := widget.NewLabelWithStyle(s.text(), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	copyBtn := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		c.u.app.Clipboard().SetContent(current().text())
	})
	buttons := container.NewHBox(copyBtn)
	if f.Path != "" {
		buttons.Add(widget.NewButtonWithIcon("Add to "+f.IDE+"'s config…", theme.DocumentSaveIcon(), func() {
			c.u.addToIDE(f, current())
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
