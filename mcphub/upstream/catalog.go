package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Item is one entry of a catalog: a tool, prompt, resource or resource
// template, kept as the server sent it.
type Item struct {
	// Key is what a request names the item by: the tool or prompt name, the
	// resource URI, or the template's URI template.
	Key         string
	Name        string
	Title       string
	Description string
	Raw         json.RawMessage // the item's JSON object, byte for byte
	// TaskOnly marks a tool that may only be called as a task:
	// execution.taskSupport "required" (2025-11-25). MCP Tray runs no
	// tasks, so such a tool cannot be called through it (LC-20).
	TaskOnly bool
}

// taskOnly reads a tool's execution.taskSupport; only a tool whose text
// names it is decoded.
func taskOnly(raw json.RawMessage) bool {
	if !bytes.Contains(raw, []byte(`"taskSupport"`)) {
		return false
	}
	var t struct {
		Execution struct {
			TaskSupport string `json:"taskSupport"`
		} `json:"execution"`
	}
	return json.Unmarshal(raw, &t) == nil && t.Execution.TaskSupport == "required"
}

// Callable is how many of the tools can be called through MCP Tray: those
// that need not run as a task.
func (c *Catalog) Callable() int {
	n := 0
	for _, t := range c.Tools {
		if !t.TaskOnly {
			n++
		}
	}
	return n
}

// Catalog is everything a server offers, as fetched after connecting and
// refreshed on list_changed. A Catalog is never modified once published.
type Catalog struct {
	Tools             []Item
	Prompts           []Item
	Resources         []Item
	ResourceTemplates []Item

	Instructions    string
	Capabilities    *mcp.ServerCapabilities
	ServerInfo      *mcp.Implementation
	ProtocolVersion string
	Fetched         time.Time
}

// catalogKind is one of the four lists.
type catalogKind int

const (
	kindTools catalogKind = iota
	kindPrompts
	kindResources
	kindTemplates
)

var allKinds = []catalogKind{kindTools, kindPrompts, kindResources, kindTemplates}

func (k catalogKind) method() string {
	return [...]string{"tools/list", "prompts/list", "resources/list", "resources/templates/list"}[k]
}

// resultField is the array member of the list result.
func (k catalogKind) resultField() string {
	return [...]string{"tools", "prompts", "resources", "resourceTemplates"}[k]
}

// offered reports whether the server declared the capability for k.
func (k catalogKind) offered(caps *mcp.ServerCapabilities) bool {
	if caps == nil {
		return false
	}
	switch k {
	case kindTools:
		return caps.Tools != nil
	case kindPrompts:
		return caps.Prompts != nil
	default:
		return caps.Resources != nil
	}
}

// maxPages bounds pagination against a server that hands out cursors forever.
const maxPages = 1000

// fetchList lists every page of one kind (LC-13: cursors are opaque and
// followed until absent). An empty nextCursor ends the list too, though
// 2026-07-28 calls "" a valid cursor: go-sdk decodes an absent one as ""
// and cannot send "" as a cursor (omitempty), so following it would ask
// for the first page again; and servers that send "" mean the end by it.
func fetchList(ctx context.Context, cs *mcp.ClientSession, capture *listCapture, k catalogKind) ([]Item, error) {
	var items []Item
	cursor := ""
	seen := map[string]bool{}
	for range maxPages {
		capture.begin()
		page, next, err := listPage(ctx, cs, k, cursor)
		raw, captured := capture.take(k.method())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.method(), err)
		}
		page = mergeRaw(k, page, raw, captured)
		if k == kindTools {
			for i := range page {
				page[i].TaskOnly = taskOnly(page[i].Raw)
			}
		}
		items = append(items, page...)
		if next == "" {
			return items, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("%s: the server returned cursor %q twice", k.method(), next)
		}
		seen[next] = true
		cursor = next
	}
	return nil, fmt.Errorf("%s: more than %d pages", k.method(), maxPages)
}

// listPage fetches one page through go-sdk, which also drops tools with
// invalid names or header annotations (TC-11). It returns the items as
// go-sdk decoded them, marshalled back, keyed for merging with the raw page.
func listPage(ctx context.Context, cs *mcp.ClientSession, k catalogKind, cursor string) ([]Item, string, error) {
	var out []Item
	add := func(key, name, title, desc string, v any) {
		raw, _ := json.Marshal(v)
		out = append(out, Item{Key: key, Name: name, Title: title, Description: desc, Raw: raw})
	}
	switch k {
	case kindTools:
		r, err := cs.ListTools(ctx, &mcp.ListToolsParams{Cursor: cursor})
		if err != nil {
			return nil, "", err
		}
		for _, t := range r.Tools {
			add(t.Name, t.Name, t.Title, t.Description, t)
		}
		return out, r.NextCursor, nil
	case kindPrompts:
		r, err := cs.ListPrompts(ctx, &mcp.ListPromptsParams{Cursor: cursor})
		if err != nil {
			return nil, "", err
		}
		for _, p := range r.Prompts {
			add(p.Name, p.Name, p.Title, p.Description, p)
		}
		return out, r.NextCursor, nil
	case kindResources:
		r, err := cs.ListResources(ctx, &mcp.ListResourcesParams{Cursor: cursor})
		if err != nil {
			return nil, "", err
		}
		for _, res := range r.Resources {
			add(res.URI, res.Name, res.Title, res.Description, res)
		}
		return out, r.NextCursor, nil
	default:
		r, err := cs.ListResourceTemplates(ctx, &mcp.ListResourceTemplatesParams{Cursor: cursor})
		if err != nil {
			return nil, "", err
		}
		for _, t := range r.ResourceTemplates {
			add(t.URITemplate, t.Name, t.Title, t.Description, t)
		}
		return out, r.NextCursor, nil
	}
}

// mergeRaw replaces each decoded item's JSON with the server's own bytes
// when the raw page was captured. Items go-sdk dropped stay dropped.
func mergeRaw(k catalogKind, page []Item, raw json.RawMessage, captured bool) []Item {
	if !captured {
		return page
	}
	var result map[string]json.RawMessage
	if json.Unmarshal(raw, &result) != nil {
		return page
	}
	var list []json.RawMessage
	if json.Unmarshal(result[k.resultField()], &list) != nil {
		return page
	}
	byKey := make(map[string]json.RawMessage, len(list))
	for _, it := range list {
		var id struct {
			Name        string `json:"name"`
			URI         string `json:"uri"`
			URITemplate string `json:"uriTemplate"`
		}
		if json.Unmarshal(it, &id) != nil {
			continue
		}
		key := id.Name
		switch k {
		case kindResources:
			key = id.URI
		case kindTemplates:
			key = id.URITemplate
		}
		byKey[key] = it
	}
	for i := range page {
		if r, ok := byKey[page[i].Key]; ok {
			page[i].Raw = r
		}
	}
	return page
}

// fetchCatalog lists every kind the server offers. A list it declared
// but does not serve is empty (see notServed); any other failure fails.
func fetchCatalog(ctx context.Context, cs *mcp.ClientSession, capture *listCapture, log *slog.Logger) (*Catalog, error) {
	init := cs.InitializeResult()
	cat := &Catalog{Fetched: time.Now()}
	if init != nil {
		cat.Instructions = init.Instructions
		cat.Capabilities = init.Capabilities
		cat.ServerInfo = init.ServerInfo
		cat.ProtocolVersion = init.ProtocolVersion
	}
	for _, k := range allKinds {
		err := cat.refresh(ctx, cs, capture, k)
		if notServed(err) {
			log.Info("upstream does not serve a list it declared; taking it as empty", "list", k.method())
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	return cat, nil
}

// notServed reports whether err is a list answered "method not found":
// Python's low-level servers declare resources and answer
// resources/templates/list so when they have no templates.
func notServed(err error) bool {
	var werr *jsonrpc.Error
	return errors.As(err, &werr) && werr.Code == jsonrpc.CodeMethodNotFound
}

// refresh fetches one kind into cat (which must not be published yet).
func (cat *Catalog) refresh(ctx context.Context, cs *mcp.ClientSession, capture *listCapture, k catalogKind) error {
	if !k.offered(cat.Capabilities) {
		return nil
	}
	items, err := fetchList(ctx, cs, capture, k)
	if err != nil {
		return err
	}
	*cat.list(k) = items
	return nil
}

func (cat *Catalog) list(k catalogKind) *[]Item {
	switch k {
	case kindTools:
		return &cat.Tools
	case kindPrompts:
		return &cat.Prompts
	case kindResources:
		return &cat.Resources
	default:
		return &cat.ResourceTemplates
	}
}
