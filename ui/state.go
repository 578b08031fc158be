package ui

import (
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"github.com/mcptray/mcptray/assets"
	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/status"
)

// stateLook is how a state shows: an icon in a colour, and a word.
type stateLook struct {
	icon  fyne.Resource
	color fyne.ThemeColorName
	label string
}

func lookOf(s status.State) stateLook {
	switch s {
	case status.Connected:
		return stateLook{theme.ConfirmIcon(), theme.ColorNameSuccess, "Connected"}
	case status.Connecting:
		return stateLook{theme.ViewRefreshIcon(), theme.ColorNamePrimary, "Connecting…"}
	case status.Refreshing:
		return stateLook{theme.ViewRefreshIcon(), theme.ColorNamePrimary, "Refreshing sign-in…"}
	case status.Authenticating:
		return stateLook{assets.Key, theme.ColorNamePrimary, "Signing in…"}
	case status.NeedsAuth:
		return stateLook{assets.Key, theme.ColorNameWarning, "Needs sign-in"}
	case status.Disabled:
		return stateLook{theme.MediaPauseIcon(), theme.ColorNameDisabled, "Disabled"}
	case status.Error:
		return stateLook{theme.ErrorIcon(), theme.ColorNameError, "Error"}
	}
	return stateLook{theme.QuestionIcon(), theme.ColorNameDisabled, string(s)}
}

// stateIcon is the coloured icon of a state.
func stateIcon(s status.State) fyne.Resource {
	l := lookOf(s)
	return theme.NewColoredResource(l.icon, l.color)
}

// detailLine is the second line of a server's row: what a person needs to
// know about its state.
func detailLine(v mcphub.ServerView, now time.Time) string {
	st := v.Status
	switch st.State {
	case status.Connected:
		text := plural(st.Counts.Tools, "tool")
		if n := st.Counts.Prompts; n > 0 {
			text += ", " + plural(n, "prompt")
		}
		if n := st.Counts.Resources + st.Counts.ResourceTemplates; n > 0 {
			text += ", " + plural(n, "resource")
		}
		if st.ServerInfo != "" {
			text += " · " + st.ServerInfo
		}
		if st.WantsStepUp() {
			text += " · " + st.Reason
		}
		return text
	case status.Error:
		text := st.Reason
		if !st.NextRetry.IsZero() {
			text += " · retrying " + untilText(st.NextRetry, now)
		}
		return text
	case status.NeedsAuth:
		if st.Reason != "" {
			return st.Reason
		}
		return "Sign in to use this server."
	case status.Disabled:
		if pausedByAll(v) {
			return "Paused with every server; Resume all starts it again."
		}
		return "Disabled in the configuration."
	case status.Connecting:
		return "Starting a session…"
	case status.Refreshing:
		return "Getting a new access token; calls wait for it."
	case status.Authenticating:
		return "A sign-in is under way in the browser."
	}
	return lookOf(st.State).label
}

// pausedByAll reports a server stopped by Pause all rather than by its entry.
func pausedByAll(v mcphub.ServerView) bool {
	return v.Status.State == status.Disabled && !v.Disabled
}

// stateLabel is the word for a server's state.
func stateLabel(v mcphub.ServerView) string {
	if pausedByAll(v) {
		return "Paused"
	}
	return lookOf(v.Status.State).label
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// untilText says when t is, relative to now: "in 12s", "at 14:05".
func untilText(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	switch {
	case d <= 0:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("in %ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("in %dm", int(d.Minutes()))
	}
	return "at " + t.Local().Format("15:04")
}

// worst is the state the tray icon shows: all fine, some need sign-in,
// some failing, or everything paused.
type overall int

const (
	overallOK overall = iota
	overallSignIn
	overallError
	overallPaused
)

func overallOf(servers []mcphub.ServerView, paused bool) overall {
	if paused {
		return overallPaused
	}
	o := overallOK
	for _, v := range servers {
		switch v.Status.State {
		case status.Error:
			return overallError
		case status.NeedsAuth:
			o = overallSignIn
		}
	}
	return o
}

func (o overall) icon() fyne.Resource {
	switch o {
	case overallSignIn:
		return assets.TraySignIn
	case overallError:
		return assets.TrayError
	case overallPaused:
		return assets.TrayPaused
	}
	return assets.TrayOK
}
