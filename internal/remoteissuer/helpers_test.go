package remoteissuer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// issuerdBin is the issuerd binary TestMain builds; read-only once tests run.
var issuerdBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "remoteissuer-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, "make temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	issuerdBin = filepath.Join(dir, "issuerd")
	out, err := exec.Command("go", "build", "-o", issuerdBin, "./testdata/issuerd").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build issuerd: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// issuerd is a running issuerd process (testdata/issuerd).
type issuerd struct {
	host  string // 127.0.0.1
	port  string
	admin string // http://127.0.0.1:port
	roots *x509.CertPool
}

// docSetup and issuerSetup mirror issuerd's docConfig and issuerConfig.
type docSetup struct {
	Status       int    `json:"status,omitempty"`
	Body         string `json:"body,omitempty"`
	ContentType  string `json:"contentType,omitempty"`
	Pad          int    `json:"pad,omitempty"`
	Chunked      bool   `json:"chunked,omitempty"`
	DelayMS      int    `json:"delayMs,omitempty"`
	Redirect     string `json:"redirect,omitempty"`
	Hops         int    `json:"hops,omitempty"`
	CacheControl string `json:"cacheControl,omitempty"`
}

type issuerSetup struct {
	Form      string   `json:"form,omitempty"`
	Issuer    string   `json:"issuer,omitempty"`
	JWKSURI   string   `json:"jwksUri,omitempty"`
	Discovery docSetup `json:"discovery"`
	JWKS      docSetup `json:"jwks"`
}

// issuerStats are issuerd's counters for one issuer.
type issuerStats struct {
	Discovery int      `json:"discovery"`
	JWKS      int      `json:"jwks"`
	Kids      []string `json:"kids"`
}

// startIssuerd starts an issuerd process that is killed when t ends.
func startIssuerd(t *testing.T) *issuerd {
	t.Helper()
	cmd := exec.Command(issuerdBin)
	stdin, err := cmd.StdinPipe() // issuerd exits at EOF, so it dies with the test binary
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start issuerd: %v", err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && stderr.String() != "" {
			t.Logf("issuerd stderr:\n%s", stderr.String())
		}
	})

	type hello struct {
		Addr  string `json:"addr"`
		Admin string `json:"admin"`
		CAPem string `json:"caPem"`
	}
	ch := make(chan hello, 1)
	errc := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadBytes('\n')
		if err != nil {
			errc <- fmt.Errorf("read issuerd hello: %w", err)
			return
		}
		var h hello
		if err := json.Unmarshal(line, &h); err != nil {
			errc <- fmt.Errorf("decode issuerd hello %q: %w", line, err)
			return
		}
		ch <- h
	}()
	var h hello
	select {
	case h = <-ch:
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("issuerd did not start within 30s")
	}
	host, port, err := net.SplitHostPort(h.Addr)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(h.CAPem)) {
		t.Fatal("issuerd sent no usable certificate")
	}
	return &issuerd{host: host, port: port, admin: "http://" + h.Admin, roots: roots}
}

// base returns https://host:port for host (an IP literal or a name).
func (d *issuerd) base(host string) string {
	return "https://" + net.JoinHostPort(host, d.port)
}

// issuer returns the issuer URL of prefix on 127.0.0.1, in the AKS form
// (trailing slash) or without it.
func (d *issuerd) issuer(prefix string, slash bool) string {
	u := d.base(d.host) + prefix
	if slash {
		u += "/"
	}
	return u
}

// client trusts issuerd's certificate.
func (d *issuerd) client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: d.roots, MinVersion: tls.VersionTLS12}}}
}

// config returns a Config that reaches issuerd: its CA trusted and
// 127.0.0.1 allow-listed.
func (d *issuerd) config(clock *fakeClock, log *syncBuffer) Config {
	cfg := Config{
		Client:          d.client(),
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		FetchTimeout:    5 * time.Second,
	}
	if clock != nil {
		cfg.Now = clock.Now
	}
	if log != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return cfg
}

func (d *issuerd) adminDo(t *testing.T, method, path string, body any, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, d.admin+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("issuerd admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		t.Fatalf("issuerd admin %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("issuerd admin %s %s: decode %q: %v", method, path, b, err)
		}
	}
}

func (d *issuerd) configure(t *testing.T, prefix string, s issuerSetup) {
	t.Helper()
	d.adminDo(t, http.MethodPost, "/config?issuer="+prefix, s, nil)
}

// rotate adds a key of kty ("RSA" or "EC") to prefix's issuer, dropping the
// old ones unless keep, and returns the kids it now publishes.
func (d *issuerd) rotate(t *testing.T, prefix string, keep bool, kty string) []string {
	t.Helper()
	q := "/rotate?issuer=" + prefix + "&kty=" + kty
	if keep {
		q += "&keep=1"
	}
	var st issuerStats
	d.adminDo(t, http.MethodPost, q, nil, &st)
	return st.Kids
}

func (d *issuerd) stats(t *testing.T, prefix string) issuerStats {
	t.Helper()
	var st issuerStats
	d.adminDo(t, http.MethodGet, "/stats?issuer="+prefix, nil, &st)
	return st
}

func (d *issuerd) down(t *testing.T) { t.Helper(); d.adminDo(t, http.MethodPost, "/down", nil, nil) }
func (d *issuerd) up(t *testing.T)   { t.Helper(); d.adminDo(t, http.MethodPost, "/up", nil, nil) }

// waitStats polls prefix's counters until ok holds, or fails after 10s.
func (d *issuerd) waitStats(t *testing.T, prefix string, ok func(issuerStats) bool) issuerStats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := d.stats(t, prefix)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("issuerd counters for %q never reached the expected state; last %+v", prefix, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeResolver answers from a table. Each host has a sequence of answers;
// the last one repeats.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]netip.Addr
	err     error
	calls   map[string]int
}

func resolverOf(host string, answers ...[]netip.Addr) *fakeResolver {
	return &fakeResolver{answers: map[string][][]netip.Addr{host: answers}, calls: map[string]int{}}
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func (r *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.calls[host]
	r.calls[host]++
	if r.err != nil {
		return nil, r.err
	}
	seq, ok := r.answers[host]
	if !ok || len(seq) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return slices.Clone(seq[min(n, len(seq)-1)]), nil
}

func (r *fakeResolver) callsFor(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// kidsOf returns the sorted kids of keys.
func kidsOf(keys []string) []string {
	out := slices.Clone(keys)
	slices.Sort(out)
	return out
}

// wantErr checks err against a sentinel (nil for success) and substrings
// of its message.
func wantErr(t *testing.T, err, sentinel error, texts ...string) {
	t.Helper()
	if sentinel == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want %v", sentinel)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %q does not wrap %v", err, sentinel)
	}
	for _, s := range texts {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

// errorsIs is errors.Is, with a nil target meaning no error.
func errorsIs(err, target error) bool {
	if target == nil {
		return err == nil
	}
	return errors.Is(err, target)
}
