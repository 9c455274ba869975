// Package compat drives the real Azure clients — az CLI, the Go SDK, the
// Node SDK and the Python SDK — against a freshly started fedcred, one
// scenario per client: get a token with a federated credential minted by a
// fedcred cluster, manage an identity and its federated credentials, read a
// secret the identity is authorized for, and see the right AADSTS error when
// the federated credential does not match.
//
// Every client runs with HTTPS_PROXY (and HTTP_PROXY) pointing at an
// in-process loginproxy that answers only for the hosts fedcred emulates and
// refuses everything else, and every scenario asserts that the proxy saw no
// other host: no request can leave for the real internet, and one that tried
// would fail the test.
//
// A client that is not installed is skipped with a message, except on CI
// (CI=true), where it is a failure: the test command (.ci/run) installs them all.
package compat

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/client"
	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/loginproxy"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/server"
)

// binaryDir holds the fedcred binary, built once by fedcredBinary.
var binaryDir string

// buildOnce builds the fedcred binary for the tests that run it.
var buildOnce = sync.OnceValues(func() (string, error) {
	p := filepath.Join(binaryDir, "fedcred")
	out, err := exec.Command("go", "build", "-o", p, "github.com/fedcred/fedcred/cmd/fedcred").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build fedcred: %w\n%s", err, out)
	}
	return p, nil
})

func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	dir, err := os.MkdirTemp("", "fedcred-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binaryDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fedcredBinary is the fedcred command built from this tree.
func fedcredBinary(t *testing.T) string {
	t.Helper()
	p, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// systemBundle is Debian's CA bundle; client trust bundles start with it.
const systemBundle = "/etc/ssl/certs/ca-certificates.crt"

// Names every scenario's fixture uses.
const (
	namespace   = "pets"
	account     = "ai-svc"
	otherSA     = "other"
	secretName  = "db-password"
	secretValue = "s3cr3t-from-fedcred"
	defaultAud  = "api://AzureADTokenExchange"
)

// requireTool returns the path of a client's executable. Missing, it
// skips the test, or fails it on CI, where the test command (.ci/run) installs it.
func requireTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (%s); on CI every client must be present", name, install)
	}
	t.Skipf("%s is not installed; skipping its compatibility scenario (install: %s)", name, install)
	return ""
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fedcred is one freshly started server with its admin client, a trust
// bundle for clients, and the login proxy in front of it.
type fedcred struct {
	t       *testing.T
	srv     *server.Server
	url     string
	host    string // host:port of url
	dataDir string
	caFile  string
	bundle  string // the system bundle followed by fedcred's CA
	admin   config.Admin
	api     *client.Client
	log     *syncBuffer
	proxy   *loginproxy.Proxy
	events  *eventLog
}

// eventLog records what the login proxy did.
type eventLog struct {
	mu     sync.Mutex
	events []loginproxy.Event
}

func (l *eventLog) add(e loginproxy.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []loginproxy.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// startFedcred starts fedcred in-process on a free loopback port, and the
// login proxy (fedcred's own CA signing the emulated hosts, no passthrough).
// At the end of the test it asserts that the proxy refused nothing, so no
// client tried to reach a host other than fedcred.
func startFedcred(t *testing.T) *fedcred {
	t.Helper()
	f := &fedcred{t: t, dataDir: t.TempDir(), log: &syncBuffer{}, events: &eventLog{}}
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: f.dataDir, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatalf("start fedcred: %v", err)
	}
	f.srv, f.url = srv, srv.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shut fedcred down: %v", err)
		}
		if t.Failed() {
			t.Logf("fedcred log:\n%s", f.log.String())
		}
	})
	u, err := url.Parse(f.url)
	if err != nil {
		t.Fatal(err)
	}
	f.host = u.Host
	data, err := os.ReadFile(filepath.Join(f.dataDir, config.AdminFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &f.admin); err != nil {
		t.Fatal(err)
	}
	f.caFile = f.admin.CAFile
	f.bundle = writeBundle(t, f.caFile)
	f.api, err = client.New(client.Options{Server: f.url, TenantID: f.admin.TenantID, ClientID: f.admin.ClientID,
		ClientSecret: f.admin.ClientSecret, CAFile: f.caFile})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := loginproxy.LoadAuthority(f.caFile, filepath.Join(f.dataDir, config.CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := mustPool(t, f.caFile)
	f.proxy, err = loginproxy.Start(loginproxy.Config{
		Upstream: f.url, UpstreamRootCAs: pool, Authority: auth, Observe: f.events.add,
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.proxy.Close()
		for _, e := range f.events.all() {
			switch {
			case e.Kind == loginproxy.EventRefused || e.Kind == loginproxy.EventPassthrough:
				t.Errorf("a client tried to reach %s (%s), which is not fedcred", e.Target, e.Kind)
			case e.Kind == loginproxy.EventRequest && e.Upstream != f.url:
				t.Errorf("the proxy sent %s %s to %s, not to fedcred %s", e.Method, e.Path, e.Upstream, f.url)
			}
		}
	})
	return f
}

// intercepted lists the requests the proxy forwarded, as "host path".
func (f *fedcred) intercepted() []string {
	var out []string
	for _, e := range f.events.all() {
		if e.Kind == loginproxy.EventRequest {
			out = append(out, e.Target+" "+e.Path)
		}
	}
	return out
}

// sawIntercepted reports whether the proxy forwarded a request for host
// whose path has prefix.
func (f *fedcred) sawIntercepted(host, prefix string) bool {
	for _, e := range f.events.all() {
		if e.Kind == loginproxy.EventRequest && strings.EqualFold(e.Target, host) && strings.HasPrefix(e.Path, prefix) {
			return true
		}
	}
	return false
}

// writeBundle writes the system CA bundle followed by caFile.
func writeBundle(t *testing.T, caFile string) string {
	t.Helper()
	system, err := os.ReadFile(systemBundle)
	if err != nil {
		t.Logf("no system CA bundle at %s: clients trust only fedcred's CA", systemBundle)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca-bundle.pem")
	if err := os.WriteFile(p, append(append(system, '\n'), ca...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// clientEnv is the environment for a client process: this process's,
// without any proxy, trust or AZURE_* variable (this machine exports
// SSL_CERT_FILE, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE globally), with the
// login proxy as HTTPS_PROXY and HTTP_PROXY (fedcred itself, on loopback,
// is reached directly), and then extra.
func (f *fedcred) clientEnv(extra map[string]string) []string {
	drop := []string{"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
		"HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains(drop, strings.ToUpper(name)) || strings.HasPrefix(name, "AZURE_") {
			continue
		}
		env = append(env, kv)
	}
	for _, name := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		env = append(env, name+"="+f.proxy.URL())
	}
	env = append(env, "NO_PROXY=localhost,127.0.0.1", "no_proxy=localhost,127.0.0.1")
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// workload is a scenario's fixture: a cluster with its OIDC issuer, an
// identity trusting the cluster's pets/ai-svc service account, that
// identity's rights (Managed Identity Contributor on the resource group, Key
// Vault Secrets User on the vault), and two service-account tokens.
type workload struct {
	rg, cluster, issuer string
	identity            client.Identity
	tokenFile           string // pets/ai-svc: matches the federated credential
	wrongTokenFile      string // pets/other: AADSTS700213
	vault, vaultURI     string
}

// newWorkload creates the fixture for the scenario called name.
func (f *fedcred) newWorkload(t *testing.T, name string) workload {
	t.Helper()
	ctx := context.Background()
	sub := f.admin.SubscriptionID
	w := workload{rg: "rg-" + name, cluster: "aks-" + name, vault: "kv" + strings.ReplaceAll(name, "-", "")}
	must(t, "create resource group", func() error {
		_, err := f.api.PutResourceGroup(ctx, sub, w.rg, client.ResourceGroup{Location: "eastus"})
		return err
	})
	must(t, "create cluster", func() error {
		c, err := f.api.PutCluster(ctx, sub, w.rg, w.cluster, client.Cluster{Location: "eastus", Properties: client.ClusterProperties{
			OIDCIssuerProfile: &client.OIDCIssuerProfile{Enabled: true},
			SecurityProfile:   &client.SecurityProfile{WorkloadIdentity: &client.WorkloadIdentityProfile{Enabled: true}},
		}})
		if err == nil {
			w.issuer = c.Properties.OIDCIssuerProfile.IssuerURL
		}
		return err
	})
	must(t, "create identity", func() error {
		id, err := f.api.PutIdentity(ctx, sub, w.rg, name+"-id", client.Identity{Location: "eastus"})
		if err == nil {
			w.identity = *id
		}
		return err
	})
	must(t, "create federated credential", func() error {
		_, err := f.api.PutFederatedCredential(ctx, sub, w.rg, w.identity.Name, "pets-ai", client.FederatedCredentialProperties{
			Issuer: w.issuer, Subject: issuer.Subject(namespace, account), Audiences: []string{defaultAud}})
		return err
	})
	must(t, "create vault", func() error {
		v, err := f.api.PutVault(ctx, sub, w.rg, w.vault, client.Vault{Location: "eastus",
			Properties: client.VaultProperties{TenantID: f.admin.TenantID, SKU: client.StandardSKU()}})
		if err == nil {
			w.vaultURI = v.Properties.VaultURI
		}
		return err
	})
	rgScope := client.SubscriptionScope(sub) + "/resourceGroups/" + w.rg
	vaultScope := rgScope + "/providers/Microsoft.KeyVault/vaults/" + w.vault
	for _, ra := range []struct{ scope, role, principal string }{
		{rgScope, rbac.ManagedIdentityContributorID, w.identity.Properties.PrincipalID},
		{vaultScope, rbac.KeyVaultSecretsUserID, w.identity.Properties.PrincipalID},
		// The admin is Owner, which carries no data actions: it needs a
		// data-plane role to set the secret.
		{vaultScope, rbac.KeyVaultSecretsOfficerID, f.adminObjectID(t)},
	} {
		must(t, "assign role", func() error {
			_, err := f.api.CreateRoleAssignment(ctx, ra.scope, client.RoleAssignmentProperties{
				RoleDefinitionID: client.RoleDefinitionID(sub, ra.role), PrincipalID: ra.principal, PrincipalType: "ServicePrincipal"})
			return err
		})
	}
	must(t, "set secret", func() error {
		_, err := f.api.SetSecret(ctx, w.vaultURI, secretName, client.SecretSetParameters{Value: secretValue})
		return err
	})
	w.tokenFile = f.saToken(t, w, account)
	w.wrongTokenFile = f.saToken(t, w, otherSA)
	return w
}

// adminObjectID is the admin service principal's object ID.
func (f *fedcred) adminObjectID(t *testing.T) string {
	t.Helper()
	id, err := f.api.SignedInPrincipalID(context.Background())
	if err != nil {
		t.Fatalf("admin principal: %v", err)
	}
	return id
}

// saToken mints a token for namespace/sa from the workload's cluster, as
// kubelet projects it, into a file.
func (f *fedcred) saToken(t *testing.T, w workload, sa string) string {
	t.Helper()
	seconds := int64(3600)
	tr, err := f.api.CreateServiceAccountToken(context.Background(), f.admin.SubscriptionID, w.rg, w.cluster, namespace, sa,
		issuer.TokenRequestSpec{Audiences: []string{defaultAud}, ExpirationSeconds: &seconds})
	if err != nil {
		t.Fatalf("mint service-account token: %v", err)
	}
	p := filepath.Join(t.TempDir(), sa+".jwt")
	if err := os.WriteFile(p, []byte(tr.Status.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func must(t *testing.T, what string, fn func() error) {
	t.Helper()
	if err := fn(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// result is one step a client script reports, one JSON object per line.
type result struct {
	Step   string          `json:"step"`
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Detail json.RawMessage `json:"detail,omitempty"`
}

// runScript runs a client script and returns its step results by name.
func runScript(t *testing.T, timeout time.Duration, env []string, dir string, name string, args ...string) map[string]result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir = env, dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := map[string]result{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		var r result
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &r) == nil && r.Step != "" {
			out[r.Step] = r
		}
	}
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if testing.Verbose() {
		t.Logf("%s stderr:\n%s", filepath.Base(name), stderr.String())
	}
	return out
}

// expectSteps checks that every step in ok succeeded and every step in
// fail failed with an error containing its text.
func expectSteps(t *testing.T, got map[string]result, ok []string, fail map[string]string) {
	t.Helper()
	for _, s := range ok {
		r, found := got[s]
		switch {
		case !found:
			t.Errorf("step %q did not run", s)
		case !r.OK:
			t.Errorf("step %q failed: %s", s, r.Error)
		}
	}
	for s, want := range fail {
		r, found := got[s]
		switch {
		case !found:
			t.Errorf("step %q did not run", s)
		case r.OK:
			t.Errorf("step %q succeeded, want an error containing %q", s, want)
		case !strings.Contains(r.Error, want):
			t.Errorf("step %q failed with %q, want %q in it", s, r.Error, want)
		}
	}
}

// detail decodes a step's detail.
func detail[T any](t *testing.T, got map[string]result, step string) T {
	t.Helper()
	var v T
	if r, ok := got[step]; ok && len(r.Detail) > 0 {
		if err := json.Unmarshal(r.Detail, &v); err != nil {
			t.Errorf("step %q detail %s: %v", step, r.Detail, err)
		}
	}
	return v
}

// mustPool is a certificate pool of the PEM file.
func mustPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", file)
	}
	return pool
}
