package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcptray/mcptray/internal/atomicfile"
	"github.com/mcptray/mcptray/mcphub/config"
)

// IDEFile is an IDE's MCP configuration file.
type IDEFile struct {
	IDE  string // "Claude Desktop", "Cursor", "VS Code"
	Path string
	List string // the key of its server list: "mcpServers" or "servers"
	// LocalOnly: the IDE reads only local (stdio) servers from the file.
	LocalOnly bool
}

// DefaultIDEFiles are the user-level MCP files of the IDEs MCP Tray knows.
func DefaultIDEFiles() []IDEFile {
	cfg, _ := os.UserConfigDir()
	home, _ := os.UserHomeDir()
	return []IDEFile{
		{IDE: "Claude Desktop", Path: filepath.Join(cfg, "Claude", "claude_desktop_config.json"), List: "mcpServers", LocalOnly: true},
		{IDE: "Cursor", Path: filepath.Join(home, ".cursor", "mcp.json"), List: "mcpServers"},
		{IDE: "VS Code", Path: filepath.Join(cfg, "Code", "User", "mcp.json"), List: "servers"},
	}
}

// foundEntry is one server of an IDE's file, for Import.
type foundEntry struct {
	From  IDEFile
	Name  string
	Entry json.RawMessage
	// Why it is not offered (already configured, or MCP Tray itself).
	Skip string
}

// readIDEServers lists the servers of the IDE files that exist. A file
// that cannot be read is reported, not fatal.
func readIDEServers(files []IDEFile, taken func(name string) bool, bridgeURL string) ([]foundEntry, []error) {
	var found []foundEntry
	var errs []error
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
			continue
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(data, &doc); err != nil {
			errs = append(errs, fmt.Errorf("%s is not plain JSON (comments?): %v", f.Path, err))
			continue
		}
		for _, key := range []string{"mcpServers", "servers"} {
			var servers map[string]json.RawMessage
			if json.Unmarshal(doc[key], &servers) != nil {
				continue
			}
			names := make([]string, 0, len(servers))
			for n := range servers {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				e := foundEntry{From: f, Name: n, Entry: servers[n]}
				switch {
				case isBridgeEntry(servers[n], bridgeURL):
					e.Skip = "this is MCP Tray's own bridge"
				case taken(n):
					e.Skip = "already configured"
				case seen[config.NormalizeName(n)]:
					e.Skip = "also in another IDE's file"
				}
				seen[config.NormalizeName(n)] = true
				found = append(found, e)
			}
		}
	}
	return found, errs
}

// isBridgeEntry recognises an entry that points at MCP Tray itself.
func isBridgeEntry(raw json.RawMessage, bridgeURL string) bool {
	var e struct {
		Command string   `json:"command"`
		Args    []string `json:"args"`
		URL     string   `json:"url"`
	}
	_ = json.Unmarshal(raw, &e)
	base := filepath.Base(e.Command)
	return (strings.HasPrefix(base, "mcptray") && slices.Contains(e.Args, "bridge")) ||
		(e.URL != "" && strings.HasPrefix(e.URL, strings.TrimSuffix(bridgeURL, "/mcp")))
}

// ideEdit is the change "Add to this IDE's config" makes: the file's new
// content, and the diff to show first.
type ideEdit struct {
	file    IDEFile
	old     []byte // nil: the file does not exist yet
	updated []byte
}

func planIDEEdit(f IDEFile, name string, entry json.RawMessage) (*ideEdit, error) {
	old, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		old = nil
	} else if err != nil {
		return nil, err
	}
	base := old
	if len(bytes.TrimSpace(base)) == 0 {
		base = []byte("{}\n")
	}
	updated, err := config.Preview(base, config.Edit{Name: name, Entry: entry, List: f.List})
	if err != nil {
		return nil, fmt.Errorf("%s cannot be edited safely (%v); copy the snippet into it by hand", f.Path, err)
	}
	return &ideEdit{file: f, old: old, updated: updated}, nil
}

// apply writes the new content atomically, keeping the old one as .bak.
func (e *ideEdit) apply() (backup string, err error) {
	if err := os.MkdirAll(filepath.Dir(e.file.Path), 0o700); err != nil {
		return "", err
	}
	mode := os.FileMode(0o600)
	if e.old != nil {
		if fi, err := os.Stat(e.file.Path); err == nil {
			mode = fi.Mode().Perm()
		}
		backup = e.file.Path + ".bak"
		if err := atomicfile.WriteFile(backup, e.old, mode); err != nil {
			return "", fmt.Errorf("keep a backup: %w", err)
		}
	}
	if err := atomicfile.WriteFile(e.file.Path, e.updated, mode); err != nil {
		return "", err
	}
	return backup, nil
}

// lineDiff is a small unified-style diff of two short texts: "+ " added,
// "- " removed, "  " kept lines.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// Longest common subsequence, fine for configuration files.
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out.WriteString("  " + x[i] + "\n")
			i, j = i+1, j+1
		case j < len(y) && (i == len(x) || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + y[j] + "\n")
			j++
		default:
			out.WriteString("- " + x[i] + "\n")
			i++
		}
	}
	return out.String()
}
