package control

import (
	"os"
	"path/filepath"
	"testing"
)

// A configuration reached through a symbolic link has one hub ID before
// and after the file exists: the first hub takes its lock before it
// creates the file, and a second one, started after, must find that lock.
func TestHubIDOfAFileNotCreatedYet(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "dotfiles", "config")
	if err := os.MkdirAll(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "home", ".config")
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	viaLink := filepath.Join(link, "mcptray", "config.json")
	before := HubID(viaLink)
	if err := os.MkdirAll(filepath.Dir(viaLink), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(viaLink, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if after := HubID(viaLink); after != before {
		t.Errorf("hub ID %s before the file exists, %s after", before, after)
	}
	if direct := HubID(filepath.Join(real, "mcptray", "config.json")); direct != before {
		t.Errorf("the file's real path has hub ID %s, its linked path %s", direct, before)
	}
}
