package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCA is a CA generated for one test, and a server certificate it issued
// for 127.0.0.1 and localhost.
type testCA struct {
	file string // PEM of the CA certificate
	leaf tls.Certificate
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return testCA{file: file, leaf: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}
}

// startServer serves h over HTTPS with a certificate of ca.
func startServer(t *testing.T, ca testCA, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// Credentials of the fake's admin principal.
const (
	testTenant = "tenant-1"
	testClient = "admin-client"
	testSecret = "admin-secret-value"
	testSub    = "sub-1"
)

// fakeAPI is an HTTPS fake of the token endpoint plus whatever management
// routes a test adds. It issues tokens "tok-1", "tok-2", ... and accepts on
// the management routes only the tokens in valid (all, when valid is nil).
type fakeAPI struct {
	t         *testing.T
	srv       *httptest.Server
	ca        testCA
	mux       *http.ServeMux
	expiresIn atomic.Int64
	tokens    atomic.Int64

	mu       sync.Mutex
	requests []recordedRequest
	rejected map[string]bool // tokens the management routes refuse
	tokenFn  http.HandlerFunc
}

type recordedRequest struct {
	Method, Path, RawPath, Query, Auth string
	Body                               []byte
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, mux: http.NewServeMux(), ca: newTestCA(t), rejected: map[string]bool{}}
	f.expiresIn.Store(3600)
	f.tokenFn = f.token
	f.srv = startServer(t, f.ca, http.HandlerFunc(f.serve))
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, recordedRequest{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Auth: r.Header.Get("Authorization"), Body: body,
	})
	rejected := f.rejected[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	tokenFn := f.tokenFn
	f.mu.Unlock()
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		tokenFn(w, r)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") || rejected {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{
			"code": "AuthenticationFailed", "message": "Authentication failed."}})
		return
	}
	f.mux.ServeHTTP(w, r)
}

func (f *fakeAPI) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if r.URL.Path != "/"+testTenant+"/oauth2/v2.0/token" || r.PostForm.Get("client_id") != testClient || r.PostForm.Get("client_secret") != testSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"error":             "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: abc\r\nCorrelation ID: def",
			"error_codes":       []int{7000215},
			"trace_id":          "abc",
			"correlation_id":    "def",
		})
		return
	}
	n := f.tokens.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     f.expiresIn.Load(),
		"ext_expires_in": f.expiresIn.Load(),
		"access_token":   "tok-" + itoa(n),
	})
}

// setTokenHandler replaces the token endpoint.
func (f *fakeAPI) setTokenHandler(h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenFn = h
}

// reject makes the management routes refuse a token.
func (f *fakeAPI) reject(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejected[token] = true
}

// recorded returns the management requests (token requests left out).
func (f *fakeAPI) recorded() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recordedRequest
	for _, r := range f.requests {
		if !strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
			out = append(out, r)
		}
	}
	return out
}

// client builds a Client of the fake with the admin credentials.
func (f *fakeAPI) client(now func() time.Time) *Client {
	f.t.Helper()
	c, err := New(Options{
		Server: f.srv.URL, TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret,
		CAFile: f.ca.file, Now: now,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// scopedTokens makes the fake's token endpoint issue "tok-<kind>-<n>" by
// scope (kind mgmt, vault, graph, or other) and returns the scopes asked
// for so far.
func (f *fakeAPI) scopedTokens() func() []string {
	var (
		mu     sync.Mutex
		scopes []string
	)
	f.setTokenHandler(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("client_secret") != testSecret {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
			return
		}
		scope := r.PostForm.Get("scope")
		kind := "other"
		switch scope {
		case f.srv.URL + "/.default":
			kind = "mgmt"
		case VaultScope:
			kind = "vault"
		case GraphScope:
			kind = "graph"
		}
		mu.Lock()
		scopes = append(scopes, scope)
		n := len(scopes)
		mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": "tok-" + kind + "-" + itoa(int64(n))})
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), scopes...)
	}
}
