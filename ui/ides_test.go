package ui

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadIDEServersSkipsDuplicates(t *testing.T) {
	dir := t.TempDir()
	claude := filepath.Join(dir, "claude.json")
	vscode := filepath.Join(dir, "mcp.json")
	os.WriteFile(claude, []byte(`{"mcpServers": {
  "github": {"url": "https://api.githubcopilot.com/mcp/"},
  "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem"]},
  "mcptray": {"command": "/usr/bin/mcptray", "args": ["bridge"]}
}}`), 0o600)
	os.WriteFile(vscode, []byte(`{"servers": {"fs": {"type": "stdio", "command": "npx"}, "remote": {"type": "http", "url": "https://r.example/mcp"}}}`), 0o600)
	files := []IDEFile{{IDE: "Claude Desktop", Path: claude}, {IDE: "VS Code", Path: vscode}, {IDE: "Cursor", Path: filepath.Join(dir, "missing.json")}}
	found, errs := readIDEServers(files, func(n string) bool { return n == "github" }, "http://127.0.0.1:48800/mcp")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	got := map[string]string{}
	for _, e := range found {
		got[e.From.IDE+"/"+e.Name] = e.Skip
	}
	want := map[string]string{
		"Claude Desktop/github":  "already configured",
		"Claude Desktop/fs":      "",
		"Claude Desktop/mcptray": "this is MCP Tray's own bridge",
		"VS Code/fs":             "also in another IDE's file",
		"VS Code/remote":         "",
	}
	if len(got) != len(want) {
		t.Errorf("found %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: skip %q, want %q", k, got[k], v)
		}
	}
}

// "Add to this IDE's config" keeps the IDE's other entries, writes a
// backup of the old file, and creates a missing file.
func TestIDEEditKeepsOtherEntriesAndBacksUp(t *testing.T) {
	dir := t.TempDir()
	cursor := IDEFile{IDE: "Cursor", Path: filepath.Join(dir, "mcp.json"), List: "mcpServers"}
	old := "{\n  \"mcpServers\": {\n    \"other\": {\"url\": \"https://o.example/mcp\"}\n  }\n}\n"
	os.WriteFile(cursor.Path, []byte(old), 0o644)
	s := stdioSnippet("mcpServers", []string{"/opt/mcptray/mcptray", "bridge"}, false)
	plan, err := planIDEEdit(cursor, bridgeName, s.entry)
	if err != nil {
		t.Fatal(err)
	}
	diff := lineDiff(string(plan.old), string(plan.updated))
	// The new entry is added; the only line changed is the one that gets a comma.
	if !strings.Contains(diff, `+     "mcptray": {`) || strings.Count(diff, "\n- ") != 1 {
		t.Errorf("diff:\n%s", diff)
	}
	backup, err := plan.apply()
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(backup); string(data) != old {
		t.Errorf("backup %q", data)
	}
	var doc struct {
		MCPServers map[string]struct {
			URL     string   `json:"url"`
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	data, _ := os.ReadFile(cursor.Path)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.MCPServers["other"].URL != "https://o.example/mcp" || doc.MCPServers["mcptray"].Command != "/opt/mcptray/mcptray" {
		t.Errorf("file:\n%s", data)
	}

	vscode := IDEFile{IDE: "VS Code", Path: filepath.Join(dir, "new", "mcp.json"), List: "servers"}
	plan, err = planIDEEdit(vscode, bridgeName, httpSnippet("servers", "http://127.0.0.1:48800/mcp", "mcptray_pat_x", true).entry)
	if err != nil {
		t.Fatal(err)
	}
	if backup, err := plan.apply(); err != nil || backup != "" {
		t.Fatalf("new file: backup %q, err %v", backup, err)
	}
	data, _ = os.ReadFile(vscode.Path)
	if !strings.Contains(string(data), `"servers": {`) || !strings.Contains(string(data), `"type": "http"`) {
		t.Errorf("new VS Code file:\n%s", data)
	}
}

func TestSnippetText(t *testing.T) {
	s := httpSnippet("servers", "http://127.0.0.1:48800/mcp", "mcptray_pat_abc", true)
	want := `{
  "servers": {
    "mcptray": {
      "headers": {
        "Authorization": "Bearer mcptray_pat_abc"
      },
      "type": "http",
      "url": "http://127.0.0.1:48800/mcp"
    }
  }
}`
	if s.text() != want {
		t.Errorf("got\n%s", s.text())
	}
	var v any
	if err := json.Unmarshal([]byte(s.text()), &v); err != nil {
		t.Errorf("the snippet is not JSON: %v", err)
	}
}
