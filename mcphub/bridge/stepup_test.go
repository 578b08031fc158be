package bridge

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/oauth"
	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// A connected server refuses one tool for want of scope (403
// insufficient_scope, AUTH-31). The IDE is told what to do, in words; the
// server stays connected with its tools listed, its status carries the
// challenge (the window's key icon), and the sign-in tool is listed
// beside its tools. Calling that tool signs in for the union of scopes,
// and the refused tool then works.
func TestStepUpFromTheIDE(t *testing.T) {
	as := oauthtest.NewServer(oauthtest.Options{
		StepUp:          map[string]string{"admin": "mcp:admin"},
		ScopesSupported: []string{"mcp:read", "mcp:admin", "offline_access"},
		ChallengeScope:  "mcp:read",
	})
	t.Cleanup(as.Close)
	r, opened := signInRig(t, as)
	approve := func() {
		t.Helper()
		select {
		case u := <-opened:
			resp, err := http.Get(u) // the test server consents at once
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		case <-time.After(30 * time.Second):
			t.Fatal("the sign-in page was not opened")
		}
	}
	changed := make(chan struct{}, 8)
	cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} }})
	callTool(t, cs, "secure__sign_in", nil)
	approve()
	r.wait(t, map[string]status.State{"secure": status.Connected})

	res := callTool(t, cs, "secure__admin", nil)
	if msg := text(t, res); !res.IsError || !strings.Contains(msg, "more permissions") || !strings.Contains(msg, "secure__sign_in") {
		t.Fatalf("a tool refused for want of scope: isError %v, %q", res.IsError, msg)
	}
	st := serverStatus(r, "secure")
	if !st.WantsStepUp() || st.Challenge.Error != "insufficient_scope" || !strings.Contains(st.Challenge.Scope, "mcp:admin") {
		t.Fatalf("the status does not carry the step-up: %+v", st)
	}
	var tools map[string]*mcp.Tool
	for deadline := time.After(30 * time.Second); ; {
		if tools = toolNames(t, cs); tools["secure__sign_in"] != nil {
			break
		}
		select { // the IDE hears list_changed once the status changed
		case <-changed:
		case <-deadline:
			t.Fatalf("no sign-in tool was listed: %v", keys(tools))
		}
	}
	if tools["secure__sign_in"] == nil || tools["secure__admin"] == nil || tools["secure__whoami"] == nil {
		t.Fatalf("with a step-up wanted the IDE sees %v, want the tools and secure__sign_in", keys(tools))
	}
	callTool(t, cs, "secure__sign_in", nil)
	approve()
	// The server stayed connected all along: wait for the new session,
	// which no longer wants a step-up.
	for deadline := time.After(60 * time.Second); ; {
		if st := serverStatus(r, "secure"); st.State == status.Connected && !st.WantsStepUp() {
			break
		}
		select {
		case <-r.sub.C:
		case <-deadline:
			t.Fatalf("after the step-up sign-in the status still wants one: %+v", serverStatus(r, "secure"))
		}
	}
	if res := callTool(t, cs, "secure__admin", nil); res.IsError || text(t, res) != "done with mcp:admin" {
		t.Errorf("after the step-up: isError %v, %q", res.IsError, text(t, res))
	}
}

// signInRig is a rig whose one server, "secure", is served by as and
// needs sign-in; the hub's sign-ins open their pages into opened.
func signInRig(t *testing.T, as *oauthtest.Server) (*rig, <-chan string) {
	t.Helper()
	var hub interface{ OnAuthEvent(string, oauth.Event) }
	m := oauth.NewManager(oauth.Config{Store: oauth.NewMemoryStore(), EphemeralCallbackPort: true,
		OnEvent: func(s string, e oauth.Event) { hub.OnAuthEvent(s, e) }})
	t.Cleanup(m.Close)
	opened := make(chan string, 4)
	r := newRig(t, cfgServers("secure", fmt.Sprintf(`{"url": %q}`, as.URL())), rigOptions{oauth: m,
		open: func(_ context.Context, authURL string) error { opened <- authURL; return nil }})
	hub = r.hub
	r.wait(t, map[string]status.State{"secure": status.NeedsAuth})
	return r, opened
}
