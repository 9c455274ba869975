package arm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

// Test fixtures: two tenants, each with one subscription, and three callers.
const (
	testPublicURL  = "https://fedcred.test:8443"
	testTenant     = "11111111-1111-1111-1111-111111111111"
	testSub        = "22222222-2222-2222-2222-222222222222"
	otherTenant    = "33333333-3333-3333-3333-333333333333"
	otherSub       = "44444444-4444-4444-4444-444444444444"
	testAPIVersion = "2024-11-30"

	adminToken       = "admin-token"        // ServicePrincipal in testTenant, Owner of testSub
	identityToken    = "identity-token"     // ManagedIdentity in testTenant, no role
	otherTenantToken = "other-tenant-token" // ServicePrincipal in otherTenant, Owner of otherSub
	noRoleToken      = "no-role-token"      // ServicePrincipal in testTenant, no role
	brokenToken      = "broken-token"       // the authenticator fails internally

	adminObjectID    = "aaaaaaaa-0000-0000-0000-000000000001"
	identityObjectID = "aaaaaaaa-0000-0000-0000-000000000002"
	otherObjectID    = "aaaaaaaa-0000-0000-0000-000000000003"
	noRoleObjectID   = "aaaaaaaa-0000-0000-0000-000000000004"

	// Names of the Owner assignments newTestEnv seeds, as the server's
	// bootstrap creates one for its admin.
	adminOwnerAssignment = "bbbbbbbb-0000-0000-0000-000000000001"
	otherOwnerAssignment = "bbbbbbbb-0000-0000-0000-000000000003"
)

var testNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// testAuthenticate accepts the fixed test bearer tokens.
func testAuthenticate(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Principal{}, fmt.Errorf("%w: no authorization header", ErrUnauthenticated)
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return Principal{}, fmt.Errorf("%w: not a bearer token", ErrUnauthenticated)
	}
	switch tok {
	case adminToken:
		return Principal{ObjectID: adminObjectID, ClientID: "client-admin", TenantID: testTenant, Type: PrincipalServicePrincipal}, nil
	case identityToken:
		return Principal{ObjectID: identityObjectID, ClientID: "client-mi", TenantID: testTenant, Type: PrincipalManagedIdentity}, nil
	case otherTenantToken:
		return Principal{ObjectID: otherObjectID, ClientID: "client-other", TenantID: otherTenant, Type: PrincipalServicePrincipal}, nil
	case noRoleToken:
		return Principal{ObjectID: noRoleObjectID, ClientID: "client-norole", TenantID: testTenant, Type: PrincipalServicePrincipal}, nil
	case brokenToken:
		return Principal{}, errors.New("key store exploded: secret detail")
	}
	return Principal{}, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
}

// fakeIssuers records what the handler asks of the cluster issuers and mints
// recognisable tokens.
type fakeIssuers struct {
	mu         sync.Mutex
	prepared   []string // cluster UIDs
	rotated    []string
	minted     []mintCall
	prepareErr error
}

type mintCall struct {
	uid, namespace, account string
	spec                    issuer.TokenRequestSpec
}

func (f *fakeIssuers) IssuerURL(c store.Cluster) string {
	return testPublicURL + "/oidc/" + c.TenantID + "/" + c.UID + "/"
}

func (f *fakeIssuers) PrepareKeys(_ context.Context, c store.Cluster) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.prepareErr != nil {
		return f.prepareErr
	}
	f.prepared = append(f.prepared, c.UID)
	return nil
}

func (f *fakeIssuers) RotateKeys(_ context.Context, c store.Cluster) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rotated = append(f.rotated, c.UID)
	return nil
}

func (f *fakeIssuers) MintToken(_ context.Context, c store.Cluster, namespace, account string, spec issuer.TokenRequestSpec) (string, time.Time, error) {
	ttl, err := spec.Validate()
	if err != nil {
		return "", time.Time{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.minted = append(f.minted, mintCall{uid: c.UID, namespace: namespace, account: account, spec: spec})
	return "minted." + namespace + "." + account, testNow.Add(ttl), nil
}

func (f *fakeIssuers) failPrepare(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prepareErr = err
}

func (f *fakeIssuers) calls() (prepared, rotated []string, minted []mintCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.prepared...), append([]string(nil), f.rotated...), append([]mintCall(nil), f.minted...)
}

// tokenTable authenticates the tokens tests hand out at run time (see
// testEnv.signIn) and, for any other, falls back to testAuthenticate.
type tokenTable struct {
	mu      sync.Mutex
	byToken map[string]Principal
}

func (tt *tokenTable) authenticate(r *http.Request) (Principal, error) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tt.mu.Lock()
	p, ok := tt.byToken[tok]
	tt.mu.Unlock()
	if ok {
		return p, nil
	}
	return testAuthenticate(r)
}

// testEnv is a Handler over a real SQLite store behind an httptest server.
// Its authorizer is rbac.Authorizer over the same store.
type testEnv struct {
	t       *testing.T
	srv     *httptest.Server
	store   *sqlite.Store
	issuers *fakeIssuers
	tokens  *tokenTable
}

// ownerAt is an Owner assignment of principal at scope.
func ownerAt(name, principal, scope, tenant string) store.RoleAssignment {
	return store.RoleAssignment{
		Name: name, Scope: scope, PrincipalID: principal, PrincipalType: "ServicePrincipal", TenantID: tenant,
		RoleDefinitionID: scope + "/providers/Microsoft.Authorization/roleDefinitions/" + rbac.OwnerID,
		CreatedAt:        testNow, UpdatedAt: testNow,
	}
}

func newTestEnv(t *testing.T, opts ...func(*Config)) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "arm.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	err = st.Update(ctx, func(tx store.Tx) error {
		for _, obj := range []store.Object{
			store.Tenant{ID: testTenant, DisplayName: "test", CreatedAt: testNow},
			store.Tenant{ID: otherTenant, DisplayName: "other", CreatedAt: testNow},
			store.Subscription{ID: testSub, TenantID: testTenant, DisplayName: "Test subscription", CreatedAt: testNow},
			store.Subscription{ID: otherSub, TenantID: otherTenant, DisplayName: "Other subscription", CreatedAt: testNow},
			store.ServicePrincipal{ObjectID: adminObjectID, ClientID: "client-admin", TenantID: testTenant, CreatedAt: testNow},
			store.ServicePrincipal{ObjectID: otherObjectID, ClientID: "client-other", TenantID: otherTenant, CreatedAt: testNow},
			store.ServicePrincipal{ObjectID: noRoleObjectID, ClientID: "client-norole", TenantID: testTenant, CreatedAt: testNow},
			ownerAt(adminOwnerAssignment, adminObjectID, "/subscriptions/"+testSub, testTenant),
			ownerAt(otherOwnerAssignment, otherObjectID, "/subscriptions/"+otherSub, otherTenant),
		} {
			if err := store.Create(ctx, tx, obj); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed store: %v", err)
	}
	issuers := &fakeIssuers{}
	tokens := &tokenTable{byToken: map[string]Principal{}}
	cfg := Config{
		Store:        st,
		PublicURL:    testPublicURL + "/",
		TenantID:     testTenant,
		Issuers:      issuers,
		Authenticate: tokens.authenticate,
		Authorizer:   rbac.Authorizer{Store: st},
		Now:          func() time.Time { return testNow },
	}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testEnv{t: t, srv: srv, store: st, issuers: issuers, tokens: tokens}
}

// signIn returns a bearer token that authenticates as the managed identity.
func (e *testEnv) signIn(id identityJSON) string {
	e.t.Helper()
	tok := "mi-token-" + id.Properties.PrincipalID
	e.tokens.mu.Lock()
	defer e.tokens.mu.Unlock()
	e.tokens.byToken[tok] = Principal{
		ObjectID: id.Properties.PrincipalID, ClientID: id.Properties.ClientID,
		TenantID: id.Properties.TenantID, Type: PrincipalManagedIdentity,
	}
	return tok
}

// grant stores an assignment of the built-in role roleID to principal at
// scope directly, the way the server's bootstrap does, and returns it.
func (e *testEnv) grant(principal, scope, roleID string) store.RoleAssignment {
	e.t.Helper()
	a := store.RoleAssignment{
		Name: uuid.NewString(), Scope: scope, PrincipalID: principal, PrincipalType: "ServicePrincipal", TenantID: testTenant,
		RoleDefinitionID: "/subscriptions/" + testSub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID,
		CreatedAt:        testNow, UpdatedAt: testNow,
	}
	ctx := context.Background()
	if err := e.store.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, a) }); err != nil {
		e.t.Fatalf("grant %s to %s at %s: %v", roleID, principal, scope, err)
	}
	return a
}

// assignments reads every role assignment whose key starts with prefix.
func (e *testEnv) assignments(prefix string) []store.RoleAssignment {
	e.t.Helper()
	var out []store.RoleAssignment
	ctx := context.Background()
	err := e.store.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = store.List[store.RoleAssignment](ctx, tx, store.ScopeKey(prefix), "", 0)
		return err
	})
	if err != nil {
		e.t.Fatalf("list role assignments: %v", err)
	}
	return out
}

// result is a response, read.
type result struct {
	status int
	header http.Header
	body   []byte
}

// raw sends a request to path (with its query) as the given token ("" sends
// no Authorization header).
func (e *testEnv) raw(method, path, token string, body io.Reader) result {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: data}
}

// call sends an admin request with body encoded as JSON (nil: none) and adds
// the api-version unless path has a query.
func (e *testEnv) call(method, path string, body any) result {
	e.t.Helper()
	return e.callAs(adminToken, method, path, body)
}

func (e *testEnv) callAs(token, method, path string, body any) result {
	e.t.Helper()
	if !strings.Contains(path, "?") {
		path += "?api-version=" + testAPIVersion
	}
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			e.t.Fatalf("encode body: %v", err)
		}
		r = bytes.NewReader(data)
	}
	return e.raw(method, path, token, r)
}

// follow GETs an absolute nextLink, which must lie under the public URL.
func (e *testEnv) follow(nextLink string) result {
	e.t.Helper()
	rest, ok := strings.CutPrefix(nextLink, testPublicURL+"/")
	if !ok {
		e.t.Fatalf("nextLink %q is not under the public URL %s", nextLink, testPublicURL)
	}
	return e.raw(http.MethodGet, "/"+rest, adminToken, nil)
}

func (r result) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// cloudErr decodes an ARM error body.
func (r result) cloudErr(t *testing.T) cloudErrorBody {
	t.Helper()
	var ce cloudError
	r.decode(t, &ce)
	return ce.Error
}

// wantStatus fails unless the response has status want.
func (r result) wantStatus(t *testing.T, want int) result {
	t.Helper()
	if r.status != want {
		t.Fatalf("status = %d, want %d; body %s", r.status, want, r.body)
	}
	return r
}

// wantError fails unless the response is an ARM error with status and code
// (and message, if not empty).
func (r result) wantError(t *testing.T, status int, code, message string) {
	t.Helper()
	r.wantStatus(t, status)
	ce := r.cloudErr(t)
	if ce.Code != code {
		t.Errorf("error code = %q, want %q (message %q)", ce.Code, code, ce.Message)
	}
	if message != "" && ce.Message != message {
		t.Errorf("error message = %q, want %q", ce.Message, message)
	}
}

// Resource paths of the test subscription.
func rgPath(rg string) string { return "/subscriptions/" + testSub + "/resourceGroups/" + rg }

func identityPath(rg, name string) string {
	return rgPath(rg) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
}

func credentialPath(rg, identity, name string) string {
	return identityPath(rg, identity) + "/federatedIdentityCredentials/" + name
}

func clusterPath(rg, name string) string {
	return rgPath(rg) + "/providers/Microsoft.ContainerService/managedClusters/" + name
}

func vaultPath(rg, name string) string {
	return rgPath(rg) + "/providers/Microsoft.KeyVault/vaults/" + name
}

// subPath is the test subscription's ID.
const subPath = "/subscriptions/" + testSub

// assignmentsPath is the role assignment collection at scope; with a name,
// one assignment.
func assignmentsPath(scope string, name ...string) string {
	p := scope + "/providers/Microsoft.Authorization/roleAssignments"
	for _, n := range name {
		p += "/" + n
	}
	return p
}

// definitionID is a built-in role's ID as seen from the test subscription.
func definitionID(roleID string) string {
	return subPath + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID
}

// assignmentBody is a role assignment PUT body.
func assignmentBody(roleID, principal string) map[string]any {
	return map[string]any{"properties": map[string]any{"roleDefinitionId": definitionID(roleID), "principalId": principal}}
}

// mustCreate PUTs body at path and requires 201.
func (e *testEnv) mustCreate(path string, body any) result {
	e.t.Helper()
	return e.call(http.MethodPut, path, body).wantStatus(e.t, http.StatusCreated)
}

func (e *testEnv) createGroup(rg string) {
	e.t.Helper()
	e.mustCreate(rgPath(rg), map[string]any{"location": "eastus"})
}

func (e *testEnv) createIdentity(rg, name string) identityJSON {
	e.t.Helper()
	var out identityJSON
	e.mustCreate(identityPath(rg, name), map[string]any{"location": "eastus"}).decode(e.t, &out)
	return out
}

func ficBody(issuer, subject string, audiences ...string) map[string]any {
	return map[string]any{"properties": map[string]any{"issuer": issuer, "subject": subject, "audiences": audiences}}
}

const (
	testIssuer   = "https://oidc.example.test/tenant/cluster/"
	testAudience = "api://AzureADTokenExchange"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
