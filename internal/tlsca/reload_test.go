package tlsca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 29, 21, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func certSerial(t *testing.T, c *tls.Certificate) int64 {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.SerialNumber.Int64()
}

func newReloader(t *testing.T) (*Reloader, *clock, string, string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	clk := newClock()
	r, err := NewReloader(ReloaderConfig{CertFile: certFile, KeyFile: keyFile, Interval: 5 * time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return r, clk, certFile, keyFile
}

func TestReloader_ReloadsChangedFilesAtMostEveryInterval(t *testing.T) {
	t.Parallel()
	r, clk, certFile, keyFile := newReloader(t)
	mtime := time.Now().Add(-time.Hour)
	writeCert(t, certFile, keyFile, 1, mtime)
	c, err := r.GetCertificate(nil)
	if err != nil || certSerial(t, c) != 1 {
		t.Fatalf("GetCertificate() = serial %v, %v; want 1", c, err)
	}

	writeCert(t, certFile, keyFile, 2, mtime.Add(time.Minute))
	clk.Advance(4 * time.Second)
	if c, _ := r.GetCertificate(nil); certSerial(t, c) != 1 {
		t.Errorf("within the interval: serial %d, want the cached 1", certSerial(t, c))
	}
	clk.Advance(time.Second)
	if c, _ := r.GetCertificate(nil); certSerial(t, c) != 2 {
		t.Errorf("after the interval: serial %d, want the new 2", certSerial(t, c))
	}
}

func TestReloader_BrokenPairKeepsThePrevious(t *testing.T) {
	t.Parallel()
	r, clk, certFile, keyFile := newReloader(t)
	mtime := time.Now().Add(-time.Hour)
	writeCert(t, certFile, keyFile, 1, mtime)
	if err := r.Ready(); err != nil {
		t.Fatalf("Ready() = %v", err)
	}

	// A half-written update: the new certificate with the old key.
	oldKey, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	writeCert(t, certFile, keyFile, 2, mtime.Add(time.Minute))
	if err := os.WriteFile(keyFile, oldKey, 0o600); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	c, err := r.GetCertificate(nil)
	if err != nil || certSerial(t, c) != 1 || r.Ready() != nil {
		t.Fatalf("after a broken update: serial %v, %v; want the previous 1 still served", c, err)
	}

	// The update completes: picked up at the next look.
	writeCert(t, certFile, keyFile, 3, mtime.Add(2*time.Minute))
	clk.Advance(time.Minute)
	if c, _ := r.GetCertificate(nil); certSerial(t, c) != 3 {
		t.Errorf("after the fix: serial %d, want 3", certSerial(t, c))
	}
}

func TestReloader_NotReadyUntilFilesExist(t *testing.T) {
	t.Parallel()
	r, clk, certFile, keyFile := newReloader(t)
	err := r.Ready()
	if !errors.Is(err, errNoCertificate) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Ready() = %v, want no certificate because the file does not exist", err)
	}
	if _, err := r.GetCertificate(nil); err == nil {
		t.Fatal("GetCertificate() without files succeeded")
	}
	writeCert(t, certFile, keyFile, 1, time.Now())
	if err := r.Ready(); err == nil {
		t.Fatal("Ready() before the interval passed: looked at the files again")
	}
	clk.Advance(5 * time.Second)
	if err := r.Ready(); err != nil {
		t.Fatalf("Ready() after the files appeared = %v", err)
	}
}

func TestReloader_Garbage(t *testing.T) {
	t.Parallel()
	r, _, certFile, keyFile := newReloader(t)
	for _, f := range []string{certFile, keyFile} {
		if err := os.WriteFile(f, []byte("not PEM"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "parse certificate pair") {
		t.Fatalf("Ready() = %v, want a parse error", err)
	}
}

func TestNewReloader_NeedsBothFiles(t *testing.T) {
	t.Parallel()
	for _, cfg := range []ReloaderConfig{{CertFile: "a"}, {KeyFile: "b"}, {}} {
		if _, err := NewReloader(cfg); err == nil {
			t.Errorf("NewReloader(%+v) succeeded", cfg)
		}
	}
}

// writeCert writes a fresh self-signed serving pair for 127.0.0.1 and
// localhost to certFile and keyFile, with the given serial and
// modification time, and returns the certificate.
func writeCert(t *testing.T, certFile, keyFile string, serial int64, mtime time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "fedcred-webhook.fedcred-system.svc"},
		DNSNames:              []string{"localhost", "fedcred-webhook.fedcred-system.svc"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
