package loginproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// events collects what a proxy reports.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) kinds(kind EventKind) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.all {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// rig is an upstream that echoes what it received, a proxy in front of it,
// and an HTTP client that uses the proxy and trusts the proxy's CA.
type rig struct {
	upstream *httptest.Server
	proxy    *Proxy
	auth     *Authority
	events   *events
	client   *http.Client
}

func newRig(t *testing.T, pass func(ctx context.Context, network, addr string) (net.Conn, error)) *rig {
	t.Helper()
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Got-Host", r.Host)
		w.Header().Set("X-Got-Path", r.URL.Path)
		w.Header().Set("X-Got-Query", r.URL.RawQuery)
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "from upstream")
	}))
	t.Cleanup(up.Close)
	auth, err := NewAuthority(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(up.Certificate())
	ev := &events{}
	p, err := Start(Config{Upstream: up.URL, UpstreamRootCAs: pool, Authority: auth, Observe: ev.add, Passthrough: pass}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	proxyURL, err := url.Parse(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(auth.Cert)
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(tr.CloseIdleConnections)
	return &rig{upstream: up, proxy: p, auth: auth, events: ev, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

func TestInterceptedHostsReachUpstreamWithTheirHost(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	tests := []struct {
		name, url, wantHost, wantPath string
	}{
		{name: "login host, instance discovery", url: "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1",
			wantHost: "login.microsoftonline.com", wantPath: "/common/discovery/instance"},
		{name: "management host", url: "https://management.azure.com/subscriptions?api-version=2019-11-01",
			wantHost: "management.azure.com", wantPath: "/subscriptions"},
		{name: "a vault host", url: "https://myvault.vault.azure.net/secrets/s/?api-version=7.3",
			wantHost: "myvault.vault.azure.net", wantPath: "/secrets/s/"},
		{name: "host names are case-insensitive", url: "https://LOGIN.microsoftonline.com/x",
			wantHost: "login.microsoftonline.com", wantPath: "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := r.client.Get(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusTeapot || string(body) != "from upstream" {
				t.Fatalf("got %d %q, want the upstream's answer", resp.StatusCode, body)
			}
			if got := resp.Header.Get("X-Got-Host"); !strings.EqualFold(got, tt.wantHost) {
				t.Errorf("upstream saw Host %q, want %q", got, tt.wantHost)
			}
			if got := resp.Header.Get("X-Got-Path"); got != tt.wantPath {
				t.Errorf("upstream saw path %q, want %q", got, tt.wantPath)
			}
			leaf := resp.TLS.PeerCertificates[0]
			if err := leaf.VerifyHostname(tt.wantHost); err != nil {
				t.Errorf("certificate does not name %s: %v", tt.wantHost, err)
			}
		})
	}
	t.Run("events name fedcred as the only upstream", func(t *testing.T) {
		t.Parallel()
		resp, err := r.client.Get("https://login.microsoftonline.com/ev")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var found bool
		for _, e := range r.events.kinds(EventRequest) {
			if e.Upstream != r.upstream.URL {
				t.Errorf("request %s sent to %s, want %s", e.Path, e.Upstream, r.upstream.URL)
			}
			if e.Path == "/ev" && e.Status == http.StatusTeapot && e.Method == http.MethodGet {
				found = true
			}
		}
		if !found {
			t.Errorf("no request event for /ev: %+v", r.events.kinds(EventRequest))
		}
		if len(r.events.kinds(EventIntercept)) == 0 {
			t.Error("no intercept event")
		}
	})
}

func TestOtherHostsAreRefusedWithoutPassthrough(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	for _, tt := range []struct{ name, url string }{
		{name: "an unrelated host", url: "https://example.com/"},
		{name: "two labels under the vault domain", url: "https://a.b.vault.azure.net/"},
		{name: "the vault domain itself", url: "https://vault.azure.net/"},
		{name: "a look-alike suffix", url: "https://login.microsoftonline.com.evil.test/"},
		{name: "an emulated host on another port", url: "https://login.microsoftonline.com:8443/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := r.client.Get(tt.url)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got %d, want the CONNECT refused", resp.StatusCode)
			}
			if !strings.Contains(err.Error(), "Forbidden") {
				t.Errorf("error %v, want 403 Forbidden from the proxy", err)
			}
			u, _ := url.Parse(tt.url)
			var refused bool
			for _, e := range r.events.kinds(EventRefused) {
				refused = refused || strings.EqualFold(e.Target, hostPort(u))
			}
			if !refused {
				t.Errorf("no refused event for %s", hostPort(u))
			}
		})
	}
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return u.Host + ":443"
}

func TestPlainProxyRequestsAreRefused(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	req, err := http.NewRequest(http.MethodGet, r.proxy.URL()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "http://example.com/"
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("plain GET through the proxy: %d, want 405", resp.StatusCode)
	}
	if len(r.events.kinds(EventRefused)) != 1 {
		t.Errorf("refused events: %+v", r.events.kinds(EventRefused))
	}
}

func TestPassthroughTunnelsOtherHosts(t *testing.T) {
	t.Parallel()
	// A plain TCP echo server stands for a host the proxy does not emulate.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	var dialed []string
	var mu sync.Mutex
	r := newRig(t, func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		if addr == "unreachable.test:443" {
			return nil, errors.New("no route")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, ln.Addr().String())
	})
	conn, err := net.Dial("tcp", r.proxy.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	io.WriteString(conn, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("tunnel echoed %q, %v", buf, err)
	}
	if got := r.events.kinds(EventPassthrough); len(got) != 1 || got[0].Target != "example.com:443" {
		t.Errorf("passthrough events %+v", got)
	}
	// A passthrough target that cannot be dialed is a 502.
	resp2, err := r.client.Get("https://unreachable.test/")
	if err == nil {
		resp2.Body.Close()
		t.Fatal("an unreachable passthrough target answered")
	}
	if !strings.Contains(err.Error(), "Bad Gateway") {
		t.Errorf("unreachable target: %v, want 502", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) != 2 {
		t.Errorf("dialed %v, want example.com:443 and unreachable.test:443", dialed)
	}
}

func TestUnreachableUpstreamIsBadGateway(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	auth, err := NewAuthority(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	p, err := Start(Config{Upstream: "https://" + addr, Authority: auth, Observe: ev.add}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	proxyURL, _ := url.Parse(p.URL())
	roots := x509.NewCertPool()
	roots.AddCert(auth.Cert)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := c.Get("https://login.microsoftonline.com/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	if got := ev.kinds(EventRequest); len(got) != 1 || got[0].Status != http.StatusBadGateway {
		t.Errorf("request events %+v, want one 502", got)
	}
}

func TestConfigIsChecked(t *testing.T) {
	t.Parallel()
	auth, err := NewAuthority(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "no authority", cfg: Config{Upstream: "https://localhost:8443"}, want: "authority"},
		{name: "plain http upstream", cfg: Config{Upstream: "http://localhost:8443", Authority: auth}, want: "https"},
		{name: "upstream with a query", cfg: Config{Upstream: "https://localhost:8443/?a=b", Authority: auth}, want: "https"},
		{name: "host pattern with a port", cfg: Config{Upstream: "https://localhost:8443", Authority: auth, Hosts: []string{"a.test:443"}}, want: "host pattern"},
		{name: "bare wildcard", cfg: Config{Upstream: "https://localhost:8443", Authority: auth, Hosts: []string{"*."}}, want: "host pattern"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Start(tt.cfg, "")
			if err == nil {
				p.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q in it", err, tt.want)
			}
		})
	}
}

func TestEmulates(t *testing.T) {
	t.Parallel()
	p, err := newProxy(Config{Upstream: "https://localhost:8443", Authority: &Authority{}, Hosts: []string{"login.test", "*.vault.test"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		host string
		want bool
	}{
		{host: "login.test", want: true},
		{host: "LOGIN.test.", want: true},
		{host: "kv1.vault.test", want: true},
		{host: "vault.test", want: false},
		{host: "a.kv1.vault.test", want: false},
		{host: "xlogin.test", want: false},
		{host: "login.test.evil", want: false},
		{host: "", want: false},
	} {
		if got := p.Emulates(tt.host); got != tt.want {
			t.Errorf("Emulates(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestAuthorityCertificates(t *testing.T) {
	t.Parallel()
	now := time.Now()
	auth, err := NewAuthority(now)
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.leaf("kv.vault.azure.net", now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := auth.leaf("kv.vault.azure.net", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("a certificate was reissued long before it expires")
	}
	c, err := auth.leaf("kv.vault.azure.net", now.Add(leafLifetime))
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Error("an expiring certificate was not reissued")
	}
	roots := x509.NewCertPool()
	roots.AddCert(auth.Cert)
	if _, err := a.Leaf.Verify(x509.VerifyOptions{DNSName: "kv.vault.azure.net", Roots: roots, CurrentTime: now}); err != nil {
		t.Errorf("leaf does not verify against the authority: %v", err)
	}
	if _, err := auth.leaf("x.test", now.Add(ephemeralLifetime)); err == nil {
		t.Error("an expired authority issued a certificate")
	}
}

func TestLoadAuthority(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := NewAuthority(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caCrt := write("ca.crt", ca.CertPEM())
	caKey := write("ca.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	loaded, err := LoadAuthority(caCrt, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(ca.Cert) {
		t.Error("loaded a different certificate")
	}
	leaf, err := loaded.leaf("login.microsoftonline.com", time.Now())
	if err != nil || leaf.Leaf.CheckSignatureFrom(ca.Cert) != nil {
		t.Errorf("a loaded authority cannot issue: %v", err)
	}
	// A leaf certificate is not an authority.
	leafKeyDER, _ := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	notCA := write("leaf.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Certificate[0]}))
	notCAKey := write("leaf.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: leafKeyDER}))
	for _, tt := range []struct{ name, cert, key, want string }{
		{name: "missing certificate", cert: filepath.Join(dir, "none.crt"), key: caKey, want: "read CA certificate"},
		{name: "missing key", cert: caCrt, key: filepath.Join(dir, "none.key"), want: "read CA key"},
		{name: "key of another certificate", cert: caCrt, key: notCAKey, want: "load CA"},
		{name: "not a CA", cert: notCA, key: notCAKey, want: "not a CA"},
	} {
		if _, err := LoadAuthority(tt.cert, tt.key); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
