//go:build soak

package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/atomicfile"
	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// TestSoak (make soak: an hour; make test: 5 minutes, MCPTRAY_SOAK) runs a
// hub with 3 upstreams (npm server-everything, the go-sdk fixture, and an
// OAuth-protected server with 60 s tokens and rotating refresh tokens), 8
// IDE sessions calling continuously through the HTTP bridge, a config edit
// every minute and a restart of server-everything every 10 minutes (both
// scaled down for shorter runs). It fails on a lost call outside a
// restart, on memory or goroutines that keep growing, and on a refresh
// token used twice.
func TestSoak(t *testing.T) {
	total, err := time.ParseDuration(os.Getenv("MCPTRAY_SOAK"))
	if err != nil || total < time.Minute {
		t.Fatalf("set MCPTRAY_SOAK to a duration of a minute or more (make soak does): %q", os.Getenv("MCPTRAY_SOAK"))
	}
	editEvery, restartEvery := time.Minute, 10*time.Minute
	if total < 30*time.Minute {
		editEvery, restartEvery = total/10, total/3
	}

	everythingPort := testpeers.FreePort(t)
	startEverything := func() *testpeers.Process {
		cmd := exec.Command(testpeers.Node(t), testpeers.ServerEverythingScript(t), "streamableHttp")
		cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(everythingPort))
		return testpeers.Start(t, cmd, regexp.MustCompile(`(?i)listening on port|running on port`))
	}
	everything := startEverything()
	fixture := testpeers.StartEverythingHTTP(t)
	secure := oauthtest.NewServer(oauthtest.Options{TokenLifetime: 60 * time.Second})
	defer secure.Close()

	u := newUserEnv(t)
	port := testpeers.FreePort(t)
	config := func(level string) string {
		return fmt.Sprintf(`{"hub": {"logLevel": %q, "bridge": {"port": %d}, "oauth": {"callbackPort": %d}},
 "mcpServers": {"everything": {"url": "http://127.0.0.1:%d/mcp"}, "fixture": {"url": %q}, "secure": {"url": %q}}}`,
			level, port, port+1, everythingPort, fixture.URL, secure.URL())
	}
	u.writeConfig(t, config("info"))
	hub := u.serve(t)
	w := u.watch(t)
	w.until(t, "secure needs sign-in, the others connected", func(st *control.StatusResponse) bool {
		n := 0
		for _, s := range st.Servers {
			if s.Status.State == "connected" || s.ID == "secure" && s.Status.State == "needs_auth" {
				n++
			}
		}
		return n == 3
	})
	u.signInNoBrowser(t, "secure")
	out, _, _ := u.run(t, "token", "create", "soak")
	token := strings.TrimSpace(out)

	// Calls fail only while server-everything restarts.
	var restarting atomic.Bool
	var ok, lost, excused atomic.Int64
	var problems sync.Map
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	tools := []struct {
		name string
		args map[string]any
	}{
		{"everything__echo", map[string]any{"message": "soak"}},
		{"fixture__test_simple_text", map[string]any{}},
		{"secure__echo", map[string]any{"message": "soak"}},
	}
	for i := range 8 {
		cs := httpSession(t, fmt.Sprintf("http://127.0.0.1:%d/mcp", port), token, "")
		wg.Go(func() {
			for n := i; ctx.Err() == nil; n++ {
				tool := tools[n%len(tools)]
				callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
				res, err := cs.CallTool(callCtx, &mcp.CallToolParams{Name: tool.name, Arguments: tool.args})
				cancel()
				switch {
				case ctx.Err() != nil:
				case err == nil && !res.IsError:
					ok.Add(1)
				case restarting.Load() && strings.HasPrefix(tool.name, "everything__"):
					excused.Add(1)
				default:
					lost.Add(1)
					msg := fmt.Sprint(err)
					if res != nil {
						for _, c := range res.Content {
							if tc, ok := c.(*mcp.TextContent); ok {
								msg = tc.Text
							}
						}
					}
					problems.Store(tool.name+": "+msg, true)
				}
			}
		})
	}

	// The hub's memory and goroutines, every minute (or tenth of the run).
	type sample struct {
		rss        float64
		goroutines int
	}
	var samples []sample
	measure := func() sample {
		st, err := w.client.Status(context.Background())
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		return sample{rss: processRSS(hub.cmd.Process.Pid), goroutines: st.Hub.Goroutines}
	}
	every := min(time.Minute, total/10)
	began := time.Now()
	nextEdit, nextRestart, nextSample := began.Add(editEvery), began.Add(restartEvery), began.Add(every)
	level := "info"
	for time.Since(began) < total {
		time.Sleep(time.Second)
		now := time.Now()
		if now.After(nextSample) {
			s := measure()
			samples = append(samples, s)
			t.Logf("%5s  hub RSS %.1f MB, %d goroutines; calls ok %d, lost %d, during restarts %d",
				time.Since(began).Round(time.Second), s.rss, s.goroutines, ok.Load(), lost.Load(), excused.Load())
			nextSample = nextSample.Add(every)
		}
		if now.After(nextEdit) {
			level = map[string]string{"info": "debug", "debug": "info"}[level]
			if err := atomicfile.WriteFile(u.config, []byte(config(level)), 0o600); err != nil {
				t.Fatal(err)
			}
			nextEdit = nextEdit.Add(editEvery)
		}
		if now.After(nextRestart) {
			restarting.Store(true)
			everything.Stop()
			everything = startEverything()
			w.until(t, "everything back after its restart", func(st *control.StatusResponse) bool {
				for _, s := range st.Servers {
					if s.ID == "everything" {
						return s.Status.State == "connected"
					}
				}
				return false
			})
			time.Sleep(2 * time.Second) // calls already under way when it came back
			restarting.Store(false)
			nextRestart = nextRestart.Add(restartEvery)
		}
	}
	stop()
	wg.Wait()
	everything.Stop()

	t.Logf("calls: %d ok, %d lost, %d during restarts; refreshes %d, refresh tokens reused %d",
		ok.Load(), lost.Load(), excused.Load(), secure.Counts().Refreshes, secure.Counts().RefreshReuse)
	if lost.Load() > 0 {
		problems.Range(func(k, _ any) bool { t.Errorf("lost: %v", k); return true })
	}
	if ok.Load() == 0 {
		t.Error("no call succeeded")
	}
	if c := secure.Counts(); c.RefreshReuse > 0 || (total >= 2*time.Minute && c.Refreshes == 0) {
		t.Errorf("refreshes %d, refresh tokens used twice %d", c.Refreshes, c.RefreshReuse)
	}
	// Flat: the last third of the run is not above the first third's
	// highest by more than a margin.
	if len(samples) >= 6 {
		third := len(samples) / 3
		var early sample
		for _, s := range samples[:third] {
			early.rss, early.goroutines = max(early.rss, s.rss), max(early.goroutines, s.goroutines)
		}
		for _, s := range samples[len(samples)-third:] {
			if s.rss > early.rss*1.25+5 {
				t.Errorf("hub memory grew: %.1f MB early, %.1f MB late", early.rss, s.rss)
			}
			if s.goroutines > early.goroutines+early.goroutines/5+10 {
				t.Errorf("hub goroutines grew: %d early, %d late", early.goroutines, s.goroutines)
			}
		}
	}
}
