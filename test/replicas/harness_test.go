// Package replicas runs several `fedcred serve` processes on one PostgreSQL
// and checks that they agree at once, survive the loss of a replica, and keep
// issuing tokens while the database is away.
package replicas

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fedcred/fedcred/internal/config"
)

// binary is the fedcred binary built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fedcred-replicas-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fedcred")
	build := exec.Command("go", "build", "-o", binary, "github.com/fedcred/fedcred/cmd/fedcred")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fedcred:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// postgresURL returns a URL on a fresh schema that is dropped afterwards.
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("FEDCRED_TEST_POSTGRES_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("FEDCRED_TEST_POSTGRES_URL is required on CI")
		}
		t.Skip("FEDCRED_TEST_POSTGRES_URL not set")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "replicas_" + hex.EncodeToString(b)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return u.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// replica is one running `fedcred serve` process.
type replica struct {
	addr string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
}

// cluster is several replicas sharing a store, a data directory and a
// public URL, with a client that can address each replica.
type cluster struct {
	t         *testing.T
	publicURL string
	dataDir   string
	store     string
	replicas  []*replica
	admin     config.Admin
	pool      *x509.CertPool

	mu    sync.Mutex
	token string
	exp   time.Time
}

func newCluster(t *testing.T, store string, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, dataDir: t.TempDir(), store: store}
	c.publicURL = fmt.Sprintf("https://localhost:%d", freePort(t)) // the load balancer's address
	for range n {
		c.start()
	}
	data, err := os.ReadFile(filepath.Join(c.dataDir, config.AdminFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &c.admin); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(c.admin.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	c.pool = x509.NewCertPool()
	c.pool.AppendCertsFromPEM(ca)
	return c
}

// start launches one more replica and waits until it is ready.
func (c *cluster) start() *replica {
	c.t.Helper()
	r := &replica{addr: fmt.Sprintf("127.0.0.1:%d", freePort(c.t)), log: &bytes.Buffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(binary, "serve", "--data-dir", c.dataDir, "--listen", r.addr,
		"--public-url", c.publicURL, "--store", c.store, "--log-level", "warn")
	r.cmd.Env = append(os.Environ(), "FEDCRED_MAX_STALE=1m")
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	c.t.Cleanup(func() { c.stop(r, syscall.SIGTERM) })
	c.replicas = append(c.replicas, r)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c.ready(r) {
			return r
		}
		select {
		case <-r.done:
			c.t.Fatalf("replica %s exited: %s", r.addr, r.log)
		default:
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("replica %s not ready: %s", r.addr, r.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop signals a replica and waits for it to exit.
func (c *cluster) stop(r *replica, sig syscall.Signal) {
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
}

func (c *cluster) ready(r *replica) bool {
	resp, err := c.client(r, 2*time.Second).Get(c.publicURL + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// client returns an HTTP client for the public URL whose connections go to
// replica r: the load balancer, in the client.
func (c *cluster) client(r *replica, timeout time.Duration) *http.Client {
	pool := c.pool
	if pool == nil {
		pool = x509.NewCertPool()
		if ca, err := os.ReadFile(filepath.Join(c.dataDir, config.CACertFile)); err == nil {
			pool.AppendCertsFromPEM(ca)
		}
	}
	d := &net.Dialer{Timeout: 2 * time.Second}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, r.addr)
		},
		MaxIdleConnsPerHost: 16,
	}
	c.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// adminToken is a management token from the admin's client credentials.
func (c *cluster) adminToken(via *replica) string {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && time.Until(c.exp) > time.Minute {
		return c.token
	}
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.admin.ClientID},
		"client_secret": {c.admin.ClientSecret}, "scope": {c.publicURL + "/.default"},
	}
	resp, err := c.client(via, 10*time.Second).PostForm(c.publicURL+"/"+c.admin.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		c.t.Fatalf("admin token: %d %v", resp.StatusCode, err)
	}
	c.token, c.exp = tr.AccessToken, time.Now().Add(time.Duration(tr.ExpiresIn)*time.Second)
	return c.token
}

// call makes a management API call through replica r and returns the status
// and decoded body.
func (c *cluster) call(r *replica, method, path string, body any) (int, map[string]any, error) {
	var rdr io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rdr = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.publicURL+path, rdr)
	req.Header.Set("Authorization", "Bearer "+c.adminToken(c.replicas[0]))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client(r, 30*time.Second).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		json.Unmarshal(raw, &out)
	}
	return resp.StatusCode, out, nil
}

func (c *cluster) mustCall(r *replica, method, path string, body any, want int) map[string]any {
	c.t.Helper()
	status, out, err := c.call(r, method, path, body)
	if err != nil || status != want {
		c.t.Fatalf("%s %s via %s = %d %v %v, want %d", method, path, r.addr, status, out, err, want)
	}
	return out
}

// scenario is a cluster with its issuer on and an identity.
type scenario struct {
	sub, rg, clusterPath, identityPath, issuer, clientID string
}

func (c *cluster) setUp(r *replica) scenario {
	c.t.Helper()
	s := scenario{sub: "/subscriptions/" + c.admin.SubscriptionID, rg: "rg1"}
	c.mustCall(r, "PUT", s.sub+"/resourceGroups/rg1?api-version=2021-04-01", map[string]any{"location": "eastus"}, 201)
	s.clusterPath = s.sub + "/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1"
	cl := c.mustCall(r, "PUT", s.clusterPath+"?api-version=2025-01-01", map[string]any{
		"location": "eastus", "properties": map[string]any{"oidcIssuerProfile": map[string]any{"enabled": true}}}, 201)
	s.issuer = cl["properties"].(map[string]any)["oidcIssuerProfile"].(map[string]any)["issuerURL"].(string)
	s.identityPath = s.sub + "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	id := c.mustCall(r, "PUT", s.identityPath+"?api-version=2024-11-30", map[string]any{"location": "eastus"}, 201)
	s.clientID = id["properties"].(map[string]any)["clientId"].(string)
	return s
}

func (c *cluster) saToken(r *replica, s scenario, sa string) string {
	c.t.Helper()
	out := c.mustCall(r, "POST", s.clusterPath+"/api/v1/namespaces/ns/serviceaccounts/"+sa+"/token?api-version=2025-01-01",
		map[string]any{"spec": map[string]any{"audiences": []string{"api://AzureADTokenExchange"}}}, 201)
	return out["status"].(map[string]any)["token"].(string)
}

func ficPath(s scenario, sa string) string {
	return s.identityPath + "/federatedIdentityCredentials/fic-" + sa + "?api-version=2024-11-30"
}

func (c *cluster) putFIC(r *replica, s scenario, sa string) (int, error) {
	status, _, err := c.call(r, "PUT", ficPath(s, sa), map[string]any{"properties": map[string]any{
		"issuer": s.issuer, "subject": "system:serviceaccount:ns:" + sa, "audiences": []string{"api://AzureADTokenExchange"}}})
	return status, err
}

func (c *cluster) deleteFIC(r *replica, s scenario, sa string) (int, error) {
	status, _, err := c.call(r, "DELETE", ficPath(s, sa), nil)
	return status, err
}

// exchange trades a service-account token for an access token through r and
// returns the HTTP status and the AADSTS code of a refusal.
func (c *cluster) exchange(hc *http.Client, s scenario, assertion string) (int, int, error) {
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {s.clientID}, "scope": {"https://vault.azure.net/.default"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion},
	}
	resp, err := hc.PostForm(c.publicURL+"/"+c.admin.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Codes       []int  `json:"error_codes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return resp.StatusCode, 0, fmt.Errorf("decode answer: %w", err)
	}
	if resp.StatusCode == 200 && body.AccessToken == "" {
		return resp.StatusCode, 0, fmt.Errorf("200 without an access token")
	}
	code := 0
	if len(body.Codes) > 0 {
		code = body.Codes[0]
	}
	return resp.StatusCode, code, nil
}

func isConnError(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "EOF") ||
		strings.Contains(err.Error(), "connection reset"))
}
