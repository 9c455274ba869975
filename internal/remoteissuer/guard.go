package remoteissuer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxRedirects is how many redirects one fetch may follow.
const maxRedirects = 3

// maxResponseHeaderBytes caps the response headers of a fetch.
const maxResponseHeaderBytes = 64 << 10

// specialBlock is an address block the guard refuses, and why.
type specialBlock struct {
	prefix netip.Prefix
	reason string
}

// specialBlocks lists the address blocks the guard refuses beyond those
// netip classifies (loopback, private, link-local, multicast, unspecified).
// Blocks that embed an IPv4 address (NAT64, 6to4) are handled in classify.
func specialBlocks() []specialBlock {
	return []specialBlock{
		{netip.MustParsePrefix("0.0.0.0/8"), `"this network"`},
		{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT shared address space"},
		{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments"},
		{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
		{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
		{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
		{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
		{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // includes broadcast 255.255.255.255
		{netip.MustParsePrefix("::/96"), "IPv4-compatible IPv6"},
		{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64"},
		{netip.MustParsePrefix("100::/64"), "discard-only"},
		{netip.MustParsePrefix("2001::/32"), "Teredo"},
		{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
		{netip.MustParsePrefix("fec0::/10"), "site-local"},
	}
}

// classify returns why a is not a public unicast address the guard may
// dial, or "" when it is one. IPv4-mapped IPv6 addresses are classified as
// the IPv4 address they carry, and NAT64 and 6to4 addresses by the IPv4
// address they embed.
func classify(a netip.Addr) string {
	var (
		nat64     = netip.MustParsePrefix("64:ff9b::/96")
		sixToFour = netip.MustParsePrefix("2002::/16")
		metadata  = netip.AddrFrom4([4]byte{169, 254, 169, 254})
		broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	)
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a == metadata:
		return "link-local, the cloud metadata service"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case a == broadcast:
		return "broadcast"
	}
	for _, s := range specialBlocks() {
		if s.prefix.Contains(a) {
			return s.reason
		}
	}
	if nat64.Contains(a) {
		b := a.As16()
		if why := classify(netip.AddrFrom4([4]byte(b[12:]))); why != "" {
			return "NAT64 of a " + why + " address"
		}
	}
	if sixToFour.Contains(a) {
		b := a.As16()
		if why := classify(netip.AddrFrom4([4]byte(b[2:6]))); why != "" {
			return "6to4 of a " + why + " address"
		}
	}
	if !a.IsGlobalUnicast() {
		return "not global unicast"
	}
	return ""
}

// guard is the SSRF boundary every fetch passes: it decides which URLs may
// be requested and which addresses may be dialled.
type guard struct {
	allowHTTP bool
	allowed   []netip.Prefix
	resolver  Resolver
	dialer    *net.Dialer
}

func newGuard(cfg Config) *guard {
	g := &guard{allowHTTP: cfg.AllowHTTP, allowed: cfg.AllowedNetworks, resolver: cfg.Resolver}
	g.dialer = &net.Dialer{Timeout: cfg.FetchTimeout, KeepAlive: 30 * time.Second, Control: g.control}
	return g
}

// refusal returns why a may not be dialled, or "" when it may: either it is
// a public unicast address or it lies in an allowed network.
func (g *guard) refusal(a netip.Addr) string {
	u := a.Unmap().WithZone("")
	for _, p := range g.allowed {
		if p.Contains(u) || p.Contains(a.WithZone("")) {
			return ""
		}
	}
	return classify(u)
}

// checkURL refuses a URL the guard will not request: a scheme other than
// https (or http with AllowHTTP), user info, no host, or a host that is a
// refused IP literal. Host names are checked when dialled.
func (g *guard) checkURL(u *url.URL) error {
	switch {
	case u.Scheme != "https" && !(u.Scheme == "http" && g.allowHTTP):
		return fmt.Errorf("scheme %q refused, https is required", u.Scheme)
	case u.User != nil:
		return errors.New("user info refused")
	case u.Hostname() == "":
		return errors.New("no host")
	}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil {
		if why := g.refusal(a); why != "" {
			return &addressError{host: u.Hostname(), refused: []refusedAddr{{a, why}}}
		}
	}
	return nil
}

// checkRedirect is the client's redirect policy: at most maxRedirects, never
// from https to http, and every target passes checkURL.
func (g *guard) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if prev := via[len(via)-1]; prev.URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect from https to %s refused: %s", req.URL.Scheme, redact(req.URL))
	}
	if err := g.checkURL(req.URL); err != nil {
		return fmt.Errorf("redirect to %s refused: %w", redact(req.URL), err)
	}
	return nil
}

// dialContext resolves the host once, drops refused addresses, and dials
// the remaining ones in turn by IP, so the address checked is the address
// connected to and a second DNS answer (rebinding) never comes into play.
func (g *guard) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = g.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("resolve %s: no addresses", host)
		}
	}
	var refused []refusedAddr
	var dialErr error
	for _, a := range addrs {
		if why := g.refusal(a); why != "" {
			refused = append(refused, refusedAddr{a, why})
			continue
		}
		conn, err := g.dialer.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		dialErr = errors.Join(dialErr, err)
		if ctx.Err() != nil {
			break
		}
	}
	if dialErr != nil {
		return nil, dialErr
	}
	return nil, &addressError{host: host, refused: refused}
}

// control re-checks, on the socket about to connect, the address actually
// being dialled: a second line behind dialContext, should any path reach
// the dialer with an address dialContext did not choose.
func (g *guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: unparsable address: %w", address, err)
	}
	if why := g.refusal(ap.Addr()); why != "" {
		return &addressError{host: ap.Addr().String(), refused: []refusedAddr{{ap.Addr(), why}}}
	}
	return nil
}

// newClient returns the guarded HTTP client: base's TLS settings and
// timeout, with no proxy (a proxy would be dialled instead of the issuer,
// defeating the address check), the guarded dialer, and the redirect policy.
func newClient(cfg Config, g *guard) *http.Client {
	var t *http.Transport
	var timeout time.Duration
	if cfg.Client != nil {
		timeout = cfg.Client.Timeout
		if bt, ok := cfg.Client.Transport.(*http.Transport); ok {
			t = bt.Clone()
		}
	}
	if t == nil {
		t = &http.Transport{
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	t.Proxy = nil
	t.OnProxyConnectResponse = nil
	// Every other way to open a connection is cleared, so that only the
	// guarded DialContext is ever used (DialTLS would otherwise take over
	// for https).
	t.Dial, t.DialTLS, t.DialTLSContext = nil, nil, nil
	t.DialContext = g.dialContext
	t.TLSHandshakeTimeout = cfg.FetchTimeout
	t.ResponseHeaderTimeout = cfg.FetchTimeout
	t.MaxResponseHeaderBytes = maxResponseHeaderBytes
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, CheckRedirect: g.checkRedirect, Timeout: timeout}
}

// redact returns u for messages, without user info, query or fragment.
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	return c.String()
}

// discoveryURL returns the discovery URL of issuer, checking it is an
// absolute https (or allowed http) URL without user info, query or
// fragment. A trailing slash is trimmed first, as Entra does, so the AKS
// form ".../{uuid}/" and the form without a slash give the same shape.
func discoveryURL(issuer string, allowHTTP bool) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return "", fmt.Errorf("%w: issuer is not a URL: %w", ErrUnreachable, err)
	}
	switch {
	case u.Scheme != "https" && !(u.Scheme == "http" && allowHTTP):
		return "", fmt.Errorf("%w: issuer %s: scheme %q refused, https is required", ErrUnreachable, redact(u), u.Scheme)
	case u.Host == "" || u.Opaque != "":
		return "", fmt.Errorf("%w: issuer %s is not an absolute URL", ErrUnreachable, redact(u))
	case u.User != nil:
		return "", fmt.Errorf("%w: issuer %s: user info refused", ErrUnreachable, redact(u))
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", fmt.Errorf("%w: issuer %s: a query or fragment is not allowed", ErrUnreachable, redact(u))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%w: issuer %s: bad port %q", ErrUnreachable, redact(u), p)
		}
	}
	return strings.TrimSuffix(issuer, "/") + wellKnown, nil
}

// wellKnown is the OIDC discovery path suffix.
const wellKnown = "/.well-known/openid-configuration"
