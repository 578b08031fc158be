package oauth

import (
	"context"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// Step-ups for different tools, each granted its scope, are not a loop:
// the fourth tool's step-up works like the first.
func TestGrantedStepUpsDoNotAddUp(t *testing.T) {
	tools := map[string]string{"t1": "s1", "t2": "s2", "t3": "s3", "t4": "s4"}
	srv := oauthtest.NewServer(oauthtest.Options{
		StepUp:          tools,
		ScopesSupported: []string{"mcp:read", "s1", "s2", "s3", "s4", "offline_access"},
		ChallengeScope:  "mcp:read",
	})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "tools", URL: srv.URL()})
	ctx := context.Background()
	if _, err := connect(ctx, srv, c); err == nil { // meets the 401 and its scope
		t.Fatal("connected without signing in")
	}
	signIn(t, c, &browserFollower{})
	for _, tool := range []string{"t1", "t2", "t3", "t4"} {
		cs, err := connect(ctx, srv, c)
		if err != nil {
			t.Fatal(err)
		}
		_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{}})
		cs.Close()
		if err == nil {
			t.Fatalf("%s worked before its step-up", tool)
		}
		if err := c.SignIn(ctx, SignInOptions{Open: (&browserFollower{}).open}); err != nil {
			t.Fatalf("step-up for %s: %v", tool, err)
		}
		if got := srv.LastScope(); !strings.Contains(" "+got+" ", " "+tools[tool]+" ") {
			t.Errorf("step-up for %s asked for %q", tool, got)
		}
	}
}

// AUTH-19: the scope a 401 asks for is authoritative; scopes set in the
// config are requested with it, not instead of it.
func TestConfiguredScopesDoNotReplaceTheChallengedOnes(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{ChallengeScope: "mcp:write"})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "configured", URL: srv.URL(), Scopes: []string{"mcp:read"}})
	if _, err := connect(context.Background(), srv, c); err == nil { // meets the 401 and its scope
		t.Fatal("connected without signing in")
	}
	signIn(t, c, &browserFollower{})
	if got, want := srv.LastScope(), "mcp:read mcp:write offline_access"; got != want {
		t.Errorf("scope requested = %q, want %q", got, want)
	}
	if got := strings.Join(c.Info().Scopes, " "); got != "mcp:read mcp:write offline_access" {
		t.Errorf("scopes granted = %q", got)
	}
}
