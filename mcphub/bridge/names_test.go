package bridge

import (
	"regexp"
	"strings"
	"testing"
)

var specToolName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

func TestPrefixedNames(t *testing.T) {
	long := strings.Repeat("x", 200)
	cases := []struct{ server, sep, name, want string }{
		{"github", "__", "create_issue", "github__create_issue"},
		{"github", ".", "create_issue", "github.create_issue"},
		{"my-server", "__", "list files/now", "my-server__list_files_now"},
		{"s", "__", "", "s___"},
		{"s", "__", "ünïcode", "s___n_code"}, // one '_' per character
	}
	for _, c := range cases {
		if got := prefixed(c.server, c.sep, c.name); got != c.want {
			t.Errorf("prefixed(%q, %q, %q) = %q, want %q", c.server, c.sep, c.name, got, c.want)
		}
	}
	a, b := prefixed("srv", "__", long+"a"), prefixed("srv", "__", long+"b")
	if len(a) != maxNameLen || a == b || !specToolName.MatchString(a) || !strings.HasPrefix(a, "srv__xxx") {
		t.Errorf("long names: %q (%d) vs %q", a, len(a), b)
	}
	if prefixed("srv", "__", long+"a") != a {
		t.Error("a shortened name is not stable")
	}
}

func TestNamerDedupes(t *testing.T) {
	n := newNamer()
	long := strings.Repeat("y", maxNameLen)
	got := []string{n.unique("a"), n.unique("a"), n.unique("a"), n.unique("a_2"), n.unique(long), n.unique(long)}
	want := []string{"a", "a_2", "a_3", "a_2_2", long, long[:maxNameLen-2] + "_2"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("unique #%d = %q, want %q", i, got[i], want[i])
		}
		if !specToolName.MatchString(got[i]) {
			t.Errorf("%q breaks the spec's name rule", got[i])
		}
	}
}

func TestTemplateMatcher(t *testing.T) {
	cases := []struct {
		tpl, uri string
		want     bool
	}{
		{"file:///{path}", "file:///notes", true},
		{"file:///{path}", "file:///a/b", false},
		{"file:///{+path}", "file:///a/b", true},
		{"repo://{owner}/{repo}/issues", "repo://me/tray/issues", true},
		{"repo://{owner}/{repo}/issues", "repo://me/tray/pulls", false},
		{"search://q{?term,page}", "search://q?term=x&page=2", true},
		{"search://q{?term,page}", "search://q", true},
		{"test://template/{id}/data", "test://template/42/data", true},
		{"test://template/{id}/data", "test://other/42/data", false},
	}
	for _, c := range cases {
		if got := compileTemplate(c.tpl).match(c.uri); got != c.want {
			t.Errorf("%s matches %s = %v, want %v", c.tpl, c.uri, got, c.want)
		}
	}
}
