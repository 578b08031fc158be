package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/h1"
	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/mcphub/status"
)

// BenchmarkBridgeVsDirect measures what the bridge adds to a tools/call
// against calling the same upstream directly, in one run, the way PEERS.md
// measured the peers: npm server-everything over Streamable HTTP as the
// upstream; a go-sdk client making sequential echo calls through each
// path in interleaved rounds; then 8 concurrent sessions per path, in
// interleaved rounds too; the stdio bridge's memory and start-up; and the
// aggregated tools/list with 10 more servers of 50 tools each. It runs
// its own iterations (use -benchtime 1x), prints the table
// docs/benchmarks.md records, and reports the goals as metrics.
//
// The client speaks to the bridge in the protocol era it speaks to the
// upstream directly (like with like: what the bridge adds, not what a
// newer era costs the client), and once more in the newest era, the
// bridge's own 2026-07-28 path, in rows of their own. The newest era on
// both hops is measured against a floor of its own: the client at
// 2026-07-28 calling go-sdk's everything-server (stateless, which speaks
// it) directly.
func BenchmarkBridgeVsDirect(b *testing.B) {
	const (
		calls    = 500
		warmup   = 200
		sessions = 8
		each     = 150
		starts   = 15
		newest   = "2026-07-28"
	)
	// Rounds of the concurrent phase (rates): a round's ratio to the floor
	// moves by more than the hop costs (the eleventh look), so the median
	// needs many to be sure of a few percent (the twelfth look).
	rounds, rates := 24, 36
	if n, err := strconv.Atoi(os.Getenv("MCPTRAY_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n // quicker runs while working on it
	}
	// A throughput study: many concurrent rounds of a few paths (and the
	// floors), for an interval narrower than 36 rounds give.
	if n, err := strconv.Atoi(os.Getenv("MCPTRAY_BENCH_RATES")); err == nil && n > 0 {
		rates = n
	}
	ratePaths := regexp.MustCompile(os.Getenv("MCPTRAY_BENCH_RATE_PATHS")) // "" matches every path
	upstream := testpeers.StartServerEverything(b, "streamableHttp")
	modern := testpeers.StartEverythingModern(b) // the go-sdk fixture, which speaks 2026-07-28
	servers := []string{fmt.Sprintf(`"everything": {"url": %q}`, upstream.URL), fmt.Sprintf(`"modern": {"url": %q}`, modern.URL)}
	aggregated := []string{"everything"}
	for i := range 10 {
		servers = append(servers, fmt.Sprintf(`"bulk%d": {"url": %q}`, i, manyToolsServer(b, 50)))
		aggregated = append(aggregated, fmt.Sprintf("bulk%d", i))
	}
	u := newUserEnv(b)
	port := testpeers.FreePort(b)
	u.writeConfig(b, fmt.Sprintf(`{"hub": {"bridge": {"port": %d}, "oauth": {"callbackPort": %d}}, "mcpServers": {%s}}`,
		port, testpeers.FreePort(b), strings.Join(servers, ", ")))
	for _, k := range []string{"GOGC", "GOMAXPROCS"} { // HUB_GOGC=400: the hub's runtime settings, to try them
		if v := os.Getenv("HUB_" + k); v != "" {
			u.env = append(u.env, k+"="+v)
		}
	}
	u.serve(b)
	u.watch(b).until(b, "every server connected", func(st *control.StatusResponse) bool {
		n := 0
		for _, s := range st.Servers {
			if s.Status.State == status.Connected {
				n++
			}
		}
		return n == len(servers)
	})
	out, _, _ := u.run(b, "token", "create", "bench")
	token := strings.TrimSpace(out)
	bridge := fmt.Sprintf("http://127.0.0.1:%d", port)
	hub := hubPID(b, u)
	proxy, proxyPID := startReferenceProxy(b, upstream.URL, proxyTargetEnv)
	h1Proxy, h1PID := startReferenceProxy(b, upstream.URL, h1ProxyTargetEnv)
	h1ModernProxy, h1ModernPID := startReferenceProxy(b, modern.URL, h1ProxyTargetEnv)

	// The era the client and the upstream agree on directly.
	probe := httpSession(b, upstream.URL, "", "")
	era := probe.InitializeResult().ProtocolVersion
	probe.Close() // not held open through the run
	one := bridge + "/servers/everything/mcp"
	newFloor := &path{name: "direct over HTTP (floor), " + newest + ", go-sdk's everything-server", tool: "test_simple_text", floor: true,
		dial: func() (*mcp.ClientSession, int) { return httpSession(b, modern.URL, "", newest), 0 }}
	paths := []*path{
		{name: "direct over HTTP (floor), " + era, tool: "echo", floor: true,
			dial: func() (*mcp.ClientSession, int) { return httpSession(b, upstream.URL, "", ""), 0 }},
		{name: "bridge over HTTP, /mcp (aggregated)", tool: "everything__echo", between: []int{hub},
			dial: func() (*mcp.ClientSession, int) { return httpSession(b, bridge+"/mcp", token, era), 0 }},
		{name: "bridge over HTTP, /servers/everything/mcp", tool: "echo", between: []int{hub},
			dial: func() (*mcp.ClientSession, int) { return httpSession(b, one, token, era), 0 }},
		{name: "bridge over stdio, `mcptray bridge` (aggregated)", tool: "everything__echo", between: []int{hub}, // and the bridge process
			dial: func() (*mcp.ClientSession, int) { return u.stdioSession(b, era) }},
		{name: "bridge over HTTP, /servers/everything/mcp, the client at " + newest, tool: "echo", between: []int{hub},
			dial: func() (*mcp.ClientSession, int) { return httpSession(b, one, token, newest), 0 }},
		{name: "bridge over stdio, `mcptray bridge` (aggregated), the client at " + newest, tool: "everything__echo", between: []int{hub},
			dial: func() (*mcp.ClientSession, int) { return u.stdioSession(b, newest) }},
		newFloor,
		{name: "bridge over HTTP, /servers/modern/mcp, " + newest + " on both hops", tool: "test_simple_text", between: []int{hub}, against: newFloor,
			dial: func() (*mcp.ClientSession, int) {
				return httpSession(b, bridge+"/servers/modern/mcp", token, newest), 0
			}},
		{name: "bridge over stdio, `mcptray bridge` (aggregated), " + newest + " on both hops", tool: "modern__test_simple_text", between: []int{hub}, against: newFloor,
			dial: func() (*mcp.ClientSession, int) { return u.stdioSession(b, newest) }},
		{name: "reference: a bare reverse proxy, own process (one more hop, no MCP)", tool: "echo", between: []int{proxyPID},
			dial: func() (*mcp.ClientSession, int) { return httpSession(b, proxy, "", ""), 0 }},
		{name: "reference: the same bare proxy on internal/h1 (the hub's HTTP)", tool: "echo", between: []int{h1PID},
			dial: func() (*mcp.ClientSession, int) { return httpSession(b, h1Proxy, "", ""), 0 }},
		// The hop alone against the newest era's floor, whose server answers
		// in a third of npm's time: what the bridge's row there is up against.
		{name: "reference: the same bare proxy on internal/h1, " + newest + " on both hops", tool: "test_simple_text", between: []int{h1ModernPID}, against: newFloor,
			dial: func() (*mcp.ClientSession, int) { return httpSession(b, h1ModernProxy, "", newest), 0 }},
	}
	for _, p := range paths {
		var pid int
		if p.cs, pid = p.dial(); pid != 0 {
			p.between = append(p.between, pid)
		}
		if v := p.cs.InitializeResult().ProtocolVersion; p == newFloor && v != newest {
			b.Fatalf("%s: the session is at %s", p.name, v)
		}
		for range warmup {
			callOn(b, p.cs, p.tool)
		}
	}
	b.ResetTimer()
	for range b.N {
		for r := range rounds {
			for _, p := range interleaved(paths, r) {
				d := make([]time.Duration, calls)
				cpu, switches := cpuTime(p.between), threadSwitches(p.between)
				for i := range d {
					start := time.Now()
					callOn(b, p.cs, p.tool)
					d[i] = time.Since(start)
				}
				p.cpu += cpuTime(p.between) - cpu
				p.switches += threadSwitches(p.between) - switches
				p.calls += calls
				slices.Sort(d)
				p.p50 = append(p.p50, d[len(d)/2])
				p.p99 = append(p.p99, d[len(d)*99/100])
			}
		}
		for _, p := range paths {
			d := make([]time.Duration, 200)
			for i := range d {
				start := time.Now()
				if _, err := p.cs.ListTools(context.Background(), nil); err != nil {
					b.Fatal(err)
				}
				d[i] = time.Since(start)
			}
			slices.Sort(d)
			p.list = d[len(d)/2]
		}
		for r := range rates {
			for _, p := range interleaved(paths, r) {
				if p.floor || ratePaths.MatchString(p.name) {
					p.rate = append(p.rate, concurrentRate(b, p, sessions, each))
				}
			}
		}
	}
	b.StopTimer()

	startMs := stdioStart(b, u, starts)
	// The goal's aggregated list is of the eleven servers of every earlier
	// run (npm's and the ten of 50 tools): a token that sees those.
	out, _, _ = u.run(b, "token", "create", "aggregate", "--servers", strings.Join(aggregated, ","))
	agg := rawToolsList(b, bridge+"/mcp", strings.TrimSpace(out))
	hubRSS := processRSS(hub)

	floor, viaHTTP, viaStdio, newHTTP, newStdio, bothHTTP, bothStdio := paths[0], paths[1], paths[3], paths[4], paths[5], paths[7], paths[8]
	fmt.Printf("\n| path | p50 µs | p99 µs | Δp50 / Δp99 vs floor µs | CPU µs per call in between | thread switches per call in between | calls/s, %d sessions | vs floor | its 95%% interval | rounds' middle half | tools/list p50 µs |\n|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n", sessions)
	for _, p := range paths {
		delta, ratio, sure, spread, cpu, switches, rate := "floor", "100%", "", "", "0", "0", ""
		if len(p.rate) > 0 {
			rate = fmt.Sprintf("%.0f", median(p.rate))
		}
		if !p.floor {
			f := floor
			if p.against != nil {
				f = p.against
			}
			delta = fmt.Sprintf("%+d / %+d", medianDelta(p.p50, f.p50), medianDelta(p.p99, f.p99))
			ratio = ""
			if len(p.rate) > 0 {
				ratio = fmt.Sprintf("%.1f%%", medianRatio(p.rate, f.rate)) // a decimal: 89.7 is not 90
				sure = medianInterval(p.rate, f.rate)
				spread = middleHalf(p.rate, f.rate)
			}
			cpu = fmt.Sprintf("%.0f", float64(p.cpu.Microseconds())/float64(p.calls))
			switches = fmt.Sprintf("%.1f", float64(p.switches)/float64(p.calls))
		}
		fmt.Printf("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %d |\n", p.name, median(p.p50).Microseconds(), median(p.p99).Microseconds(),
			delta, cpu, switches, rate, ratio, sure, spread, p.list.Microseconds())
	}
	fmt.Printf("\n| measure | value |\n|---|---:|\n")
	if len(viaStdio.rate) > 0 { // measured in its concurrent phase
		fmt.Printf("| `mcptray bridge` resident memory, largest of %d after the concurrent phase | %.1f MB |\n", sessions, viaStdio.rss)
	}
	fmt.Printf("| `mcptray bridge` start to first `initialize` answered, median of %d | %.1f ms |\n", starts, startMs)
	fmt.Printf("| aggregated `tools/list`, %d servers, %d tools, one HTTP request, p50 of 200 | %d µs |\n", len(aggregated), agg.tools, agg.p50.Microseconds())
	fmt.Printf("| hub resident memory after the run (%d upstream sessions) | %.1f MB |\n\n", len(servers), hubRSS)

	b.ReportMetric(float64(medianDelta(viaHTTP.p50, floor.p50)), "http-Δp50-µs")
	b.ReportMetric(float64(medianDelta(viaHTTP.p99, floor.p99)), "http-Δp99-µs")
	b.ReportMetric(float64(medianDelta(viaStdio.p50, floor.p50)), "stdio-Δp50-µs")
	b.ReportMetric(float64(medianDelta(viaStdio.p99, floor.p99)), "stdio-Δp99-µs")
	reportRatio(b, viaHTTP, floor, "http-throughput-%")
	reportRatio(b, viaStdio, floor, "stdio-throughput-%")
	b.ReportMetric(float64(medianDelta(newHTTP.p50, floor.p50)), "http-newest-Δp50-µs")
	b.ReportMetric(float64(medianDelta(newStdio.p50, floor.p50)), "stdio-newest-Δp50-µs")
	reportRatio(b, newHTTP, floor, "http-newest-throughput-%")
	reportRatio(b, newStdio, floor, "stdio-newest-throughput-%")
	b.ReportMetric(float64(medianDelta(bothHTTP.p50, newFloor.p50)), "http-both-newest-Δp50-µs")
	b.ReportMetric(float64(medianDelta(bothStdio.p50, newFloor.p50)), "stdio-both-newest-Δp50-µs")
	reportRatio(b, bothHTTP, newFloor, "http-both-newest-throughput-%")
	reportRatio(b, bothStdio, newFloor, "stdio-both-newest-throughput-%")
	if len(viaStdio.rate) > 0 {
		b.ReportMetric(viaStdio.rss, "stdio-RSS-MB")
	}
	b.ReportMetric(startMs, "stdio-start-ms")
	b.ReportMetric(float64(agg.p50.Microseconds()), "agg-list-µs")
}

// proxyTargetEnv makes the test binary a bare reverse proxy (TestMain).
const proxyTargetEnv = "MCPTRAY_BENCH_PROXY_TO"

// startReferenceProxy runs this test binary as a bare proxy in front of
// target (env says which: proxyTargetEnv or h1ProxyTargetEnv), in a
// process of its own like the hub: one more loopback HTTP hop and nothing
// else, what any bridge costs before it does any MCP work. It returns the
// proxy's URL and process ID.
func startReferenceProxy(b *testing.B, target, env string) (string, int) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), env+"="+target)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("the reference proxy did not start: %v", err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid
}

// serveReferenceProxy is the reference proxy's process: it prints its URL
// and serves until killed.
func serveReferenceProxy(target string) {
	u, ln := referenceListen(target)
	_ = http.Serve(ln, &httputil.ReverseProxy{FlushInterval: -1, Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.URL.Path = u.Path
	}})
}

// h1ProxyTargetEnv makes the test binary the same bare proxy on
// internal/h1, the hub's HTTP server and client.
const h1ProxyTargetEnv = "MCPTRAY_BENCH_H1PROXY_TO"

func serveH1Proxy(target string) {
	u, ln := referenceListen(target)
	tr := h1.New(http.DefaultTransport)
	srv := &h1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := r.Clone(r.Context())
		out.URL, out.Host, out.RequestURI = u, u.Host, ""
		resp, err := tr.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		maps.Copy(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		w.(http.Flusher).Flush() // the head at once, as ReverseProxy's FlushInterval -1: an event stream's first event may be far off
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				_, _ = w.Write(buf[:n])
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	})}
	_ = srv.Serve(ln)
}

// referenceListen parses the proxy's target and prints the URL of its
// loopback listener.
func referenceListen(target string) (*url.URL, net.Listener) {
	u, err := url.Parse(target)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println("http://" + ln.Addr().String())
	return u, ln
}

// path is one way to reach the upstream's echo tool.
type path struct {
	name string
	tool string
	// floor: the path is a direct one, which others are measured against;
	// against: the floor of this path (nil: the first path).
	floor   bool
	against *path
	dial    func() (*mcp.ClientSession, int) // the session and its bridge process, if any
	cs      *mcp.ClientSession
	p50     []time.Duration
	p99     []time.Duration
	rate    []float64
	list    time.Duration
	rss     float64 // MB, the largest bridge process
	// between are the processes between the client and the upstream
	// (the hub, a stdio bridge, a proxy); cpu is their CPU time during the
	// sequential calls, of which there were calls.
	between  []int
	cpu      time.Duration
	switches int64 // their threads' context switches
	calls    int
}

// interleaved runs paths forward in even rounds, backward in odd ones, so
// drift on the machine does not favour one path.
func interleaved(paths []*path, round int) []*path {
	out := slices.Clone(paths)
	if round%2 == 1 {
		slices.Reverse(out)
	}
	return out
}

func callOn(b *testing.B, cs *mcp.ClientSession, tool string) {
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"message": "hello"}})
	if err != nil {
		b.Fatalf("%s: %v", tool, err)
	}
	if res.IsError {
		var text []string
		for _, c := range res.Content {
			if t, ok := c.(*mcp.TextContent); ok {
				text = append(text, t.Text)
			}
		}
		b.Fatalf("%s: a tool error: %s", tool, strings.Join(text, " "))
	}
}

func concurrentRate(b *testing.B, p *path, sessions, each int) float64 {
	css := make([]*mcp.ClientSession, sessions)
	var pids []int
	for i := range css {
		var pid int
		css[i], pid = p.dial()
		if pid != 0 {
			pids = append(pids, pid)
		}
		callOn(b, css[i], p.tool)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for _, cs := range css {
		wg.Go(func() {
			for range each {
				callOn(b, cs, p.tool)
			}
		})
	}
	wg.Wait()
	rate := float64(sessions*each) / time.Since(start).Seconds()
	for _, pid := range pids {
		p.rss = max(p.rss, processRSS(pid))
	}
	for _, cs := range css {
		cs.Close()
	}
	return rate
}

// ideTransport is every path's HTTP client transport: keeping enough idle
// connections that 8 concurrent sessions measure MCP, not TCP set-up.
var ideTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}()

// ideClient signs with the bridge token, if any.
type ideClient string

func (tok ideClient) RoundTrip(r *http.Request) (*http.Response, error) {
	if tok != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+string(tok))
	}
	return ideTransport.RoundTrip(r)
}

// httpSession connects over Streamable HTTP, asking for version (empty:
// the newest the client knows).
func httpSession(b testing.TB, url, token, version string) *mcp.ClientSession {
	tr := &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: ideClient(token)}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(context.Background(), tr,
		&mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		b.Fatalf("connect %s: %v", url, err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs
}

// stdioSession starts 'mcptray bridge' as an IDE does.
func (u *userEnv) stdioSession(b *testing.B, version string) (*mcp.ClientSession, int) {
	cmd := exec.Command(binPath, "bridge")
	cmd.Env = u.env
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(context.Background(),
		&mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		b.Fatalf("connect through mcptray bridge: %v", err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs, cmd.Process.Pid
}

// stdioStart is the median time from starting 'mcptray bridge' to its
// answer to initialize, in ms.
func stdioStart(b *testing.B, u *userEnv, n int) float64 {
	var d []time.Duration
	for range n {
		start := time.Now()
		cs, _ := u.stdioSession(b, "2025-11-25") // one round trip: initialize
		d = append(d, time.Since(start))
		cs.Close()
	}
	return float64(median(d).Microseconds()) / 1000
}

type listResult struct {
	tools int
	p50   time.Duration
}

// rawToolsList times one stateless 2026-07-28 tools/list over HTTP: the
// bridge's cached answer plus the transfer, without a client's decoding.
func rawToolsList(b *testing.B, url, token string) listResult {
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	hc := &http.Client{Transport: ideClient(token)}
	do := func() []byte {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", "tools/list")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			b.Fatalf("tools/list: %s %s", resp.Status, data)
		}
		return data
	}
	var res struct {
		Result struct {
			Tools []json.RawMessage `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(do(), &res); err != nil {
		b.Fatal(err)
	}
	d := make([]time.Duration, 200)
	for i := range d {
		start := time.Now()
		do()
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return listResult{tools: len(res.Result.Tools), p50: d[len(d)/2]}
}

// manyToolsServer is an in-process go-sdk server with n tools, on loopback.
func manyToolsServer(b *testing.B, n int) string {
	s := mcp.NewServer(&mcp.Implementation{Name: "bulk", Version: "1"}, nil)
	for i := range n {
		s.AddTool(&mcp.Tool{Name: fmt.Sprintf("tool_%02d", i), Description: "a tool among many, with a description of typical length for the list",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"query":{"type":"string","description":"what to look for"},"limit":{"type":"integer"}},"required":["query"]}`)},
			func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{}, nil
			})
	}
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	b.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return srv.URL + "/mcp"
}

func hubPID(b *testing.B, u *userEnv) int {
	out, _, _ := u.run(b, "status", "--json")
	var st control.StatusResponse
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		b.Fatal(err)
	}
	return st.Hub.PID
}

// cpuTime is the CPU time the processes have used so far, to the
// nanosecond: the first field of each thread's schedstat.
func cpuTime(pids []int) time.Duration {
	return time.Duration(sumOverThreads(pids, "schedstat", func(data string) int64 {
		f := strings.Fields(data)
		if len(f) == 0 {
			return 0
		}
		ns, _ := strconv.ParseInt(f[0], 10, 64)
		return ns
	}))
}

// threadSwitches is how many times the processes' threads have stopped
// running so far, waiting or preempted: each thread's voluntary and
// nonvoluntary context switches. Each is a wake-up that a hop through the
// process costs.
func threadSwitches(pids []int) int64 {
	return sumOverThreads(pids, "status", func(data string) int64 {
		var n int64
		for _, line := range strings.Split(data, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
		return n
	})
}

// sumOverThreads adds up what value reads from a /proc file of every
// thread of the processes (Linux); a thread that ended counts nothing.
func sumOverThreads(pids []int, file string, value func(string) int64) int64 {
	var sum int64
	for _, pid := range pids {
		paths, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/%s", pid, file))
		for _, f := range paths {
			if data, err := os.ReadFile(f); err == nil {
				sum += value(string(data))
			}
		}
	}
	return sum
}

// processRSS is a process's resident memory in MB (Linux).
func processRSS(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

func median[T int | float64 | time.Duration](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// roundRatios are the rounds' ratios path / floor, in percent.
func roundRatios(p, floor []float64) []float64 {
	r := make([]float64, len(p))
	for i := range p {
		r[i] = 100 * p[i] / floor[i]
	}
	return r
}

// medianRatio is the median over rounds of path / floor, in percent.
func medianRatio(p, floor []float64) float64 {
	return median(roundRatios(p, floor))
}

// middleHalf is the spread of the rounds' ratios path / floor: from the
// first quartile to the third, in percent. The machine's speed moves by
// more than the hop costs from one second to the next, so a round's ratio
// is noisy; the median's verdict is as sure as this spread is narrow.
func middleHalf(p, floor []float64) string {
	r := roundRatios(p, floor)
	slices.Sort(r)
	return fmt.Sprintf("%.0f-%.0f%%", r[len(r)/4], r[len(r)*3/4])
}

// medianInterval is where the median of the rounds' ratios path / floor
// lies with 95% confidence, whatever their distribution: between the
// order statistics n/2 ∓ 0.98·√n (the binomial's normal approximation).
// With 36 rounds, the 12th and 25th ratios of 36.
func medianInterval(p, floor []float64) string {
	r := roundRatios(p, floor)
	slices.Sort(r)
	n := float64(len(r))
	lo := max(int(math.Floor(n/2-0.98*math.Sqrt(n))), 1)
	hi := min(int(math.Ceil(1+n/2+0.98*math.Sqrt(n))), len(r))
	return fmt.Sprintf("%.1f-%.1f%%", r[lo-1], r[hi-1])
}

// reportRatio reports p's median ratio to floor as a metric, if the run
// measured p's throughput (MCPTRAY_BENCH_RATE_PATHS chooses the paths).
func reportRatio(b *testing.B, p, floor *path, unit string) {
	if len(p.rate) > 0 {
		b.ReportMetric(medianRatio(p.rate, floor.rate), unit)
	}
}

// medianDelta is the median over rounds of (path - floor) in µs.
func medianDelta(p, floor []time.Duration) int64 {
	d := make([]time.Duration, len(p))
	for i := range p {
		d[i] = p[i] - floor[i]
	}
	return median(d).Microseconds()
}
