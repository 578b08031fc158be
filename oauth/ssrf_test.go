package oauth

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync"
	"testing"
)

// connectProxy is an HTTPS proxy on 127.0.0.1, as cntlm, px or a local
// corporate proxy is: it tunnels every CONNECT to upstream, whatever host
// was asked for, and records the hosts asked for.
type connectProxy struct {
	*httptest.Server
	mu    sync.Mutex
	asked []string
}

func newConnectProxy(t *testing.T, upstream string) *connectProxy {
	p := &connectProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		p.mu.Lock()
		p.asked = append(p.asked, r.Host)
		p.mu.Unlock()
		up, err := net.Dial("tcp", upstream)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		_, _ = rw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
		_ = rw.Flush()
		go func() { _, _ = io.Copy(up, rw); up.Close() }()
		_, _ = io.Copy(conn, up)
		conn.Close()
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *connectProxy) hosts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.asked...)
}

// HTTPS_PROXY=http://127.0.0.1:PORT: the proxy is the user's own setting,
// so its loopback address is no reason to refuse. The guard still refuses
// a private address as the request's target, before the proxy is asked.
func TestSSRFGuardLetsTheProxyThrough(t *testing.T) {
	// httptest's certificate is valid for example.com: the proxy tunnels
	// "example.com" to this server.
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "metadata")
	}))
	defer target.Close()
	proxy := newConnectProxy(t, target.Listener.Addr().String())
	proxyURL, _ := url.Parse(proxy.URL)
	base := target.Client().Transport.(*http.Transport).Clone()
	base.Proxy = http.ProxyURL(proxyURL)
	hc := newHTTPClient(policyFor("https://example.com/mcp", false), base)

	resp, err := hc.Get("https://example.com/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		t.Fatalf("a request through the proxy on %s: %v", proxyURL.Host, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "metadata" {
		t.Errorf("through the proxy: %q", body)
	}

	for _, private := range []string{"https://10.0.0.1/token", "https://169.254.169.254/latest"} {
		if _, err := hc.Get(private); !errors.Is(err, errBlocked) {
			t.Errorf("%s through the proxy: %v, want the SSRF guard", private, err)
		}
	}
	if got := proxy.hosts(); len(got) != 1 || got[0] != "example.com:443" {
		t.Errorf("the proxy was asked for %v, want only example.com:443", got)
	}
}

// A server given by a name is public: where the name resolves is not
// asked (its DNS may be hostile). Its entry's allowPrivateNetwork (an
// intranet server) lets its endpoints be private or loopback, never
// link-local (cloud metadata). A server at a carrier-grade NAT address (a
// Tailscale node) is private.
func TestAddressPolicyOfAnIntranetServer(t *testing.T) {
	named := policyFor("https://mcp.corp.example/mcp", false)
	for _, ip := range []string{"10.9.9.9", "100.64.0.1", "127.0.0.1"} {
		if named.check(netip.MustParseAddr(ip)) == nil {
			t.Errorf("a server given by name: %s allowed", ip)
		}
	}
	allowed := policyFor("https://mcp.corp.example/mcp", true)
	cgnatServer := policyFor("https://100.100.1.2/mcp", false)
	for name, p := range map[string]addressPolicy{"allowPrivateNetwork": allowed, "cgnat": cgnatServer} {
		for _, ip := range []string{"10.9.9.9", "192.168.1.1", "100.64.0.1", "93.184.215.14"} {
			if err := p.check(netip.MustParseAddr(ip)); err != nil {
				t.Errorf("%s: %s refused: %v", name, ip, err)
			}
		}
		for _, ip := range []string{"169.254.169.254", "fe80::1", "0.0.0.0"} {
			if p.check(netip.MustParseAddr(ip)) == nil {
				t.Errorf("%s: %s allowed", name, ip)
			}
		}
	}
	if allowed.check(netip.MustParseAddr("127.0.0.1")) != nil {
		t.Error("allowPrivateNetwork: loopback refused")
	}
	// Through the client: a request to a loopback endpoint.
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	for _, allow := range []bool{false, true} {
		resp, err := newHTTPClient(policyFor("https://mcp.corp.example/mcp", allow), defaultTransport()).Get(target.URL)
		if resp != nil {
			resp.Body.Close()
		}
		if allow && err != nil {
			t.Errorf("allowPrivateNetwork: %v", err)
		}
		if !allow && !errors.Is(err, errBlocked) {
			t.Errorf("a server given by name: %v, want the SSRF guard", err)
		}
	}
}
