package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
)

// A schema that go-sdk's map[string]any round trip would change: keys out
// of order and an integer beyond float64 precision.
const oddSchema = `{"type":"object","properties":{"z":{"type":"integer","maximum":9007199254740993},"a":{"type":"string"}},"$defs":{"x":{"type":"null"}},"additionalProperties":false,"$schema":"https://json-schema.org/draft/2020-12/schema"}`

func schemaServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "schema-test", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "odd", Description: "d", InputSchema: json.RawMessage(oddSchema)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
	return s
}

func waitConnected(t *testing.T, c *Conn, events <-chan status.Status) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case st := <-events:
			if st.State == status.Connected {
				return
			}
			if st.State == status.Error || st.State == status.NeedsAuth {
				t.Fatalf("state %s: %s", st.State, st.Reason)
			}
		case <-timeout:
			t.Fatalf("not connected: %+v", c.Status())
		}
	}
}

func TestCatalogKeepsSchemaBytes(t *testing.T) {
	streamable := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return schemaServer() }, nil))
	defer streamable.Close()
	sse := httptest.NewServer(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return schemaServer() }, nil))
	defer sse.Close()

	for _, tc := range []struct {
		name string
		srv  config.Server
	}{
		{"streamable", config.Server{ID: "s", Transport: config.TransportHTTP, URL: streamable.URL, Timeout: 10 * time.Second}},
		{"streamable-legacy-version", config.Server{ID: "s", Transport: config.TransportHTTP, URL: streamable.URL, Timeout: 10 * time.Second, ProtocolVersion: "2025-06-18"}},
		{"sse", config.Server{ID: "s", Transport: config.TransportSSE, URL: sse.URL, Timeout: 10 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := make(chan status.Status, 100)
			c := Start(tc.srv, Options{OnStatus: func(s status.Status) { events <- s }})
			defer c.Stop()
			waitConnected(t, c, events)
			tools := c.Catalog().Tools
			if len(tools) != 1 {
				t.Fatalf("tools = %d", len(tools))
			}
			var tool struct {
				InputSchema json.RawMessage `json:"inputSchema"`
			}
			if err := json.Unmarshal(tools[0].Raw, &tool); err != nil {
				t.Fatal(err)
			}
			if string(tool.InputSchema) != oddSchema {
				t.Errorf("schema changed in transit:\n got %s\nwant %s", tool.InputSchema, oddSchema)
			}
		})
	}
}

func TestEventEnd(t *testing.T) {
	for in, want := range map[string]int{
		"data: x\n\nrest": 8, "data: x\r\n\r\n": 9, "data: x\r\rz": 8, "data: x\n": -1,
	} {
		if end, _ := eventEnd([]byte(in)); end != want {
			t.Errorf("eventEnd(%q) = %d, want %d", in, end, want)
		}
	}
	if !strings.Contains(oddSchema, "9007199254740993") {
		t.Fatal("bad fixture")
	}
}

// Every page is fetched (LC-13), and raw bytes are kept page by page.
func TestCatalogFetchesAllPages(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "pager", Version: "1"}, &mcp.ServerOptions{PageSize: 2})
	for i := range 7 {
		s.AddTool(&mcp.Tool{Name: fmt.Sprintf("t%d", i), InputSchema: json.RawMessage(oddSchema)},
			func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{}, nil
			})
		s.AddResource(&mcp.Resource{URI: fmt.Sprintf("test://r/%d", i), Name: fmt.Sprintf("r%d", i)},
			func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) { return nil, nil })
	}
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	defer srv.Close()
	events := make(chan status.Status, 100)
	c := Start(config.Server{ID: "p", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 10 * time.Second},
		Options{OnStatus: func(s status.Status) { events <- s }})
	defer c.Stop()
	waitConnected(t, c, events)
	cat := c.Catalog()
	if len(cat.Tools) != 7 || len(cat.Resources) != 7 {
		t.Fatalf("got %d tools, %d resources; want 7 each over 4 pages", len(cat.Tools), len(cat.Resources))
	}
	for _, tool := range cat.Tools {
		if !strings.Contains(string(tool.Raw), oddSchema) {
			t.Errorf("%s: raw schema lost: %s", tool.Key, tool.Raw)
		}
	}
}

// A tool added upstream reaches the catalog through list_changed, in both
// eras: on the session's stream (initialize era) and through
// subscriptions/listen (2026-07-28).
func TestListChangedRefreshesCatalog(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stateless bool
		version   string
	}{
		{"initialize era", false, "2025-11-25"},
		{"2026-07-28", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := schemaServer()
			srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
				&mcp.StreamableHTTPOptions{Stateless: tc.stateless}))
			defer srv.Close()
			events := make(chan status.Status, 100)
			catalogs := make(chan *Catalog, 10)
			c := Start(config.Server{ID: "lc", Transport: config.TransportHTTP, URL: srv.URL, Timeout: 10 * time.Second, ProtocolVersion: tc.version},
				Options{OnStatus: func(s status.Status) { events <- s }, OnCatalog: func(_ string, cat *Catalog) { catalogs <- cat }})
			defer c.Stop()
			waitConnected(t, c, events)
			<-catalogs
			if tc.version == "" && c.Status().ProtocolVersion != "2026-07-28" {
				t.Fatalf("protocol %s", c.Status().ProtocolVersion)
			}
			s.AddTool(&mcp.Tool{Name: "added_later", InputSchema: json.RawMessage(`{"type":"object"}`)},
				func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					return &mcp.CallToolResult{}, nil
				})
			select {
			case cat := <-catalogs:
				if len(cat.Tools) != 2 || c.Status().Counts.Tools != 2 {
					t.Errorf("after list_changed: %d tools in catalog, status says %d", len(cat.Tools), c.Status().Counts.Tools)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the catalog was not refreshed after list_changed")
			}
		})
	}
}
