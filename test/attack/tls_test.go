package attack

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

func testTLS(t *testing.T, e *env) {
	pem, err := os.ReadFile(e.admin.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	dial := func(addr string, roots *x509.CertPool, version uint16) error {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: version, MaxVersion: version})
		if err == nil {
			conn.Close()
		}
		return err
	}

	// The probe can tell: a server that allows TLS 1.1 completes its
	// handshake.
	t.Run("control: the probe completes TLS 1.1 where it is allowed", func(t *testing.T) {
		t.Parallel()
		old := httptest.NewUnstartedServer(http.NotFoundHandler())
		old.TLS = &tls.Config{MinVersion: tls.VersionTLS10}
		old.StartTLS()
		defer old.Close()
		roots := x509.NewCertPool()
		roots.AddCert(old.Certificate())
		conn, err := tls.Dial("tcp", old.Listener.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "example.com", MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11})
		if err != nil {
			t.Fatalf("TLS 1.1 to a server allowing it: %v", err)
		}
		conn.Close()
	})
	for _, v := range []struct {
		name    string
		version uint16
		refused bool
	}{
		{name: "TLS 1.0 is refused", version: tls.VersionTLS10, refused: true},
		{name: "TLS 1.1 is refused", version: tls.VersionTLS11, refused: true},
		{name: "TLS 1.2 is served", version: tls.VersionTLS12},
		{name: "TLS 1.3 is served", version: tls.VersionTLS13},
	} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			err := dial(e.srv.Addr, pool, v.version)
			if v.refused && err == nil {
				t.Fatal("handshake completed")
			}
			if !v.refused && err != nil {
				t.Fatalf("handshake failed: %v", err)
			}
		})
	}
	t.Run("plain HTTP gets no answer of the API", func(t *testing.T) {
		t.Parallel()
		resp, err := http.Get("http://" + e.srv.Addr + "/" + e.admin.TenantID + "/v2.0/.well-known/openid-configuration")
		if err != nil {
			return // connection closed: fine
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP answered %d", resp.StatusCode)
		}
	})
}
