package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/upstream"
	"github.com/mcptray/mcptray/oauth"
)

// conformanceCIMD is the Client ID Metadata Document URL the conformance
// suite expects (auth/basic-cimd).
const conformanceCIMD = "https://conformance-test.local/client-metadata.json"

// runConformanceClient is the hidden 'mcptray conformance-client URL': the
// client side of the official MCP conformance suite runs it once per
// scenario. It drives the real upstream connector and OAuth code, with an
// in-memory token store and a "browser" that follows the authorization URL.
func runConformanceClient(env *cliEnv, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, "usage: MCP_CONFORMANCE_SCENARIO=NAME mcptray conformance-client URL")
		return exitUsage
	}
	serverURL := args[len(args)-1]
	scenario := os.Getenv("MCP_CONFORMANCE_SCENARIO")
	var cctx map[string]any
	if raw := os.Getenv("MCP_CONFORMANCE_CONTEXT"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &cctx); err != nil {
			fmt.Fprintf(env.stderr, "MCP_CONFORMANCE_CONTEXT is not JSON: %v\n", err)
			return exitUsage
		}
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := conformanceScenario(ctx, log, serverURL, scenario, cctx); err != nil {
		fmt.Fprintf(env.stderr, "scenario %s: %v\n", scenario, err)
		return exitFail
	}
	return exitOK
}

func conformanceScenario(ctx context.Context, log *slog.Logger, serverURL, scenario string, cctx map[string]any) error {
	m := oauth.NewManager(oauth.Config{
		Store: oauth.NewMemoryStore(), Logger: log, EphemeralCallbackPort: true,
		ClientMetadataURL: conformanceCIMD, ClientName: "MCP Tray conformance client",
	})
	defer m.Close()
	sc := oauth.ServerConfig{ID: "conformance", URL: serverURL}
	sc.ClientID, _ = cctx["client_id"].(string)
	sc.ClientSecret, _ = cctx["client_secret"].(string)
	auth := m.Client(sc)
	srv := config.Server{ID: "conformance", Name: "conformance", Transport: config.TransportHTTP, URL: serverURL, Timeout: 30 * time.Second}
	elicit := func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		// Accept with no content: the client fills the schema's defaults
		// (elicitation-sep1034-client-defaults).
		return &mcp.ElicitResult{Action: "accept", Content: map[string]any{}}, nil
	}
	if scenario == "sep-2322-client-request-state" {
		elicit = func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirmed": true}}, nil
		}
	}
	opts := upstream.Options{
		Logger: log, Auth: auth, ElicitationHandler: elicit,
		ClientInfo: &mcp.Implementation{Name: "mcptray-conformance", Version: "1.0.0"},
	}

	// Connect, signing in when the server asks.
	var sess *upstream.Session
	dial := func() error {
		for attempt := 0; ; attempt++ {
			var err error
			sess, err = upstream.Dial(ctx, srv, opts)
			var na *upstream.NeedsAuthError
			// A second sign-in covers a server that moved to another
			// authorization server after the first (SEP-2352).
			if !errors.As(err, &na) || attempt > 1 {
				return err
			}
			if err := signInHeadless(ctx, auth, na); err != nil {
				return err
			}
		}
	}
	if err := dial(); err != nil {
		return err
	}
	defer func() { sess.Close() }()

	// call calls a tool; a 403 for more scope signs in again for the union
	// of scopes and retries, at most three times (AUTH-31, AUTH-32).
	call := func(name string, args any) error {
		for range 4 {
			_, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
			var na *oauth.NeedsAuthError
			if !errors.As(err, &na) {
				return err
			}
			if err := auth.SignIn(ctx, oauth.SignInOptions{Open: followAuthorization}); err != nil {
				return err
			}
			sess.Close()
			if err := dial(); err != nil {
				return err
			}
		}
		return errors.New("the server kept asking for more scope")
	}
	tools := sess.Catalog.Tools
	has := func(name string) bool {
		return slices.ContainsFunc(tools, func(i upstream.Item) bool { return i.Key == name })
	}

	switch scenario {
	case "tools_call":
		return call("add_numbers", map[string]any{"a": 5, "b": 3})
	case "sse-retry":
		return call("test_reconnection", map[string]any{})
	case "elicitation-sep1034-client-defaults":
		return call("test_client_elicitation_defaults", map[string]any{})
	case "json-schema-2020-12-preservation":
		// Echo the focal tool's inputSchema as the catalog holds it: the
		// server's own bytes.
		for _, t := range tools {
			if t.Key == "json_schema_2020_12_tool" {
				var tool struct {
					InputSchema json.RawMessage `json:"inputSchema"`
				}
				if err := json.Unmarshal(t.Raw, &tool); err != nil {
					return err
				}
				return call("json_schema_echo", map[string]any{"schema": tool.InputSchema})
			}
		}
		return errors.New("json_schema_2020_12_tool is not offered")
	case "sep-2322-client-request-state":
		for _, name := range []string{"test_mrtr_echo_state", "test_mrtr_no_state", "test_mrtr_unrelated", "test_mrtr_no_result_type"} {
			if err := call(name, map[string]any{}); err != nil {
				log.Info("call refused (expected for some of these)", "tool", name, "err", err)
			}
		}
		return nil
	case "http-standard-headers":
		if len(tools) > 0 {
			_ = call(tools[0].Key, map[string]any{})
		}
		if res := sess.Catalog.Resources; len(res) > 0 {
			_, _ = sess.ReadResource(ctx, &mcp.ReadResourceParams{URI: res[0].Key})
		}
		if pr := sess.Catalog.Prompts; len(pr) > 0 {
			_, _ = sess.GetPrompt(ctx, &mcp.GetPromptParams{Name: pr[0].Key, Arguments: map[string]string{}})
		}
		return nil
	case "http-custom-headers":
		calls, _ := cctx["toolCalls"].([]any)
		for _, c := range calls {
			obj, _ := c.(map[string]any)
			name, _ := obj["name"].(string)
			args, _ := obj["arguments"].(map[string]any)
			if args == nil {
				args = map[string]any{}
			}
			if err := call(name, args); err != nil {
				log.Info("call failed", "tool", name, "err", err)
			}
		}
		return nil
	case "http-invalid-tool-headers":
		// go-sdk drops tools with invalid header annotations (TC-11); call
		// every survivor.
		for _, t := range tools {
			if err := call(t.Key, map[string]any{"region": "us-west1"}); err != nil {
				log.Info("call refused", "tool", t.Key, "err", err)
			}
		}
		return nil
	}
	if has("test-tool") { // the auth scenarios
		return call("test-tool", map[string]any{})
	}
	return nil // initialize, request-metadata, json-schema-ref-no-deref: connecting and listing was the test
}

func signInHeadless(ctx context.Context, c *oauth.Client, na *upstream.NeedsAuthError) error {
	ch := &oauth.Challenge{Status: na.Challenge.Status, ResourceMetadata: na.Challenge.ResourceMetadata,
		Scope: na.Challenge.Scope, Error: na.Challenge.Error}
	return c.SignIn(ctx, oauth.SignInOptions{Open: followAuthorization, Challenge: ch})
}

// followAuthorization is a headless browser: it loads the authorization
// URL (after the same safety check a real browser open gets) and follows
// the redirect to the loopback callback.
func followAuthorization(ctx context.Context, authURL string) error {
	if err := oauth.CheckBrowserURL(authURL); err != nil {
		return err
	}
	go func() {
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, authURL, nil)
		if err != nil {
			return
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	return nil
}
