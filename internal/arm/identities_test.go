package arm

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestIdentities_Lifecycle(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")

	var created identityJSON
	env.call(http.MethodPut, identityPath("rg", "Web-Id"), map[string]any{"location": "eastus", "tags": map[string]string{"k": "v"}}).
		wantStatus(t, http.StatusCreated).decode(t, &created)
	if created.ID != identityPath("rg", "Web-Id") || created.Name != "Web-Id" ||
		created.Type != "Microsoft.ManagedIdentity/userAssignedIdentities" || created.Location != "eastus" || created.Tags["k"] != "v" {
		t.Errorf("created = %+v", created)
	}
	p := created.Properties
	if _, err := uuid.Parse(p.ClientID); err != nil {
		t.Errorf("clientId %q is not a UUID", p.ClientID)
	}
	if _, err := uuid.Parse(p.PrincipalID); err != nil || p.PrincipalID == p.ClientID {
		t.Errorf("principalId %q is not a fresh UUID", p.PrincipalID)
	}
	if p.TenantID != testTenant || p.IsolationScope != "None" {
		t.Errorf("properties = %+v", p)
	}
	if !created.SystemData.CreatedAt.Equal(testNow) || !created.SystemData.LastModifiedAt.Equal(testNow) {
		t.Errorf("systemData = %+v", created.SystemData)
	}

	t.Run("update keeps ids and replaces tags", func(t *testing.T) {
		var got identityJSON
		env.call(http.MethodPut, identityPath("rg", "web-id"), map[string]any{"location": "eastus", "tags": map[string]string{"x": "y"}}).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Properties != created.Properties || got.Name != "Web-Id" || len(got.Tags) != 1 || got.Tags["x"] != "y" {
			t.Errorf("updated = %+v, created %+v", got, created)
		}
	})
	t.Run("patch tags", func(t *testing.T) {
		var got identityJSON
		env.call(http.MethodPatch, identityPath("rg", "web-id"), map[string]any{"tags": map[string]string{"p": "q"}}).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Properties != created.Properties || len(got.Tags) != 1 || got.Tags["p"] != "q" {
			t.Errorf("patched = %+v", got)
		}
		env.call(http.MethodPatch, identityPath("rg", "absent"), map[string]any{"tags": map[string]string{}}).
			wantError(t, http.StatusNotFound, "ResourceNotFound", "")
		env.call(http.MethodPatch, identityPath("rg", "web-id"), map[string]any{"location": "westus"}).
			wantError(t, http.StatusConflict, "InvalidResourceLocation", "")
	})
	t.Run("get", func(t *testing.T) {
		var got identityJSON
		env.call(http.MethodGet, identityPath("rg", "WEB-ID"), nil).wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Properties != created.Properties {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("location cannot change", func(t *testing.T) {
		env.call(http.MethodPut, identityPath("rg", "web-id"), map[string]any{"location": "westus"}).
			wantError(t, http.StatusConflict, "InvalidResourceLocation", "")
	})
	t.Run("delete", func(t *testing.T) {
		env.call(http.MethodDelete, identityPath("rg", "web-id"), nil).wantStatus(t, http.StatusOK)
		env.call(http.MethodGet, identityPath("rg", "web-id"), nil).wantError(t, http.StatusNotFound, "ResourceNotFound",
			"The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/web-id' under resource group 'rg' was not found.")
		env.call(http.MethodDelete, identityPath("rg", "web-id"), nil).wantStatus(t, http.StatusNoContent)
	})
	t.Run("recreated identity gets new ids", func(t *testing.T) {
		again := env.createIdentity("rg", "web-id")
		if again.Properties.ClientID == created.Properties.ClientID || again.Properties.PrincipalID == created.Properties.PrincipalID {
			t.Errorf("recreated identity reused ids: %+v", again.Properties)
		}
	})
}

func TestIdentities_Errors(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	tests := []struct {
		name    string
		method  string
		path    string
		body    any
		status  int
		code    string
		message string
	}{
		{name: "put in missing group", method: http.MethodPut, path: identityPath("nogroup", "id1"), body: map[string]any{"location": "eastus"},
			status: http.StatusNotFound, code: "ResourceGroupNotFound", message: "Resource group 'nogroup' could not be found."},
		{name: "get in missing group", method: http.MethodGet, path: identityPath("nogroup", "id1"),
			status: http.StatusNotFound, code: "ResourceGroupNotFound", message: "Resource group 'nogroup' could not be found."},
		{name: "list in missing group", method: http.MethodGet, path: rgPath("nogroup") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities",
			status: http.StatusNotFound, code: "ResourceGroupNotFound"},
		{name: "delete in missing group", method: http.MethodDelete, path: identityPath("nogroup", "id1"),
			status: http.StatusNotFound, code: "ResourceGroupNotFound"},
		{name: "location required", method: http.MethodPut, path: identityPath("rg", "id1"), body: map[string]any{"tags": map[string]string{}},
			status: http.StatusBadRequest, code: "LocationRequired", message: "The location property is required for this definition."},
		{name: "name too short", method: http.MethodPut, path: identityPath("rg", "ab"), body: map[string]any{"location": "eastus"},
			status: http.StatusBadRequest, code: "InvalidResourceName"},
		{name: "name starts with hyphen", method: http.MethodPut, path: identityPath("rg", "-abc"), body: map[string]any{"location": "eastus"},
			status: http.StatusBadRequest, code: "InvalidResourceName"},
		{name: "name with dot", method: http.MethodPut, path: identityPath("rg", "a.bc"), body: map[string]any{"location": "eastus"},
			status: http.StatusBadRequest, code: "InvalidResourceName"},
		{name: "tag value too long", method: http.MethodPut, path: identityPath("rg", "id1"),
			body:   map[string]any{"location": "eastus", "tags": map[string]string{"k": string(make([]byte, 257))}},
			status: http.StatusBadRequest, code: "InvalidTagValueLength"},
		{name: "head is not supported", method: http.MethodHead, path: identityPath("rg", "id1"),
			status: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := env.call(tt.method, tt.path, tt.body)
			if tt.code == "" {
				r.wantStatus(t, tt.status)
				return
			}
			r.wantError(t, tt.status, tt.code, tt.message)
		})
	}
}

func TestIdentities_List(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg-b")
	env.createGroup("rg-a")
	for _, n := range []string{"zeta", "Alpha", "mid"} {
		env.createIdentity("rg-b", n)
	}
	env.createIdentity("rg-a", "other")

	names := func(path string) []string {
		var page listResult[identityJSON]
		env.call(http.MethodGet, path, nil).wantStatus(t, http.StatusOK).decode(t, &page)
		var out []string
		for _, v := range page.Value {
			out = append(out, v.Name)
		}
		return out
	}
	tests := []struct {
		name string
		path string
		want []string
	}{
		{name: "resource group sorted by name", path: rgPath("rg-b") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities", want: []string{"Alpha", "mid", "zeta"}},
		{name: "subscription sorted by group then name", path: "/subscriptions/" + testSub + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities", want: []string{"other", "Alpha", "mid", "zeta"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := names(tt.path)
			if len(got) != len(tt.want) {
				t.Fatalf("names = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("names = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestIdentities_DeleteCascadesCredentials(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.createIdentity("rg", "id1")
	env.createIdentity("rg", "id10") // its name extends id1's: its credentials must survive
	env.mustCreate(credentialPath("rg", "id1", "fic1"), ficBody(testIssuer, "system:serviceaccount:a:b", testAudience))
	env.mustCreate(credentialPath("rg", "id10", "fic1"), ficBody(testIssuer, "system:serviceaccount:a:b", testAudience))

	env.call(http.MethodDelete, identityPath("rg", "id1"), nil).wantStatus(t, http.StatusOK)
	env.createIdentity("rg", "id1")
	var page listResult[credentialJSON]
	env.call(http.MethodGet, identityPath("rg", "id1")+"/federatedIdentityCredentials", nil).wantStatus(t, http.StatusOK).decode(t, &page)
	if len(page.Value) != 0 {
		t.Errorf("recreated identity has %d credentials, want 0", len(page.Value))
	}
	env.call(http.MethodGet, credentialPath("rg", "id10", "fic1"), nil).wantStatus(t, http.StatusOK)
}

func TestIdentities_TimestampsFollowTheClock(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: testNow}
	env := newTestEnv(t, func(c *Config) { c.Now = clock.Now })
	env.createGroup("rg")
	env.createIdentity("rg", "id1")
	clock.Advance(time.Hour)
	var got identityJSON
	env.call(http.MethodPatch, identityPath("rg", "id1"), map[string]any{"tags": map[string]string{"a": "b"}}).
		wantStatus(t, http.StatusOK).decode(t, &got)
	if !got.SystemData.CreatedAt.Equal(testNow) || !got.SystemData.LastModifiedAt.Equal(testNow.Add(time.Hour)) {
		t.Errorf("systemData = %+v", got.SystemData)
	}
}
