package remoteissuer

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want string // "" for a public address
	}{
		{addr: "8.8.8.8"},
		{addr: "93.184.216.34"},
		{addr: "2606:4700:4700::1111"},
		{addr: "172.32.0.1"},
		{addr: "100.128.0.1"},
		{addr: "::ffff:8.8.8.8"},
		{addr: "64:ff9b::808:808"},
		{addr: "2002:808:808::1"},
		{addr: "127.0.0.1", want: "loopback"},
		{addr: "127.8.9.10", want: "loopback"},
		{addr: "::1", want: "loopback"},
		{addr: "10.1.2.3", want: "private"},
		{addr: "172.16.0.1", want: "private"},
		{addr: "172.31.255.255", want: "private"},
		{addr: "192.168.1.1", want: "private"},
		{addr: "fc00::1", want: "private"},
		{addr: "fd12:3456::1", want: "private"},
		{addr: "169.254.169.254", want: "cloud metadata service"},
		{addr: "169.254.1.1", want: "link-local"},
		{addr: "fe80::1", want: "link-local"},
		{addr: "fe80::1%eth0", want: "link-local"},
		{addr: "100.64.0.1", want: "carrier-grade NAT"},
		{addr: "100.127.255.255", want: "carrier-grade NAT"},
		{addr: "224.0.0.1", want: "multicast"},
		{addr: "239.255.255.250", want: "multicast"},
		{addr: "ff02::1", want: "multicast"},
		{addr: "ff05::2", want: "multicast"},
		{addr: "0.0.0.0", want: "unspecified"},
		{addr: "::", want: "unspecified"},
		{addr: "255.255.255.255", want: "broadcast"},
		{addr: "0.1.2.3", want: "this network"},
		{addr: "192.0.2.1", want: "documentation"},
		{addr: "198.18.0.1", want: "benchmarking"},
		{addr: "240.0.0.1", want: "reserved"},
		{addr: "2001:db8::1", want: "documentation"},
		{addr: "fec0::1", want: "site-local"},
		{addr: "2001::1", want: "Teredo"},
		{addr: "::a00:1", want: "IPv4-compatible"},
		{addr: "::ffff:127.0.0.1", want: "loopback"},
		{addr: "::ffff:10.0.0.1", want: "private"},
		{addr: "::ffff:169.254.169.254", want: "cloud metadata service"},
		{addr: "::ffff:100.64.0.1", want: "carrier-grade NAT"},
		{addr: "::ffff:0.0.0.0", want: "unspecified"},
		{addr: "64:ff9b::a00:1", want: "NAT64 of a private address"},
		{addr: "64:ff9b::a9fe:a9fe", want: "NAT64 of a link-local, the cloud metadata service address"},
		{addr: "64:ff9b:1::1", want: "local-use NAT64"},
		{addr: "2002:7f00:1::", want: "6to4 of a loopback address"},
		{addr: "2002:a9fe:a9fe::", want: "6to4 of a link-local"},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			got := classify(netip.MustParseAddr(tc.addr))
			if tc.want == "" {
				if got != "" {
					t.Errorf("classify(%s) = %q, want a public address", tc.addr, got)
				}
				return
			}
			if got == "" || !strings.Contains(got, tc.want) {
				t.Errorf("classify(%s) = %q, want it refused as %q", tc.addr, got, tc.want)
			}
		})
	}
}

func TestGuard_AllowedNetworks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		allowed  []string
		addr     string
		wantPass bool
	}{
		{name: "private address outside the list", allowed: nil, addr: "10.1.2.3"},
		{name: "private address inside the list", allowed: []string{"10.0.0.0/8"}, addr: "10.1.2.3", wantPass: true},
		{name: "IPv4-mapped form of an allowed address", allowed: []string{"10.0.0.0/8"}, addr: "::ffff:10.1.2.3", wantPass: true},
		{name: "IPv4-mapped allow-list entry", allowed: []string{"::ffff:10.0.0.0/104"}, addr: "10.9.9.9", wantPass: true},
		{name: "allow-list entry with host bits", allowed: []string{"10.1.2.3/8"}, addr: "10.200.0.1", wantPass: true},
		{name: "loopback not covered by a private entry", allowed: []string{"10.0.0.0/8"}, addr: "127.0.0.1"},
		{name: "single loopback address", allowed: []string{"127.0.0.1/32"}, addr: "127.0.0.1", wantPass: true},
		{name: "neighbouring loopback address", allowed: []string{"127.0.0.1/32"}, addr: "127.0.0.2"},
		{name: "metadata address outside a link-local entry", allowed: []string{"169.254.0.0/24"}, addr: "169.254.169.254"},
		{name: "public address needs no entry", allowed: nil, addr: "8.8.4.4", wantPass: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var prefixes []netip.Prefix
			for _, p := range tc.allowed {
				prefixes = append(prefixes, netip.MustParsePrefix(p))
			}
			cfg, err := Config{AllowedNetworks: prefixes}.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			g := newGuard(cfg)
			addr := netip.MustParseAddr(tc.addr)
			if why := g.refusal(addr); (why == "") != tc.wantPass {
				t.Errorf("refusal(%s) = %q, want pass %v", tc.addr, why, tc.wantPass)
			}
			// The connect-time check agrees with the dial-time one.
			err = g.control("tcp", netip.AddrPortFrom(addr, 443).String(), nil)
			if (err == nil) != tc.wantPass {
				t.Errorf("control(%s) = %v, want pass %v", tc.addr, err, tc.wantPass)
			}
		})
	}
}

func TestGuard_Fetch(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	loopbackOnly := func(cfg *Config) {}
	noAllowList := func(cfg *Config) { cfg.AllowedNetworks = nil }
	withResolver := func(r *fakeResolver) func(*Config) { return func(cfg *Config) { cfg.Resolver = r } }
	onHost := func(host string) func(*issuerd, string) string {
		return func(d *issuerd, prefix string) string { return d.base(host) + prefix + "/" }
	}
	rebinding := resolverOf("issuer.test", addrs("127.0.0.1"), addrs("10.0.0.1"))

	tests := []struct {
		name     string
		setup    func(d *issuerd, prefix string) issuerSetup
		cfg      func(*Config)
		issuer   func(d *issuerd, prefix string) string // default: 127.0.0.1, AKS form
		sentinel error
		texts    []string
		fetches  int // discovery requests issuerd should see
		after    func(t *testing.T)
	}{
		{name: "loopback literal not allow-listed", cfg: noAllowList,
			sentinel: ErrUnreachable, texts: []string{"127.0.0.1 (loopback)", "not in the allowed networks"}},
		{name: "loopback literal allow-listed", cfg: loopbackOnly, fetches: 1},
		{name: "localhost through the system resolver", cfg: noAllowList, issuer: onHost("localhost"),
			sentinel: ErrUnreachable, texts: []string{"host localhost resolves only to refused addresses", "loopback"}},
		{name: "IPv4-mapped loopback literal not allow-listed", cfg: noAllowList, issuer: onHost("::ffff:127.0.0.1"),
			sentinel: ErrUnreachable, texts: []string{"::ffff:127.0.0.1 (loopback)"}},
		{name: "IPv4-mapped loopback literal allow-listed as IPv4", cfg: loopbackOnly, issuer: onHost("::ffff:127.0.0.1"), fetches: 1},
		{name: "host name resolving to a private address",
			cfg: withResolver(resolverOf("issuer.test", addrs("10.1.2.3"))), issuer: onHost("issuer.test"),
			sentinel: ErrUnreachable, texts: []string{"issuer.test", "10.1.2.3 (private)"}},
		{name: "host name resolving to the metadata address",
			cfg: withResolver(resolverOf("issuer.test", addrs("169.254.169.254"))), issuer: onHost("issuer.test"),
			sentinel: ErrUnreachable, texts: []string{"169.254.169.254 (link-local, the cloud metadata service)"}},
		{name: "host name resolving to an IPv4-mapped metadata address",
			cfg: withResolver(resolverOf("issuer.test", addrs("::ffff:169.254.169.254"))), issuer: onHost("issuer.test"),
			sentinel: ErrUnreachable, texts: []string{"::ffff:169.254.169.254 (link-local"}},
		{name: "host name resolving to CGNAT and unique-local addresses",
			cfg: withResolver(resolverOf("issuer.test", addrs("100.64.1.1", "fd00::1"))), issuer: onHost("issuer.test"),
			sentinel: ErrUnreachable, texts: []string{"100.64.1.1 (carrier-grade NAT", "fd00::1 (private)"}},
		{name: "host name dialled at the address the resolver gave",
			cfg: withResolver(resolverOf("issuer.test", addrs("127.0.0.1"))), issuer: onHost("issuer.test"), fetches: 1},
		{name: "refused addresses skipped, the allowed one dialled",
			cfg: withResolver(resolverOf("issuer.test", addrs("10.1.2.3", "169.254.169.254", "127.0.0.1"))), issuer: onHost("issuer.test"), fetches: 1},
		{name: "DNS failure",
			cfg: withResolver(resolverOf("other.test", addrs("127.0.0.1"))), issuer: onHost("issuer.test"),
			sentinel: ErrUnreachable, texts: []string{"resolve issuer.test", "no such host"}},
		{name: "DNS rebinding between connections",
			setup: func(*issuerd, string) issuerSetup { return issuerSetup{} },
			cfg: func(cfg *Config) {
				cfg.Resolver = rebinding
				tr := cfg.Client.Transport.(*http.Transport).Clone()
				tr.DisableKeepAlives = true // every fetch dials and resolves afresh
				cfg.Client = &http.Client{Transport: tr}
			},
			issuer:   onHost("issuer.test"),
			sentinel: ErrUnreachable, texts: []string{"get https://issuer.test:", "/openid/v1/jwks", "10.0.0.1 (private)"}, fetches: 1,
			after: func(t *testing.T) {
				if n := rebinding.callsFor("issuer.test"); n != 2 {
					t.Errorf("resolver called %d times, want once per connection (2)", n)
				}
			}},
		{name: "environment proxy of the client is not used",
			cfg: func(cfg *Config) {
				tr := cfg.Client.Transport.(*http.Transport).Clone()
				tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: "127.0.0.1:1"})
				cfg.Client = &http.Client{Transport: tr}
			}, fetches: 1},
		{name: "client dial function is not used",
			cfg: func(cfg *Config) {
				tr := cfg.Client.Transport.(*http.Transport).Clone()
				tr.DialTLSContext = nil
				tr.DialTLS = func(network, addr string) (net.Conn, error) { return nil, errors.New("bypass dialer used") }
				cfg.Client = &http.Client{Transport: tr}
				cfg.AllowedNetworks = nil
			},
			sentinel: ErrUnreachable, texts: []string{"127.0.0.1 (loopback)"}},
		{name: "redirect to a loopback address outside the allow-list",
			setup: func(d *issuerd, prefix string) issuerSetup {
				return issuerSetup{Discovery: docSetup{Redirect: d.base("127.0.0.2") + prefix + wellKnown}}
			},
			sentinel: ErrUnreachable, texts: []string{"redirect to https://127.0.0.2:", "127.0.0.2 (loopback)"}, fetches: 1},
		{name: "redirect to IPv6 loopback",
			setup: func(d *issuerd, prefix string) issuerSetup {
				return issuerSetup{Discovery: docSetup{Redirect: d.base("::1") + prefix + wellKnown}}
			},
			sentinel: ErrUnreachable, texts: []string{"redirect to https://[::1]:", "::1 (loopback)"}, fetches: 1},
		{name: "redirect to an IPv4-mapped metadata address",
			setup: func(*issuerd, string) issuerSetup {
				return issuerSetup{Discovery: docSetup{Redirect: "https://[::ffff:a9fe:a9fe]/latest/meta-data/"}}
			},
			sentinel: ErrUnreachable, texts: []string{"redirect to https://[::ffff:a9fe:a9fe]/latest/meta-data/ refused", "cloud metadata service"}, fetches: 1},
		{name: "redirect to a host name resolving to a private address",
			setup: func(d *issuerd, prefix string) issuerSetup {
				return issuerSetup{Discovery: docSetup{Redirect: d.base("internal.test") + prefix + wellKnown}}
			},
			cfg:      withResolver(resolverOf("internal.test", addrs("10.0.0.5"))),
			sentinel: ErrUnreachable, texts: []string{"internal.test", "10.0.0.5 (private)"}, fetches: 1},
		{name: "redirect from https to http, with http allowed",
			setup: func(d *issuerd, prefix string) issuerSetup {
				return issuerSetup{Discovery: docSetup{Redirect: "http://127.0.0.1:" + d.port + prefix + wellKnown}}
			},
			cfg:      func(cfg *Config) { cfg.AllowHTTP = true },
			sentinel: ErrUnreachable, texts: []string{"redirect from https to http refused"}, fetches: 1},
		{name: "three redirects are followed",
			setup: func(*issuerd, string) issuerSetup { return issuerSetup{Discovery: docSetup{Hops: 3}} }, fetches: 4},
		{name: "a fourth redirect is refused",
			setup:    func(*issuerd, string) issuerSetup { return issuerSetup{Discovery: docSetup{Hops: 4}} },
			sentinel: ErrUnreachable, texts: []string{"stopped after 3 redirects"}, fetches: 4},
		{name: "jwks_uri on a private address",
			setup:    func(*issuerd, string) issuerSetup { return issuerSetup{JWKSURI: "https://10.0.0.1/openid/v1/jwks"} },
			sentinel: ErrUnreachable, texts: []string{"10.0.0.1 (private)"}, fetches: 1},
		{name: "issuer over http", issuer: func(d *issuerd, prefix string) string { return "http://127.0.0.1:" + d.port + prefix + "/" },
			sentinel: ErrUnreachable, texts: []string{`scheme "http" refused, https is required`}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := fmt.Sprintf("/guard-%d", i)
			if tc.setup != nil {
				d.configure(t, prefix, tc.setup(d, prefix))
			}
			cfg := d.config(newClock(), nil)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			iss := d.issuer(prefix, true)
			if tc.issuer != nil {
				iss = tc.issuer(d, prefix)
			}
			c := newCache(t, cfg)
			set, err := c.Keys(t.Context(), iss, "")
			wantErr(t, err, tc.sentinel, tc.texts...)
			if tc.sentinel == nil && len(set.Keys) != 1 {
				t.Errorf("got %d keys, want 1", len(set.Keys))
			}
			if st := d.stats(t, prefix); st.Discovery != tc.fetches {
				t.Errorf("issuerd saw %d discovery requests, want %d", st.Discovery, tc.fetches)
			}
			if tc.after != nil {
				tc.after(t)
			}
		})
	}
}

func TestGuard_AllowHTTP(t *testing.T) {
	t.Parallel()
	// issuerd speaks only https; a plain listener on it proves the request
	// went out as http only when allowed.
	d := startIssuerd(t)
	iss := "http://127.0.0.1:" + d.port + "/plain/"
	cfg := d.config(newClock(), nil)
	cfg.AllowHTTP = true
	_, err := newCache(t, cfg).Keys(t.Context(), iss, "")
	// issuerd answers a plain request on its TLS port with 400.
	wantErr(t, err, ErrUnreachable, "status 400")
	cfg.AllowHTTP = false
	_, err = newCache(t, cfg).Keys(t.Context(), iss, "")
	wantErr(t, err, ErrUnreachable, "https is required")
	if st := d.stats(t, "/plain"); st.Discovery != 0 {
		t.Errorf("issuerd served %d discovery requests, want 0", st.Discovery)
	}
}
