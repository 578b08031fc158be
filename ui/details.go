package ui

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/oauth"
)

// detailsPanel shows the server selected in the list: what it offers, its
// sign-in (never the token), its last error, and a redacted diagnostics
// report to copy.
type detailsPanel struct {
	u       *UI
	view    mcphub.ServerView
	title   *widget.Label
	facts   *widget.Form
	catalog *widget.Accordion
	copyBtn *widget.Button
	root    fyne.CanvasObject
	noneMsg *widget.Label
	body    *fyne.Container

	errorsKey string        // server and last-error time the errors are of
	errors    []ErrorRecord // that server's recent errors
}

func newDetailsPanel(u *UI) *detailsPanel {
	d := &detailsPanel{u: u}
	d.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	d.facts = widget.NewForm()
	d.catalog = widget.NewAccordion()
	d.copyBtn = widget.NewButtonWithIcon("Copy diagnostics", theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(d.diagnostics())
	})
	d.noneMsg = widget.NewLabel("Select a server to see its details.")
	d.body = container.NewVBox(d.title, d.facts, d.catalog, container.NewHBox(d.copyBtn))
	d.body.Hide()
	d.root = container.NewVScroll(container.NewVBox(d.noneMsg, d.body))
	return d
}

func (d *detailsPanel) object() fyne.CanvasObject { return d.root }

// update shows the list's selection, which moves on when the selected
// server is removed or renamed.
func (d *detailsPanel) update(views []mcphub.ServerView) {
	v, ok := find(views, d.u.servers.selected)
	if !ok {
		d.noneMsg.Show()
		d.body.Hide()
		return
	}
	d.noneMsg.Hide()
	d.body.Show()
	changedServer := v.ID != d.view.ID
	countsChanged := v.Status.Counts != d.view.Status.Counts || v.Status.State != d.view.Status.State
	d.view = v
	d.title.SetText(v.Name)
	// A new form each time: Form keeps the widgets of items it has shown.
	var items []*widget.FormItem
	add := func(label, value string) {
		if value == "" {
			return
		}
		l := widget.NewLabel(value)
		l.Wrapping = fyne.TextWrapWord
		items = append(items, widget.NewFormItem(label, l))
	}
	st := v.Status
	add("State", stateLabel(v)+since(st.Since, d.u.opts.Now()))
	add("Transport", v.Transport)
	add("Where", redactTarget(v.Transport, v.Target))
	add("Server", st.ServerInfo)
	add("Protocol", st.ProtocolVersion)
	if st.State == status.Error || st.State == status.NeedsAuth {
		add("Reason", st.Reason)
	}
	if a := v.Auth; a != nil {
		add("Sign-in", signInText(*a, d.u.opts.Now()))
		add("Scopes", strings.Join(a.Scopes, " "))
		add("Registration", registrationText(a.Registration))
	}
	if errs := d.recentErrors(v); len(errs) > 0 {
		var lines []string
		for _, e := range errs {
			lines = append(lines, e.Time.Local().Format("Jan 2 15:04:05")+"  "+e.Reason)
		}
		add("Recent errors", strings.Join(lines, "\n"))
	} else if st.LastError != "" {
		add("Last error", st.LastError+" ("+st.LastErrorAt.Local().Format("Jan 2 15:04:05")+")")
	}
	d.facts = widget.NewForm(items...)
	d.body.Objects[1] = d.facts
	d.root.Refresh()
	if changedServer || countsChanged {
		d.fillCatalog()
	}
}

func (d *detailsPanel) fillCatalog() {
	for len(d.catalog.Items) > 0 {
		d.catalog.RemoveIndex(0)
	}
	if d.view.Status.State != status.Connected {
		return
	}
	cat := d.u.hub.Catalog(d.view.ID)
	for _, sec := range []struct {
		name  string
		items []Item
	}{{"Tools", cat.Tools}, {"Resources", cat.Resources}, {"Prompts", cat.Prompts}} {
		if len(sec.items) == 0 {
			continue
		}
		list := container.NewVBox()
		for _, it := range sec.items {
			name := widget.NewLabelWithStyle(it.Name, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
			list.Add(name)
			if it.Description != "" {
				desc := widget.NewLabel(firstLine(it.Description))
				desc.Wrapping = fyne.TextWrapWord
				desc.Importance = widget.LowImportance
				list.Add(desc)
			}
		}
		d.catalog.Append(widget.NewAccordionItem(fmt.Sprintf("%s (%d)", sec.name, len(sec.items)), list))
	}
}

// recentErrors returns the server's last errors from the hub's records,
// read off the UI goroutine when the server or its last error changes.
func (d *detailsPanel) recentErrors(v mcphub.ServerView) []ErrorRecord {
	key := v.ID + "\x00" + v.Status.LastErrorAt.String()
	if key == d.errorsKey {
		return d.errors
	}
	d.errorsKey, d.errors = key, nil
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errs, err := d.u.hub.RecentErrors(ctx, v.ID, 5)
		if err != nil {
			return // the last error from the status still shows
		}
		d.u.do(func() {
			if d.errorsKey == key {
				d.errors = errs
				d.update(d.u.hub.Servers())
			}
		})
	}()
	return nil
}

// diagnostics is a report to paste into a bug report: no token, no
// header, no query string, no command arguments.
func (d *detailsPanel) diagnostics() string {
	v, env := d.view, d.u.hub.Environment()
	st := v.Status
	var b strings.Builder
	fmt.Fprintf(&b, "MCP Tray %s diagnostics for %q\n", env.Version, v.Name)
	fmt.Fprintf(&b, "state: %s since %s\n", st.State, st.Since.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "transport: %s (configured %s)\n", st.Transport, v.Transport)
	fmt.Fprintf(&b, "where: %s\n", redactTarget(v.Transport, v.Target))
	if st.ServerInfo != "" {
		fmt.Fprintf(&b, "server: %s, protocol %s\n", st.ServerInfo, st.ProtocolVersion)
	}
	fmt.Fprintf(&b, "counts: %d tools, %d resources, %d templates, %d prompts\n",
		st.Counts.Tools, st.Counts.Resources, st.Counts.ResourceTemplates, st.Counts.Prompts)
	if st.Reason != "" {
		fmt.Fprintf(&b, "reason: %s\n", st.Reason)
	}
	if !st.NextRetry.IsZero() {
		fmt.Fprintf(&b, "next retry: %s\n", st.NextRetry.UTC().Format(time.RFC3339))
	}
	if st.LastError != "" {
		fmt.Fprintf(&b, "last error: %s at %s\n", st.LastError, st.LastErrorAt.UTC().Format(time.RFC3339))
	}
	if c := st.Challenge; c != nil {
		fmt.Fprintf(&b, "challenge: %d %s scope=%q error=%q resource_metadata=%s\n", c.Status, c.Scheme, c.Scope, c.Error, c.ResourceMetadata)
	}
	if a := v.Auth; a != nil {
		fmt.Fprintf(&b, "sign-in: signed in %v, registration %s, issuer %s, scopes %q, refreshable %v, expiry %s\n",
			a.SignedIn, a.Registration, a.Issuer, strings.Join(a.Scopes, " "), a.Refreshable, a.Expiry.UTC().Format(time.RFC3339))
		if a.Problem != "" {
			fmt.Fprintf(&b, "sign-in problem: %s\n", a.Problem)
		}
	}
	if err := d.u.hub.ConfigError(); err != nil {
		fmt.Fprintf(&b, "configuration error: %v\n", err)
	}
	fmt.Fprintf(&b, "keyring: %s\n", env.KeyringBackend)
	return b.String()
}

// redactTarget keeps what identifies a server and drops what may be a
// secret: a URL's user and query values, a command's arguments.
func redactTarget(transport, target string) string {
	if transport == "stdio" {
		cmd, args, _ := strings.Cut(target, " ")
		if args == "" {
			return cmd
		}
		return fmt.Sprintf("%s (%d arguments)", cmd, len(strings.Fields(args)))
	}
	u, err := url.Parse(target)
	if err != nil {
		return "(unparsable URL)"
	}
	// No user, no query values, no fragment, and no path segment long
	// enough to be a key (hosted servers put one there); "…" for each.
	segs := strings.Split(u.EscapedPath(), "/")
	for i, seg := range segs {
		if len(seg) >= 16 {
			segs[i] = "…"
		}
	}
	out := u.Scheme + "://" + u.Host + strings.Join(segs, "/")
	if u.RawQuery != "" {
		keys := slices.Sorted(maps.Keys(u.Query()))
		for i, k := range keys {
			keys[i] = url.QueryEscape(k) + "=…"
		}
		out += "?" + strings.Join(keys, "&")
	}
	return out
}

func signInText(a oauth.Info, now time.Time) string {
	switch {
	case keyringProblem(a.Problem):
		// It says itself that no sign-in is needed: the tokens wait for
		// the keyring.
		return strings.ToUpper(a.Problem[:1]) + a.Problem[1:]
	case a.Problem != "":
		return "Needs sign-in: " + a.Problem
	case !a.SignedIn:
		return "Not signed in"
	case a.Expiry.IsZero():
		return "Signed in (the token does not expire)"
	case a.Expiry.Before(now):
		return "Signed in; the access token expired " + a.Expiry.Local().Format("Jan 2 15:04") + refreshText(a)
	}
	return "Signed in; the access token expires " + untilText(a.Expiry, now) + refreshText(a)
}

// keyringProblem reports a sign-in problem that is the keyring's (locked or
// unavailable), not the grant's. Info carries the problem as text only; the
// keyring's starts with ErrKeyringUnavailable's.
func keyringProblem(problem string) bool {
	return strings.HasPrefix(problem, oauth.ErrKeyringUnavailable.Error())
}

func refreshText(a oauth.Info) string {
	if a.Refreshable {
		return " and is refreshed before then"
	}
	return " (no refresh token: sign in again then)"
}

func registrationText(method string) string {
	switch method {
	case oauth.MethodPreregistered:
		return "Pre-registered client"
	case oauth.MethodCIMD:
		return "Client ID Metadata Document"
	case oauth.MethodDCR:
		return "Dynamic client registration"
	}
	return method
}

func since(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf(" for %ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf(" for %dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf(" for %dh", int(d.Hours()))
	}
	return " since " + t.Local().Format("Jan 2")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
