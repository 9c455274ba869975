package server

import (
	"crypto/tls"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/tlsca"
)

func TestCertReloader(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := tlsca.Files{CACert: filepath.Join(dir, "ca.crt"), CAKey: filepath.Join(dir, "ca.key"),
		Cert: filepath.Join(dir, "tls.crt"), Key: filepath.Join(dir, "tls.key")}
	now := time.Now()
	first, err := tlsca.Ensure(files, []string{"a.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	r, err := newCertReloader(files.Cert, files.Key, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	serving := func() *tls.Certificate {
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if !serving().Leaf.Equal(first.Leaf) {
		t.Fatal("not serving the loaded certificate")
	}
	// A renewed certificate on disk is served after the check interval.
	second, err := tlsca.Ensure(files, []string{"b.test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Second)
	os.Chtimes(files.Cert, later, later)
	os.Chtimes(files.Key, later, later)
	clock = clock.Add(reloadEvery)
	if !serving().Leaf.Equal(second.Leaf) {
		t.Fatal("renewed certificate not picked up")
	}
	// A broken file keeps the last good certificate in service.
	if err := os.WriteFile(files.Cert, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	evenLater := later.Add(time.Second)
	os.Chtimes(files.Cert, evenLater, evenLater)
	clock = clock.Add(reloadEvery)
	if !serving().Leaf.Equal(second.Leaf) {
		t.Fatal("a broken certificate file replaced the good one")
	}
	if _, err := newCertReloader(files.Cert, files.Key, slog.Default(), time.Now); err == nil {
		t.Fatal("a broken pair loaded at start")
	}
}
