package oauthtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type tokenInfoKey struct{}

// mcpHandler is the protected MCP server: a go-sdk server behind a bearer
// check that answers as RFC 6750 and RFC 9728 say.
func (s *Server) mcpHandler() http.Handler {
	server := mcp.NewServer(&mcp.Implementation{Name: "oauthtest-mcp", Version: "1.0.0"}, nil)
	type echoArgs struct {
		Message string `json:"message" jsonschema:"the text to send back"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Returns the message."},
		func(_ context.Context, _ *mcp.CallToolRequest, a echoArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo: " + a.Message}}}, nil, nil
		})
	type addArgs struct {
		A float64 `json:"a"`
		B float64 `json:"b"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "add", Description: "Adds two numbers."},
		func(_ context.Context, _ *mcp.CallToolRequest, a addArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprint(a.A + a.B)}}}, nil, nil
		})
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Says which client and scopes the token carries."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			t, _ := ctx.Value(tokenInfoKey{}).(token)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("client %s, scope %q", t.clientID, t.scope)}}}, nil, nil
		})
	for name, scope := range s.opts.StepUp {
		mcp.AddTool(server, &mcp.Tool{Name: name, Description: "Needs the " + scope + " scope."},
			func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done with " + scope}}}, nil, nil
			})
	}
	streamable := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		resource := s.URL()
		switch {
		case s.opts.PRMResource != "":
			resource = s.opts.PRMResource
		case s.opts.PRMResourceFor != nil:
			resource = s.opts.PRMResourceFor(s.URL())
		}
		servers := []string{s.Issuer}
		if s.opts.NoAuthorizationServers {
			servers = []string{}
		}
		s.mu.Lock()
		if s.asMoved != nil {
			servers = s.asMoved
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"resource":                 resource,
			"authorization_servers":    servers,
			"scopes_supported":         s.opts.ScopesSupported,
			"bearer_methods_supported": []string{"header"},
			"resource_name":            "oauthtest MCP server",
		})
	})
	mux.Handle("/mcp", s.requireToken(streamable))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.unserved = append(s.unserved, r.URL.Path)
		s.mu.Unlock()
		http.NotFound(w, r)
	})
	return mux
}

// challengeMetadataURL is the resource_metadata the challenges name.
func (s *Server) challengeMetadataURL() string {
	if s.opts.ChallengeMetadataPath != "" {
		return s.mcpBase + s.opts.ChallengeMetadataPath
	}
	return s.ResourceMetadataURL()
}

func (s *Server) challenge(extra string) string {
	h := fmt.Sprintf(`Bearer resource_metadata=%q`, s.challengeMetadataURL())
	if s.opts.ChallengeScope != "" {
		h += fmt.Sprintf(`, scope=%q`, s.opts.ChallengeScope)
	}
	return h + extra
}

func (s *Server) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.count(func(c *Counts) { c.MCPRequests++ })
		value, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || value == "" {
			s.count(func(c *Counts) { c.MCPUnauthenticated++ })
			w.Header().Set("WWW-Authenticate", s.challenge(""))
			http.Error(w, "sign-in required", http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		t := s.access[value]
		valid := t != nil && s.now().Before(t.expires) && !s.families[t.family] && t.resource == s.URL() && !s.rejectAll.Load()
		var tok token
		if t != nil {
			tok = *t
		}
		s.mu.Unlock()
		if !valid {
			s.count(func(c *Counts) { c.MCPUnauthenticated++ })
			w.Header().Set("WWW-Authenticate", s.challenge(`, error="invalid_token", error_description="the access token is invalid or expired"`))
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		if len(s.opts.StepUp) > 0 && r.Method == http.MethodPost {
			body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
			r.Body = io.NopCloser(bytes.NewReader(body))
			var msg struct {
				Method string `json:"method"`
				Params struct {
					Name string `json:"name"`
				} `json:"params"`
			}
			if json.Unmarshal(body, &msg) == nil && msg.Method == "tools/call" {
				if need, ok := s.opts.StepUp[msg.Params.Name]; ok && !slices.Contains(strings.Fields(tok.scope), need) {
					scopes := strings.Join(append(strings.Fields(tok.scope), need), " ")
					w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope=%q, resource_metadata=%q`,
						scopes, s.challengeMetadataURL()))
					http.Error(w, "insufficient scope", http.StatusForbidden)
					return
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenInfoKey{}, tok)))
	})
}
