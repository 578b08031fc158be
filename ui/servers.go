package ui

import (
	"context"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/mcptray/mcptray/assets"
	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
)

// serverList is the list of configured servers, one row each, in file
// order.
type serverList struct {
	u        *UI
	box      *fyne.Container
	empty    *widget.Label
	rows     map[string]*serverRow
	order    []string
	selected string
}

func newServerList(u *UI) *serverList {
	l := &serverList{u: u, box: container.NewVBox(), rows: map[string]*serverRow{}}
	l.empty = widget.NewLabel("No servers yet. Add one, import them from your IDE, or edit the configuration file.")
	l.empty.Wrapping = fyne.TextWrapWord
	return l
}

func (l *serverList) object() fyne.CanvasObject {
	return container.NewVScroll(container.NewVBox(l.empty, l.box))
}

func (l *serverList) update(views []mcphub.ServerView) {
	ids := make([]string, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	if !slices.Equal(ids, l.order) {
		l.box.RemoveAll()
		next := map[string]*serverRow{}
		for _, id := range ids {
			r := l.rows[id]
			if r == nil {
				r = newServerRow(l, id)
			}
			next[id] = r
			l.box.Add(r)
		}
		l.rows, l.order = next, ids
	}
	if len(views) == 0 {
		l.empty.Show()
	} else {
		l.empty.Hide()
	}
	if _, ok := l.rows[l.selected]; !ok && len(ids) > 0 {
		l.selected = ids[0]
	}
	for _, v := range views {
		l.rows[v.ID].set(v, v.ID == l.selected)
	}
}

func (l *serverList) refreshTimes() {
	for _, r := range l.rows {
		if r.view.Status.State == status.Error {
			r.set(r.view, r.id == l.selected)
		}
	}
}

func (l *serverList) selectRow(id string) {
	l.selected = id
	for rid, r := range l.rows {
		r.set(r.view, rid == id)
	}
	l.u.details.update(l.u.hub.Servers())
}

func (l *serverList) tapAuthenticate(id string) bool {
	r := l.rows[id]
	if r == nil || !r.auth.Visible() || r.auth.Disabled() {
		return false
	}
	r.auth.OnTapped()
	return true
}

// serverRow is one server: state icon, name, where it is, what is going
// on, and what can be done.
type serverRow struct {
	widget.BaseWidget
	list *serverList
	id   string
	view mcphub.ServerView

	bg        *canvas.Rectangle
	icon      *widget.Icon
	name      *widget.Label
	state     *widget.Label
	target    *widget.Label
	detail    *widget.Label
	auth      *widget.Button
	cancel    *widget.Button
	reconnect *widget.Button
	more      *widget.Button
	content   fyne.CanvasObject
}

func newServerRow(l *serverList, id string) *serverRow {
	r := &serverRow{list: l, id: id}
	r.bg = canvas.NewRectangle(theme.Color(theme.ColorNameSelection))
	r.bg.CornerRadius = theme.InputRadiusSize()
	r.icon = widget.NewIcon(nil)
	r.name = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.state = widget.NewLabel("")
	r.target = widget.NewLabel("")
	r.target.Truncation = fyne.TextTruncateEllipsis
	r.target.Importance = widget.LowImportance
	r.detail = widget.NewLabel("")
	r.detail.Wrapping = fyne.TextWrapWord
	r.auth = widget.NewButtonWithIcon("Authenticate", theme.NewThemedResource(assets.Key), func() { l.u.authenticate(id, false) })
	r.auth.Importance = widget.HighImportance
	r.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() { l.u.cancelSignIn(id) })
	r.reconnect = widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), func() {
		l.u.run("Reconnect "+id, func() error { return l.u.hub.Reconnect(id) })
	})
	r.more = widget.NewButtonWithIcon("", theme.MoreVerticalIcon(), r.showMenu)
	actions := container.NewHBox(r.auth, r.cancel, r.reconnect, r.more)
	head := container.NewBorder(nil, nil, container.NewHBox(r.icon, r.name, r.state), actions, r.target)
	r.content = container.NewStack(r.bg, container.NewPadded(container.NewVBox(head, r.detail)))
	r.ExtendBaseWidget(r)
	return r
}

func (r *serverRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.content) }

// Tapped selects the row (its buttons take their own taps).
func (r *serverRow) Tapped(*fyne.PointEvent) { r.list.selectRow(r.id) }

func (r *serverRow) set(v mcphub.ServerView, selected bool) {
	r.view = v
	u := r.list.u
	st := v.Status.State
	signingIn := u.signingIn(r.id)
	r.icon.SetResource(stateIcon(st))
	r.name.SetText(v.Name)
	r.state.SetText(stateLabel(v))
	// The target is as written in the file: no ${env:...} values.
	r.target.SetText(v.Transport + " · " + redactTarget(v.Transport, v.Target))
	detail := detailLine(v, u.opts.Now())
	switch {
	case signingIn:
		r.state.SetText("Signing in…")
		detail = "Waiting for the browser… Finish signing in there, or cancel."
	case u.authError(r.id) != "":
		detail = u.authError(r.id)
	}
	r.detail.SetText(detail)
	r.detail.Importance = widget.MediumImportance
	if st == status.Error || u.authError(r.id) != "" {
		r.detail.Importance = widget.DangerImportance
	}
	show(r.auth, (st == status.NeedsAuth || v.Status.WantsStepUp()) && !signingIn)
	show(r.cancel, signingIn)
	// Reconnecting a disabled or paused server does nothing.
	show(r.reconnect, !v.Disabled && st != status.Disabled && st != status.NeedsAuth && !signingIn)
	if selected {
		r.bg.FillColor = theme.Color(theme.ColorNameSelection)
	} else {
		r.bg.FillColor = theme.Color(theme.ColorNameBackground)
	}
	r.bg.Refresh()
	r.detail.Refresh()
}

func show(o fyne.CanvasObject, visible bool) {
	if visible {
		o.Show()
	} else {
		o.Hide()
	}
}

func (r *serverRow) showMenu() {
	u := r.list.u
	id, v := r.id, r.view
	toggle := "Disable"
	if v.Disabled {
		toggle = "Enable"
	}
	items := []*fyne.MenuItem{
		fyne.NewMenuItem("Edit…", func() { u.showServerForm(v.Name) }),
		fyne.NewMenuItem(toggle, func() {
			u.run(toggle+" "+id, func() error {
				e, err := config.SetDisabled(u.hub.ConfigPath(), v.Name, !v.Disabled)
				if err != nil {
					return err
				}
				return u.hub.EditConfig(e)
			})
		}),
	}
	if v.Auth != nil && v.Auth.SignedIn {
		items = append(items, fyne.NewMenuItem("Sign out…", func() {
			dialog.ShowConfirm("Sign out of "+v.Name+"?",
				"The sign-in is revoked at the provider and its tokens are deleted. You can sign in again later.",
				func(ok bool) {
					if ok {
						u.run("Sign out of "+id, func() error { return u.hub.SignOut(context.Background(), id) })
					}
				}, u.win)
		}))
	}
	items = append(items, fyne.NewMenuItemSeparator(), fyne.NewMenuItem("Remove…", func() {
		dialog.ShowConfirm("Remove "+v.Name+"?",
			"Its entry is deleted from the configuration file, and its sign-in, if any, is revoked.",
			func(ok bool) {
				if ok {
					u.run("Remove "+id, func() error { return u.hub.EditConfig(config.Edit{Name: v.Name}) })
				}
			}, u.win)
	}))
	menu := fyne.NewMenu("", items...)
	c := fyne.CurrentApp().Driver().CanvasForObject(r.more)
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(r.more)
	widget.ShowPopUpMenuAtPosition(menu, c, pos.Add(fyne.NewPos(0, r.more.Size().Height)))
}
