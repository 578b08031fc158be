package app

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// --config may come before the command, in either form; the last counts,
// and the command's own --config still may override it.
func TestLeadingConfig(t *testing.T) {
	for _, c := range []struct {
		args       []string
		config     string
		rest       []string
		wantsError bool
	}{
		{[]string{"status"}, "", []string{"status"}, false},
		{[]string{"--config", "a.json", "status", "--json"}, "a.json", []string{"status", "--json"}, false},
		{[]string{"--config=a.json", "status"}, "a.json", []string{"status"}, false},
		{[]string{"-config", "a.json", "--config=b.json"}, "b.json", []string{}, false},
		{[]string{"status", "--config", "a.json"}, "", []string{"status", "--config", "a.json"}, false},
		{[]string{"--config"}, "", nil, true},
	} {
		config, rest, err := leadingConfig(c.args)
		if (err != nil) != c.wantsError || config != c.config || !slices.Equal(rest, c.rest) {
			t.Errorf("leadingConfig(%q) = %q, %q, %v; want %q, %q (error: %v)", c.args, config, rest, err, c.config, c.rest, c.wantsError)
		}
	}
}

// The help lists open only in a build that has the window: in a nogui
// build it fails. (go test -tags nogui checks the other side.)
func TestHelpListsOpenOnlyWithAWindow(t *testing.T) {
	var b bytes.Buffer
	printHelp(&b)
	if listed := strings.Contains(b.String(), "\n  open "); listed != hasGUI {
		t.Errorf("open listed: %v, in a build with a window: %v\n%s", listed, hasGUI, b.String())
	}
}
