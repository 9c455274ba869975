// Package loginproxy is the local proxy behind `fedcred run
// --emulate-login-host`: an HTTPS forward proxy (HTTP CONNECT, the kind every
// Azure client honours through HTTPS_PROXY) that answers for Azure's public
// hosts — login.microsoftonline.com, management.azure.com and
// <vault>.vault.azure.net — with fedcred.
//
// Unmodified programs built on MSAL send instance discovery to
// https://login.microsoftonline.com/common/discovery/instance whatever
// authority they are given, and Key Vault clients only trust a challenge for
// a vault on a *.vault.azure.net host. The proxy terminates TLS for those
// hosts with certificates from a CA the program trusts (fedcred's own, or one
// made for the run) and forwards each request to fedcred with its Host header
// kept, so fedcred answers as that host: instance discovery names fedcred's
// tenant metadata, the vault is chosen by its host name, the management API
// serves management.azure.com.
//
// Nothing else is intercepted. A CONNECT to any other host is refused unless
// Config.Passthrough is set, in which case it is tunnelled unchanged. The
// proxy dials only the fedcred URL it was given (and Passthrough), and
// reports every CONNECT and request to Config.Observe, so a test can assert
// that no request left for anything but fedcred.
package loginproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultHosts are the hosts the proxy answers for unless Config.Hosts
// names others: Entra's login host, Azure Resource Manager, and Key Vault.
// A leading "*." matches exactly one more label.
func DefaultHosts() []string {
	return []string{"login.microsoftonline.com", "management.azure.com", "*.vault.azure.net"}
}

// Timeouts and bounds.
const (
	headerTimeout   = 10 * time.Second
	idleTimeout     = 90 * time.Second
	dialTimeout     = 10 * time.Second
	upstreamTimeout = 60 * time.Second
	maxHeaderBytes  = 64 << 10
	maxHostLen      = 253
)

// EventKind tells what an Event reports.
type EventKind string

// The kinds of Event.
const (
	// EventIntercept is a CONNECT to an emulated host, answered by fedcred.
	EventIntercept EventKind = "intercept"
	// EventPassthrough is a CONNECT to another host, tunnelled unchanged.
	EventPassthrough EventKind = "passthrough"
	// EventRefused is a CONNECT (or plain proxy request) the proxy refused.
	EventRefused EventKind = "refused"
	// EventRequest is one HTTP request forwarded to fedcred.
	EventRequest EventKind = "request"
)

// Event is one thing the proxy did, for Config.Observe.
type Event struct {
	Kind EventKind
	// Target is the CONNECT target (host:port), or for EventRequest the
	// request's Host.
	Target string
	// Method and Path are set for EventRequest (never the query).
	Method, Path string
	// Upstream is where an EventRequest was sent: the fedcred URL.
	Upstream string
	// Status is fedcred's answer to an EventRequest (502 when it could
	// not be reached).
	Status int
}

// Config configures a Proxy.
type Config struct {
	// Upstream is fedcred's public URL (https://host[:port]). Required.
	Upstream string
	// UpstreamRootCAs are the CAs trusted for Upstream's certificate; nil
	// means the system roots.
	UpstreamRootCAs *x509.CertPool
	// Authority signs the emulated hosts' certificates. Required.
	Authority *Authority
	// Hosts are the host names to answer for (default DefaultHosts()).
	Hosts []string
	// Passthrough, when set, dials the CONNECT targets the proxy does not
	// emulate, and their traffic is tunnelled unchanged. When nil such
	// CONNECTs are refused with 403.
	Passthrough func(ctx context.Context, network, addr string) (net.Conn, error)
	// Observe, when set, is called for every Event, from the goroutine
	// handling it.
	Observe func(Event)
	// Logger receives one line per CONNECT; nil discards.
	Logger *slog.Logger
	// Now is the clock for certificates; nil means time.Now.
	Now func() time.Time
}

// Proxy is a running proxy. Its methods are safe for concurrent use.
type Proxy struct {
	upstream *url.URL
	auth     *Authority
	hosts    []string
	pass     func(ctx context.Context, network, addr string) (net.Conn, error)
	observe  func(Event)
	log      *slog.Logger
	now      func() time.Time

	front   *http.Server
	inner   *http.Server
	conns   *connListener
	addr    string
	done    chan struct{}
	tunnels sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
}

// newProxy checks cfg and builds a Proxy that is not serving yet.
func newProxy(cfg Config) (*Proxy, error) {
	u, err := url.Parse(cfg.Upstream)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("loginproxy: upstream %q must be an https URL without query or fragment", cfg.Upstream)
	}
	if cfg.Authority == nil {
		return nil, errors.New("loginproxy: an authority is required")
	}
	hosts := cfg.Hosts
	if len(hosts) == 0 {
		hosts = DefaultHosts()
	}
	for _, h := range hosts {
		name := strings.TrimPrefix(h, "*.")
		if name == "" || strings.ContainsAny(name, "*:/ ") || len(name) > maxHostLen {
			return nil, fmt.Errorf("loginproxy: host pattern %q is not a host name or *.domain", h)
		}
	}
	p := &Proxy{
		upstream: u,
		auth:     cfg.Authority,
		hosts:    hosts,
		pass:     cfg.Passthrough,
		observe:  cfg.Observe,
		log:      cfg.Logger,
		now:      cfg.Now,
		done:     make(chan struct{}),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.observe == nil {
		p.observe = func(Event) {}
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	transport := &http.Transport{
		Proxy:                 nil, // never through another proxy: only to fedcred
		DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: cfg.UpstreamRootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: upstreamTimeout,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       idleTimeout,
		ForceAttemptHTTP2:     false,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(p.upstream)
			pr.Out.Host = pr.In.Host // fedcred answers as the emulated host
			pr.SetXForwarded()
		},
		Transport: transport,
		ModifyResponse: func(resp *http.Response) error {
			p.observe(Event{Kind: EventRequest, Target: resp.Request.Host, Method: resp.Request.Method,
				Path: resp.Request.URL.Path, Upstream: p.upstream.String(), Status: resp.StatusCode})
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.observe(Event{Kind: EventRequest, Target: r.Host, Method: r.Method, Path: r.URL.Path,
				Upstream: p.upstream.String(), Status: http.StatusBadGateway})
			p.log.Warn("fedcred unreachable through the login proxy", "host", r.Host, "err", err)
			http.Error(w, "fedcred login proxy: fedcred at "+p.upstream.String()+" is unreachable", http.StatusBadGateway)
		},
		ErrorLog: slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	p.conns = newConnListener()
	p.inner = &http.Server{
		Handler:           rp,
		ReadHeaderTimeout: headerTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	p.front = &http.Server{
		Handler:           http.HandlerFunc(p.serveProxy),
		ReadHeaderTimeout: headerTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	return p, nil
}

// Start listens on addr (default 127.0.0.1:0) and serves in the
// background until Close or Shutdown.
func Start(cfg Config, addr string) (*Proxy, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	p, err := newProxy(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("loginproxy: listen on %s: %w", addr, err)
	}
	p.addr = ln.Addr().String()
	go p.inner.Serve(p.conns)
	go p.front.Serve(ln)
	return p, nil
}

// URL is the proxy's URL, for HTTPS_PROXY.
func (p *Proxy) URL() string { return "http://" + p.addr }

// Addr is the address the proxy listens on.
func (p *Proxy) Addr() string { return p.addr }

// Shutdown stops accepting connections and waits for requests in flight.
func (p *Proxy) Shutdown(ctx context.Context) error {
	err := p.front.Shutdown(ctx)
	p.conns.Close()
	err = errors.Join(err, p.inner.Shutdown(ctx))
	p.cancel()
	p.tunnels.Wait()
	return err
}

// Close stops the proxy at once.
func (p *Proxy) Close() error {
	err := p.front.Close()
	p.conns.Close()
	err = errors.Join(err, p.inner.Close())
	p.cancel()
	p.tunnels.Wait()
	return err
}

// Emulates reports whether the proxy answers for host (a host name without
// port).
func (p *Proxy) Emulates(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.hosts {
		pat = strings.ToLower(pat)
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			label, found := strings.CutSuffix(host, "."+rest)
			if found && label != "" && !strings.Contains(label, ".") {
				return true
			}
			continue
		}
		if host == pat {
			return true
		}
	}
	return false
}

// serveProxy handles one request to the proxy itself: a CONNECT.
func (p *Proxy) serveProxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		p.observe(Event{Kind: EventRefused, Target: r.Host, Method: r.Method})
		http.Error(w, "fedcred login proxy: only CONNECT (HTTPS) is proxied", http.StatusMethodNotAllowed)
		return
	}
	target := r.Host
	host, port, err := net.SplitHostPort(target)
	if err != nil || host == "" || len(host) > maxHostLen {
		p.observe(Event{Kind: EventRefused, Target: target})
		http.Error(w, "fedcred login proxy: CONNECT needs host:port", http.StatusBadRequest)
		return
	}
	switch {
	case p.Emulates(host) && port == "443":
		p.intercept(w, strings.ToLower(host), target)
	case p.pass != nil:
		p.passthrough(w, r, target)
	default:
		p.observe(Event{Kind: EventRefused, Target: target})
		p.log.Info("login proxy refused a host it does not emulate", "target", target)
		http.Error(w, "fedcred login proxy: "+target+" is not a host fedcred emulates", http.StatusForbidden)
	}
}

// intercept answers the CONNECT and hands the connection, wrapped in TLS
// with a certificate for host, to the server that forwards to fedcred.
func (p *Proxy) intercept(w http.ResponseWriter, host, target string) {
	conn, ok := p.hijack(w)
	if !ok {
		return
	}
	p.observe(Event{Kind: EventIntercept, Target: target})
	p.log.Debug("login proxy answering as fedcred", "target", target, "upstream", p.upstream.String())
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			// The certificate names the CONNECT host, whatever the SNI says.
			return p.auth.leaf(host, p.now())
		},
	}
	if !p.conns.push(tls.Server(conn, cfg)) {
		conn.Close()
	}
}

// passthrough tunnels a CONNECT to a host the proxy does not emulate.
func (p *Proxy) passthrough(w http.ResponseWriter, r *http.Request, target string) {
	ctx, cancel := context.WithTimeout(r.Context(), dialTimeout)
	defer cancel()
	up, err := p.pass(ctx, "tcp", target)
	if err != nil {
		p.observe(Event{Kind: EventRefused, Target: target})
		http.Error(w, "fedcred login proxy: cannot reach "+target, http.StatusBadGateway)
		return
	}
	conn, ok := p.hijack(w)
	if !ok {
		up.Close()
		return
	}
	p.observe(Event{Kind: EventPassthrough, Target: target})
	p.tunnels.Go(func() {
		stop := context.AfterFunc(p.ctx, func() { conn.Close(); up.Close() })
		defer stop()
		var wg sync.WaitGroup
		wg.Go(func() { io.Copy(up, conn); closeWrite(up) })
		io.Copy(conn, up)
		closeWrite(conn)
		wg.Wait()
		conn.Close()
		up.Close()
	})
}

// hijack takes over the client connection and confirms the CONNECT.
func (p *Proxy) hijack(w http.ResponseWriter) (net.Conn, bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "fedcred login proxy: cannot take over the connection", http.StatusInternalServerError)
		return nil, false
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return nil, false
	}
	if buf.Reader.Buffered() > 0 {
		// The client sent bytes before the 200: not a well-behaved tunnel.
		conn.Close()
		return nil, false
	}
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		conn.Close()
		return nil, false
	}
	return conn, true
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// connListener is a net.Listener fed with connections by the proxy.
type connListener struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

// Accept implements net.Listener.
func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr implements net.Listener.
func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
