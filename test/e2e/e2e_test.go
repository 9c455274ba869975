// Package e2e drives a real fedcred server over HTTPS with real clients: the
// Azure SDK's azidentity credentials and plain HTTP calls shaped as ARM.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/server"
)

// env is one running server and what a client needs to use it.
type env struct {
	t      *testing.T
	srv    *server.Server
	admin  config.Admin
	http   *http.Client
	mgmt   azcore.TokenCredential
	subURL string
}

func start(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	adminPath := filepath.Join(dir, config.AdminFile)
	st, err := os.Stat(adminPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.json mode = %v, want 0600", st.Mode().Perm())
	}
	data, err := os.ReadFile(adminPath)
	if err != nil {
		t.Fatal(err)
	}
	var admin config.Admin
	if err := json.Unmarshal(data, &admin); err != nil {
		t.Fatal(err)
	}
	if admin.TenantID == "" || admin.SubscriptionID == "" || admin.ClientID == "" || admin.ClientSecret == "" || admin.Server != srv.URL || admin.CAFile == "" {
		t.Fatalf("admin.json incomplete: %+v", redact(admin))
	}
	e := &env{t: t, srv: srv, admin: admin, http: httpClient(t, admin.CAFile)}
	e.mgmt, err = azidentity.NewClientSecretCredential(admin.TenantID, admin.ClientID, admin.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            e.clientOptions(),
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.subURL = srv.URL + "/subscriptions/" + admin.SubscriptionID
	return e
}

func redact(a config.Admin) config.Admin { a.ClientSecret = "<redacted>"; return a }

func httpClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func (e *env) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: e.srv.URL + "/"},
		Transport: e.http,
	}
}

// call makes an authenticated management API call and decodes the answer.
func (e *env) call(method, path string, body any, wantStatus int) map[string]any {
	e.t.Helper()
	tok, err := e.mgmt.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{e.srv.URL + "/.default"}})
	if err != nil {
		e.t.Fatalf("management token: %v", err)
	}
	var rdr io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rdr = bytes.NewReader(b)
	}
	url := path
	if !strings.HasPrefix(url, "https://") {
		url = e.srv.URL + path
	}
	req, _ := http.NewRequest(method, url, rdr)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, raw, wantStatus)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return out
}

// scenario is the seed flow's setup: a group, a cluster with its issuer on,
// an identity and a federated credential for pets/ai-svc.
type scenario struct {
	issuerURL, clientID, principalID, identityID, ficPath, clusterPath string
}

func (e *env) setUp() scenario {
	e.t.Helper()
	var s scenario
	e.call("PUT", e.subURL+"/resourcegroups/rg1?api-version=2021-04-01", map[string]any{"location": "eastus"}, http.StatusCreated)
	s.clusterPath = e.subURL + "/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/cluster1"
	e.call("PUT", s.clusterPath+"?api-version=2025-01-01", map[string]any{
		"location": "eastus", "properties": map[string]any{"oidcIssuerProfile": map[string]any{"enabled": true}},
	}, http.StatusCreated)
	cl := e.call("GET", s.clusterPath+"?api-version=2025-01-01", nil, http.StatusOK)
	s.issuerURL, _ = cl["properties"].(map[string]any)["oidcIssuerProfile"].(map[string]any)["issuerURL"].(string)
	if !strings.HasPrefix(s.issuerURL, e.srv.URL+"/oidc/"+e.admin.TenantID+"/") || !strings.HasSuffix(s.issuerURL, "/") {
		e.t.Fatalf("issuerUrl = %q", s.issuerURL)
	}
	idPath := e.subURL + "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ai-svc-identity"
	id := e.call("PUT", idPath+"?api-version=2024-11-30", map[string]any{"location": "eastus"}, http.StatusCreated)
	props := id["properties"].(map[string]any)
	s.clientID, s.principalID, s.identityID = props["clientId"].(string), props["principalId"].(string), id["id"].(string)
	s.ficPath = idPath + "/federatedIdentityCredentials/pets-ai?api-version=2024-11-30"
	e.call("PUT", s.ficPath, map[string]any{"properties": map[string]any{
		"issuer": s.issuerURL, "subject": "system:serviceaccount:pets:ai-svc", "audiences": []string{"api://AzureADTokenExchange"},
	}}, http.StatusCreated)
	return s
}

// serviceAccountToken mints a projected-style token for pets/ai-svc and
// writes it to a file, as kubelet would.
func (e *env) serviceAccountToken(s scenario, namespace, sa string) string {
	e.t.Helper()
	tr := e.call("POST", s.clusterPath+"/api/v1/namespaces/"+namespace+"/serviceaccounts/"+sa+"/token?api-version=2025-01-01", map[string]any{
		"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
		"spec": map[string]any{"audiences": []string{"api://AzureADTokenExchange"}, "expirationSeconds": 3600},
	}, http.StatusCreated)
	tok, _ := tr["status"].(map[string]any)["token"].(string)
	if tok == "" {
		e.t.Fatalf("token request answered without a token: %v", tr)
	}
	path := filepath.Join(e.t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(path, []byte(tok), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

func (e *env) getJSON(url string, v any) {
	e.t.Helper()
	resp, err := e.http.Get(url)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		e.t.Fatalf("GET %s: %v", url, err)
	}
}

// verifyAsResource checks an access token the way a resource would: keys
// from the tenant's discovery document, signature, issuer, audience, time.
func (e *env) verifyAsResource(token, audience string) map[string]any {
	e.t.Helper()
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	e.getJSON(e.srv.URL+"/"+e.admin.TenantID+"/.well-known/openid-configuration", &meta)
	var set jose.JSONWebKeySet
	e.getJSON(meta.JWKSURI, &set)
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		e.t.Fatalf("access token is not an RS256 JWS: %v", err)
	}
	h := parsed.Headers[0]
	if h.ExtraHeaders["typ"] != "JWT" || h.ExtraHeaders["x5t"] == nil {
		e.t.Errorf("access token header lacks typ JWT or x5t: %+v", h.ExtraHeaders)
	}
	found := set.Key(h.KeyID)
	if len(found) != 1 {
		e.t.Fatalf("access token kid %q not in the tenant JWKS", h.KeyID)
	}
	var claims map[string]any
	if err := parsed.Claims(found[0].Key, &claims); err != nil {
		e.t.Fatalf("access token signature does not verify: %v", err)
	}
	var std jwt.Claims
	_ = parsed.Claims(found[0].Key, &std)
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: meta.Issuer, AnyAudience: jwt.Audience{audience}, Time: time.Now()}, time.Minute); err != nil {
		e.t.Fatalf("access token claims: %v (claims %v)", err, claims)
	}
	return claims
}

// TestWorkloadIdentityFlow is the seed scenario end to end: set up through
// the management API, mint a service-account token, and get an access token
// with the unmodified azidentity.WorkloadIdentityCredential.
func TestWorkloadIdentityFlow(t *testing.T) {
	t.Parallel()
	e := start(t)
	s := e.setUp()
	tokenFile := e.serviceAccountToken(s, "pets", "ai-svc")

	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: e.clientOptions(), ClientID: s.clientID, TenantID: e.admin.TenantID,
		TokenFilePath: tokenFile, DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	at, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	if err != nil {
		t.Fatalf("WorkloadIdentityCredential.GetToken: %v", err)
	}
	if d := time.Until(at.ExpiresOn); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("token lifetime %v, want about 24h like a managed identity token", d)
	}
	claims := e.verifyAsResource(at.Token, "https://vault.azure.net")
	want := map[string]any{
		"aud": "https://vault.azure.net", "appid": s.clientID, "oid": s.principalID, "sub": s.principalID,
		"tid": e.admin.TenantID, "idtyp": "app", "ver": "1.0", "xms_mirid": strings.Replace(s.identityID, "/resourceGroups/", "/resourcegroups/", 1),
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	for _, k := range []string{"iat", "nbf", "exp", "uti", "iss"} {
		if claims[k] == nil {
			t.Errorf("claim %s missing", k)
		}
	}

	// A federated credential change is seen by the very next request.
	e.call("DELETE", s.ficPath, nil, http.StatusOK)
	fresh, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: e.clientOptions(), ClientID: s.clientID, TenantID: e.admin.TenantID,
		TokenFilePath: tokenFile, DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = fresh.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	if err == nil || !strings.Contains(err.Error(), "AADSTS700211") {
		t.Fatalf("after deleting the credential GetToken = %v, want AADSTS700211", err)
	}
}

// TestWorkloadIdentityFromEnvironment configures the credential the way the
// webhook does, through AZURE_* environment variables only.
func TestWorkloadIdentityFromEnvironment(t *testing.T) {
	e := start(t)
	s := e.setUp()
	tokenFile := e.serviceAccountToken(s, "pets", "ai-svc")
	t.Setenv("AZURE_CLIENT_ID", s.clientID)
	t.Setenv("AZURE_TENANT_ID", e.admin.TenantID)
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", tokenFile)
	t.Setenv("AZURE_AUTHORITY_HOST", e.srv.URL+"/")
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: azcore.ClientOptions{Transport: e.http}, DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	at, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://cognitiveservices.azure.com/.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	e.verifyAsResource(at.Token, "https://cognitiveservices.azure.com")
}

// TestWrongServiceAccountIsRefused: a token for another service account of
// the same cluster gets no access token, and the error names the subject.
func TestWrongServiceAccountIsRefused(t *testing.T) {
	t.Parallel()
	e := start(t)
	s := e.setUp()
	tokenFile := e.serviceAccountToken(s, "pets", "other-svc")
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: e.clientOptions(), ClientID: s.clientID, TenantID: e.admin.TenantID,
		TokenFilePath: tokenFile, DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	if err == nil || !strings.Contains(err.Error(), "AADSTS700213") || !strings.Contains(err.Error(), "system:serviceaccount:pets:other-svc") {
		t.Fatalf("GetToken = %v, want AADSTS700213 naming the subject", err)
	}
}

// TestManagementAPIRequiresToken: no token, a garbage token, and a managed
// identity's token are all refused by the management API.
func TestManagementAPIRequiresToken(t *testing.T) {
	t.Parallel()
	e := start(t)
	for name, auth := range map[string]string{"none": "", "garbage": "Bearer abc.def.ghi", "basic": "Basic Zm9vOmJhcg=="} {
		req, _ := http.NewRequest("GET", e.subURL+"/resourcegroups?api-version=2021-04-01", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: status %d, WWW-Authenticate %q; want 401 with a Bearer challenge", name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// A managed identity's token for the management audience is not an admin's.
	s := e.setUp()
	tokenFile := e.serviceAccountToken(s, "pets", "ai-svc")
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: e.clientOptions(), ClientID: s.clientID, TenantID: e.admin.TenantID,
		TokenFilePath: tokenFile, DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com//.default"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", e.subURL+"/resourcegroups?api-version=2021-04-01", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "AuthorizationFailed") {
		t.Fatalf("managed identity token: %d %s, want 403 AuthorizationFailed", resp.StatusCode, body)
	}
}

// TestRestartKeepsState: a second start on the same data directory keeps the
// tenant, admin credentials and resources.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	first, err := server.Start(ctx, server.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := os.ReadFile(filepath.Join(dir, config.AdminFile))
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	second, err := server.Start(ctx, server.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Shutdown(ctx)
	var c1, c2 config.Admin
	a2, _ := os.ReadFile(filepath.Join(dir, config.AdminFile))
	_ = json.Unmarshal(a1, &c1)
	_ = json.Unmarshal(a2, &c2)
	if c1.TenantID != c2.TenantID || c1.ClientID != c2.ClientID || c1.ClientSecret != c2.ClientSecret || c1.SubscriptionID != c2.SubscriptionID {
		t.Fatalf("restart changed the directory or admin credentials")
	}
	if c2.Server != second.URL {
		t.Fatalf("admin.json server = %s, want the new URL %s", c2.Server, second.URL)
	}
}
