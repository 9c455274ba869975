package arm

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/rbac"
)

func TestRoleDefinitions_List(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.createIdentity("rg", "id1")

	names := func(t *testing.T, path string) []string {
		t.Helper()
		var page listResult[roleDefinitionJSON]
		env.call(http.MethodGet, path, nil).wantStatus(t, http.StatusOK).decode(t, &page)
		var out []string
		for _, d := range page.Value {
			out = append(out, d.Properties.RoleName)
		}
		return out
	}
	defs := "/providers/Microsoft.Authorization/roleDefinitions"
	tests := []struct {
		name string
		path string
		want []string
	}{
		{name: "all built-ins at the subscription", path: subPath + defs, want: builtInNames()},
		{name: "same at a group", path: rgPath("rg") + defs, want: builtInNames()},
		{name: "same at a resource", path: identityPath("rg", "id1") + defs, want: builtInNames()},
		{name: "by role name", path: subPath + defs + "?api-version=2022-04-01&$filter=" + url.QueryEscape("roleName eq 'Key Vault Secrets User'"),
			want: []string{"Key Vault Secrets User"}},
		{name: "role name compares case-insensitively", path: subPath + defs + "?api-version=2022-04-01&$filter=" + url.QueryEscape("rolename EQ 'reader'"),
			want: []string{"Reader"}},
		{name: "unknown role name", path: subPath + defs + "?api-version=2022-04-01&$filter=" + url.QueryEscape("roleName eq 'Nobody''s Role'"),
			want: nil},
		{name: "built-in type", path: subPath + defs + "?api-version=2022-04-01&$filter=" + url.QueryEscape("type eq 'BuiltInRole'"),
			want: builtInNames()},
		{name: "custom type", path: subPath + defs + "?api-version=2022-04-01&$filter=" + url.QueryEscape("type eq 'CustomRole'"),
			want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := names(t, tt.path)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("roles = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("unsupported filter", func(t *testing.T) {
		t.Parallel()
		env.call(http.MethodGet, subPath+defs+"?api-version=1&$filter="+url.QueryEscape("startswith(roleName,'K')"), nil).
			wantError(t, http.StatusBadRequest, "InvalidQueryParameterValue", "")
	})
	t.Run("missing scope", func(t *testing.T) {
		t.Parallel()
		env.call(http.MethodGet, rgPath("absent")+defs, nil).wantError(t, http.StatusNotFound, "ResourceGroupNotFound", "")
		env.call(http.MethodGet, identityPath("rg", "absent")+defs, nil).wantError(t, http.StatusNotFound, "ResourceNotFound", "")
	})
}

func builtInNames() []string {
	var out []string
	for _, d := range rbac.BuiltIn() {
		out = append(out, d.Name)
	}
	return out
}

func TestRoleDefinitions_Get(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	path := rgPath("rg") + "/providers/Microsoft.Authorization/roleDefinitions/" + rbac.KeyVaultSecretsUserID

	var got map[string]any
	env.call(http.MethodGet, path, nil).wantStatus(t, http.StatusOK).decode(t, &got)
	if got["id"] != definitionID(rbac.KeyVaultSecretsUserID) || got["name"] != rbac.KeyVaultSecretsUserID ||
		got["type"] != "Microsoft.Authorization/roleDefinitions" {
		t.Errorf("definition = %v", got)
	}
	props, _ := got["properties"].(map[string]any)
	if props["roleName"] != "Key Vault Secrets User" || props["type"] != "BuiltInRole" || props["description"] != "Read secret contents." {
		t.Errorf("properties = %v", props)
	}
	if scopes, _ := props["assignableScopes"].([]any); len(scopes) != 1 || scopes[0] != "/" {
		t.Errorf("assignableScopes = %v", props["assignableScopes"])
	}
	perms, _ := props["permissions"].([]any)
	if len(perms) != 1 {
		t.Fatalf("permissions = %v", props["permissions"])
	}
	perm, _ := perms[0].(map[string]any)
	for _, field := range []string{"actions", "notActions", "notDataActions"} {
		if v, ok := perm[field].([]any); !ok || len(v) != 0 {
			t.Errorf("%s = %#v, want an empty array", field, perm[field])
		}
	}
	if v, _ := perm["dataActions"].([]any); len(v) != 2 || v[0] != rbac.SecretGet {
		t.Errorf("dataActions = %v", perm["dataActions"])
	}

	t.Run("unknown role", func(t *testing.T) {
		t.Parallel()
		env.call(http.MethodGet, subPath+"/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-0000-0000-000000000000", nil).
			wantError(t, http.StatusNotFound, "RoleDefinitionDoesNotExist",
				"The specified role definition with ID '00000000-0000-0000-0000-000000000000' does not exist.")
	})
	t.Run("guid compares case-insensitively", func(t *testing.T) {
		t.Parallel()
		env.call(http.MethodGet, subPath+"/providers/Microsoft.Authorization/roleDefinitions/"+strings.ToUpper(rbac.OwnerID), nil).
			wantStatus(t, http.StatusOK)
	})
	t.Run("read-only", func(t *testing.T) {
		t.Parallel()
		r := env.call(http.MethodPut, path, map[string]any{})
		r.wantError(t, http.StatusMethodNotAllowed, "MethodNotAllowed", "")
		if got := strings.Join(r.header.Values("Allow"), ","); got != "GET" {
			t.Errorf("Allow = %s", got)
		}
	})
}

func TestRoleAssignments_Lifecycle(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	worker := env.createIdentity("rg", "worker")
	principal := worker.Properties.PrincipalID
	const name = "3f2b7c1e-9a4d-4e8b-8c6f-1d2e3f4a5b6c"
	path := assignmentsPath(rgPath("rg"), name)

	body := assignmentBody(rbac.KeyVaultSecretsUserID, principal)
	body["properties"].(map[string]any)["principalType"] = "ServicePrincipal"
	body["properties"].(map[string]any)["description"] = "read the app's secrets"
	var created roleAssignmentJSON
	env.call(http.MethodPut, path, body).wantStatus(t, http.StatusCreated).decode(t, &created)
	p := created.Properties
	if created.ID != path || created.Name != name || created.Type != "Microsoft.Authorization/roleAssignments" ||
		p.RoleDefinitionID != definitionID(rbac.KeyVaultSecretsUserID) || p.PrincipalID != principal ||
		p.PrincipalType != "ServicePrincipal" || p.Scope != rgPath("rg") || p.Description == nil ||
		*p.Description != "read the app's secrets" || !p.CreatedOn.Equal(testNow) || !p.UpdatedOn.Equal(testNow) || p.CreatedBy != nil {
		t.Fatalf("created = %+v", created)
	}

	t.Run("get", func(t *testing.T) {
		var got roleAssignmentJSON
		env.call(http.MethodGet, assignmentsPath(rgPath("RG"), strings.ToUpper(name)), nil).wantStatus(t, http.StatusOK).decode(t, &got)
		if got.ID != created.ID || got.Properties.Scope != created.Properties.Scope {
			t.Errorf("got %+v, want %+v", got, created)
		}
	})
	t.Run("same PUT again is accepted", func(t *testing.T) {
		var got roleAssignmentJSON
		env.call(http.MethodPut, path, assignmentBody(rbac.KeyVaultSecretsUserID, principal)).wantStatus(t, http.StatusCreated).decode(t, &got)
		if got.Properties.Description == nil || *got.Properties.Description != "read the app's secrets" {
			t.Errorf("description = %v, want it kept when not sent", got.Properties.Description)
		}
	})
	t.Run("description can change", func(t *testing.T) {
		b := assignmentBody(rbac.KeyVaultSecretsUserID, principal)
		b["properties"].(map[string]any)["description"] = "new words"
		var got roleAssignmentJSON
		env.call(http.MethodPut, path, b).wantStatus(t, http.StatusCreated).decode(t, &got)
		if got.Properties.Description == nil || *got.Properties.Description != "new words" {
			t.Errorf("description = %v", got.Properties.Description)
		}
	})
	t.Run("role, principal and scope cannot change", func(t *testing.T) {
		msg := "Tenant ID, application ID, principal ID, and scope are not allowed to be updated."
		env.call(http.MethodPut, path, assignmentBody(rbac.ReaderID, principal)).
			wantError(t, http.StatusConflict, "RoleAssignmentUpdateNotPermitted", msg)
		env.call(http.MethodPut, path, assignmentBody(rbac.KeyVaultSecretsUserID, noRoleObjectID)).
			wantError(t, http.StatusConflict, "RoleAssignmentUpdateNotPermitted", msg)
		env.call(http.MethodPut, assignmentsPath(subPath, name), assignmentBody(rbac.KeyVaultSecretsUserID, principal)).
			wantError(t, http.StatusConflict, "RoleAssignmentUpdateNotPermitted", msg)
	})
	t.Run("same grant under another name", func(t *testing.T) {
		env.call(http.MethodPut, assignmentsPath(rgPath("rg"), "aaaaaaaa-1111-2222-3333-444444444444"), assignmentBody(rbac.KeyVaultSecretsUserID, principal)).
			wantError(t, http.StatusConflict, "RoleAssignmentExists", "The role assignment already exists.")
	})
	t.Run("same role at another scope is another grant", func(t *testing.T) {
		env.mustCreate(assignmentsPath(identityPath("rg", "worker"), "aaaaaaaa-1111-2222-3333-555555555555"),
			assignmentBody(rbac.KeyVaultSecretsUserID, principal))
	})
	t.Run("delete", func(t *testing.T) {
		var got roleAssignmentJSON
		env.call(http.MethodDelete, path, nil).wantStatus(t, http.StatusOK).decode(t, &got)
		if got.ID != created.ID || got.Properties.PrincipalID != principal {
			t.Errorf("deleted = %+v", got)
		}
		env.call(http.MethodGet, path, nil).wantError(t, http.StatusNotFound, "RoleAssignmentNotFound",
			"The role assignment '"+name+"' is not found.")
		r := env.call(http.MethodDelete, path, nil).wantStatus(t, http.StatusNoContent)
		if len(r.body) != 0 {
			t.Errorf("204 body = %q", r.body)
		}
	})
}

func TestRoleAssignments_Validation(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	worker := env.createIdentity("rg", "worker")
	principal := worker.Properties.PrincipalID
	const guid = "cccccccc-0000-0000-0000-000000000001"
	at := func(props map[string]any) map[string]any { return map[string]any{"properties": props} }

	tests := []struct {
		name    string
		path    string
		body    any
		status  int
		code    string
		message string
	}{
		{name: "name not a guid", path: assignmentsPath(rgPath("rg"), "not-a-guid"), body: assignmentBody(rbac.ReaderID, principal),
			status: http.StatusBadRequest, code: "InvalidRoleAssignmentId",
			message: "The role assignment ID 'not-a-guid' is not valid. The role assignment ID must be a GUID."},
		{name: "braced guid", path: assignmentsPath(rgPath("rg"), "{"+guid+"}"), body: assignmentBody(rbac.ReaderID, principal),
			status: http.StatusBadRequest, code: "InvalidRoleAssignmentId"},
		{name: "no properties", path: assignmentsPath(rgPath("rg"), guid), body: map[string]any{},
			status: http.StatusBadRequest, code: "InvalidRequestContent"},
		{name: "no role", path: assignmentsPath(rgPath("rg"), guid), body: at(map[string]any{"principalId": principal}),
			status: http.StatusBadRequest, code: "InvalidRequestContent"},
		{name: "no principal", path: assignmentsPath(rgPath("rg"), guid), body: at(map[string]any{"roleDefinitionId": definitionID(rbac.ReaderID)}),
			status: http.StatusBadRequest, code: "InvalidRequestContent"},
		{name: "unknown role", path: assignmentsPath(rgPath("rg"), guid), body: assignmentBody("11111111-2222-3333-4444-555555555555", principal),
			status: http.StatusBadRequest, code: "RoleDefinitionDoesNotExist",
			message: "The specified role definition with ID '11111111-2222-3333-4444-555555555555' does not exist."},
		{name: "role given by bare guid", path: assignmentsPath(rgPath("rg"), guid),
			body:   at(map[string]any{"roleDefinitionId": rbac.ReaderID, "principalId": principal}),
			status: http.StatusBadRequest, code: "InvalidRoleDefinitionId"},
		{name: "role id of another type", path: assignmentsPath(rgPath("rg"), guid),
			body:   at(map[string]any{"roleDefinitionId": subPath + "/providers/Microsoft.Authorization/roleAssignments/" + rbac.ReaderID, "principalId": principal}),
			status: http.StatusBadRequest, code: "InvalidRoleDefinitionId"},
		{name: "unknown principal", path: assignmentsPath(rgPath("rg"), guid), body: assignmentBody(rbac.ReaderID, "dddddddd-0000-0000-0000-000000000000"),
			status: http.StatusBadRequest, code: "PrincipalNotFound",
			message: "Principal dddddddd-0000-0000-0000-000000000000 does not exist in the directory " + testTenant + "."},
		{name: "principal of another tenant", path: assignmentsPath(rgPath("rg"), guid), body: assignmentBody(rbac.ReaderID, otherObjectID),
			status: http.StatusBadRequest, code: "PrincipalNotFound"},
		{name: "principal given by client id", path: assignmentsPath(rgPath("rg"), guid), body: assignmentBody(rbac.ReaderID, worker.Properties.ClientID),
			status: http.StatusBadRequest, code: "PrincipalNotFound"},
		{name: "wrong principal type", path: assignmentsPath(rgPath("rg"), guid),
			body:   at(map[string]any{"roleDefinitionId": definitionID(rbac.ReaderID), "principalId": principal, "principalType": "User"}),
			status: http.StatusBadRequest, code: "UnmatchedPrincipalType"},
		{name: "condition", path: assignmentsPath(rgPath("rg"), guid),
			body: at(map[string]any{"roleDefinitionId": definitionID(rbac.ReaderID), "principalId": principal,
				"condition": "@Resource[Microsoft.KeyVault/vaults/secrets:name] StringEquals 'x'", "conditionVersion": "2.0"}),
			status: http.StatusBadRequest, code: "BadRequest"},
		{name: "description too long", path: assignmentsPath(rgPath("rg"), guid),
			body:   at(map[string]any{"roleDefinitionId": definitionID(rbac.ReaderID), "principalId": principal, "description": strings.Repeat("d", 2049)}),
			status: http.StatusBadRequest, code: "BadRequest"},
		{name: "missing group", path: assignmentsPath(rgPath("absent"), guid), body: assignmentBody(rbac.ReaderID, principal),
			status: http.StatusNotFound, code: "ResourceGroupNotFound", message: "Resource group 'absent' could not be found."},
		{name: "missing identity", path: assignmentsPath(identityPath("rg", "absent"), guid), body: assignmentBody(rbac.ReaderID, principal),
			status: http.StatusNotFound, code: "ResourceNotFound"},
		{name: "missing credential", path: assignmentsPath(credentialPath("rg", "worker", "absent"), guid), body: assignmentBody(rbac.ReaderID, principal),
			status: http.StatusNotFound, code: "ResourceNotFound"},
		{name: "missing vault", path: assignmentsPath(vaultPath("rg", "absent"), guid), body: assignmentBody(rbac.ReaderID, principal),
			status: http.StatusNotFound, code: "ResourceNotFound"},
		{name: "missing cluster", path: assignmentsPath(clusterPath("rg", "absent"), guid), body: assignmentBody(rbac.ReaderID, principal),
			status: http.StatusNotFound, code: "ResourceNotFound"},
		{name: "scope of an unknown type", path: assignmentsPath(rgPath("rg")+"/providers/Microsoft.Compute/virtualMachines/vm", guid),
			body: assignmentBody(rbac.ReaderID, principal), status: http.StatusNotFound, code: "InvalidResourceType"},
		{name: "scope that is a collection", path: assignmentsPath(subPath+"/resourceGroups", guid),
			body: assignmentBody(rbac.ReaderID, principal), status: http.StatusNotFound, code: "NotFound"},
		{name: "scope that is an assignment", path: assignmentsPath(assignmentsPath(subPath, adminOwnerAssignment), guid),
			body: assignmentBody(rbac.ReaderID, principal), status: http.StatusNotFound, code: "InvalidResourceType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env.call(http.MethodPut, tt.path, tt.body).wantError(t, tt.status, tt.code, tt.message)
		})
	}
	t.Run("nothing was written", func(t *testing.T) {
		if got := env.assignments(subPath + "/"); len(got) != 1 {
			t.Errorf("assignments = %+v, want only the seeded one", got)
		}
	})
}

func TestRoleAssignments_Scopes(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("Team-RG")
	worker := env.createIdentity("Team-RG", "Worker")
	env.mustCreate(credentialPath("Team-RG", "Worker", "fic1"), ficBody(testIssuer, "system:serviceaccount:a:b", testAudience))
	env.mustCreate(clusterPath("Team-RG", "c1"), map[string]any{"location": "eastus"})
	env.mustCreate(vaultPath("Team-RG", "kv-scopes"), map[string]any{"location": "eastus"})

	tests := []struct {
		name      string
		scope     string // as the client sends it
		wantScope string // as stored: the resource's own casing
	}{
		{name: "subscription", scope: subPath, wantScope: subPath},
		{name: "resource group", scope: "/subscriptions/" + testSub + "/resourcegroups/team-rg", wantScope: rgPath("Team-RG")},
		{name: "identity", scope: identityPath("team-rg", "worker"), wantScope: identityPath("Team-RG", "Worker")},
		{name: "credential", scope: credentialPath("Team-RG", "Worker", "fic1"), wantScope: credentialPath("Team-RG", "Worker", "fic1")},
		{name: "cluster", scope: clusterPath("Team-RG", "c1"), wantScope: clusterPath("Team-RG", "c1")},
		{name: "vault", scope: strings.ToLower(vaultPath("Team-RG", "kv-scopes")), wantScope: vaultPath("Team-RG", "kv-scopes")},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := "eeeeeeee-0000-0000-0000-00000000000" + string(rune('0'+i))
			var got roleAssignmentJSON
			env.mustCreate(assignmentsPath(tt.scope, name), assignmentBody(rbac.ReaderID, worker.Properties.PrincipalID)).decode(t, &got)
			if got.Properties.Scope != tt.wantScope || got.ID != assignmentsPath(tt.wantScope, name) {
				t.Errorf("scope = %q, id = %q; want scope %q", got.Properties.Scope, got.ID, tt.wantScope)
			}
			env.call(http.MethodGet, assignmentsPath(tt.wantScope, name), nil).wantStatus(t, http.StatusOK)
		})
	}
}

func TestRoleAssignments_List(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg1")
	env.createGroup("rg10") // its name extends rg1's: not below rg1
	alice := env.createIdentity("rg1", "alice")
	bob := env.createIdentity("rg10", "bob")
	a, b := alice.Properties.PrincipalID, bob.Properties.PrincipalID
	grants := map[string]struct{ scope, principal string }{
		"a0000000-0000-0000-0000-000000000001": {scope: subPath, principal: a},
		"a0000000-0000-0000-0000-000000000002": {scope: rgPath("rg1"), principal: a},
		"a0000000-0000-0000-0000-000000000003": {scope: identityPath("rg1", "alice"), principal: b},
		"a0000000-0000-0000-0000-000000000004": {scope: rgPath("rg10"), principal: b},
		"a0000000-0000-0000-0000-000000000005": {scope: rgPath("rg1"), principal: b},
	}
	for name, g := range grants {
		env.mustCreate(assignmentsPath(g.scope, name), assignmentBody(rbac.ReaderID, g.principal))
	}

	list := func(t *testing.T, path string) []string {
		t.Helper()
		var got []string
		for pages := 0; path != ""; pages++ {
			if pages > 10 {
				t.Fatal("too many pages")
			}
			var page listResult[roleAssignmentJSON]
			env.call(http.MethodGet, path, nil).wantStatus(t, http.StatusOK).decode(t, &page)
			for _, v := range page.Value {
				got = append(got, v.Name)
			}
			path = strings.TrimPrefix(page.NextLink, testPublicURL)
		}
		sort.Strings(got)
		return got
	}
	filtered := func(scope, filter string) string {
		return assignmentsPath(scope) + "?api-version=2022-04-01&$filter=" + url.QueryEscape(filter)
	}
	tests := []struct {
		name string
		path string
		want []string // last digits of the names; "admin" for the seeded Owner
	}{
		{name: "subscription: everything", path: assignmentsPath(subPath), want: []string{"1", "2", "3", "4", "5", "admin"}},
		{name: "group: above, at and below", path: assignmentsPath(rgPath("rg1")), want: []string{"1", "2", "3", "5", "admin"}},
		{name: "group at scope only", path: filtered(rgPath("rg1"), "atScope()"), want: []string{"1", "2", "5", "admin"}},
		{name: "resource: above and at", path: assignmentsPath(identityPath("rg1", "alice")), want: []string{"1", "2", "3", "5", "admin"}},
		{name: "by principal id", path: filtered(subPath, "principalId eq '"+b+"'"), want: []string{"3", "4", "5"}},
		{name: "assigned to, at scope", path: filtered(rgPath("rg1"), "atScope() and assignedTo('"+strings.ToUpper(a)+"')"), want: []string{"1", "2"}},
		{name: "paged with the filter kept", path: filtered(subPath, "principalId eq '"+b+"'") + "&$top=1", want: []string{"3", "4", "5"}},
		{name: "paged", path: assignmentsPath(subPath) + "?api-version=1&$top=2", want: []string{"1", "2", "3", "4", "5", "admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var want []string
			for _, w := range tt.want {
				if w == "admin" {
					want = append(want, adminOwnerAssignment)
					continue
				}
				want = append(want, "a0000000-0000-0000-0000-00000000000"+w)
			}
			sort.Strings(want)
			if got := list(t, tt.path); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("assignments = %v\nwant          %v", got, want)
			}
		})
	}
	t.Run("bad filters", func(t *testing.T) {
		t.Parallel()
		for _, f := range []string{"principalId eq", "atScope() or atScope()", "roleDefinitionId eq 'x'", "atScope() and", "principalId eq ''"} {
			env.call(http.MethodGet, filtered(subPath, f), nil).wantError(t, http.StatusBadRequest, "InvalidQueryParameterValue", "")
		}
	})
	t.Run("missing scope", func(t *testing.T) {
		t.Parallel()
		env.call(http.MethodGet, assignmentsPath(rgPath("absent")), nil).wantError(t, http.StatusNotFound, "ResourceGroupNotFound", "")
	})
}

func TestRoleAssignments_Cascade(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("doomed")
	env.createGroup("doomed2") // its name extends the first: its assignments survive
	env.createGroup("keep")
	mi := env.createIdentity("keep", "grantee")
	env.createIdentity("doomed", "id1")
	env.createIdentity("keep", "id1")
	env.createIdentity("keep", "id10")
	env.mustCreate(credentialPath("keep", "id1", "fic1"), ficBody(testIssuer, "system:serviceaccount:a:b", testAudience))
	env.mustCreate(clusterPath("keep", "c1"), map[string]any{"location": "eastus"})
	env.mustCreate(vaultPath("keep", "kv-cascade"), map[string]any{"location": "eastus"})
	env.mustCreate(vaultPath("doomed", "kv-doomed"), map[string]any{"location": "eastus"})

	n := 0
	assign := func(scope string) {
		t.Helper()
		n++
		name := "f0000000-0000-0000-0000-0000000000" + string(rune('0'+n/10)) + string(rune('0'+n%10))
		env.mustCreate(assignmentsPath(scope, name), assignmentBody(rbac.ReaderID, mi.Properties.PrincipalID))
	}
	for _, scope := range []string{
		rgPath("doomed"), identityPath("doomed", "id1"), vaultPath("doomed", "kv-doomed"), rgPath("doomed2"),
		identityPath("keep", "id1"), credentialPath("keep", "id1", "fic1"), identityPath("keep", "id10"),
		clusterPath("keep", "c1"), vaultPath("keep", "kv-cascade"), rgPath("keep"),
	} {
		assign(scope)
	}
	count := func(scope string) int { return len(env.assignments(scope)) }

	tests := []struct {
		name    string
		delete  string
		gone    []string // no assignment left at or below these
		kept    string   // assignments at or below this survive
		keptMin int
	}{
		{name: "resource group", delete: rgPath("doomed"), gone: []string{rgPath("doomed") + "/"}, kept: rgPath("doomed2") + "/", keptMin: 1},
		{name: "identity and its credentials", delete: identityPath("keep", "id1"),
			gone: []string{identityPath("keep", "id1") + "/"}, kept: identityPath("keep", "id10") + "/", keptMin: 1},
		{name: "cluster", delete: clusterPath("keep", "c1"), gone: []string{clusterPath("keep", "c1") + "/"}, kept: rgPath("keep") + "/", keptMin: 1},
		{name: "vault", delete: vaultPath("keep", "kv-cascade"), gone: []string{vaultPath("keep", "kv-cascade") + "/"}, kept: rgPath("keep") + "/", keptMin: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.call(http.MethodDelete, tt.delete, nil).wantStatus(t, http.StatusOK)
			for _, g := range tt.gone {
				if c := count(g); c != 0 {
					t.Errorf("%d assignments left under %s", c, g)
				}
			}
			if c := count(tt.kept); c < tt.keptMin {
				t.Errorf("%d assignments under %s, want at least %d", c, tt.kept, tt.keptMin)
			}
		})
	}
	t.Run("recreated resources start ungranted", func(t *testing.T) {
		env.createGroup("doomed")
		var page listResult[roleAssignmentJSON]
		env.call(http.MethodGet, assignmentsPath(rgPath("doomed"))+"?api-version=1&$filter="+url.QueryEscape("principalId eq '"+mi.Properties.PrincipalID+"'"), nil).
			wantStatus(t, http.StatusOK).decode(t, &page)
		if len(page.Value) != 0 {
			t.Errorf("recreated group has assignments %+v", page.Value)
		}
	})
	t.Run("credential delete removes its assignments", func(t *testing.T) {
		env.createIdentity("keep", "id2")
		env.mustCreate(credentialPath("keep", "id2", "fic2"), ficBody(testIssuer, "system:serviceaccount:a:b", testAudience))
		assign(credentialPath("keep", "id2", "fic2"))
		env.call(http.MethodDelete, credentialPath("keep", "id2", "fic2"), nil).wantStatus(t, http.StatusOK)
		if c := count(credentialPath("keep", "id2", "fic2") + "/"); c != 0 {
			t.Errorf("%d assignments left on the deleted credential", c)
		}
	})
}
