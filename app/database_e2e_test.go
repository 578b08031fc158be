package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/store"
)

// A database file the hub cannot open for writing at start: the hub says
// so and why, keeps bridging, retries, and once the file is writable again
// opens it and records the calls made after that.
func TestUnwritableDatabaseAtStart(t *testing.T) {
	u, port := everythingUser(t, false)
	db := filepath.Join(u.dir, "data", "mcptray", "mcptray.db")
	s, err := store.Open(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	as := unprivileged(t, u)
	if err := os.Chmod(db, 0o400); err != nil {
		t.Fatal(err)
	}

	h := u.startAs(t, as, nil, "serve")
	// Waited for as the hub's user: a client trusts only a runtime folder
	// of its own user's (and this test runs as another).
	if out, errOut, code := u.runAs(t, as, "status", "--wait", "connected"); code != 0 {
		t.Fatalf("ev did not connect: exit %d\n%s%s", code, out, errOut)
	}
	if out := h.output(); !strings.Contains(out, "database unavailable") ||
		!strings.Contains(out, "open database "+db+": permission denied") {
		t.Errorf("the hub did not say the database cannot be opened, and why:\n%s", out)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d/mcp", port)
	callSimpleText(t, base, 1) // bridged without a database
	if _, errOut, code := u.runAs(t, as, "stats"); code == 0 || !strings.Contains(errOut, db+": permission denied") {
		t.Errorf("stats with an unwritable database: exit %d: %s", code, errOut)
	}

	if err := os.Chmod(db, 0o600); err != nil {
		t.Fatal(err)
	}
	// The hub retries after 1 s, doubling up to 30 s.
	deadline := time.Now().Add(45 * time.Second)
	for !strings.Contains(h.output(), "database available again; recording resumes") {
		if time.Now().After(deadline) {
			t.Fatalf("the database was not opened once writable:\n%s", h.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	callSimpleText(t, base, 2)
	usage := untilStats(t, func(args ...string) (string, string, int) { return u.runAs(t, as, args...) },
		func(u *store.Usage) bool { return u.Totals.Calls >= 2 })
	if len(usage.Clients) != 1 || usage.Clients[0].Client != "anonymous" || usage.Servers[0].Tools[0].Name != "test_simple_text" {
		t.Errorf("stats after the database opened: %+v", usage)
	}
	if strings.Contains(h.output(), "panic") {
		t.Errorf("the hub panicked:\n%s", h.output())
	}
}

// callSimpleText calls ev's test_simple_text n times through the HTTP
// bridge, without a token.
func callSimpleText(t *testing.T, endpoint string, n int) {
	t.Helper()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "ide", Version: "1"}, nil).
		Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: endpoint}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	for range n {
		if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "ev__test_simple_text", Arguments: map[string]any{}}); err != nil {
			t.Fatal(err)
		}
	}
}

// untilStats runs 'mcptray stats --json' until ok holds: the hub commits
// its records in batches, off the request path.
func untilStats(t *testing.T, run func(args ...string) (string, string, int), ok func(*store.Usage) bool) *store.Usage {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, errOut, code := run("stats", "--json")
		var usage store.Usage
		if code == 0 && json.Unmarshal([]byte(out), &usage) == nil && ok(&usage) {
			return &usage
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats --json: exit %d: %s %s", code, out, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// unprivileged is who runs the hub and its commands in a test that needs a
// file mode to deny access: root, whom modes do not stop, hands the test's
// folders to nobody and runs them as nobody; anyone else runs as themself
// (nil).
func unprivileged(t *testing.T, u *userEnv) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	const nobody = 65534
	err := filepath.WalkDir(u.dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The folders above: nobody must get through to its home and binaries.
	for _, dir := range []string{filepath.Dir(u.dir), filepath.Dir(binPath)} {
		if err := os.Chmod(dir, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return &syscall.Credential{Uid: nobody, Gid: nobody}
}

// Call records older than hub.bridge.recordDays are deleted when the hub
// starts, and again when an edit shortens the retention while it runs;
// those within it are kept.
func TestOldCallRecordsArePruned(t *testing.T) {
	u := newUserEnv(t)
	port, callback := testpeers.FreePort(t), testpeers.FreePort(t)
	config := func(days int) string {
		return fmt.Sprintf(`{"hub": {"bridge": {"port": %d, "recordDays": %d}, "oauth": {"callbackPort": %d}}, "mcpServers": {}}`,
			port, days, callback)
	}
	u.writeConfig(t, config(100))
	s, err := store.Open(filepath.Join(u.dir, "data", "mcptray", "mcptray.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, age := range []int{200, 80, 20} { // days
		s.RecordCall(store.Call{Time: time.Now().AddDate(0, 0, -age), Client: "ide", Server: "s", Method: "tools/call",
			Item: fmt.Sprintf("t%d", age), Duration: time.Millisecond, Outcome: store.OutcomeOK})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	kept := func(args ...string) (string, string, int) { return u.run(t, append(args, "--days", "3650")...) }
	tools := func(usage *store.Usage) []string {
		var out []string
		for _, srv := range usage.Servers {
			for _, tool := range srv.Tools {
				out = append(out, tool.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	if usage := untilStats(t, kept, func(u *store.Usage) bool { return u.Totals.Calls == 3 }); len(tools(usage)) != 3 {
		t.Fatalf("before the hub ran: %v", tools(usage))
	}

	u.serve(t)
	usage := untilStats(t, kept, func(u *store.Usage) bool { return u.Totals.Calls == 2 })
	if got := tools(usage); !slices.Equal(got, []string{"t20", "t80"}) {
		t.Errorf("after start with 100 days kept: %v, want t20 and t80", got)
	}
	u.writeConfig(t, config(30))
	usage = untilStats(t, kept, func(u *store.Usage) bool { return u.Totals.Calls == 1 })
	if got := tools(usage); !slices.Equal(got, []string{"t20"}) {
		t.Errorf("after the edit to 30 days: %v, want t20", got)
	}
}
