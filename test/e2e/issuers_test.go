package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/server"
	"github.com/fedcred/fedcred/internal/trust"
)

// startWith starts a server like start, with change applied to its
// configuration.
func startWith(t *testing.T, change func(*server.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	cfg := server.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	change(&cfg)
	srv, err := server.Start(context.Background(), cfg)
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
	data, err := os.ReadFile(filepath.Join(dir, config.AdminFile))
	if err != nil {
		t.Fatal(err)
	}
	var admin config.Admin
	if err := json.Unmarshal(data, &admin); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, admin: admin, http: httpClient(t, admin.CAFile)}
	e.mgmt, err = azidentity.NewClientSecretCredential(admin.TenantID, admin.ClientID, admin.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: e.clientOptions(), DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.subURL = srv.URL + "/subscriptions/" + admin.SubscriptionID
	return e
}

// clusterKey is a service-account signing key of a cluster fedcred does not
// host, with the kid kube-apiserver would give it.
type clusterKey struct {
	key *rsa.PrivateKey
	kid string
}

func newClusterKey(t *testing.T) clusterKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := keys.KeyID(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return clusterKey{key: k, kid: kid}
}

func (k clusterKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.key.Public(), KeyID: k.kid, Algorithm: "RS256", Use: "sig"}
}

func jwksOf(ks ...clusterKey) jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, k := range ks {
		set.Keys = append(set.Keys, k.jwk())
	}
	return set
}

// serviceAccountToken signs a token shaped like a projected service-account
// token of issuer for pets/ai-svc, as the cluster would.
func (k clusterKey) serviceAccountToken(t *testing.T, issuer string, now time.Time) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.key, KeyID: k.kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: issuer, Subject: "system:serviceaccount:pets:ai-svc", Audience: jwt.Audience{"api://AzureADTokenExchange"},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
		ID: uuid.NewString(),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// trustIssuer creates a group, an identity and a federated credential for
// pets/ai-svc of issuer, and returns the identity's client ID.
func (e *env) trustIssuer(issuer string) string {
	e.t.Helper()
	e.call("PUT", e.subURL+"/resourcegroups/rg1?api-version=2021-04-01", map[string]any{"location": "eastus"}, http.StatusCreated)
	idPath := e.subURL + "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/private-workload"
	id := e.call("PUT", idPath+"?api-version=2024-11-30", map[string]any{"location": "eastus"}, http.StatusCreated)
	e.call("PUT", idPath+"/federatedIdentityCredentials/private-cluster?api-version=2024-11-30", map[string]any{"properties": map[string]any{
		"issuer": issuer, "subject": "system:serviceaccount:pets:ai-svc", "audiences": []string{"api://AzureADTokenExchange"},
	}}, http.StatusCreated)
	return id["properties"].(map[string]any)["clientId"].(string)
}

// exchange trades assertion for a Key Vault token with the unmodified
// azidentity.ClientAssertionCredential (a new one each time, so nothing is
// cached).
func (e *env) exchange(clientID, assertion string) (string, error) {
	e.t.Helper()
	cred, err := azidentity.NewClientAssertionCredential(e.admin.TenantID, clientID,
		func(context.Context) (string, error) { return assertion, nil },
		&azidentity.ClientAssertionCredentialOptions{ClientOptions: e.clientOptions(), DisableInstanceDiscovery: true})
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	return tok.Token, err
}

// wantRefused fails unless err is an exchange refusal naming code.
func wantRefused(t *testing.T, what string, err error, code string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), code) {
		t.Fatalf("%s: exchange = %v, want %s", what, err, code)
	}
}

// publishKeys posts jwks to the trusted issuer's publishKeys with proof as
// the bearer token and returns the status and body.
func (e *env) publishKeys(resourceURL, proof string, jwks jose.JSONWebKeySet) (int, []byte) {
	e.t.Helper()
	body, err := json.Marshal(jwks)
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", resourceURL+"/publishKeys?api-version=2025-01-01", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+proof)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// TestPrivateIssuerWithUploadedKeys: a cluster fedcred cannot reach (its
// issuer's host does not even resolve) is trusted by uploading its JWKS; a
// workload's token is exchanged by the unmodified Azure SDK; the cluster
// then rotates its signing key and publishes the new keys itself, proving
// possession of the old one, and tokens signed by the new key work at once.
func TestPrivateIssuerWithUploadedKeys(t *testing.T) {
	t.Parallel()
	const issuer = "https://private-cluster.invalid/"
	e := start(t)
	oldKey, newKey := newClusterKey(t), newClusterKey(t)
	resourceURL := e.subURL + "/providers/Fedcred/trustedIssuers/private-cluster"
	ti := e.call("PUT", resourceURL+"?api-version=2025-01-01",
		map[string]any{"properties": map[string]any{"issuer": issuer, "jwks": jwksOf(oldKey)}}, http.StatusCreated)
	props := ti["properties"].(map[string]any)
	audience, _ := props["publishKeysAudience"].(string)
	if audience != resourceURL {
		t.Fatalf("publishKeysAudience = %q, want %q", audience, resourceURL)
	}
	if ks, _ := props["keys"].([]any); len(ks) != 1 || ks[0].(map[string]any)["kid"] != oldKey.kid {
		t.Fatalf("keys = %v", props["keys"])
	}
	clientID := e.trustIssuer(issuer)

	at, err := e.exchange(clientID, oldKey.serviceAccountToken(t, issuer, time.Now()))
	if err != nil {
		t.Fatalf("exchange with the uploaded key: %v", err)
	}
	e.verifyAsResource(at, "https://vault.azure.net")

	// A key fedcred was not given is refused as a bad signature, not as an
	// unreachable issuer: uploaded keys are never refreshed over the network.
	_, err = e.exchange(clientID, newKey.serviceAccountToken(t, issuer, time.Now()))
	wantRefused(t, "before the rotation, the new key", err, "AADSTS50027")

	// The cluster rotates: it publishes old and new keys, proven with the old.
	proof := func(k clusterKey) string {
		p, err := trust.SignProof(trust.ProofRequest{Key: k.key, KeyID: k.kid, Issuer: issuer, Audience: audience, JTI: uuid.NewString(), Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := proof(oldKey)
	if status, body := e.publishKeys(resourceURL, first, jwksOf(oldKey, newKey)); status != http.StatusOK {
		t.Fatalf("publishKeys: %d %s", status, body)
	}
	if _, err := e.exchange(clientID, newKey.serviceAccountToken(t, issuer, time.Now())); err != nil {
		t.Fatalf("exchange with the published key right after publishing: %v", err)
	}
	if _, err := e.exchange(clientID, oldKey.serviceAccountToken(t, issuer, time.Now())); err != nil {
		t.Fatalf("the old key during the overlap: %v", err)
	}

	// The same proof is not accepted twice; a stranger's key proves nothing.
	if status, body := e.publishKeys(resourceURL, first, jwksOf(oldKey)); status != http.StatusUnauthorized || !strings.Contains(string(body), "already used") {
		t.Fatalf("replayed proof: %d %s", status, body)
	}
	if status, body := e.publishKeys(resourceURL, proof(newClusterKey(t)), jwksOf(oldKey)); status != http.StatusUnauthorized ||
		!strings.Contains(string(body), "InvalidAuthenticationToken") {
		t.Fatalf("proof by an untrusted key: %d %s", status, body)
	}

	// The overlap ends: the new key publishes a set without the old one.
	if status, body := e.publishKeys(resourceURL, proof(newKey), jwksOf(newKey)); status != http.StatusOK {
		t.Fatalf("second publishKeys: %d %s", status, body)
	}
	_, err = e.exchange(clientID, oldKey.serviceAccountToken(t, issuer, time.Now()))
	wantRefused(t, "after the old key was withdrawn", err, "AADSTS50027")
	if _, err := e.exchange(clientID, newKey.serviceAccountToken(t, issuer, time.Now())); err != nil {
		t.Fatalf("the new key after the rotation: %v", err)
	}

	// Deleting the trusted issuer ends its keys' trust; the proofs its keys
	// sign are refused like any other's. (An exchange now would fetch the
	// issuer over the network, which a hermetic test does not do.)
	e.call("DELETE", resourceURL+"?api-version=2025-01-01", nil, http.StatusOK)
	if status, body := e.publishKeys(resourceURL, proof(newKey), jwksOf(newKey)); status != http.StatusUnauthorized {
		t.Fatalf("publishKeys after delete: %d %s", status, body)
	}
}

// oidcIssuer is a remote OIDC issuer on 127.0.0.1 over TLS, serving its
// discovery document and JWKS; broken makes the JWKS malformed.
type oidcIssuer struct {
	srv    *httptest.Server
	url    string
	key    clusterKey
	caFile string
	broken atomic.Bool
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	o := &oidcIssuer{key: newClusterKey(t)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": o.url, "jwks_uri": o.url + "openid/v1/jwks",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		if o.broken.Load() {
			io.WriteString(w, `{"keys":"rotated-into-garbage"}`)
			return
		}
		json.NewEncoder(w).Encode(jwksOf(o.key))
	})
	o.srv = httptest.NewTLSServer(mux)
	t.Cleanup(o.srv.Close)
	o.url = o.srv.URL + "/"
	o.caFile = filepath.Join(t.TempDir(), "issuer-ca.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.srv.Certificate().Raw})
	if err := os.WriteFile(o.caFile, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestRemoteIssuerFetched: fedcred fetches the keys of an issuer it can
// reach, through its guard: allowed when the operator allow-lists the
// issuer's network and trusts its CA; unknown keys are refused; a JWKS that
// turns malformed is reported as such once the cached keys are gone.
func TestRemoteIssuerFetched(t *testing.T) {
	t.Parallel()
	iss := newOIDCIssuer(t)
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	e := startWith(t, func(c *server.Config) {
		c.RemoteIssuerAllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.RemoteIssuerCAFile = iss.caFile
		c.Now = now
	})
	clientID := e.trustIssuer(iss.url)

	at, err := e.exchange(clientID, iss.key.serviceAccountToken(t, iss.url, now()))
	if err != nil {
		t.Fatalf("exchange with the remote issuer's key: %v", err)
	}
	e.verifyAsResource(at, "https://vault.azure.net")

	stranger := newClusterKey(t)
	_, err = e.exchange(clientID, stranger.serviceAccountToken(t, iss.url, now()))
	wantRefused(t, "unknown kid signed by another key", err, "AADSTS50027")
	forged := clusterKey{key: stranger.key, kid: iss.key.kid}
	_, err = e.exchange(clientID, forged.serviceAccountToken(t, iss.url, now()))
	wantRefused(t, "the issuer's kid, another key", err, "AADSTS50027")

	// The issuer rotates into a malformed JWKS. The last good keys are
	// served for 24 hours after their fetch (as Entra keeps rotated-out
	// keys); a day later the refetch's failure is the answer.
	iss.broken.Store(true)
	skew.Store(int64(25 * time.Hour))
	_, err = e.exchange(clientID, iss.key.serviceAccountToken(t, iss.url, now()))
	wantRefused(t, "after the JWKS turned malformed", err, "AADSTS900612")
}

// TestRemoteIssuerRefusedByTheGuard: without the operator's allow-list, an
// issuer on a loopback address is never fetched.
func TestRemoteIssuerRefusedByTheGuard(t *testing.T) {
	t.Parallel()
	iss := newOIDCIssuer(t)
	e := startWith(t, func(c *server.Config) { c.RemoteIssuerCAFile = iss.caFile })
	clientID := e.trustIssuer(iss.url)
	_, err := e.exchange(clientID, iss.key.serviceAccountToken(t, iss.url, time.Now()))
	wantRefused(t, "loopback issuer without an allow-list", err, "AADSTS90061")
}
