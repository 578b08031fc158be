package ui

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/mcptray/mcptray/mcphub/config"
)

const (
	kindHTTP  = "HTTP (Streamable HTTP, or legacy SSE)"
	kindSSE   = "Legacy HTTP+SSE only"
	kindStdio = "Local command (stdio)"
)

// serverForm is the Add / Edit server dialog. It writes the configuration
// file (the hub applies it), keeping the entry's other settings and every
// other entry as they are.
type serverForm struct {
	u        *UI
	original string                     // the entry's name in the file; "" when adding
	entry    map[string]json.RawMessage // the entry as in the file, to keep what the form does not show

	name, url, command    *formEntry
	args, headers, env    *formEntry
	clientID, scopes      *formEntry
	kind                  *widget.Select
	disabled              *widget.Check
	message               *widget.Label
	urlItem, commandItems []*widget.FormItem
	form                  *widget.Form
	dlg                   *dialog.CustomDialog
	confirm               *dialog.ConfirmDialog // the last question asked before saving
	open                  bool                  // the dialog is up
}

func (u *UI) showServerForm(name string) *serverForm {
	f := &serverForm{u: u, original: name, entry: map[string]json.RawMessage{}}
	if name != "" {
		entry, err := readEntry(u.hub.ConfigPath(), name)
		if err != nil {
			u.showError("Edit "+name, err)
			return nil
		}
		f.entry = entry
	}
	f.build()
	f.fill()
	title := "Add a server"
	if name != "" {
		title = "Edit " + name
	}
	// Save validates first; the dialog stays open on a problem.
	f.dlg = dialog.NewCustomWithoutButtons(title, container.NewVBox(f.form, f.message), u.win)
	save := widget.NewButton("Save", f.save)
	save.Importance = widget.HighImportance
	cancel := widget.NewButton("Cancel", f.close)
	f.dlg.SetButtons([]fyne.CanvasObject{cancel, save})
	// Enter in a one-line field saves, Escape anywhere cancels.
	for _, e := range []*formEntry{f.name, f.url, f.command, f.clientID, f.scopes} {
		e.OnSubmitted = func(string) { f.save() }
	}
	u.win.Canvas().SetOnTypedKey(func(k *fyne.KeyEvent) {
		if k.Name == fyne.KeyEscape {
			f.close()
		}
	})
	f.dlg.Resize(fyne.NewSize(620, 0))
	f.dlg.Show()
	f.open = true
	u.win.Canvas().Focus(f.name)
	return f
}

func (f *serverForm) close() {
	f.open = false
	f.u.win.Canvas().SetOnTypedKey(nil)
	f.dlg.Hide()
}

func (f *serverForm) build() {
	entry := func() *formEntry { return newFormEntry(false, f.close) }
	multi := func() *formEntry { return newFormEntry(true, f.close) }
	f.name = entry()
	f.name.SetPlaceHolder("github")
	f.url = entry()
	f.url.SetPlaceHolder("https://api.example.com/mcp")
	f.command = entry()
	f.command.SetPlaceHolder("npx")
	f.args = multi()
	f.args.SetPlaceHolder("one argument per line")
	f.args.SetMinRowsVisible(2)
	f.headers = multi()
	f.headers.SetPlaceHolder("Authorization: Bearer ${keyring:github-token}")
	f.headers.SetMinRowsVisible(2)
	f.env = multi()
	f.env.SetPlaceHolder("NAME=value, one per line")
	f.env.SetMinRowsVisible(2)
	f.clientID = entry()
	f.clientID.SetPlaceHolder("only for a pre-registered OAuth client")
	f.scopes = entry()
	f.scopes.SetPlaceHolder("optional, space separated")
	f.disabled = widget.NewCheck("Disabled", nil)
	f.message = widget.NewLabel("")
	f.message.Wrapping = fyne.TextWrapWord
	f.message.Importance = widget.DangerImportance
	f.message.Hide()
	f.kind = widget.NewSelect([]string{kindHTTP, kindSSE, kindStdio}, func(string) { f.showFields() })
	f.urlItem = []*widget.FormItem{
		widget.NewFormItem("URL", f.url),
		widget.NewFormItem("Headers", f.headers),
		widget.NewFormItem("OAuth client ID", f.clientID),
		widget.NewFormItem("OAuth scopes", f.scopes),
	}
	f.commandItems = []*widget.FormItem{
		widget.NewFormItem("Command", f.command),
		widget.NewFormItem("Arguments", f.args),
		widget.NewFormItem("Environment", f.env),
	}
	f.form = widget.NewForm(widget.NewFormItem("Name", f.name), widget.NewFormItem("Type", f.kind))
	f.form.Append("", f.disabled)
}

func (f *serverForm) showFields() {
	items := f.form.Items[:2]
	if f.kind.Selected == kindStdio {
		items = append(items, f.commandItems...)
	} else {
		items = append(items, f.urlItem...)
	}
	f.form.Items = append(items, widget.NewFormItem("", f.disabled))
	f.form.Refresh()
}

// fill puts the entry's values in the fields.
func (f *serverForm) fill() {
	f.name.SetText(f.original)
	str := func(key string) string {
		var s string
		_ = json.Unmarshal(f.entry[key], &s)
		return s
	}
	kind := kindHTTP
	switch t := strings.ToLower(str("type") + str("transport")); {
	case t == "sse":
		kind = kindSSE
	case t == "stdio" || (t == "" && str("command") != ""):
		kind = kindStdio
	}
	f.kind.SetSelected(kind)
	f.url.SetText(str("url"))
	f.command.SetText(str("command"))
	var args []string
	_ = json.Unmarshal(f.entry["args"], &args)
	f.args.SetText(strings.Join(args, "\n"))
	f.headers.SetText(pairsText(f.entry["headers"], ": "))
	f.env.SetText(pairsText(f.entry["env"], "="))
	f.disabled.SetChecked(entryDisabled(f.entry))
	var oauth map[string]json.RawMessage
	_ = json.Unmarshal(f.entry["oauth"], &oauth)
	var clientID string
	_ = json.Unmarshal(oauth["clientId"], &clientID)
	f.clientID.SetText(clientID)
	var scopes []string
	if json.Unmarshal(oauth["scopes"], &scopes) != nil {
		var s string
		_ = json.Unmarshal(oauth["scopes"], &s)
		scopes = strings.Fields(s)
	}
	f.scopes.SetText(strings.Join(scopes, " "))
}

// entryDisabled reads "disabled", or "enabled", the positive form some
// tools write (edit writes "disabled" in its place).
func entryDisabled(entry map[string]json.RawMessage) bool {
	var disabled bool
	if raw, ok := entry["disabled"]; ok {
		_ = json.Unmarshal(raw, &disabled)
		return disabled
	}
	var enabled bool
	if json.Unmarshal(entry["enabled"], &enabled) == nil {
		return !enabled
	}
	return false
}

// edit builds the configuration edit from the fields.
func (f *serverForm) edit() (config.Edit, error) {
	name := strings.TrimSpace(f.name.Text)
	if name == "" {
		return config.Edit{}, problem("Give the server a name.")
	}
	e := maps.Clone(f.entry)
	if e == nil {
		e = map[string]json.RawMessage{}
	}
	set := func(key string, v any) {
		data, _ := json.Marshal(v)
		e[key] = data
	}
	for _, k := range []string{"type", "transport", "url", "command", "args", "env", "headers", "enabled"} {
		delete(e, k)
	}
	switch f.kind.Selected {
	case kindStdio:
		cmd := strings.TrimSpace(f.command.Text)
		if cmd == "" {
			return config.Edit{}, problem("Enter the command that starts the server.")
		}
		set("command", cmd)
		if args := lines(f.args.Text); len(args) > 0 {
			set("args", args)
		}
		env, err := pairs(f.env.Text, "=", "Environment")
		if err != nil {
			return config.Edit{}, err
		}
		if len(env) > 0 {
			set("env", env)
		}
		delete(e, "oauth")
	default:
		u := strings.TrimSpace(f.url.Text)
		if u == "" {
			return config.Edit{}, problem("Enter the server's URL.")
		}
		if f.kind.Selected == kindSSE {
			set("type", "sse")
		}
		set("url", u)
		headers, err := pairs(f.headers.Text, ":", "Headers")
		if err != nil {
			return config.Edit{}, err
		}
		if len(headers) > 0 {
			set("headers", headers)
		}
		oauth := map[string]json.RawMessage{}
		_ = json.Unmarshal(f.entry["oauth"], &oauth)
		delete(oauth, "clientId")
		delete(oauth, "scopes")
		if id := strings.TrimSpace(f.clientID.Text); id != "" {
			oauth["clientId"], _ = json.Marshal(id)
		}
		if sc := strings.Fields(f.scopes.Text); len(sc) > 0 {
			oauth["scopes"], _ = json.Marshal(sc)
		}
		if len(oauth) > 0 {
			set("oauth", oauth)
		} else {
			delete(e, "oauth")
		}
	}
	if f.disabled.Checked {
		set("disabled", true)
	} else {
		delete(e, "disabled")
	}
	data := orderedEntry(e)
	ed := config.Edit{Name: name, Entry: data}
	if f.original != "" && name != f.original {
		ed = config.Edit{Name: f.original, Rename: name, Entry: data}
	}
	return ed, nil
}

func (f *serverForm) save() {
	e, err := f.edit()
	if err == nil && f.original == "" && f.u.nameTaken(e.Name) {
		err = problem(fmt.Sprintf("A server named %q is already configured.", e.Name))
	}
	// The server's own ID is no clash: "github" may become "GitHub".
	if err == nil && e.Rename != "" && f.u.nameTakenByOther(e.Rename, config.NormalizeName(e.Name)) {
		err = problem(fmt.Sprintf("A server named %q is already configured.", e.Rename))
	}
	if err != nil {
		f.fail(err)
		return
	}
	if e.Rename != "" && config.NormalizeName(e.Rename) != config.NormalizeName(e.Name) {
		f.confirmRename(e)
		return
	}
	f.write(e)
}

// confirmRename asks before a rename that changes the server's ID: the hub
// takes the old ID as removed and signs it out, as Remove does.
func (f *serverForm) confirmRename(e config.Edit) {
	msg := "MCP Tray takes it as a new server: the sign-in of " + e.Name + ", if any, is revoked and its tokens are deleted."
	if v, ok := find(f.u.hub.Servers(), config.NormalizeName(e.Name)); ok && v.Auth != nil && v.Auth.SignedIn {
		msg = e.Name + " is signed in. Renaming it signs it out: the sign-in is revoked at the provider and its tokens are deleted; sign in again under the new name."
	}
	f.confirm = dialog.NewConfirm(fmt.Sprintf("Rename %s to %s?", e.Name, e.Rename), msg, func(ok bool) {
		if ok {
			f.write(e)
		}
	}, f.u.win)
	f.confirm.SetConfirmText("Rename")
	f.confirm.Show()
}

// write applies the edit; the dialog closes once the hub took it.
func (f *serverForm) write(e config.Edit) {
	go func() {
		err := f.u.hub.EditConfig(e)
		f.u.do(func() {
			if err != nil {
				f.fail(err)
				return
			}
			f.close()
			f.u.refresh()
		})
	}()
}

// problem is a message for the person filling in the form, a sentence.
type problem string

func (p problem) Error() string { return string(p) }

func (f *serverForm) fail(err error) {
	f.message.SetText(err.Error())
	f.message.Show()
}

func (u *UI) nameTaken(name string) bool { return u.nameTakenByOther(name, "") }

// nameTakenByOther reports whether a server other than the one of ID self
// has the name, or a name of the same ID.
func (u *UI) nameTakenByOther(name, self string) bool {
	n := config.NormalizeName(name)
	for _, v := range u.hub.Servers() {
		if v.ID != self && (v.ID == n || v.Name == name) {
			return true
		}
	}
	return false
}

// readEntry returns a server's entry as written in the file.
func readEntry(path, name string) (map[string]json.RawMessage, error) {
	raw, err := config.Entry(path, name)
	if err != nil {
		return nil, err
	}
	var e map[string]json.RawMessage
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%s: %q: %w", path, name, err)
	}
	return e, nil
}

// orderedEntry encodes e with the keys in a fixed order: the ones the
// form knows first, then the others by name.
func orderedEntry(e map[string]json.RawMessage) json.RawMessage {
	rank := map[string]int{"type": 0, "url": 1, "command": 2, "args": 3, "env": 4, "headers": 5, "oauth": 6, "disabled": 7}
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ra, oka := rank[a]
		rb, okb := rank[b]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(e[k])
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}

func lines(s string) []string {
	var out []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// pairs parses "key<sep>value" lines.
func pairs(s, sep, field string) (map[string]string, error) {
	out := map[string]string{}
	for i, l := range lines(s) {
		k, v, ok := strings.Cut(l, sep)
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%s, line %d: write it as NAME%svalue", field, i+1, strings.TrimSpace(sep))
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

func pairsText(raw json.RawMessage, sep string) string {
	var m map[string]string
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + sep + m[k] + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// formEntry is an entry that gives Escape to its dialog (Fyne's entry
// ignores it, and dialogs do not close on it).
type formEntry struct {
	widget.Entry
	escape func()
}

func newFormEntry(multiLine bool, escape func()) *formEntry {
	e := &formEntry{escape: escape}
	e.MultiLine = multiLine
	if multiLine {
		e.Wrapping = fyne.TextWrapWord
	}
	e.ExtendBaseWidget(e)
	return e
}

func (e *formEntry) TypedKey(k *fyne.KeyEvent) {
	if k.Name == fyne.KeyEscape {
		e.escape()
		return
	}
	e.Entry.TypedKey(k)
}
