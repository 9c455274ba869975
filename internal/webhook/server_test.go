package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// rig is a started webhook server on loopback.
type rig struct {
	srv               *Server
	clock             *clock
	certFile, keyFile string
	cancel            context.CancelFunc
}

func startServer(t *testing.T, client *fake.Clientset, edit func(*Config)) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{clock: newClock(), certFile: filepath.Join(dir, "tls.crt"), keyFile: filepath.Join(dir, "tls.key")}
	cfg := Config{
		Listen: "127.0.0.1:0", HealthListen: "127.0.0.1:0",
		CertFile: r.certFile, KeyFile: r.keyFile, CertCheckInterval: 5 * time.Second,
		Mutator: Mutator{AuthorityHost: testAuthority, TenantID: testTenant},
		Client:  client,
		Now:     r.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("Start() error = %v", err)
	}
	r.srv, r.cancel = srv, cancel
	t.Cleanup(func() {
		cancel()
		if err := srv.Wait(); err != nil {
			t.Errorf("Wait() = %v", err)
		}
	})
	return r
}

// httpsClient trusts cert and opens a new connection per request.
func httpsClient(cert *x509.Certificate, maxVersion uint16) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MaxVersion: maxVersion},
		DisableKeepAlives: true,
	}}
}

// health returns the status and body of a GET on the plain health listener.
func health(t *testing.T, addr net.Addr, path string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr.String() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// writeCert writes a new serving pair and lets the reloader's interval pass.
func (r *rig) writeCert(t *testing.T, serial int64, mtime time.Time) *x509.Certificate {
	t.Helper()
	c := writeCert(t, r.certFile, r.keyFile, serial, mtime)
	r.clock.Advance(5 * time.Second)
	return c
}

func annotatedClient() *fake.Clientset {
	return fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ai-svc", Namespace: "pets",
		Annotations: map[string]string{ClientIDAnnotation: testClientID, TenantIDAnnotation: saTenant}}})
}

func TestStart_MutatesOverHTTPS(t *testing.T) {
	t.Parallel()
	r := startServer(t, annotatedClient(), nil)
	cert := r.writeCert(t, 1, time.Now())
	waitFor(t, "ready", func() bool { code, _ := health(t, r.srv.HealthAddr(), ReadyzPath); return code == http.StatusOK })

	review := readReview(t, "admissionreview-v1-replicaset-pod.json")
	resp, err := httpsClient(cert, 0).Post("https://"+r.srv.Addr().String()+MutatePath, "application/json", bytes.NewReader(review))
	if err != nil {
		t.Fatalf("POST %s: %v", MutatePath, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("HTTP %d over %v: %s", resp.StatusCode, resp.TLS, body)
	}
	ar := decodeResponse(t, body, admissionV1, "3a9c1f8e-5b7d-4e2a-9f61-0c8d2b4e7a15")
	if !ar.Allowed {
		t.Fatalf("refused: %+v", ar.Result)
	}
	raw := rawObject(t, review)
	checkRealisticPod(t, decodePod(t, raw), decodePod(t, applyResponse(t, raw, ar)))

	// The health endpoints are on the HTTPS listener too.
	for _, path := range []string{HealthzPath, ReadyzPath} {
		resp, err := httpsClient(cert, 0).Get("https://" + r.srv.Addr().String() + path)
		if err != nil {
			t.Fatalf("GET %s over HTTPS: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s over HTTPS: %d", path, resp.StatusCode)
		}
	}
}

func TestStart_MinTLSVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		min        uint16
		clientMax  uint16
		wantRefuse bool
	}{
		{name: "default 1.3 refuses a TLS 1.2 client", min: 0, clientMax: tls.VersionTLS12, wantRefuse: true},
		{name: "1.2 accepts a TLS 1.2 client", min: tls.VersionTLS12, clientMax: tls.VersionTLS12},
		{name: "1.2 still accepts TLS 1.3", min: tls.VersionTLS12, clientMax: tls.VersionTLS13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startServer(t, annotatedClient(), func(c *Config) { c.MinTLSVersion = tt.min })
			cert := r.writeCert(t, 1, time.Now())
			resp, err := httpsClient(cert, tt.clientMax).Get("https://" + r.srv.Addr().String() + HealthzPath)
			if tt.wantRefuse {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("TLS %#x client served", tt.clientMax)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			resp.Body.Close()
		})
	}
}

func TestStart_ReloadsCertificate(t *testing.T) {
	t.Parallel()
	r := startServer(t, annotatedClient(), nil)
	first := r.writeCert(t, 1, time.Now().Add(-time.Hour))
	served := func(trust *x509.Certificate) int64 {
		t.Helper()
		resp, err := httpsClient(trust, 0).Get("https://" + r.srv.Addr().String() + HealthzPath)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if got := served(first); got != 1 {
		t.Fatalf("serial %d served, want 1", got)
	}
	second := r.writeCert(t, 2, time.Now())
	if got := served(second); got != 2 {
		t.Fatalf("after rewriting the files: serial %d served, want 2", got)
	}
}

func TestStart_ReadinessFollowsSyncAndCertificate(t *testing.T) {
	t.Parallel()
	client := annotatedClient()
	release := make(chan struct{})
	client.PrependReactor("list", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
		<-release // hold the first list: the cache cannot sync
		return false, nil, nil
	})
	r := startServer(t, client, nil)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	addr := r.srv.HealthAddr()

	if code, body := health(t, addr, ReadyzPath); code != http.StatusServiceUnavailable || !strings.Contains(body, "service account cache not synced") {
		t.Fatalf("readyz before sync = %d %q, want 503 not synced", code, body)
	}
	if code, _ := health(t, addr, HealthzPath); code != http.StatusOK {
		t.Errorf("healthz before sync = %d, want 200", code)
	}
	close(release)
	waitFor(t, "the cache sync", func() bool {
		_, body := health(t, addr, ReadyzPath)
		return !strings.Contains(body, "not synced")
	})
	if code, body := health(t, addr, ReadyzPath); code != http.StatusServiceUnavailable || !strings.Contains(body, "no serving certificate loaded") {
		t.Fatalf("readyz without a certificate = %d %q, want 503 no certificate", code, body)
	}
	r.writeCert(t, 1, time.Now())
	if code, body := health(t, addr, ReadyzPath); code != http.StatusOK {
		t.Fatalf("readyz once synced with a certificate = %d %q, want 200", code, body)
	}
}

func TestStart_GracefulShutdown(t *testing.T) {
	t.Parallel()
	r := startServer(t, annotatedClient(), func(c *Config) { c.ShutdownDelay = 300 * time.Millisecond })
	r.writeCert(t, 1, time.Now())
	waitFor(t, "ready", func() bool { code, _ := health(t, r.srv.HealthAddr(), ReadyzPath); return code == http.StatusOK })
	r.cancel()
	// During the delay it still serves, and reports not ready.
	if code, body := health(t, r.srv.HealthAddr(), ReadyzPath); code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("readyz during shutdown = %d %q, want 503 shutting down", code, body)
	}
	done := make(chan error, 1)
	go func() { done <- r.srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Wait() = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
	if _, err := net.DialTimeout("tcp", r.srv.Addr().String(), time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
}

func TestStart_RefusesBadConfig(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{name: "no client", edit: func(c *Config) { c.Client = nil }, wantErr: "kubernetes client is required"},
		{name: "TLS 1.1", edit: func(c *Config) { c.MinTLSVersion = tls.VersionTLS11 }, wantErr: "not TLS 1.2 or 1.3"},
		{name: "unknown layout", edit: func(c *Config) { c.Mutator.Layout = "v2" }, wantErr: "unknown token path layout"},
		{name: "no certificate files", edit: func(c *Config) { c.CertFile = "" }, wantErr: "certificate and key files are required"},
		{name: "address in use", edit: func(c *Config) { c.Listen = busy.Addr().String() }, wantErr: "listen on"},
		{name: "health address in use", edit: func(c *Config) { c.HealthListen = busy.Addr().String() }, wantErr: "listen on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Listen: "127.0.0.1:0", HealthListen: "127.0.0.1:0", CertFile: "c", KeyFile: "k", Client: fake.NewClientset()}
			tt.edit(&cfg)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			srv, err := Start(ctx, cfg)
			if err == nil {
				cancel()
				_ = srv.Wait()
				t.Fatalf("Start() succeeded, want %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Start() error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseTLSVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    uint16
		wantErr bool
	}{
		{name: "1.2", in: "1.2", want: tls.VersionTLS12},
		{name: "1.3", in: "1.3", want: tls.VersionTLS13},
		{name: "1.1 refused", in: "1.1", wantErr: true},
		{name: "Go constant names refused", in: "VersionTLS13", wantErr: true},
		{name: "empty refused", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTLSVersion(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseTLSVersion(%q) = %#x, %v; want %#x, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
