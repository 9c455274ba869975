package sts_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
	"github.com/fedcred/fedcred/internal/sts"
)

const (
	tenantID    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	otherTenant = "11111111-2222-4333-8444-555555555555"
	subID       = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	defAud      = "api://AzureADTokenExchange"
	jwtBearer   = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	spSecret    = "s3cr3t~value-of-the-admin-principal"
	oldSecret   = "an-expired-secret"
)

// rig is a running STS over a real SQLite store, a real key manager and a
// real cluster issuer service, behind an httptest TLS server.
type rig struct {
	srv     *httptest.Server
	store   store.Store
	keys    *keys.Manager
	issuers *issuer.Service
	extra   *extraIssuers
	now     time.Time
	cluster store.Cluster
	issURL  string // the cluster's issuer URL
	sp      store.ServicePrincipal
	logs    *syncBuffer
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

// extraIssuers serves the hosted cluster issuers through the real
// issuer.Service, plus test issuers with locally generated keys (for
// algorithms and key shapes the hosted issuers never produce).
type extraIssuers struct {
	hosted *issuer.Service
	mu     sync.Mutex
	sets   map[string]jose.JSONWebKeySet
	calls  map[string]int
}

func (e *extraIssuers) lookups(iss string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[iss]
}

func (e *extraIssuers) add(iss string, set jose.JSONWebKeySet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sets[iss] = set
}

func (e *extraIssuers) KeysFor(ctx context.Context, _, iss, _ string) (jose.JSONWebKeySet, error) {
	e.mu.Lock()
	set, ok := e.sets[iss]
	e.calls[iss]++
	e.mu.Unlock()
	if ok {
		return set, nil
	}
	return e.hosted.KeysFor(ctx, iss)
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "sts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	sealer, err := keys.NewSealer(bytes.Repeat([]byte{5}, keys.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	km, err := keys.NewManager(keys.Config{Store: st, Sealer: sealer, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)

	iss, err := issuer.New(issuer.Config{Store: st, Keys: km, PublicURL: srv.URL, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	extra := &extraIssuers{hosted: iss, sets: map[string]jose.JSONWebKeySet{}, calls: map[string]int{}}
	logs := &syncBuffer{}
	h, err := sts.New(sts.Config{
		Store: st, Keys: km, Issuers: extra, PublicURL: srv.URL, Now: clock,
		Logger:    slog.New(slog.NewTextHandler(logs, nil)),
		Resources: func(r string) bool { return r == "api://payments" },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(mux)
	iss.Mount(mux)

	r := &rig{srv: srv, store: st, keys: km, issuers: iss, extra: extra, now: now, logs: logs}
	r.cluster = store.Cluster{SubscriptionID: subID, ResourceGroup: "rg", Name: "aks1", TenantID: tenantID,
		UID: "5f1a2b3c-0000-4000-8000-000000000001", OIDCIssuerEnabled: true}
	disabled := store.Cluster{SubscriptionID: subID, ResourceGroup: "rg", Name: "aks-off", TenantID: tenantID,
		UID: "5f1a2b3c-0000-4000-8000-000000000002", OIDCIssuerEnabled: false}
	r.sp = store.ServicePrincipal{ObjectID: "9d2c1b7e-5d0a-4f4e-9a55-1f0f5a9b1c01", ClientID: "c0ffee00-0000-4000-8000-00000000a11d",
		TenantID: tenantID, DisplayName: "fedcred-admin",
		Secrets: []store.SecretHash{
			{ID: "s1", Hint: "s3c", SHA256: hash(spSecret), CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(24 * time.Hour)},
			{ID: "s0", Hint: "an-", SHA256: hash(oldSecret), CreatedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-time.Hour)},
		}}
	err = st.Update(ctx, func(tx store.Tx) error {
		for _, o := range []store.Object{
			store.Tenant{ID: tenantID, DisplayName: "Contoso", CreatedAt: now},
			store.Tenant{ID: otherTenant, DisplayName: "Fabrikam", CreatedAt: now},
			r.cluster, disabled, r.sp,
		} {
			if err := store.Create(ctx, tx, o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Ensure(ctx, keys.TenantOwner(tenantID), keys.RingOptions{Certificate: true, CommonName: "fedcred tenant"}); err != nil {
		t.Fatal(err)
	}
	if err := iss.PrepareKeys(ctx, r.cluster); err != nil {
		t.Fatal(err)
	}
	r.issURL = iss.IssuerURL(r.cluster)
	return r
}

func hash(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// identity creates a managed identity in tenant with the given FICs.
func (r *rig) identity(t *testing.T, tenant, name string, fics ...store.FederatedCredential) store.Identity {
	t.Helper()
	ctx := context.Background()
	id := store.Identity{SubscriptionID: subID, ResourceGroup: "rg-Apps", Name: name, Location: "eastus", TenantID: tenant,
		ClientID: uuidFor(name, "client"), PrincipalID: uuidFor(name, "principal"), CreatedAt: r.now, UpdatedAt: r.now}
	err := r.store.Update(ctx, func(tx store.Tx) error {
		if err := store.Create(ctx, tx, id); err != nil {
			return err
		}
		for _, f := range fics {
			f.SubscriptionID, f.ResourceGroup, f.IdentityName = id.SubscriptionID, id.ResourceGroup, id.Name
			if err := store.Create(ctx, tx, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// uuidFor derives a stable UUID-shaped string from parts.
func uuidFor(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "/")))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	var out []byte
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[c>>4], hexd[c&0xf])
	}
	return string(out)
}

func fic(name, iss, sub string) store.FederatedCredential {
	return store.FederatedCredential{Name: name, Issuer: iss, Subject: sub, Audiences: []string{defAud}}
}

// saToken mints a service-account token from the rig's hosted cluster.
func (r *rig) saToken(t *testing.T, ns, sa string, aud ...string) string {
	t.Helper()
	if len(aud) == 0 {
		aud = []string{defAud}
	}
	tok, _, err := r.issuers.MintToken(context.Background(), r.cluster, ns, sa, issuer.TokenRequestSpec{Audiences: aud})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signCluster signs arbitrary claims with the hosted cluster's real key.
func (r *rig) signCluster(t *testing.T, claims any) string {
	t.Helper()
	tok, err := r.keys.SignJWT(context.Background(), keys.ClusterOwner(r.cluster.UID), claims, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// response is a decoded token endpoint answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r *rig) post(t *testing.T, path string, form url.Values, edit ...func(*http.Request)) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	for _, e := range edit {
		e(req)
	}
	return r.do(t, req)
}

func (r *rig) get(t *testing.T, path string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.do(t, req)
}

func (r *rig) do(t *testing.T, req *http.Request) response {
	t.Helper()
	res, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, raw: string(b)}
	if err := json.Unmarshal(b, &out.body); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v\n%s", req.Method, req.URL.Path, err, b)
	}
	return out
}

func (resp response) str(key string) string {
	s, _ := resp.body[key].(string)
	return s
}
