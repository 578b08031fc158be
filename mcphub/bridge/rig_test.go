package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/atomicfile"
	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/store"
	"github.com/mcptray/mcptray/mcphub/upstream"
	"github.com/mcptray/mcptray/oauth"
)

// rig is a hub with the bridge in front of it, served on loopback, and a
// real SQLite store for tokens and call records.
type rig struct {
	hub    *mcphub.Hub
	bridge *Bridge
	url    string // the bridge's base URL, http://127.0.0.1:PORT
	db     *store.Store
	sub    *status.Subscription
	path   string
}

type rigOptions struct {
	oauth *oauth.Manager
	open  oauth.Opener
	deaf  bool      // the bridge hears none of the hub's events, as if it were behind
	logs  io.Writer // also gets the log (warnings and worse)
}

// deafHub is a hub whose events never reach the bridge.
type deafHub struct{ *mcphub.Hub }

func (deafHub) Subscribe(buffer int) *status.Subscription { return status.NewBus().Subscribe(buffer) }

func newRig(t testing.TB, cfg string, ro rigOptions) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{path: filepath.Join(dir, "config.json")}
	if err := os.WriteFile(r.path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "mcptray.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.db = db
	var out io.Writer = os.Stderr
	if ro.logs != nil {
		out = io.MultiWriter(os.Stderr, ro.logs)
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r.bridge = New(Options{Logger: log, Version: "test", Tokens: db, Recorder: db, Usage: db, Open: ro.open,
		RequireToken: func() bool { return r.hub.Config().Hub.Bridge.RequireToken }})
	r.hub = mcphub.New(mcphub.Options{ConfigPath: r.path, Logger: log, OAuth: ro.oauth,
		Upstream: upstream.Options{Relay: r.bridge, Backoff: upstream.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond},
			ClientInfo: &mcp.Implementation{Name: "mcptray", Version: "test"}}})
	r.sub = r.hub.Subscribe(4096)
	if ro.deaf {
		r.bridge.Start(deafHub{r.hub})
	} else {
		r.bridge.Start(r.hub)
	}
	srv := httptest.NewServer(r.bridge.Handler()) // 127.0.0.1
	r.url = srv.URL
	t.Cleanup(func() {
		srv.Close()
		r.bridge.Close()
		r.sub.Close()
		r.hub.Close()
		db.Close()
	})
	if err := r.hub.Reload(); err != nil {
		t.Fatal(err)
	}
	return r
}

// wait reads hub events until every named server is in its state.
func (r *rig) wait(t testing.TB, want map[string]status.State) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		ok := true
		for _, v := range r.hub.Servers() {
			if w, named := want[v.ID]; named && v.Status.State != w {
				ok = false
			}
		}
		if ok {
			return
		}
		select {
		case <-r.sub.C:
		case <-deadline:
			t.Fatalf("servers did not reach %v: %+v", want, r.hub.Servers())
		}
	}
}

// bearer adds a client token to every request.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.base.RoundTrip(req)
}

// eras are the protocol versions an IDE may speak.
var eras = []string{"2025-11-25", "2026-07-28"}

// connectHTTP attaches a go-sdk client to the bridge at path (/mcp or
// /servers/NAME/mcp).
// token creates a client token named name, scoped to servers (none: all),
// and returns its secret.
func (r *rig) token(t testing.TB, name string, servers ...string) string {
	t.Helper()
	tok, _, err := r.db.CreateToken(context.Background(), name, servers, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (r *rig) connectHTTP(t testing.TB, path, token, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	return connectClient(t, r.httpTransport(path, token), version, opts)
}

// httpTransport reaches the bridge's endpoint at path with token.
func (r *rig) httpTransport(path, token string) mcp.Transport {
	return &mcp.StreamableClientTransport{Endpoint: r.url + path, MaxRetries: -1,
		HTTPClient: &http.Client{Transport: bearer{token, http.DefaultTransport}}}
}

// connectStream attaches a go-sdk client over JSON lines, as 'mcptray
// bridge' does (server "" for every server).
func (r *rig) connectStream(t testing.TB, server, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	return connectClient(t, r.streamTransport(t, server), version, opts)
}

// streamTransport is a JSON-lines connection to the bridge, served until
// the test ends.
func (r *rig) streamTransport(t testing.TB, server string) mcp.Transport {
	ide, hub := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.bridge.ServeStream(ctx, hub, server, "stdio")
		hub.Close()
	}()
	t.Cleanup(func() { cancel(); ide.Close(); <-done })
	return &mcp.IOTransport{Reader: ide, Writer: ide}
}

func connectClient(t testing.TB, tr mcp.Transport, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "ide", Version: "1"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, tr, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect (%s): %v", version, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// upstreamServer is an in-process go-sdk MCP server on loopback that
// counts the sessions opened on it.
type upstreamServer struct {
	*mcp.Server
	URL   string
	inits atomic.Int32
	close func()
}

func newUpstream(t *testing.T, name string) *upstreamServer {
	t.Helper()
	return newUpstreamWith(t, name, nil, nil)
}

// newModernUpstream is newUpstream served statelessly, which is how a
// go-sdk server speaks 2026-07-28 (a stateful one offers only the
// initialize era): it asks for input with input_required results.
func newModernUpstream(t *testing.T, name string) *upstreamServer {
	t.Helper()
	return newUpstreamWith(t, name, nil, &mcp.StreamableHTTPOptions{Stateless: true})
}

func newUpstreamWith(t *testing.T, name string, serverOpts *mcp.ServerOptions, opts *mcp.StreamableHTTPOptions) *upstreamServer {
	t.Helper()
	u := &upstreamServer{Server: mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, serverOpts)}
	u.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "initialize" {
				u.inits.Add(1)
			}
			return next(ctx, method, req)
		}
	})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return u.Server }, opts))
	u.URL = srv.URL + "/mcp"
	// Streams stay open (the hub's GET): cut them, or Close waits forever.
	u.close = func() { srv.CloseClientConnections(); srv.Close() }
	t.Cleanup(u.close)
	return u
}

// text is the first text content of a tool result.
func text(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			return tc.Text
		}
	}
	t.Fatalf("no text in %+v", res)
	return ""
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res
}

func toolNames(t *testing.T, cs *mcp.ClientSession) map[string]*mcp.Tool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string]*mcp.Tool{}
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		out[tool.Name] = tool
	}
	return out
}

func cfgServers(servers ...string) string {
	s := `{"hub": {"bridge": {"requireToken": false}}, "mcpServers": {`
	for i := 0; i+1 < len(servers); i += 2 {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%q: %s", servers[i], servers[i+1])
	}
	return s + "}}"
}

// startRawUpstream serves a minimal initialize-era MCP server by hand, for
// what no real server library will send: a tool whose input schema is not
// an object.
func startRawUpstream(t *testing.T) string {
	t.Helper()
	return startRawUpstreamWith(t, func(method string, _ json.RawMessage) (string, bool) {
		switch method {
		case "tools/list":
			return `{"tools":[` + oddTool + `]}`, true
		case "tools/call":
			return `{"content":[{"type":"text","text":"odd ok"}]}`, true
		}
		return "", false
	})
}

// startRawUpstreamWith serves a minimal initialize-era MCP server with
// tools whose results answer gives (initialize and ping are answered
// here); a method it does not answer (ok false) gets -32601.
func startRawUpstreamWith(t *testing.T, answer func(method string, params json.RawMessage) (result string, ok bool)) string {
	t.Helper()
	return serveByHand(t, func(w http.ResponseWriter, id json.RawMessage, method string, params json.RawMessage) {
		result, ok := "", true
		switch method {
		case "initialize":
			result = `{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"raw","version":"1"}}`
		case "ping":
			result = `{}`
		default:
			result, ok = answer(method, params)
		}
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"no"}}`, id)
			return
		}
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`, id, result)
	})
}

// serveByHand serves an MCP endpoint written by hand, for what no server
// library sends: POSTs only; a notification or response is accepted (202),
// and each request goes to respond, which writes the whole answer.
func serveByHand(t *testing.T, respond func(w http.ResponseWriter, id json.RawMessage, method string, params json.RawMessage)) string {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if msg.ID == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		respond(w, msg.ID, msg.Method, msg.Params)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/mcp"
}

func atomicWrite(path, content string) error {
	return atomicfile.WriteFile(path, []byte(content), 0o600)
}
