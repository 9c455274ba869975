package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
)

func TestAuthentication_Challenge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.set("pets-kv", "s", map[string]any{"value": "v"})
	petsChallenge := `Bearer authorization="https://fedcred.test:8443/` + testTenant + `", resource="https://vault.azure.net"`
	foreignChallenge := `Bearer authorization="https://fedcred.test:8443/` + otherTenant + `", resource="https://vault.azure.net"`
	missing := "AKV10000: Request is missing a Bearer or PoP token."
	tests := []struct {
		name          string
		method        string
		path          string
		authorization string
		body          any
		wantChallenge string
		wantMessage   string // the message, or its start when it ends in "*"
	}{
		{name: "no authorization header", method: "GET", path: secretPath("pets-kv", "secrets", "s", ""),
			wantChallenge: petsChallenge, wantMessage: missing},
		{name: "set without a token and without its body, as the SDKs send it first", method: "PUT",
			path: secretPath("pets-kv", "secrets", "s"), wantChallenge: petsChallenge, wantMessage: missing},
		{name: "list without a token", method: "GET", path: secretPath("pets-kv", "secrets"),
			wantChallenge: petsChallenge, wantMessage: missing},
		{name: "basic authorization", method: "GET", path: secretPath("pets-kv", "secrets", "s"),
			authorization: "Basic dXNlcjpwYXNz", wantChallenge: petsChallenge, wantMessage: missing},
		{name: "bearer without a token", method: "GET", path: secretPath("pets-kv", "secrets", "s"),
			authorization: "Bearer ", wantChallenge: petsChallenge, wantMessage: missing},
		{name: "invalid token", method: "GET", path: secretPath("pets-kv", "secrets", "s"),
			authorization: "Bearer forged-token", wantChallenge: petsChallenge,
			wantMessage: "AKV10022: Invalid bearer token: token signature is invalid."},
		{name: "lower-case bearer scheme with an invalid token", method: "GET", path: secretPath("pets-kv", "secrets", "s"),
			authorization: "bearer forged-token", wantChallenge: petsChallenge, wantMessage: "AKV10022: *"},
		{name: "token without a principal", method: "GET", path: secretPath("pets-kv", "secrets", "s"),
			authorization: "Bearer " + anonymousToken, wantChallenge: petsChallenge, wantMessage: "AKV10022: *"},
		{name: "vault of another tenant names its tenant", method: "GET", path: secretPath("foreign-kv", "secrets", "s"),
			wantChallenge: foreignChallenge, wantMessage: missing},
		{name: "missing vault names the default tenant", method: "GET", path: secretPath("no-such-kv", "secrets", "s"),
			wantChallenge: petsChallenge, wantMessage: missing},
		{name: "caller of another tenant", method: "GET", path: secretPath("pets-kv", "secrets", "s"),
			authorization: "Bearer " + foreignToken, wantChallenge: petsChallenge,
			wantMessage: "AKV10032: Invalid issuer. Expected one of https://fedcred.test:8443/" + testTenant +
				"/, found https://fedcred.test:8443/" + otherTenant + "/."},
		{name: "caller of the home tenant on a vault of another", method: "GET", path: secretPath("foreign-kv", "secrets", "s"),
			authorization: "Bearer " + officerToken, wantChallenge: foreignChallenge, wantMessage: "AKV10032: *"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.doAuth(tc.method, tc.path, tc.authorization, nil)
			if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != tc.wantChallenge {
				t.Errorf("WWW-Authenticate = %q\nwant                %q", got, tc.wantChallenge)
			}
			r.expectError(t, http.StatusUnauthorized, "Unauthorized", "")
			if want, ok := strings.CutSuffix(tc.wantMessage, "*"); ok {
				if !strings.HasPrefix(r.message(), want) {
					t.Errorf("message = %q, want it to start with %q", r.message(), want)
				}
			} else if r.message() != tc.wantMessage {
				t.Errorf("message = %q\nwant      %q", r.message(), tc.wantMessage)
			}
		})
	}
}

func TestAuthentication_ChallengeIsWhatTheSDKParses(t *testing.T) {
	t.Parallel()
	// The parsing of azsecrets' challenge policy (keyvault/internal v1.2.0):
	// drop "Bearer ", split on spaces and "=", strip quotes and a trailing
	// comma; the tenant is segment 3 of the authorization URL.
	got := challenge("https://127.0.0.1:8443", testTenant)
	vals := map[string]string{}
	for _, part := range strings.Split(strings.ReplaceAll(got, "Bearer ", ""), " ") {
		if kv := strings.Split(part, "="); len(kv) == 2 {
			vals[kv[0]] = strings.TrimSuffix(strings.ReplaceAll(kv[1], `"`, ""), ",")
		}
	}
	if vals["resource"] != "https://vault.azure.net" {
		t.Errorf("resource = %q in %q", vals["resource"], got)
	}
	if parts := strings.Split(vals["authorization"], "/"); len(parts) < 4 || parts[3] != testTenant {
		t.Errorf("tenant from authorization %q = %v, want %s", vals["authorization"], parts, testTenant)
	}
}

func TestAuthentication_MissingVault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", secretPath("no-such-kv", "secrets", "s"), officerToken, nil)
	r.expectError(t, http.StatusNotFound, "VaultNotFound", "")
	if !strings.Contains(r.message(), "no-such-kv") {
		t.Errorf("message %q does not name the vault", r.message())
	}
}

func TestAuthentication_Failures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name       string
		token      string
		wantStatus int
		wantCode   string
	}{
		{name: "authenticator fails", token: brokenToken, wantStatus: http.StatusInternalServerError, wantCode: "InternalError"},
		{name: "authenticator's store is down", token: unavailableToken, wantStatus: http.StatusServiceUnavailable, wantCode: "ServiceUnavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.do("GET", secretPath("pets-kv", "secrets", "s"), tc.token, nil)
			r.expectError(t, tc.wantStatus, tc.wantCode, "")
			if strings.Contains(string(r.raw), "exploded") || r.header.Get("WWW-Authenticate") != "" {
				t.Errorf("answer leaks the failure or challenges: %v %s", r.header, r.raw)
			}
		})
	}
	logs := e.logs.String()
	for _, tok := range []string{brokenToken, unavailableToken} {
		if strings.Contains(logs, tok) {
			t.Errorf("the log holds the bearer token %q: %s", tok, logs)
		}
	}
}

func TestAuthorization_DataActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, v := range []struct{ vault, token string }{
		{vault: "pets-kv", token: officerToken}, {vault: "other-kv", token: otherVaultToken},
	} {
		if r := e.do("PUT", secretPath(v.vault, "secrets", "s"), v.token, map[string]any{"value": v.vault}); r.status != http.StatusOK {
			t.Fatalf("seed %s = %d %s", v.vault, r.status, r.raw)
		}
	}
	r := e.do("PUT", secretPath("far-kv", "secrets", "s"), officerToken, map[string]any{"value": "far"})
	r.expectError(t, http.StatusForbidden, "Forbidden", "ForbiddenByRbac") // the officer's role is on pets-kv only
	petsScope := strings.ToLower(petsKV.id() + "/secrets/s")
	tests := []struct {
		name       string
		token      string
		method     string
		path       string
		body       any
		wantStatus int
		wantAction string // on 403
		wantScope  string // on 403
	}{
		{name: "secrets user gets the value", token: userToken, method: "GET", path: secretPath("pets-kv", "secrets", "s"), wantStatus: 200},
		{name: "secrets user lists", token: userToken, method: "GET", path: secretPath("pets-kv", "secrets"), wantStatus: 200},
		{name: "secrets user lists versions", token: userToken, method: "GET", path: secretPath("pets-kv", "secrets", "s", "versions"), wantStatus: 200},
		{name: "secrets user cannot set", token: userToken, method: "PUT", path: secretPath("pets-kv", "secrets", "s"),
			body: map[string]any{"value": "x"}, wantStatus: 403, wantAction: rbac.SecretSet, wantScope: petsScope},
		{name: "secrets user cannot update", token: userToken, method: "PATCH", path: secretPath("pets-kv", "secrets", "s", ""),
			body: map[string]any{}, wantStatus: 403, wantAction: rbac.SecretUpdate, wantScope: petsScope},
		{name: "secrets user cannot delete", token: userToken, method: "DELETE", path: secretPath("pets-kv", "secrets", "s"),
			wantStatus: 403, wantAction: rbac.SecretDelete, wantScope: petsScope},
		{name: "secrets user cannot purge", token: userToken, method: "DELETE", path: secretPath("pets-kv", "deletedsecrets", "s"),
			wantStatus: 403, wantAction: "Microsoft.KeyVault/vaults/secrets/purge/action", wantScope: petsScope},
		{name: "officer sets", token: officerToken, method: "PUT", path: secretPath("pets-kv", "secrets", "s2"),
			body: map[string]any{"value": "x"}, wantStatus: 200},
		{name: "officer updates", token: officerToken, method: "PATCH", path: secretPath("pets-kv", "secrets", "s", ""),
			body: map[string]any{"contentType": "x"}, wantStatus: 200},
		{name: "officer purges what is not deleted", token: officerToken, method: "DELETE", path: secretPath("pets-kv", "deletedsecrets", "s"), wantStatus: 404},
		{name: "reader lists", token: readerToken, method: "GET", path: secretPath("pets-kv", "secrets"), wantStatus: 200},
		{name: "reader lists versions", token: readerToken, method: "GET", path: secretPath("pets-kv", "secrets", "s", "versions"), wantStatus: 200},
		{name: "reader cannot get the value", token: readerToken, method: "GET", path: secretPath("pets-kv", "secrets", "s"),
			wantStatus: 403, wantAction: rbac.SecretGet, wantScope: petsScope},
		{name: "officer of another vault cannot get", token: otherVaultToken, method: "GET", path: secretPath("pets-kv", "secrets", "s"),
			wantStatus: 403, wantAction: rbac.SecretGet, wantScope: petsScope},
		{name: "officer of another vault cannot list", token: otherVaultToken, method: "GET", path: secretPath("pets-kv", "secrets"),
			wantStatus: 403, wantAction: rbac.SecretReadMetadata, wantScope: strings.ToLower(petsKV.id())},
		{name: "officer of another vault gets its own", token: otherVaultToken, method: "GET", path: secretPath("other-kv", "secrets", "s"), wantStatus: 200},
		{name: "group user gets from a vault in the group", token: groupUserToken, method: "GET", path: secretPath("pets-kv", "secrets", "s"), wantStatus: 200},
		{name: "group user gets from another vault in the group", token: groupUserToken, method: "GET", path: secretPath("other-kv", "secrets", "s"), wantStatus: 200},
		{name: "group user cannot get from a vault of another group", token: groupUserToken, method: "GET", path: secretPath("far-kv", "secrets", "s"),
			wantStatus: 403, wantAction: rbac.SecretGet, wantScope: strings.ToLower(farKV.id() + "/secrets/s")},
		{name: "group user cannot set", token: groupUserToken, method: "PUT", path: secretPath("other-kv", "secrets", "s"),
			body: map[string]any{"value": "x"}, wantStatus: 403, wantAction: rbac.SecretSet, wantScope: strings.ToLower(otherKV.id() + "/secrets/s")},
		{name: "principal without roles cannot list", token: nobodyToken, method: "GET", path: secretPath("pets-kv", "secrets"),
			wantStatus: 403, wantAction: rbac.SecretReadMetadata, wantScope: strings.ToLower(petsKV.id())},
		{name: "principal without roles cannot list deleted", token: nobodyToken, method: "GET", path: secretPath("pets-kv", "deletedsecrets"),
			wantStatus: 403, wantAction: rbac.SecretReadMetadata, wantScope: strings.ToLower(petsKV.id())},
		{name: "principal without roles cannot read a missing secret", token: nobodyToken, method: "GET", path: secretPath("pets-kv", "secrets", "missing"),
			wantStatus: 403, wantAction: rbac.SecretGet, wantScope: strings.ToLower(petsKV.id() + "/secrets/missing")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.do(tc.method, tc.path, tc.token, tc.body)
			if r.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", r.status, tc.wantStatus, r.raw)
			}
			if tc.wantStatus != http.StatusForbidden {
				return
			}
			r.expectError(t, http.StatusForbidden, "Forbidden", "ForbiddenByRbac")
			if !strings.Contains(r.message(), "\r\nAction: '"+tc.wantAction+"'\r\n") {
				t.Errorf("message %q does not name action %s", r.message(), tc.wantAction)
			}
			if !strings.Contains(r.message(), "\r\nResource: '"+tc.wantScope+"'\r\n") {
				t.Errorf("message %q does not name resource %s", r.message(), tc.wantScope)
			}
		})
	}
}

func TestAuthorization_ForbiddenBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("PUT", secretPath("pets-kv", "secrets", "My-Secret"), userToken, map[string]any{"value": "x"})
	want := `{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.\r\n` +
		`If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n` +
		`Caller: appid=app-user;oid=` + userOID + `;iss=https://fedcred.test:8443/` + testTenant + `/\r\n` +
		`Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'\r\n` +
		`Resource: '/subscriptions/` + testSub + `/resourcegroups/rg1/providers/microsoft.keyvault/vaults/pets-kv/secrets/my-secret'\r\n` +
		`Assignment: (not found)\r\n` +
		`DecisionReason: 'DeniedWithNoValidRBAC' \r\n` +
		`Vault: pets-kv;location=eastus\r\n","innererror":{"code":"ForbiddenByRbac"}}}`
	if r.status != http.StatusForbidden || string(r.raw) != want {
		t.Errorf("answer = %d %s\nwant 403 %s", r.status, r.raw, want)
	}
	if n := e.countVersions("pets-kv", "my-secret"); n != 0 {
		t.Errorf("a refused set stored %d versions", n)
	}
}

// downStore is a store whose backend cannot be reached.
type downStore struct{ store.Store }

func (downStore) View(context.Context, func(store.Tx) error) error {
	return fmt.Errorf("query: %w", store.ErrUnavailable)
}

func (downStore) Update(context.Context, func(store.Tx) error) error {
	return fmt.Errorf("begin: %w", store.ErrUnavailable)
}

// failingAuthorizer fails every decision.
type failingAuthorizer struct{ err error }

func (a failingAuthorizer) Decide(context.Context, rbac.Request) (rbac.Decision, error) {
	return rbac.Decision{}, a.err
}

func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		edit       func(*Config)
		wantStatus int
		wantCode   string
	}{
		{name: "the vault cannot be read", edit: func(c *Config) { c.Store = downStore{c.Store} },
			wantStatus: http.StatusServiceUnavailable, wantCode: "ServiceUnavailable"},
		{name: "the role assignments cannot be read", edit: func(c *Config) { c.Authorizer = rbac.Authorizer{Store: downStore{c.Store}} },
			wantStatus: http.StatusServiceUnavailable, wantCode: "ServiceUnavailable"},
		{name: "the authorizer fails otherwise", edit: func(c *Config) { c.Authorizer = failingAuthorizer{errors.New("boom")} },
			wantStatus: http.StatusInternalServerError, wantCode: "InternalError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.edit)
			for _, req := range []struct {
				method string
				path   string
				body   any
			}{
				{method: "GET", path: secretPath("pets-kv", "secrets", "s")},
				{method: "PUT", path: secretPath("pets-kv", "secrets", "s"), body: map[string]any{"value": "x"}},
				{method: "GET", path: secretPath("pets-kv", "secrets")},
			} {
				r := e.do(req.method, req.path, officerToken, req.body)
				r.expectError(t, tc.wantStatus, tc.wantCode, "")
			}
		})
	}
}

func TestStoreUnavailable_DuringOperation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The vault and the assignments are read from the real store; the
	// operation's own reads and writes fail.
	ops := &opStore{Store: e.store}
	h, err := New(Config{Store: ops, Sealer: e.sealer, Authorizer: rbac.Authorizer{Store: e.store},
		Authenticate: testAuthenticate, PublicURL: testPublicURL, TenantID: testTenant})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	e.srv = srv
	for _, req := range []struct {
		method string
		path   string
		body   any
	}{
		{method: "GET", path: secretPath("pets-kv", "secrets", "s")},
		{method: "PUT", path: secretPath("pets-kv", "secrets", "s"), body: map[string]any{"value": "x"}},
		{method: "PATCH", path: secretPath("pets-kv", "secrets", "s", ""), body: map[string]any{}},
		{method: "DELETE", path: secretPath("pets-kv", "secrets", "s")},
		{method: "GET", path: secretPath("pets-kv", "secrets")},
		{method: "GET", path: secretPath("pets-kv", "secrets", "s", "versions")},
	} {
		r := e.do(req.method, req.path, officerToken, req.body)
		r.expectError(t, http.StatusServiceUnavailable, "ServiceUnavailable", "")
	}
}

// opStore reads vaults from the real store and fails everything else.
type opStore struct{ store.Store }

func (s *opStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.View(ctx, func(tx store.Tx) error { return fn(opTx{tx}) })
}

func (s *opStore) Update(context.Context, func(store.Tx) error) error {
	return fmt.Errorf("begin: %w", store.ErrUnavailable)
}

type opTx struct{ store.Tx }

func (t opTx) GetByAlt(ctx context.Context, kind store.Kind, alt string) ([]byte, error) {
	if kind == store.KindVault {
		return t.Tx.GetByAlt(ctx, kind, alt)
	}
	return nil, fmt.Errorf("query: %w", store.ErrUnavailable)
}

func (opTx) Get(context.Context, store.Kind, string) ([]byte, error) {
	return nil, fmt.Errorf("query: %w", store.ErrUnavailable)
}

func (opTx) List(context.Context, store.Kind, string, string, int) ([]store.Record, error) {
	return nil, fmt.Errorf("query: %w", store.ErrUnavailable)
}
