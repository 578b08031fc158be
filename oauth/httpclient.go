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
	"syscall"
	"time"
)

// addressPolicy says which addresses OAuth requests may reach. Metadata
// URLs, authorization servers and their endpoints come from the network, so
// a hostile server could point them at the user's router or a cloud
// metadata endpoint (SSRF, AUTH-33). Private, link-local and loopback
// addresses are refused unless the MCP server itself lives there.
type addressPolicy struct {
	allowLoopback bool
	allowPrivate  bool
}

// policyFor derives the policy from the MCP server's URL.
func policyFor(serverURL string) addressPolicy {
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
		return addressPolicy{} // a name: public unless it resolves otherwise, which the dialer checks
	}
	switch {
	case ip.IsLoopback():
		return addressPolicy{allowLoopback: true}
	case ip.IsPrivate():
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
	if cgnat := netip.MustParsePrefix("100.64.0.0/10"); cgnat.Contains(ip) && !p.allowPrivate {
		return fmt.Errorf("%s is a shared (carrier) address", ip)
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
// slip past it. Redirects are followed for GETs only (at most
// maxRedirects); a token request is never redirected.
func newHTTPClient(p addressPolicy, base *http.Transport) *http.Client {
	t := base.Clone()
	dialer := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return err
			}
			if err := p.check(ip); err != nil {
				return fmt.Errorf("%w: %v", errBlocked, err)
			}
			return nil
		},
	}
	t.DialContext = dialer.DialContext
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
