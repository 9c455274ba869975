package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

// Fixtures: two tenants; in the first, vaults pets-kv and other-kv in
// resource group rg1 and far-kv in rg2; in the second, foreign-kv.
const (
	testPublicURL = "https://fedcred.test:8443"
	testTenant    = "11111111-1111-1111-1111-111111111111"
	testSub       = "22222222-2222-2222-2222-222222222222"
	otherTenant   = "33333333-3333-3333-3333-333333333333"
	otherSub      = "44444444-4444-4444-4444-444444444444"
	apiVersion    = "7.5"
)

// Bearer tokens the test authenticator accepts, each naming one caller.
const (
	officerToken     = "officer-token"      // Secrets Officer on pets-kv
	userToken        = "user-token"         // Secrets User on pets-kv
	readerToken      = "reader-token"       // Key Vault Reader on pets-kv
	groupUserToken   = "group-user-token"   // Secrets User on resource group rg1
	otherVaultToken  = "other-vault-token"  // Secrets Officer on other-kv only
	nobodyToken      = "nobody-token"       // no role at all
	foreignToken     = "foreign-token"      // otherTenant; Secrets Officer on pets-kv all the same
	brokenToken      = "broken-token"       // the authenticator fails internally
	unavailableToken = "unavailable-token"  // the authenticator's store is down
	anonymousToken   = "no-principal-token" // valid, but names no object ID
)

// Object IDs of the callers.
const (
	officerOID    = "aaaaaaaa-0000-0000-0000-000000000001"
	userOID       = "aaaaaaaa-0000-0000-0000-000000000002"
	readerOID     = "aaaaaaaa-0000-0000-0000-000000000003"
	groupUserOID  = "aaaaaaaa-0000-0000-0000-000000000004"
	otherVaultOID = "aaaaaaaa-0000-0000-0000-000000000005"
	nobodyOID     = "aaaaaaaa-0000-0000-0000-000000000006"
	foreignOID    = "aaaaaaaa-0000-0000-0000-000000000007"
)

var testNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// testCallers maps the fixed bearer tokens to callers.
var testCallers = map[string]Caller{
	officerToken:    {ObjectID: officerOID, TenantID: testTenant, AppID: "app-officer"},
	userToken:       {ObjectID: userOID, TenantID: testTenant, AppID: "app-user"},
	readerToken:     {ObjectID: readerOID, TenantID: testTenant, AppID: "app-reader"},
	groupUserToken:  {ObjectID: groupUserOID, TenantID: testTenant, AppID: "app-group-user"},
	otherVaultToken: {ObjectID: otherVaultOID, TenantID: testTenant, AppID: "app-other-vault"},
	nobodyToken:     {ObjectID: nobodyOID, TenantID: testTenant, AppID: "app-nobody"},
	foreignToken:    {ObjectID: foreignOID, TenantID: otherTenant, AppID: "app-foreign"},
	anonymousToken:  {TenantID: testTenant, AppID: "app-anonymous"},
}

// testAuthenticate accepts the fixed bearer tokens.
func testAuthenticate(_ context.Context, bearer string) (Caller, error) {
	switch bearer {
	case brokenToken:
		return Caller{}, errors.New("key store exploded: secret detail")
	case unavailableToken:
		return Caller{}, fmt.Errorf("read signing keys: %w", store.ErrUnavailable)
	}
	if c, ok := testCallers[bearer]; ok {
		return c, nil
	}
	return Caller{}, fmt.Errorf("%w: token signature is invalid", ErrUnauthenticated)
}

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a handler over a real SQLite store, a real Sealer and a real
// rbac.Authorizer, served by an httptest server.
type env struct {
	t      *testing.T
	store  store.Store
	sealer *keys.Sealer
	clock  *clock
	h      *Handler
	srv    *httptest.Server
	http   *http.Client
	logs   *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the handler's concurrent logging.
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

// vaultFixture describes a seeded vault.
type vaultFixture struct {
	sub, rg, name, tenant string
}

var (
	petsKV    = vaultFixture{testSub, "rg1", "pets-kv", testTenant}
	otherKV   = vaultFixture{testSub, "rg1", "other-kv", testTenant}
	farKV     = vaultFixture{testSub, "rg2", "far-kv", testTenant}
	foreignKV = vaultFixture{otherSub, "rg9", "foreign-kv", otherTenant}
)

func (f vaultFixture) vault() store.Vault {
	return store.Vault{SubscriptionID: f.sub, ResourceGroup: f.rg, Name: f.name, Location: "eastus",
		TenantID: f.tenant, CreatedAt: testNow, UpdatedAt: testNow}
}

func (f vaultFixture) id() string { return f.vault().ResourceID() }

// openStore opens a fresh SQLite store seeded with the fixture vaults and
// role assignments.
func openStore(t *testing.T) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fedcred.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	assign := func(n int, scope, role, principal string) store.RoleAssignment {
		return store.RoleAssignment{
			Name:             fmt.Sprintf("bbbbbbbb-0000-0000-0000-%012d", n),
			Scope:            scope,
			RoleDefinitionID: "/subscriptions/" + testSub + "/providers/Microsoft.Authorization/roleDefinitions/" + role,
			PrincipalID:      principal, PrincipalType: "ServicePrincipal", TenantID: testTenant,
			CreatedAt: testNow, UpdatedAt: testNow,
		}
	}
	objs := []store.Object{
		petsKV.vault(), otherKV.vault(), farKV.vault(), foreignKV.vault(),
		assign(1, petsKV.id(), rbac.KeyVaultSecretsOfficerID, officerOID),
		assign(2, petsKV.id(), rbac.KeyVaultSecretsUserID, userOID),
		assign(3, petsKV.id(), rbac.KeyVaultReaderID, readerOID),
		assign(4, store.ResourceGroupID(testSub, "rg1"), rbac.KeyVaultSecretsUserID, groupUserOID),
		assign(5, otherKV.id(), rbac.KeyVaultSecretsOfficerID, otherVaultOID),
		assign(6, petsKV.id(), rbac.KeyVaultSecretsOfficerID, foreignOID),
		assign(7, foreignKV.id(), rbac.KeyVaultSecretsOfficerID, officerOID),
	}
	if err := st.Update(ctx, func(tx store.Tx) error {
		for _, o := range objs {
			if err := store.Create(ctx, tx, o); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

func newSealer(t *testing.T) *keys.Sealer {
	t.Helper()
	kek := make([]byte, keys.KEKSize)
	if _, err := rand.Read(kek); err != nil {
		t.Fatal(err)
	}
	s, err := keys.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newEnv starts a handler on a fresh store; edit may change its Config.
func newEnv(t *testing.T, edit ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, store: openStore(t), sealer: newSealer(t), clock: &clock{t: testNow}, logs: &syncBuffer{}}
	cfg := Config{
		Store:        e.store,
		Sealer:       e.sealer,
		Authorizer:   rbac.Authorizer{Store: e.store},
		Authenticate: testAuthenticate,
		PublicURL:    testPublicURL + "/",
		TenantID:     testTenant,
		Now:          e.clock.Now,
		Logger:       slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range edit {
		f(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	mux := http.NewServeMux()
	h.Mount(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.http = &http.Client{Timeout: 30 * time.Second}
	return e
}

// response is an answer of the handler.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// do sends a request with a bearer token ("" for none); path is below the
// server (query included) and body, when not nil, is sent as JSON, or as is
// when it is a string or []byte.
func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	authorization := ""
	if token != "" {
		authorization = "Bearer " + token
	}
	return e.doAuth(method, path, authorization, body)
}

// doAuth is do with the Authorization header given whole.
func (e *env) doAuth(method, path, authorization string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	return r
}

// secretPath is the path of a secret operation with api-version; parts are
// joined below /vaults/<vault>/.
func secretPath(vault string, parts ...string) string {
	return "/vaults/" + vault + "/" + strings.Join(parts, "/") + "?api-version=" + apiVersion
}

// set sets a secret with the officer's token and returns its bundle.
func (e *env) set(vault, name string, body map[string]any) map[string]any {
	e.t.Helper()
	r := e.do("PUT", secretPath(vault, "secrets", name), officerToken, body)
	if r.status != http.StatusOK {
		e.t.Fatalf("set %s/%s = %d %s", vault, name, r.status, r.raw)
	}
	return r.body
}

// expectError checks an error answer: status, code, and (when not "")
// inner error code.
func (r response) expectError(t *testing.T, status int, code, inner string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	e, _ := r.body["error"].(map[string]any)
	if e == nil || e["code"] != code {
		t.Fatalf("error code in %s, want %q", r.raw, code)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error without message: %s", r.raw)
	}
	ie, _ := e["innererror"].(map[string]any)
	switch {
	case inner == "" && ie != nil:
		t.Fatalf("unexpected innererror in %s", r.raw)
	case inner != "" && (ie == nil || ie["code"] != inner):
		t.Fatalf("innererror in %s, want code %q", r.raw, inner)
	}
}

func (r response) message() string {
	e, _ := r.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// versionOf is the version at the end of a bundle's id.
func versionOf(t *testing.T, bundle map[string]any) string {
	t.Helper()
	id, _ := bundle["id"].(string)
	i := strings.LastIndex(id, "/")
	if i < 0 {
		t.Fatalf("bundle id %q has no version", id)
	}
	return id[i+1:]
}

// rawSecret reads the stored document of a secret version.
func (e *env) rawSecret(vault, name, version string) (store.Secret, []byte) {
	e.t.Helper()
	ctx := context.Background()
	key := store.SecretPrefix(vault, name) + version
	var data []byte
	if err := e.store.View(ctx, func(tx store.Tx) error {
		var err error
		data, err = tx.Get(ctx, store.KindSecret, key)
		return err
	}); err != nil {
		e.t.Fatalf("read secret %s: %v", key, err)
	}
	var s store.Secret
	if err := json.Unmarshal(data, &s); err != nil {
		e.t.Fatal(err)
	}
	return s, data
}

// countVersions counts the stored versions of a secret.
func (e *env) countVersions(vault, name string) int {
	e.t.Helper()
	ctx := context.Background()
	var n int
	if err := e.store.View(ctx, func(tx store.Tx) error {
		recs, err := tx.List(ctx, store.KindSecret, store.SecretPrefix(vault, name), "", 0)
		n = len(recs)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return n
}
