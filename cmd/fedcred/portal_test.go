package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestBrowserCommand(t *testing.T) {
	t.Parallel()
	const u = "https://localhost:8443/portal/sign-in?code=x"
	tests := []struct {
		name string
		goos string
		env  map[string]string
		want []string
	}{
		{name: "linux without a desktop", goos: "linux", want: nil},
		{name: "linux with X", goos: "linux", env: map[string]string{"DISPLAY": ":0"}, want: []string{"xdg-open", u}},
		{name: "linux with Wayland", goos: "linux", env: map[string]string{"WAYLAND_DISPLAY": "wayland-0"}, want: []string{"xdg-open", u}},
		{name: "macOS", goos: "darwin", want: []string{"open", u}},
		{name: "windows", goos: "windows", want: []string{"rundll32", "url.dll,FileProtocolHandler", u}},
		{name: "unknown system", goos: "plan9", env: map[string]string{"DISPLAY": ":0"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := browserCommand(tt.goos, func(k string) string { return tt.env[k] }, u)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("browserCommand = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRequestSignInLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		body    string
		want    string // the link, or a substring of the error
		wantErr bool
	}{
		{name: "a link", status: http.StatusCreated, body: `{"url":"https://h/portal/sign-in?code=abc","expiresIn":300}`, want: "https://h/portal/sign-in?code=abc"},
		{name: "refused token", status: http.StatusUnauthorized, body: `{"error":{"code":"AuthenticationFailed","message":"no"}}`, want: "(AuthenticationFailed) no", wantErr: true},
		{name: "no portal", status: http.StatusNotFound, body: `404 page not found`, want: "has no portal", wantErr: true},
		{name: "not https", status: http.StatusCreated, body: `{"url":"http://h/x","expiresIn":300}`, want: "no https link", wantErr: true},
		{name: "not JSON", status: http.StatusCreated, body: `<html>`, want: "decode sign-in link", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var gotAuth, gotMethod, gotPath string
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAuth, gotMethod, gotPath = r.Header.Get("Authorization"), r.Method, r.URL.Path
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			ca := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
				t.Fatal(err)
			}
			link, err := requestSignInLink(context.Background(), srv.URL, ca, "tok")
			if gotAuth != "Bearer tok" || gotMethod != http.MethodPost || gotPath != signInLinksPath {
				t.Errorf("request: %s %s with %q", gotMethod, gotPath, gotAuth)
			}
			switch {
			case tt.wantErr && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			case !tt.wantErr && (err != nil || link.URL != tt.want):
				t.Errorf("link = %+v, %v; want %s", link, err, tt.want)
			}
		})
	}
}

func TestRequestSignInLinkTrustsOnlyTheCA(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the token reached a server whose certificate is not trusted")
	}))
	defer srv.Close()
	// A CA of its own, which did not issue the server's certificate.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := requestSignInLink(context.Background(), srv.URL, ca, "tok"); err == nil {
		t.Fatal("a server with an untrusted certificate was accepted")
	}
}
