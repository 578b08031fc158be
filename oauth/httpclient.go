package oauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// addressPolicy says which addresses OAuth requests may reach. Metadata
// URLs, authorization servers and their endpoints come from the network, so
// a hostile server could point them at the user's router or a cloud
// metadata endpoint (SSRF, AUTH-33). Private, link-local and loopback
// addresses are refused unless the MCP server itself lives there (by
// address), or its entry allows the private network (an intranet server
// given by name: AUTH-33's explicit override for LAN use). Where a name
// resolves is not asked: a hostile server controls its own DNS (rebinding).
type addressPolicy struct {
	allowLoopback bool
	allowPrivate  bool // RFC 1918, IPv6 ULA and carrier-grade NAT (100.64/10)
}

// cgnat is the shared address space (RFC 6598): carrier-grade NAT, and the
// addresses of overlay networks such as Tailscale.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func isPrivate(ip netip.Addr) bool { return ip.IsPrivate() || cgnat.Contains(ip) }

// policyFor derives the policy from the MCP server's URL, or from its
// entry's allowPrivateNetwork.
func policyFor(serverURL string, allowPrivateNetwork bool) addressPolicy {
	if allowPrivateNetwork {
		return addressPolicy{allowLoopback: true, allowPrivate: true}
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return addressPolicy{}
	}
	host := u.Hostname()
	if host == "localhost" {
		return addressPolicy{allowLoopback: true}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return addressPolicy{} // a name: public
	}
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return addressPolicy{allowLoopback: true}
	case isPrivate(ip):
		return addressPolicy{allowPrivate: true}
	}
	return addressPolicy{}
}

func (p addressPolicy) check(ip netip.Addr) error {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		if p.allowLoopback {
			return nil
		}
		return fmt.Errorf("%s is a loopback address and the MCP server is not local", ip)
	case ip.IsPrivate():
		if p.allowPrivate || p.allowLoopback {
			return nil
		}
		return fmt.Errorf("%s is a private network address and the MCP server is not on one", ip)
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsUnspecified(), ip.IsMulticast(),
		ip.IsInterfaceLocalMulticast():
		return fmt.Errorf("%s is not a routable address", ip)
	}
	if cgnat.Contains(ip) && !p.allowPrivate {
		return fmt.Errorf("%s is a shared (carrier) address", ip)
	}
	return nil
}

// checkTarget applies check to the host of a request a proxy will make:
// the proxy resolves a name, so only an address is checked here.
func (p addressPolicy) checkTarget(host string) error {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	return p.refuse(ip)
}

// refuse is check's error marked errBlocked, which callers tell apart
// from a failed connection.
func (p addressPolicy) refuse(ip netip.Addr) error {
	if err := p.check(ip); err != nil {
		return fmt.Errorf("%w: %v", errBlocked, err)
	}
	return nil
}

// errBlocked marks a request refused by the address policy.
var errBlocked = errors.New("refused by the SSRF guard")

// maxRedirects is how many redirects a GET (metadata discovery) follows.
const maxRedirects = 3

// newHTTPClient returns the client used for discovery, registration and
// token requests of one MCP server. The address check runs on every
// connection, after DNS resolution, so a redirect or a DNS answer cannot
// slip past it. A connection to the proxy (the user's own setting, often
// on loopback) is not checked; a request's address is, before the proxy
// is asked for it (a name is the proxy's to resolve). Redirects are followed for GETs only (at most
// maxRedirects); a token request is never redirected.
func newHTTPClient(p addressPolicy, base *http.Transport) *http.Client {
	t := base.Clone()
	var proxies sync.Map // "host:port" of the proxies requests were sent through
	if proxy := base.Proxy; proxy != nil {
		t.Proxy = func(req *http.Request) (*url.URL, error) {
			u, err := proxy(req)
			if u == nil || err != nil {
				return u, err
			}
			if err := p.checkTarget(req.URL.Hostname()); err != nil {
				return nil, err
			}
			proxies.Store(proxyAddr(u), true)
			return u, nil
		}
	}
	t.DialContext = func(ctx context.Context, network, address string) (net.Conn, error) {
		d := &net.Dialer{Timeout: 10 * time.Second}
		if _, toProxy := proxies.Load(address); !toProxy {
			d.Control = func(_, address string, _ syscall.RawConn) error {
				host, _, err := net.SplitHostPort(address)
				if err != nil {
					return err
				}
				ip, err := netip.ParseAddr(host)
				if err != nil {
					return err
				}
				return p.refuse(ip)
			}
		}
		return d.DialContext(ctx, network, address)
	}
	return &http.Client{
		Transport: t,
		Timeout:   30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// via[0], not req: a 301-303 turns a POST into a GET, which
			// must not make a token request followable.
			if via[0].Method != http.MethodGet || len(via) >= maxRedirects {
				return http.ErrUseLastResponse
			}
			return checkEndpointURL(req.URL.String())
		},
	}
}

// proxyAddr is the host:port net/http dials for a proxy URL.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func defaultTransport() *http.Transport {
	return http.DefaultTransport.(*http.Transport).Clone()
}

// checkEndpointURL accepts an https URL, or http to a loopback host (local
// development and tests, as RFC 8252 allows for native apps).
func checkEndpointURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a valid URL", raw)
	}
	if strings.ContainsAny(raw, " \t\r\n\x00") {
		return fmt.Errorf("%q contains whitespace or control characters", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("%q uses plain http to a host that is not loopback", raw)
		}
	default:
		return fmt.Errorf("%q has scheme %q; only https (or http to loopback) is allowed", raw, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q contains credentials", raw)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}

// withTimeout gives network calls made on a person's behalf a bound even
// when the caller's context has none.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
