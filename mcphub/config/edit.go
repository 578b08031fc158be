package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/mcptray/mcptray/internal/atomicfile"
)

// The window edits the configuration file and lets the live reload apply
// it, so the file stays the one source of truth. An edit changes only the
// bytes of the entry it is about: every other entry keeps its place, its
// order and its formatting. The result must parse before it is written,
// and it is written atomically.

// ErrNoSuchServer: the file has no server of that name.
var ErrNoSuchServer = errors.New("no server of that name in the configuration file")

// Edit is one change to the servers of a configuration file.
type Edit struct {
	// Name of the server entry, as written in the file.
	Name string
	// Entry is the new JSON object of the server; nil removes it. An
	// entry of a name not in the file is added at the end.
	Entry json.RawMessage
	// Rename, when set, is the entry's new name (the entry keeps its
	// place).
	Rename string
	// List is the key of the server list to create in a file that has
	// none: "mcpServers" (the default) or "servers" (VS Code).
	List string
	// Setting, when set, makes this an edit of a setting instead of a
	// server: the value at this key path (e.g. hub, bridge, port) becomes
	// Entry; Name is not used.
	Setting []string
}

// SetSetting returns the edit that sets a hub setting, e.g.
// SetSetting(48900, "hub", "bridge", "port").
func SetSetting(value any, keys ...string) (Edit, error) {
	data, err := json.Marshal(value)
	if err != nil {
		return Edit{}, err
	}
	return Edit{Setting: keys, Entry: data}, nil
}

// Entry returns a server's entry as written in the file at path (read
// the way Load reads it: a byte-order mark is fine, errors have positions).
func Entry(path, name string) (json.RawMessage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	root, err := parseTree(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	_, m := findServer(root, name)
	if m == nil || m.value.kind != kindObject {
		return nil, fmt.Errorf("%s: %q: %w", path, name, ErrNoSuchServer)
	}
	return json.RawMessage(data[m.value.off:m.value.end]), nil
}

// SetDisabled returns the edit that switches a server on or off, keeping
// the rest of its entry.
func SetDisabled(path, name string, disabled bool) (Edit, error) {
	raw, err := Entry(path, name)
	if err != nil {
		return Edit{}, err
	}
	var entry map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entry); err != nil {
		return Edit{}, fmt.Errorf("%s: %q: %w", path, name, err)
	}
	// An entry written with the positive form ("enabled", as some tools
	// write it) keeps that form; either way the other key goes, so the
	// two cannot disagree.
	if _, positive := entry["enabled"]; positive {
		entry["enabled"] = json.RawMessage(strconv.FormatBool(!disabled))
		delete(entry, "disabled")
	} else if disabled {
		entry["disabled"] = json.RawMessage("true")
	} else {
		delete(entry, "disabled")
	}
	// Keep the entry's own key order: re-encode only when it changed.
	out, err := orderedLike(raw, entry)
	if err != nil {
		return Edit{}, err
	}
	return Edit{Name: name, Entry: out}, nil
}

var applyMu sync.Mutex

// Apply makes the edit to the file at path (following a symlink to the
// real file) after checking that the result is a valid configuration. The
// error of an invalid result names the problem as Load would.
func Apply(path string, e Edit, opts Options) error {
	// One edit at a time from read to write: two at once (the window's
	// actions run on goroutines of their own) would each write the file as
	// it read it, and the first edit would be lost.
	applyMu.Lock()
	defer applyMu.Unlock()
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("open the configuration: %w", err)
	}
	data, err := os.ReadFile(real)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	out, err := edited(data, e)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, err := Parse(path, out, opts); err != nil {
		return err
	}
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(real); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := atomicfile.WriteFile(real, out, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Preview returns the file's content after the edit, without writing it.
func Preview(data []byte, e Edit) ([]byte, error) { return edited(data, e) }

// edited returns data with the edit made.
func edited(data []byte, e Edit) ([]byte, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, err
	}
	if root.kind != kindObject {
		return nil, errors.New("the file is not a JSON object")
	}
	if e.Entry != nil && !json.Valid(e.Entry) {
		if len(e.Setting) > 0 {
			return nil, fmt.Errorf("the value of %s is not valid JSON", strings.Join(e.Setting, "."))
		}
		return nil, fmt.Errorf("the entry of %q is not valid JSON", e.Name)
	}
	if len(e.Setting) > 0 {
		return setSetting(data, root, e.Setting, e.Entry)
	}
	servers, m := findServer(root, e.Name)
	indent := memberIndent(data, servers)
	var entry []byte
	if e.Entry != nil {
		entry = reindent(e.Entry, indent)
	}
	key := e.Name
	if e.Rename != "" {
		key = e.Rename
	}
	quoted, _ := json.Marshal(key)
	var out bytes.Buffer
	switch {
	case m != nil && e.Entry == nil: // remove, with the comma that joined it
		start, end := m.keyOff, m.value.end
		rest := skipSpace(data, end)
		if rest < len(data) && data[rest] == ',' {
			end = skipSpace(data, rest+1)
			start = lineStart(data, start)
			end = lineStart(data, end)
		} else if prev := prevNonSpace(data, start); prev >= 0 && data[prev] == ',' {
			start = prev
		} else { // the only entry: leave an empty object
			start = prev + 1
			end = rest
		}
		out.Write(data[:start])
		out.Write(data[end:])
	case m != nil: // replace in place
		out.Write(data[:m.keyOff])
		out.Write(quoted)
		out.Write(data[m.keyOff+len(rawKey(data, m.keyOff)) : m.value.off])
		out.Write(entry)
		out.Write(data[m.value.end:])
	case e.Entry == nil:
		return nil, fmt.Errorf("%q: %w", e.Name, ErrNoSuchServer)
	case servers == nil: // no server list yet: add one at the end
		list := e.List
		if list == "" {
			list = "mcpServers"
		}
		closing := root.end - 1
		sep := ""
		if len(root.members) > 0 {
			sep = ","
		}
		at := prevNonSpace(data, closing) + 1
		out.Write(data[:at])
		fmt.Fprintf(&out, "%s\n  %q: {\n    %s: %s\n  }\n", sep, list, quoted, reindent(e.Entry, "    "))
		out.Write(data[closing:])
	default: // add at the end of the list
		closing := servers.end - 1
		at := prevNonSpace(data, closing) + 1
		outer := lineIndent(data, servers.off)
		out.Write(data[:at])
		if len(servers.members) > 0 {
			out.WriteString(",")
		}
		fmt.Fprintf(&out, "\n%s%s: %s\n%s", indent, quoted, entry, outer)
		out.Write(data[closing:])
	}
	return out.Bytes(), nil
}

// findServer finds the servers object ("mcpServers", else "servers") and
// the entry of name in it.
func findServer(root *node, name string) (*node, *member) {
	var first *node
	for _, key := range []string{"mcpServers", "servers"} {
		obj := root.get(key)
		if obj == nil || obj.kind != kindObject {
			continue
		}
		if first == nil {
			first = obj
		}
		for i := range obj.members {
			if obj.members[i].key == name {
				return obj, &obj.members[i]
			}
		}
	}
	return first, nil
}

// memberIndent is the indentation of obj's members as written (two more
// spaces than the object's own line when it has none).
func memberIndent(data []byte, obj *node) string {
	if obj == nil {
		return "    "
	}
	if len(obj.members) > 0 {
		off := obj.members[0].keyOff
		ls := bytes.LastIndexByte(data[:off], '\n') + 1
		if len(bytes.TrimLeft(data[ls:off], " \t")) == 0 {
			return string(data[ls:off]) // the first member starts its own line
		}
	}
	return lineIndent(data, obj.off) + "  "
}

// lineIndent is the leading white space of the line off is on.
func lineIndent(data []byte, off int) string {
	ls := bytes.LastIndexByte(data[:off], '\n') + 1
	line := data[ls:off]
	return string(line[:len(line)-len(bytes.TrimLeft(line, " \t"))])
}

// reindent formats an entry as an indented object whose inner lines start
// at indent+2 spaces.
func reindent(entry json.RawMessage, indent string) []byte {
	var buf bytes.Buffer
	if err := json.Indent(&buf, entry, indent, "  "); err != nil {
		return entry
	}
	return buf.Bytes()
}

// orderedLike encodes entry with the keys in the order orig has them, new
// keys last.
func orderedLike(orig []byte, entry map[string]json.RawMessage) (json.RawMessage, error) {
	n, err := parseTree(orig)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	seen := map[string]bool{}
	write := func(k string, v json.RawMessage) {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		_ = json.Compact(&buf, v)
	}
	for _, m := range n.members {
		if v, ok := entry[m.key]; ok {
			write(m.key, v)
			seen[m.key] = true
		}
	}
	for k, v := range entry {
		if !seen[k] {
			write(k, v)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// rawKey is the quoted key starting at off, as written.
func rawKey(data []byte, off int) []byte {
	for i := off + 1; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return data[off : i+1]
		}
	}
	return data[off:]
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && strings.IndexByte(" \t\r\n", data[i]) >= 0 {
		i++
	}
	return i
}

func prevNonSpace(data []byte, i int) int {
	for i--; i >= 0 && strings.IndexByte(" \t\r\n", data[i]) >= 0; i-- {
	}
	return i
}

// lineStart is the start of the line of off, when only spaces precede off
// on it; else off.
func lineStart(data []byte, off int) int {
	i := off
	for i > 0 && (data[i-1] == ' ' || data[i-1] == '\t') {
		i--
	}
	if i == 0 || data[i-1] == '\n' {
		return i
	}
	return off
}

// setSetting sets the value at keys, creating the objects on the way that
// are missing, at the end of the deepest one that exists.
func setSetting(data []byte, root *node, keys []string, value json.RawMessage) ([]byte, error) {
	obj := root
	for i, k := range keys {
		v := obj.get(k)
		if v == nil {
			// Build {"k": {"k2": value}} for what is missing.
			inner := value
			for j := len(keys) - 1; j > i; j-- {
				kb, _ := json.Marshal(keys[j])
				inner = json.RawMessage(`{` + string(kb) + `:` + string(inner) + `}`)
			}
			indent := memberIndent(data, obj)
			kb, _ := json.Marshal(k)
			closing := obj.end - 1
			at := prevNonSpace(data, closing) + 1
			var out bytes.Buffer
			out.Write(data[:at])
			if len(obj.members) > 0 {
				out.WriteString(",")
			}
			fmt.Fprintf(&out, "\n%s%s: %s\n%s", indent, kb, reindent(inner, indent), lineIndent(data, obj.off))
			out.Write(data[closing:])
			return out.Bytes(), nil
		}
		if i == len(keys)-1 {
			var out bytes.Buffer
			out.Write(data[:v.off])
			out.Write(value)
			out.Write(data[v.end:])
			return out.Bytes(), nil
		}
		if v.kind != kindObject {
			return nil, fmt.Errorf("%q is not an object", strings.Join(keys[:i+1], "."))
		}
		obj = v
	}
	return data, nil
}
