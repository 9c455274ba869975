package arm

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/fedcred/fedcred/internal/rbac"
)

func TestNew_RejectsIncompleteConfig(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	valid := func() Config {
		return Config{Store: env.store, PublicURL: testPublicURL, TenantID: testTenant, Issuers: env.issuers,
			Authenticate: testAuthenticate, Authorizer: rbac.Authorizer{Store: env.store}}
	}
	if _, err := New(valid()); err != nil {
		t.Fatalf("New(valid) = %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{name: "no store", mutate: func(c *Config) { c.Store = nil }, want: "store is required"},
		{name: "no issuers", mutate: func(c *Config) { c.Issuers = nil }, want: "cluster issuers are required"},
		{name: "no authenticator", mutate: func(c *Config) { c.Authenticate = nil }, want: "authenticate func is required"},
		{name: "no authorizer", mutate: func(c *Config) { c.Authorizer = nil }, want: "authorizer is required"},
		{name: "no tenant", mutate: func(c *Config) { c.TenantID = "" }, want: "tenant id is required"},
		{name: "relative public url", mutate: func(c *Config) { c.PublicURL = "/relative" }, want: "public url"},
		{name: "public url with query", mutate: func(c *Config) { c.PublicURL = "https://x.test?a=b" }, want: "public url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid()
			tt.mutate(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestMetadataEndpoints(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	for _, path := range []string{"/metadata/endpoints?api-version=2015-01-01", "//metadata/endpoints?api-version=2015-01-01", "/metadata/endpoints", "/METADATA/Endpoints?api-version=2022-09-01"} {
		t.Run(path, func(t *testing.T) {
			var got metadataJSON
			env.raw(http.MethodGet, path, "", nil).wantStatus(t, http.StatusOK).decode(t, &got)
			want := metadataJSON{
				GalleryEndpoint: testPublicURL + "/",
				GraphEndpoint:   "https://graph.windows.net/",
				PortalEndpoint:  testPublicURL + "/portal/",
				ResourceManager: testPublicURL + "/",
				Authentication: metadataAuthentication{
					LoginEndpoint:    testPublicURL + "/",
					Audiences:        []string{testPublicURL + "/", "https://management.core.windows.net/", "https://management.azure.com/"},
					Tenant:           testTenant,
					IdentityProvider: "AAD",
				},
			}
			if got.GalleryEndpoint != want.GalleryEndpoint || got.GraphEndpoint != want.GraphEndpoint ||
				got.PortalEndpoint != want.PortalEndpoint || got.ResourceManager != want.ResourceManager ||
				got.Authentication.LoginEndpoint != want.Authentication.LoginEndpoint ||
				strings.Join(got.Authentication.Audiences, ",") != strings.Join(want.Authentication.Audiences, ",") ||
				got.Authentication.Tenant != want.Authentication.Tenant || got.Authentication.IdentityProvider != "AAD" {
				t.Errorf("metadata = %+v, want %+v", got, want)
			}
		})
	}
	t.Run("post is not allowed", func(t *testing.T) {
		r := env.raw(http.MethodPost, "/metadata/endpoints", "", strings.NewReader("{}"))
		r.wantError(t, http.StatusMethodNotAllowed, "MethodNotAllowed", "")
		if got := r.header.Values("Allow"); strings.Join(got, ",") != "GET,HEAD" {
			t.Errorf("Allow = %v", got)
		}
	})
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	const path = "/subscriptions?api-version=2019-11-01"

	t.Run("missing header", func(t *testing.T) {
		t.Parallel()
		r := env.raw(http.MethodGet, path, "", nil)
		r.wantError(t, http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
		want := `Bearer authorization_uri="` + testPublicURL + `/` + testTenant + `/oauth2/authorize", error="invalid_token", ` +
			`error_description="The authentication failed because of missing 'Authorization' header."`
		if got := r.header.Get("WWW-Authenticate"); got != want {
			t.Errorf("WWW-Authenticate = %s\nwant                %s", got, want)
		}
	})
	t.Run("invalid token", func(t *testing.T) {
		t.Parallel()
		r := env.raw(http.MethodGet, path, "not-a-known-token", nil)
		r.wantError(t, http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is invalid.")
		if got := r.header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
			t.Errorf("WWW-Authenticate = %s", got)
		}
	})
	t.Run("authenticated before api-version and routing", func(t *testing.T) {
		t.Parallel()
		env.raw(http.MethodGet, "/subscriptions/x/nothing-here", "", nil).wantError(t, http.StatusUnauthorized, "AuthenticationFailed", "")
	})
	t.Run("authenticator failure is internal and generic", func(t *testing.T) {
		t.Parallel()
		r := env.raw(http.MethodGet, path, brokenToken, nil)
		r.wantError(t, http.StatusInternalServerError, "InternalServerError", msgInternal)
		if bytes.Contains(r.body, []byte("exploded")) {
			t.Errorf("internal detail leaked: %s", r.body)
		}
	})
}

func TestInternalErrorsAreLoggedNotSent(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	env := newTestEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	})
	env.raw(http.MethodGet, "/subscriptions?api-version=1", brokenToken, nil).
		wantError(t, http.StatusInternalServerError, "InternalServerError", msgInternal)
	if !strings.Contains(buf.String(), "key store exploded") {
		t.Errorf("log does not carry the cause: %q", buf.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the handler's goroutines.
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

func TestAuthorization(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.createIdentity("rg", "id1")

	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		wantAction string
		wantScope  string
	}{
		{
			name: "credential write", method: http.MethodPut, path: credentialPath("rg", "id1", "fic1"),
			body:       ficBody(testIssuer, "system:serviceaccount:ns:sa", testAudience),
			wantAction: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
			wantScope:  credentialPath("rg", "id1", "fic1"),
		},
		{
			name: "credential list", method: http.MethodGet, path: identityPath("rg", "id1") + "/federatedIdentityCredentials",
			wantAction: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
			wantScope:  identityPath("rg", "id1"),
		},
		{
			name: "identity delete", method: http.MethodDelete, path: identityPath("rg", "id1"),
			wantAction: "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
			wantScope:  identityPath("rg", "id1"),
		},
		{
			name: "identity list in subscription", method: http.MethodGet, path: "/subscriptions/" + testSub + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
			wantAction: "Microsoft.ManagedIdentity/userAssignedIdentities/read",
			wantScope:  "/subscriptions/" + testSub,
		},
		{
			name: "resource group write", method: http.MethodPut, path: rgPath("rg2"), body: map[string]any{"location": "eastus"},
			wantAction: "Microsoft.Resources/subscriptions/resourceGroups/write",
			wantScope:  rgPath("rg2"),
		},
		{
			name: "cluster token", method: http.MethodPost, path: clusterPath("rg", "c1") + "/api/v1/namespaces/ns/serviceaccounts/sa/token",
			wantAction: "Microsoft.ContainerService/managedClusters/serviceAccountTokens/action",
			wantScope:  clusterPath("rg", "c1"),
		},
		{
			name: "cluster key rotation", method: http.MethodPost, path: clusterPath("rg", "c1") + "/rotateServiceAccountSigningKeys",
			wantAction: "Microsoft.ContainerService/managedClusters/rotateServiceAccountSigningKeys/action",
			wantScope:  clusterPath("rg", "c1"),
		},
		{
			name: "subscription read", method: http.MethodGet, path: "/subscriptions/" + testSub,
			wantAction: "Microsoft.Resources/subscriptions/read",
			wantScope:  "/subscriptions/" + testSub,
		},
		{
			name: "vault write", method: http.MethodPut, path: vaultPath("rg", "kv1"), body: map[string]any{"location": "eastus"},
			wantAction: "Microsoft.KeyVault/vaults/write",
			wantScope:  vaultPath("rg", "kv1"),
		},
		{
			name: "vault list in subscription", method: http.MethodGet, path: subPath + "/providers/Microsoft.KeyVault/vaults",
			wantAction: "Microsoft.KeyVault/vaults/read",
			wantScope:  subPath,
		},
		{
			name: "vault delete", method: http.MethodDelete, path: vaultPath("rg", "kv1"),
			wantAction: "Microsoft.KeyVault/vaults/delete",
			wantScope:  vaultPath("rg", "kv1"),
		},
		{
			name: "role assignment write at an identity", method: http.MethodPut,
			path:       assignmentsPath(identityPath("rg", "id1"), "cccccccc-0000-0000-0000-000000000001"),
			body:       assignmentBody(rbac.OwnerID, identityObjectID),
			wantAction: "Microsoft.Authorization/roleAssignments/write",
			wantScope:  identityPath("rg", "id1"),
		},
		{
			name: "role assignment delete at the subscription", method: http.MethodDelete,
			path:       assignmentsPath(subPath, adminOwnerAssignment),
			wantAction: "Microsoft.Authorization/roleAssignments/delete",
			wantScope:  subPath,
		},
		{
			name: "role assignment list at a group", method: http.MethodGet, path: assignmentsPath(rgPath("rg")),
			wantAction: "Microsoft.Authorization/roleAssignments/read",
			wantScope:  rgPath("rg"),
		},
		{
			name: "role definition read at a credential", method: http.MethodGet,
			path:       credentialPath("rg", "id1", "fic1") + "/providers/Microsoft.Authorization/roleDefinitions/" + rbac.ReaderID,
			wantAction: "Microsoft.Authorization/roleDefinitions/read",
			wantScope:  credentialPath("rg", "id1", "fic1"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := env.callAs(identityToken, tt.method, tt.path, tt.body)
			want := "The client '" + identityObjectID + "' with object id '" + identityObjectID +
				"' does not have authorization to perform action '" + tt.wantAction + "' over scope '" + tt.wantScope +
				"' or the scope is invalid. If access was recently granted, please refresh your credentials."
			r.wantError(t, http.StatusForbidden, "AuthorizationFailed", want)
		})
	}

	t.Run("managed identity wrote nothing", func(t *testing.T) {
		t.Parallel()
		env.call(http.MethodGet, rgPath("rg2"), nil).wantError(t, http.StatusNotFound, "ResourceGroupNotFound", "")
	})
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")

	t.Run("other tenant's subscription is not found", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/subscriptions/" + testSub, rgPath("rg"), identityPath("rg", "id1")} {
			env.callAs(otherTenantToken, http.MethodGet, path, nil).
				wantError(t, http.StatusNotFound, "SubscriptionNotFound", "The subscription '"+testSub+"' could not be found.")
		}
	})
	t.Run("other tenant cannot write", func(t *testing.T) {
		t.Parallel()
		env.callAs(otherTenantToken, http.MethodPut, rgPath("intruder"), map[string]any{"location": "eastus"}).
			wantError(t, http.StatusNotFound, "SubscriptionNotFound", "")
	})
	t.Run("unknown subscription", func(t *testing.T) {
		t.Parallel()
		env.call(http.MethodGet, "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg", nil).
			wantError(t, http.StatusNotFound, "SubscriptionNotFound", "The subscription '00000000-0000-0000-0000-000000000000' could not be found.")
	})
}

func TestSubscriptions(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)

	tests := []struct {
		name  string
		token string
		want  []string
	}{
		{name: "service principal sees its tenant's subscription", token: adminToken, want: []string{testSub}},
		{name: "other tenant sees its own", token: otherTenantToken, want: []string{otherSub}},
		{name: "managed identity without access sees none", token: identityToken, want: nil},
		{name: "service principal without a role sees none", token: noRoleToken, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var page listResult[subscriptionJSON]
			env.raw(http.MethodGet, "/subscriptions?api-version=2019-11-01", tt.token, nil).wantStatus(t, http.StatusOK).decode(t, &page)
			var got []string
			for _, s := range page.Value {
				got = append(got, s.SubscriptionID)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("subscriptions = %v, want %v", got, tt.want)
			}
			if page.Value == nil {
				t.Errorf("value is null, want a list")
			}
		})
	}
	t.Run("get", func(t *testing.T) {
		t.Parallel()
		var got subscriptionJSON
		env.call(http.MethodGet, "/subscriptions/"+testSub, nil).wantStatus(t, http.StatusOK).decode(t, &got)
		want := subscriptionJSON{
			ID: "/subscriptions/" + testSub, SubscriptionID: testSub, TenantID: testTenant, DisplayName: "Test subscription",
			State: "Enabled", AuthorizationSource: "RoleBased", ManagedByTenants: []string{},
		}
		if got.ID != want.ID || got.SubscriptionID != want.SubscriptionID || got.TenantID != want.TenantID ||
			got.DisplayName != want.DisplayName || got.State != want.State || got.AuthorizationSource != want.AuthorizationSource {
			t.Errorf("subscription = %+v, want %+v", got, want)
		}
	})
	t.Run("not writable", func(t *testing.T) {
		t.Parallel()
		env.call(http.MethodPut, "/subscriptions/"+testSub, map[string]any{}).wantError(t, http.StatusMethodNotAllowed, "MethodNotAllowed", "")
	})
}

func TestAPIVersion(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	tests := []struct {
		name   string
		query  string
		status int
	}{
		{name: "missing", query: "", status: http.StatusBadRequest},
		{name: "empty", query: "?api-version=", status: http.StatusBadRequest},
		{name: "other parameter only", query: "?$top=5", status: http.StatusBadRequest},
		{name: "any value accepted", query: "?api-version=1999-01-01-whatever", status: http.StatusOK},
		{name: "percent-encoded key as node sends it", query: "?api%2Dversion=2025-07-01", status: http.StatusOK},
		{name: "upper-case key", query: "?API-VERSION=2025-07-01", status: http.StatusOK},
		{name: "malformed query", query: "?api-version=1&x=%zz", status: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := env.raw(http.MethodGet, "/subscriptions"+tt.query, adminToken, nil)
			if tt.status == http.StatusOK {
				r.wantStatus(t, http.StatusOK)
				return
			}
			r.wantStatus(t, tt.status)
			if tt.name != "malformed query" {
				r.wantError(t, http.StatusBadRequest, "MissingApiVersionParameter",
					"The api-version query parameter (?api-version=) is required for all requests.")
			}
		})
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	created := env.createIdentity("rg", "id1")

	t.Run("paths match case-insensitively", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{
			"/subscriptions/" + testSub + "/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
			"/SUBSCRIPTIONS/" + testSub + "/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.MANAGEDIDENTITY/USERASSIGNEDIDENTITIES/ID1",
			"//subscriptions/" + testSub + "/resourceGroups/rg/providers/microsoft.managedidentity/userassignedidentities/id1/",
		} {
			var got identityJSON
			env.call(http.MethodGet, path, nil).wantStatus(t, http.StatusOK).decode(t, &got)
			if got.Name != "id1" || got.Properties.ClientID != created.Properties.ClientID {
				t.Errorf("GET %s = %+v, want identity id1", path, got)
			}
		}
	})
	t.Run("unknown paths", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name, path, code string
		}{
			{name: "not arm", path: "/nothing", code: "NotFound"},
			{name: "unknown child of subscription", path: "/subscriptions/" + testSub + "/nothing", code: "NotFound"},
			{name: "unknown resource type", path: rgPath("rg") + "/providers/Microsoft.Compute/virtualMachines/vm", code: "InvalidResourceType"},
			{name: "identity without group", path: "/subscriptions/" + testSub + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1", code: "NotFound"},
			{name: "too deep", path: credentialPath("rg", "id1", "f") + "/more", code: "NotFound"},
			{name: "empty segment", path: "/subscriptions/" + testSub + "//resourceGroups", code: "NotFound"},
		}
		for _, tt := range tests {
			env.call(http.MethodGet, tt.path, nil).wantError(t, http.StatusNotFound, tt.code, "")
		}
	})
	t.Run("unsupported method", func(t *testing.T) {
		t.Parallel()
		r := env.call(http.MethodPost, identityPath("rg", "id1"), map[string]any{})
		r.wantError(t, http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method 'POST'.")
		if got := strings.Join(r.header.Values("Allow"), ","); got != "GET,PUT,PATCH,DELETE" {
			t.Errorf("Allow = %s", got)
		}
	})
	t.Run("request ids", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequest(http.MethodGet, env.srv.URL+"/subscriptions?api-version=1", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("x-ms-client-request-id", "corr-123")
		resp, err := env.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("x-ms-request-id") == "" || resp.Header.Get("x-ms-correlation-request-id") != "corr-123" {
			t.Errorf("headers = %v", resp.Header)
		}
	})
}

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	path := identityPath("rg", "id1") + "?api-version=" + testAPIVersion

	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{name: "malformed json", body: `{"location":`, status: http.StatusBadRequest, code: "InvalidRequestContent"},
		{name: "not an object", body: `["eastus"]`, status: http.StatusBadRequest, code: "InvalidRequestContent"},
		{name: "wrong type", body: `{"location": 5}`, status: http.StatusBadRequest, code: "InvalidRequestContent"},
		{name: "trailing data", body: `{"location":"eastus"} {}`, status: http.StatusBadRequest, code: "InvalidRequestContent"},
		{name: "oversized", body: `{"location":"eastus","tags":{"a":"` + strings.Repeat("x", maxBodyBytes) + `"}}`, status: http.StatusRequestEntityTooLarge, code: "RequestEntityTooLarge"},
		{name: "empty body means no location", body: ``, status: http.StatusBadRequest, code: "LocationRequired"},
		{name: "unknown fields are ignored", body: `{"location":"eastus","id":"x","type":"y","properties":{"clientId":"z"}}`, status: http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.raw(http.MethodPut, path, adminToken, strings.NewReader(tt.body))
			if tt.code == "" {
				r.wantStatus(t, tt.status)
				return
			}
			r.wantError(t, tt.status, tt.code, "")
		})
	}
	t.Run("oversized without content length", func(t *testing.T) {
		body := &chunkedReader{r: strings.NewReader(`{"location":"eastus","tags":{"a":"` + strings.Repeat("x", maxBodyBytes) + `"}}`)}
		env.raw(http.MethodPut, path, adminToken, body).wantError(t, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "")
	})
}

// chunkedReader hides its length so the client sends the body chunked.
type chunkedReader struct{ r *strings.Reader }

func (c *chunkedReader) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestStoreUnavailableIsGeneric(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.store.Close()
	r := env.call(http.MethodGet, "/subscriptions/"+testSub, nil)
	if r.status < 500 {
		t.Fatalf("status = %d after the store closed; body %s", r.status, r.body)
	}
	ce := r.cloudErr(t)
	if ce.Message != msgInternal && ce.Message != msgUnavailable {
		t.Errorf("message = %q, want a generic one", ce.Message)
	}
	if strings.Contains(string(r.body), "sql") {
		t.Errorf("internal detail leaked: %s", r.body)
	}
}
