// Package attack is fedcred's attack suite: hostile assertions, issuer URLs
// aimed at the operator's network, malformed and oversized requests, floods,
// forged and misdirected management tokens, and old TLS, each thrown at a
// running server (internal/server.Start on 127.0.0.1:0). Every attack asserts
// the refusal: the HTTP status, the protocol's exact error code, and that no
// access token was issued. The last test scans everything the suite made
// the servers write, logs and error bodies, for tokens, secrets and keys.
package attack

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/server"
)

// The audience every federated credential of the suite trusts.
const exchangeAudience = "api://AzureADTokenExchange"

// vaultScope is the resource the suite's exchanges ask for.
const vaultScope = "https://vault.azure.net/.default"

// lockedBuffer is a log sink safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// exchange is an error response a server sent during the suite.
type exchange struct {
	request string // method and path
	status  int
	header  http.Header
	body    []byte
}

// suite is what every attack shares: the servers' logs and error
// responses, and the strings that must never appear in them.
type suite struct {
	mu        sync.Mutex
	logs      []*lockedBuffer
	errors    []exchange
	secrets   map[string]string // value → what it is
	inward    *countingListener // the operator's network: nothing may connect
	resolver  *resolver
	remoteIss *remoteIssuer
}

func newSuite(t *testing.T) *suite {
	t.Helper()
	s := &suite{secrets: map[string]string{}}
	s.inward = listenCounting(t)
	s.resolver = newResolver()
	s.remoteIss = startRemoteIssuer(t)
	return s
}

// secret registers a value that must never appear in a log or error body.
func (s *suite) secret(value, what string) {
	if len(value) < 8 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[value] = what
}

func (s *suite) recordError(x exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors = append(s.errors, x)
}

// env is one running server and a client of it.
type env struct {
	s      *suite
	srv    *server.Server
	admin  config.Admin
	client *http.Client
	subURL string
	logs   *lockedBuffer
	dir    string // the data directory

	mu        sync.Mutex
	mgmtToken string
}

// start runs a server for the suite with cfg (DataDir, Listen and Logger
// are set here), trusting the suite's remote issuer and resolving through
// the suite's resolver.
func (s *suite) start(t *testing.T, cfg server.Config) *env {
	t.Helper()
	logs := &lockedBuffer{}
	s.mu.Lock()
	s.logs = append(s.logs, logs)
	s.mu.Unlock()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.RemoteIssuerResolver = s.resolver
	cfg.RemoteIssuerCAFile = s.remoteIss.caFile
	cfg.RemoteIssuerAllowedNetworks = s.remoteIss.allowed
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	data, err := os.ReadFile(filepath.Join(cfg.DataDir, config.AdminFile))
	if err != nil {
		t.Fatal(err)
	}
	var admin config.Admin
	if err := json.Unmarshal(data, &admin); err != nil {
		t.Fatal(err)
	}
	s.secret(admin.ClientSecret, "the admin client secret")
	for _, f := range []string{config.KEKFile, config.CAKeyFile, config.TLSKeyFile} {
		if key, err := os.ReadFile(filepath.Join(cfg.DataDir, f)); err == nil {
			s.secret(string(bytes.TrimSpace(key)), f)
		}
	}
	pem, err := os.ReadFile(admin.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("the CA file holds no certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &env{
		s: s, srv: srv, admin: admin, logs: logs, dir: cfg.DataDir,
		client: &http.Client{Transport: recorder{base: tr, s: s}, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		subURL: srv.URL + "/subscriptions/" + admin.SubscriptionID,
	}
}

// recorder keeps every error response for the leak scan.
type recorder struct {
	base http.RoundTripper
	s    *suite
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if resp.StatusCode >= 400 {
		r.s.recordError(exchange{request: req.Method + " " + req.URL.Path, status: resp.StatusCode, header: resp.Header.Clone(), body: body})
	}
	return resp, nil
}

// response is a server's answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends req and reads the answer.
func (e *env) do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// entraError is the token service's error body.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
}

// tokenResult is the token endpoint's answer.
type tokenResult struct {
	response
	entra       entraError
	accessToken string
}

// postToken posts form to the tenant's v2 token endpoint; edit may change
// the request before it is sent.
func (e *env) postToken(t *testing.T, form string, edit func(*http.Request)) tokenResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/"+e.admin.TenantID+"/oauth2/v2.0/token", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	res := tokenResult{response: e.do(t, req)}
	var ok struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(res.body, &ok) == nil && ok.AccessToken != "" {
		res.accessToken = ok.AccessToken
		e.s.secret(ok.AccessToken, "an issued access token")
	}
	_ = json.Unmarshal(res.body, &res.entra)
	return res
}

// exchangeAssertion trades an assertion for a Key Vault token as clientID.
func (e *env) exchangeAssertion(t *testing.T, clientID, assertion string) tokenResult {
	t.Helper()
	return e.exchangeFor(t, clientID, assertion, vaultScope)
}

// exchangeFor trades an assertion for a token for scope as clientID.
func (e *env) exchangeFor(t *testing.T, clientID, assertion, scope string) tokenResult {
	t.Helper()
	e.s.secret(assertion, "a client assertion")
	return e.postToken(t, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}.Encode(), nil)
}

// secretToken gets a token for scope with the admin's client secret.
func (e *env) secretToken(t *testing.T, scope string) tokenResult {
	t.Helper()
	return e.postToken(t, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {e.admin.ClientID},
		"client_secret": {e.admin.ClientSecret}, "scope": {scope},
	}.Encode(), nil)
}

// adminToken is a management token of the admin, cached.
func (e *env) adminToken(t *testing.T) string {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mgmtToken == "" {
		res := e.secretToken(t, e.srv.URL+"/.default")
		if res.accessToken == "" {
			t.Fatalf("admin management token: %d %s", res.status, res.body)
		}
		e.mgmtToken = res.accessToken
	}
	return e.mgmtToken
}

// armCall makes a management call with token and returns the answer.
func (e *env) armCall(t *testing.T, token, method, path string, body any) response {
	t.Helper()
	var rdr io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rdr = bytes.NewReader(data)
	}
	u := path
	if !strings.HasPrefix(u, "https://") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequest(method, u, rdr)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	return e.do(t, req)
}

// call is an admin management call that must answer want.
func (e *env) call(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	res := e.armCall(t, e.adminToken(t), method, path, body)
	if res.status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.status, res.body, want)
	}
	out := map[string]any{}
	if len(res.body) > 0 {
		if err := json.Unmarshal(res.body, &out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return out
}

// armError is ARM's error body.
type armError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantARMError checks an ARM refusal's status and code.
func wantARMError(t *testing.T, res response, status int, code string) {
	t.Helper()
	var e armError
	if err := json.Unmarshal(res.body, &e); err != nil || res.status != status || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("answer %d %s, want %d with ARM error code %s", res.status, res.body, status, code)
	}
}

// wantRefused checks a token endpoint refusal: status, OAuth error, the one
// AADSTS code, a description naming it (and containing hint), and no token.
func wantRefused(t *testing.T, res tokenResult, status int, oauth string, code int, hint string) {
	t.Helper()
	if res.accessToken != "" || bytes.Contains(res.body, []byte("access_token")) {
		t.Fatalf("an access token was issued: %d %s", res.status, res.body)
	}
	prefix := "AADSTS" + strconv.Itoa(code) + ": "
	if res.status != status || res.entra.Error != oauth || len(res.entra.ErrorCodes) != 1 || res.entra.ErrorCodes[0] != code ||
		!strings.HasPrefix(res.entra.ErrorDescription, prefix) {
		t.Fatalf("answer %d %s, want %d %s AADSTS%d", res.status, res.body, status, oauth, code)
	}
	if hint != "" && !strings.Contains(res.entra.ErrorDescription, hint) {
		t.Errorf("description %q does not say %q", res.entra.ErrorDescription, hint)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
}

// countingListener stands for the operator's network: it accepts and
// counts connections, so a test can assert none was made.
type countingListener struct {
	ln    net.Listener
	count atomic.Int64
}

func listenCounting(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &countingListener{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.count.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return c
}

func (c *countingListener) port() string {
	_, port, _ := net.SplitHostPort(c.ln.Addr().String())
	return port
}

// wantNone fails t if anything connected to c.
func (c *countingListener) wantNone(t *testing.T) {
	t.Helper()
	if n := c.count.Load(); n != 0 {
		t.Errorf("%d connections reached the operator's network at port %s", n, c.port())
	}
}
