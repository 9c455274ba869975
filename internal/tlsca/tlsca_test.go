package tlsca_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/tlsca"
)

func files(dir string) tlsca.Files {
	return tlsca.Files{
		CACert: filepath.Join(dir, "ca.crt"), CAKey: filepath.Join(dir, "ca.key"),
		Cert: filepath.Join(dir, "tls.crt"), Key: filepath.Join(dir, "tls.key"),
	}
}

func verify(t *testing.T, f tlsca.Files, host string, leaf *x509.Certificate, now time.Time) error {
	t.Helper()
	pem, err := os.ReadFile(f.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool, CurrentTime: now})
	return err
}

func TestEnsureCreatesAndReuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := files(dir)
	now := time.Now()
	cert, err := tlsca.Ensure(f, []string{"fedcred.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"fedcred.test", "localhost", "127.0.0.1"} {
		if err := verify(t, f, h, cert.Leaf, now); err != nil {
			t.Errorf("certificate not valid for %s: %v", h, err)
		}
	}
	for _, p := range []string{f.CAKey, f.Key} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v (%v), want 0600", p, st.Mode().Perm(), err)
		}
	}
	again, err := tlsca.Ensure(f, []string{"fedcred.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Leaf.Equal(cert.Leaf) {
		t.Error("a valid certificate was reissued")
	}
	// A new public host gets a new certificate from the same CA.
	other, err := tlsca.Ensure(f, []string{"other.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(t, f, "other.test", other.Leaf, now); err != nil {
		t.Errorf("reissued certificate: %v", err)
	}
	// Near expiry the certificate is renewed.
	later := now.Add(350 * 24 * time.Hour)
	renewed, err := tlsca.Ensure(f, []string{"other.test"}, later)
	if err != nil {
		t.Fatal(err)
	}
	if renewed.Leaf.Equal(other.Leaf) || verify(t, f, "other.test", renewed.Leaf, later) != nil {
		t.Error("certificate near expiry was not renewed")
	}
}

func TestEnsureRejectsCorruptCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := files(dir)
	if err := os.WriteFile(f.CACert, []byte("not pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.CAKey, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsca.Ensure(f, nil, time.Now()); err == nil {
		t.Fatal("a corrupt CA was accepted (or silently replaced)")
	}
}
