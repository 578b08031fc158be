package bridge

//lint:file-ignore SA1019 logging is deprecated in 2026-07-28 but initialize-era peers use it: MCP Tray bridges both eras

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/status"
)

// startEverythingOn runs npm server-everything (Streamable HTTP) on port.
func startEverythingOn(t *testing.T, port int) *testpeers.Process {
	t.Helper()
	cmd := exec.Command(testpeers.Node(t), testpeers.ServerEverythingScript(t), "streamableHttp")
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port))
	p := testpeers.Start(t, cmd, regexp.MustCompile(`(?i)listening on port|running on port`))
	t.Cleanup(p.Stop)
	return p
}

// An upstream process killed in the middle of a call: the IDE gets an
// error naming the server within a second, another server's calls go on,
// and the hub reconnects when the upstream is back, without a restart.
func TestUpstreamKilledMidCall(t *testing.T) {
	testpeers.RequirePrivateNetwork(t)
	port := testpeers.FreePort(t)
	everything := startEverythingOn(t, port)
	beta := newUpstream(t, "beta")
	addWhoami(beta, "beta")
	r := newRig(t, cfgServers("everything", fmt.Sprintf(`{"url": "http://127.0.0.1:%d/mcp"}`, port), "beta", legacy(beta.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"everything": status.Connected, "beta": status.Connected})

	progressed := make(chan struct{}, 64)
	cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progressed <- struct{}{} }})
	type outcome struct {
		res *mcp.CallToolResult
		err error
		at  time.Time
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "everything__trigger-long-running-operation",
			Arguments: map[string]any{"duration": 30, "steps": 30}, Meta: mcp.Meta{"progressToken": "long"}})
		done <- outcome{res, err, time.Now()}
	}()
	waitFor(t, progressed, "the long call's first progress")

	killed := time.Now()
	everything.Stop()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not end after its upstream was killed")
	}
	msg := ""
	switch {
	case o.err != nil:
		msg = o.err.Error()
	case o.res != nil && o.res.IsError:
		msg = text(t, o.res)
	default:
		t.Fatalf("the call succeeded although its server was killed: %+v", o.res)
	}
	if !strings.Contains(msg, "everything") {
		t.Errorf("the error does not name the server: %q", msg)
	}
	if d := o.at.Sub(killed); d > time.Second {
		t.Errorf("the error came %v after the kill, want within 1s", d)
	}
	// The other server is untouched, on the same IDE session.
	if got := text(t, callTool(t, cs, "beta__whoami", nil)); !strings.Contains(got, `"server":"beta"`) {
		t.Errorf("beta said %q", got)
	}
	// The upstream comes back on its port: the hub reconnects by itself.
	startEverythingOn(t, port)
	r.wait(t, map[string]status.State{"everything": status.Connected})
	if got := text(t, callTool(t, cs, "everything__echo", map[string]any{"message": "back"})); !strings.Contains(got, "back") {
		t.Errorf("echo after the restart: %q", got)
	}
}

// An upstream that never answers a call: the call ends at the server's
// configured timeout with an error naming it, the cancellation reaches the
// upstream, and the IDE's session stays usable. One that accepts and never
// answers at all is given up at connect, with the reason.
func TestHangingUpstreamTimesOut(t *testing.T) {
	blk := newBlockingUpstream(t)
	addWhoami(blk.upstreamServer, "blk")
	r := newRig(t, cfgServers("blk", fmt.Sprintf(`{"url": %q, "protocolVersion": "2025-11-25", "timeout": 1}`, blk.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"blk": status.Connected})
	cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", nil)
	start := time.Now()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "blk__block", Arguments: map[string]any{}})
	took := time.Since(start)
	msg := ""
	if err != nil {
		msg = err.Error()
	} else if res.IsError {
		msg = text(t, res)
	}
	if !strings.Contains(msg, "blk did not answer in time") {
		t.Errorf("the hanging call ended with %q (err %v)", msg, err)
	}
	if took < time.Second || took > 3*time.Second {
		t.Errorf("the call took %v; the server's timeout is 1s", took)
	}
	select {
	case <-blk.cancelled:
	case <-time.After(10 * time.Second):
		t.Error("the upstream tool was never told the call is over")
	}
	if got := text(t, callTool(t, cs, "blk__whoami", nil)); !strings.Contains(got, `"server":"blk"`) {
		t.Errorf("the session after the timeout: %q", got)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c // read nothing, answer nothing
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for len(held) > 0 {
			(<-held).Close()
		}
	})
	writeConfig(t, r.path, cfgServers("blk", fmt.Sprintf(`{"url": %q, "protocolVersion": "2025-11-25", "timeout": 1}`, blk.URL),
		"stuck", fmt.Sprintf(`{"url": "http://%s/mcp", "timeout": 1}`, ln.Addr())))
	if err := r.hub.Reload(); err != nil {
		t.Fatal(err)
	}
	r.wait(t, map[string]status.State{"stuck": status.Error})
	if st := serverStatus(r, "stuck"); !strings.Contains(st.Reason, "no complete answer within") {
		t.Errorf("the reason does not say it timed out: %q", st.Reason)
	}
	start = time.Now()
	res = callTool(t, cs, "stuck__anything", nil)
	if !res.IsError || !strings.Contains(text(t, res), "stuck") || time.Since(start) > 2*time.Second {
		t.Errorf("a call to the hanging server: %q after %v", text(t, res), time.Since(start))
	}
}

// A server that never answers logging/setLevel holds up the IDE's
// setLevel by that server's timeout only, and the other servers get
// theirs (LC-05): all are asked at once, each within its own timeout.
func TestHangingSetLevel(t *testing.T) {
	hung := newUpstream(t, "hung")
	release := make(chan struct{})
	hungAsked := make(chan struct{}, 4)
	hung.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "logging/setLevel" {
				hungAsked <- struct{}{}
				<-release // not even the cancellation ends it
			}
			return next(ctx, method, req)
		}
	})
	fine := newUpstream(t, "fine")
	levels := make(chan mcp.LoggingLevel, 4)
	fine.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if p, ok := req.GetParams().(*mcp.SetLoggingLevelParams); ok {
				levels <- p.Level
			}
			return next(ctx, method, req)
		}
	})
	// hung comes first in the configuration: asked one after the other, fine never was.
	r := newRig(t, cfgServers("hung", fmt.Sprintf(`{"url": %q, "protocolVersion": "2025-11-25", "timeout": 1}`, hung.URL),
		"fine", legacy(fine.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"hung": status.Connected, "fine": status.Connected})
	// Released first thing at the end: the hub's and the server's closing
	// wait for the request.
	t.Cleanup(func() { close(release) })
	for _, ide := range ides(r, "") {
		if strings.HasSuffix(ide.name, "2026-07-28") {
			continue // no logging/setLevel in this era
		}
		t.Run(ide.name, func(t *testing.T) {
			cs := ide.connect(t, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
				t.Fatalf("setLevel, with a server that never answers it: %v", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("setLevel took %v; the hanging server's timeout is 1s", took)
			}
			// Both were asked before the IDE got its answer.
			select {
			case <-hungAsked:
			default:
				t.Error("hung was never asked")
			}
			select {
			case l := <-levels:
				if l != "debug" {
					t.Errorf("fine was set to %q", l)
				}
			default:
				t.Error("fine never got its setLevel")
			}
		})
	}
}

func serverStatus(r *rig, id string) status.Status {
	for _, v := range r.hub.Servers() {
		if v.ID == id {
			return v.Status
		}
	}
	return status.Status{}
}

// An IDE that sends 10,000 requests in one burst on the stdio stream gets
// 10,000 answers, each to its own id, and the bridge keeps serving others.
func TestRequestBurst(t *testing.T) {
	alpha, beta := twoUpstreams(t)
	r := newRig(t, cfgServers("alpha", legacy(alpha.URL), "beta", legacy(beta.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"alpha": status.Connected, "beta": status.Connected})
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.bridge.ServeStream(ctx, b, "", "burst") }()
	defer func() { cancel(); a.Close(); <-served }()

	const n = 10000
	go func() {
		w := bufio.NewWriterSize(a, 1<<20)
		fmt.Fprintln(w, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"burst","version":"1"}}}`)
		fmt.Fprintln(w, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		for i := 1; i <= n; i++ {
			method := "tools/list"
			if i%10 == 0 {
				method = "ping"
			}
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"method":%q}`+"\n", i, method)
		}
		_ = w.Flush()
	}()
	seen := make([]bool, n+1)
	got := 0
	sc := bufio.NewScanner(a)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	_ = a.SetReadDeadline(time.Now().Add(2 * time.Minute))
	for got < n+1 && sc.Scan() {
		var m struct {
			ID     *int            `json:"id"`
			Error  json.RawMessage `json:"error"`
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.ID == nil {
			continue // a notification
		}
		if *m.ID < 0 || *m.ID > n || seen[*m.ID] || m.Error != nil || m.Result == nil {
			t.Fatalf("answer %s", sc.Bytes())
		}
		seen[*m.ID] = true
		got++
	}
	if got != n+1 {
		t.Fatalf("%d answers to %d requests: %v", got, n+1, sc.Err())
	}
	// Another IDE is served meanwhile and after.
	cs := r.connectHTTP(t, "/mcp", "", "2025-11-25", nil)
	if got := text(t, callTool(t, cs, "beta__whoami", nil)); !strings.Contains(got, `"server":"beta"`) {
		t.Errorf("another IDE after the burst: %q", got)
	}
}

// An IDE that goes away in the middle of a call (its stdio bridge closed)
// has the call cancelled upstream.
func TestIDEDisconnectsMidCall(t *testing.T) {
	blk := newBlockingUpstream(t)
	r := newRig(t, cfgServers("blk", fmt.Sprintf(`{"url": %q, "protocolVersion": "2025-11-25"}`, blk.URL)), rigOptions{})
	r.wait(t, map[string]status.State{"blk": status.Connected})
	a, b := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- r.bridge.ServeStream(context.Background(), b, "", "leaver") }()
	go func() {
		fmt.Fprintln(a, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"leaver","version":"1"}}}`)
		fmt.Fprintln(a, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		fmt.Fprintln(a, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"blk__block","arguments":{}}}`)
	}()
	go func() { _, _ = io.Copy(io.Discard, a) }()
	select {
	case <-blk.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the call never reached the upstream")
	}
	a.Close() // the IDE window closed
	select {
	case <-blk.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream call was not cancelled when its IDE went away")
	}
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end")
	}
}
