package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/server"
)

// shiftedClock is the fedcred server's clock: real time plus an offset the
// test moves to mint tokens that are already expired.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// fedcred is a running fedcred server and its admin's view of it.
type fedcred struct {
	srv   *server.Server
	admin config.Admin
	http  *http.Client
	clock *shiftedClock
}

func startFedcred(t *testing.T) *fedcred {
	t.Helper()
	dir := t.TempDir()
	clock := &shiftedClock{}
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: "127.0.0.1:0", Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shut down fedcred: %v", err)
		}
	})
	data, err := os.ReadFile(filepath.Join(dir, config.AdminFile))
	if err != nil {
		t.Fatal(err)
	}
	var admin config.Admin
	if err := json.Unmarshal(data, &admin); err != nil {
		t.Fatal(err)
	}
	client, err := httpClient(admin.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.CloseIdleConnections)
	return &fedcred{srv: srv, admin: admin, http: client, clock: clock}
}

// call makes a bearer-authenticated JSON call and checks its status.
func (f *fedcred) call(t *testing.T, token, method, path string, body any, wantStatus int) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	if !strings.HasPrefix(path, "https://") {
		path = f.srv.URL + path
	}
	req, err := http.NewRequest(method, path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := f.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != wantStatus {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.StatusCode, raw, wantStatus)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return out
}

// token asks the token service for a token with form (client credentials).
func (f *fedcred) token(t *testing.T, form url.Values) string {
	t.Helper()
	form.Set("grant_type", "client_credentials")
	res, err := f.http.PostForm(f.srv.URL+"/"+f.admin.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("token request = %d: %s", res.StatusCode, body.Error)
	}
	return body.AccessToken
}

// adminToken is the admin service principal's token for scope.
func (f *fedcred) adminToken(t *testing.T, scope string) string {
	t.Helper()
	return f.token(t, url.Values{"client_id": {f.admin.ClientID}, "client_secret": {f.admin.ClientSecret}, "scope": {scope}})
}

// workloadToken is the federated flow a pod runs: a service-account token
// from the cluster's token endpoint, exchanged for an access token.
func (f *fedcred) workloadToken(t *testing.T, mgmt, clusterPath, serviceAccount, clientID, scope string) string {
	t.Helper()
	tr := f.call(t, mgmt, http.MethodPost, clusterPath+"/api/v1/namespaces/shop/serviceaccounts/"+serviceAccount+"/token?api-version=2025-01-01",
		map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
			"spec": map[string]any{"audiences": []string{"api://AzureADTokenExchange"}, "expirationSeconds": 3600}},
		http.StatusCreated)
	sa, _ := tr["status"].(map[string]any)["token"].(string)
	if sa == "" {
		t.Fatalf("token request answered without a token: %v", tr)
	}
	return f.token(t, url.Values{"client_id": {clientID}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {sa}})
}

// payload decodes a token's claims without verifying them.
func payload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// forge re-signs a real token's header and claims with another key, keeping
// its kid: what an attacker without the tenant's key can produce.
func forge(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		KeyID string `json:"kid"`
	}
	if err := json.Unmarshal(header, &h); err != nil || h.KeyID == "" {
		t.Fatalf("token header %s: %v", header, err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", h.KeyID))
	if err != nil {
		t.Fatal(err)
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// startOrders runs the service as main does, against f, until the test ends.
func startOrders(t *testing.T, f *fedcred) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--fedcred-url", f.srv.URL, "--tenant", f.admin.TenantID, "--audience", "api://orders",
			"--ca-file", f.admin.CAFile, "--listen", "127.0.0.1:0"}, io.Discard, func(a string) { addr <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("orders: %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case err := <-done:
		t.Fatalf("orders did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("orders did not start in time")
	}
	return ""
}

func TestOrders(t *testing.T) {
	t.Parallel()
	f := startFedcred(t)
	graphToken := f.adminToken(t, "https://graph.microsoft.com/.default")
	mgmt := f.adminToken(t, f.srv.URL+"/.default")

	// The API registers itself: api://orders with the role Orders.Read.
	app := f.call(t, graphToken, http.MethodPost, "/v1.0/applications", map[string]any{
		"displayName":    "orders",
		"identifierUris": []string{"api://orders"},
		"appRoles": []map[string]any{{"value": RoleRead, "displayName": "Read orders", "description": "Read all orders",
			"allowedMemberTypes": []string{"Application"}, "isEnabled": true}},
	}, http.StatusCreated)
	roleID, _ := app["appRoles"].([]any)[0].(map[string]any)["id"].(string)
	sp := f.call(t, graphToken, http.MethodGet, "/v1.0/servicePrincipals(appId='"+app["appId"].(string)+"')", nil, http.StatusOK)
	spID, _ := sp["id"].(string)

	// A cluster with its issuer, and two workloads' identities trusting it.
	sub := "/subscriptions/" + f.admin.SubscriptionID
	f.call(t, mgmt, http.MethodPut, sub+"/resourcegroups/shop?api-version=2021-04-01", map[string]any{"location": "eastus"}, http.StatusCreated)
	clusterPath := sub + "/resourceGroups/shop/providers/Microsoft.ContainerService/managedClusters/aks1"
	cluster := f.call(t, mgmt, http.MethodPut, clusterPath+"?api-version=2025-01-01", map[string]any{
		"location": "eastus", "properties": map[string]any{"oidcIssuerProfile": map[string]any{"enabled": true}},
	}, http.StatusCreated)
	issuer, _ := cluster["properties"].(map[string]any)["oidcIssuerProfile"].(map[string]any)["issuerURL"].(string)
	identity := func(name string) (clientID, principalID string) {
		path := sub + "/resourceGroups/shop/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
		id := f.call(t, mgmt, http.MethodPut, path+"?api-version=2024-11-30", map[string]any{"location": "eastus"}, http.StatusCreated)
		f.call(t, mgmt, http.MethodPut, path+"/federatedIdentityCredentials/"+name+"?api-version=2024-11-30", map[string]any{
			"properties": map[string]any{"issuer": issuer, "subject": "system:serviceaccount:shop:" + name, "audiences": []string{"api://AzureADTokenExchange"}},
		}, http.StatusCreated)
		props := id["properties"].(map[string]any)
		return props["clientId"].(string), props["principalId"].(string)
	}
	clientID, principalID := identity("orders-client")
	strangerID, _ := identity("stranger")

	// The role goes to orders-client only.
	f.call(t, graphToken, http.MethodPost, "/v1.0/servicePrincipals/"+spID+"/appRoleAssignedTo",
		map[string]any{"principalId": principalID, "resourceId": spID, "appRoleId": roleID}, http.StatusCreated)

	// A token minted two days ago has expired; the server's clock goes back
	// for it (and the admin's token is one of that time too), and forward
	// again.
	f.clock.offset.Store(int64(-48 * time.Hour))
	expired := f.workloadToken(t, f.adminToken(t, f.srv.URL+"/.default"), clusterPath, "orders-client", clientID, "api://orders/.default")
	f.clock.offset.Store(0)

	valid := f.workloadToken(t, mgmt, clusterPath, "orders-client", clientID, "api://orders/.default")
	if c := payload(t, valid); c["aud"] != "api://orders" || !reflect.DeepEqual(c["roles"], []any{RoleRead}) || c["oid"] != principalID {
		t.Fatalf("workload token claims = %v", c)
	}
	noRole := f.workloadToken(t, mgmt, clusterPath, "stranger", strangerID, "api://orders/.default")
	if _, has := payload(t, noRole)["roles"]; has {
		t.Fatalf("stranger's token has roles: %v", payload(t, noRole))
	}
	vaultToken := f.workloadToken(t, mgmt, clusterPath, "orders-client", clientID, "https://vault.azure.net/.default")
	adminForOrders := f.adminToken(t, "api://orders/.default")

	base := startOrders(t, f)
	tests := []struct {
		name          string
		path          string
		token         string
		wantStatus    int
		wantChallenge string
	}{
		{name: "health without a token", path: "/healthz", wantStatus: http.StatusOK},
		{name: "orders with the role", path: "/orders", token: valid, wantStatus: http.StatusOK},
		{name: "no token", path: "/orders", wantStatus: http.StatusUnauthorized, wantChallenge: "Bearer"},
		{name: "forged with another key", path: "/orders", token: forge(t, valid), wantStatus: http.StatusUnauthorized,
			wantChallenge: `Bearer error="invalid_token", error_description="invalid signature"`},
		{name: "expired", path: "/orders", token: expired, wantStatus: http.StatusUnauthorized,
			wantChallenge: `Bearer error="invalid_token", error_description="token expired"`},
		{name: "for another audience", path: "/orders", token: vaultToken, wantStatus: http.StatusUnauthorized,
			wantChallenge: `Bearer error="invalid_token", error_description="invalid audience"`},
		{name: "identity without the role", path: "/orders", token: noRole, wantStatus: http.StatusForbidden,
			wantChallenge: `Bearer error="insufficient_scope", error_description="required role missing"`},
		{name: "service principal without the role", path: "/orders", token: adminForOrders, wantStatus: http.StatusForbidden,
			wantChallenge: `Bearer error="insufficient_scope", error_description="required role missing"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", res.StatusCode, tt.wantStatus, raw)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantChallenge)
			}
			if tt.path == "/orders" && res.StatusCode == http.StatusOK {
				var body ordersResponse
				if err := json.Unmarshal(raw, &body); err != nil || body.Caller != principalID || body.AppID != clientID || len(body.Orders) == 0 {
					t.Errorf("orders = %s (%v), want the orders for %s", raw, err, principalID)
				}
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr bool
	}{
		{name: "required flags and defaults", args: []string{"--fedcred-url", "https://localhost:8443", "--tenant", "t1"},
			want: options{fedcredURL: "https://localhost:8443", tenant: "t1", audience: "api://orders", listen: "127.0.0.1:8080"}},
		{name: "every flag", args: []string{"--fedcred-url=https://f", "--tenant=t", "--audience=api://x", "--ca-file=ca.crt", "--listen=:9000"},
			want: options{fedcredURL: "https://f", tenant: "t", audience: "api://x", caFile: "ca.crt", listen: ":9000"}},
		{name: "no server", args: []string{"--tenant", "t1"}, wantErr: true},
		{name: "no tenant", args: []string{"--fedcred-url", "https://f"}, wantErr: true},
		{name: "empty audience", args: []string{"--fedcred-url", "https://f", "--tenant", "t", "--audience", ""}, wantErr: true},
		{name: "stray argument", args: []string{"--fedcred-url", "https://f", "--tenant", "t", "extra"}, wantErr: true},
		{name: "unknown flag", args: []string{"--fedcred-url", "https://f", "--tenant", "t", "--port", "1"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseFlags(tt.args, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFlags error = %v, want error: %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("parseFlags = %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parseFlags(-h) = %v, want flag.ErrHelp", err)
	}
}

func TestRun_RefusesUnreachableServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, []string{"--fedcred-url", "https://127.0.0.1:1", "--tenant", "t1", "--listen", "127.0.0.1:0"}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "tenant metadata") {
		t.Fatalf("run against no server = %v, want a tenant metadata error", err)
	}
}
