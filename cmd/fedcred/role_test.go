package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/client"
)

// lastRequest returns the last request of method whose path ends with
// suffix.
func lastRequest(t *testing.T, f *fakeServer, method, suffix string) fakeRequest {
	t.Helper()
	reqs := f.recorded()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method && strings.HasSuffix(reqs[i].Path, suffix) {
			return reqs[i]
		}
	}
	t.Fatalf("no %s request to ...%s among %d", method, suffix, len(reqs))
	return fakeRequest{}
}

// countRequests counts the requests of method whose path contains part.
func countRequests(f *fakeServer, method, part string) int {
	n := 0
	for _, r := range f.recorded() {
		if r.Method == method && strings.Contains(r.Path, part) {
			n++
		}
	}
	return n
}

func TestRoleDefinitionList(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, fake)

	got := decode[[]map[string]any](t, c.ok("role", "definition", "list", "--name", "key vault secrets user"))
	want := []map[string]any{{
		"id":   "/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions/" + secretsUserRoleID,
		"name": secretsUserRoleID, "type": typeRoleDef, "roleName": "Key Vault Secrets User", "roleType": "BuiltInRole",
		"description": "Read secret contents.", "assignableScopes": []any{"/"},
		"permissions": []any{map[string]any{"actions": []any{}, "notActions": []any{}, "notDataActions": []any{},
			"dataActions": []any{"Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("role definition list --name printed\n%v\nwant\n%v", got, want)
	}
	req := lastRequest(t, fake, "GET", "/roleDefinitions")
	if req.Path != "/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions" ||
		req.Query != "api-version=2022-04-01&$filter=roleName%20eq%20%27key%20vault%20secrets%20user%27" {
		t.Errorf("request %s?%s", req.Path, req.Query)
	}

	if out := c.ok("role", "definition", "list", "--name", readerRoleID, "--query", "[].roleName", "-o", "tsv"); out != "Reader\n" {
		t.Errorf("--name GUID printed %q", out)
	}
	if req := lastRequest(t, fake, "GET", "/roleDefinitions"); strings.Contains(req.Query, "filter") {
		t.Errorf("a GUID was sent as a role name filter: %s", req.Query)
	}
	wantTable := "Description                                                      Name                    Type\n" +
		"---------------------------------------------------------------  ----------------------  -----------\n" +
		"View all resources, but does not allow you to make any changes.  Reader                  BuiltInRole\n" +
		"Read secret contents.                                            Key Vault Secrets User  BuiltInRole\n"
	if out := c.ok("role", "definition", "list", "-o", "table"); out != wantTable {
		t.Errorf("role definition list -o table =\n%s\nwant\n%s", out, wantTable)
	}
	// With a query, the table shows what the query selects.
	if out := c.ok("role", "definition", "list", "-o", "table", "--query", "[].{RoleName: roleName}"); out != "RoleName\n----------------------\nReader\nKey Vault Secrets User\n" {
		t.Errorf("role definition list -o table --query =\n%s", out)
	}
	if out := c.ok("role", "definition", "list", "--name", "Nope"); out != "[]\n" {
		t.Errorf("an unknown role printed %q, want []", out)
	}
}

func TestRoleAssignmentCommands(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, fake)
	c.ok("group", "create", "-n", "rg1", "-o", "none")
	c.ok("identity", "create", "-n", "id1", "-g", "rg1", "-o", "none")
	c.ok("identity", "create", "-n", "id2", "-g", "rg1", "-o", "none")
	c.ok("keyvault", "create", "-n", "kv1", "-g", "rg1", "-o", "none")
	vaultID := strings.TrimSpace(c.ok("keyvault", "show", "-n", "kv1", "--query", "id", "-o", "tsv"))
	secretsUser := "/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions/" + secretsUserRoleID
	reader := "/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions/" + readerRoleID

	// By role name and client ID, at a vault.
	got := decode[map[string]any](t, c.ok("role", "assignment", "create", "--role", "Key Vault Secrets User",
		"--assignee", "client-id1", "--scope", vaultID))
	name, _ := got["name"].(string)
	if !client.IsGUID(name) {
		t.Fatalf("assignment name %q is not a GUID", name)
	}
	want := map[string]any{
		"id": vaultID + "/providers/Microsoft.Authorization/roleAssignments/" + name, "name": name, "type": typeRoleAssign,
		"roleDefinitionId": secretsUser, "principalId": "principal-id1", "principalType": "ServicePrincipal",
		"scope": vaultID, "createdOn": fakeCreatedOn, "updatedOn": fakeCreatedOn, "createdBy": "admin-object",
		"resourceGroup": "rg1", "roleDefinitionName": "Key Vault Secrets User",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("role assignment create printed\n%v\nwant\n%v", got, want)
	}
	put := lastRequest(t, fake, "PUT", "/roleAssignments/"+name)
	if put.Path != vaultID+"/providers/Microsoft.Authorization/roleAssignments/"+name || put.Query != "api-version=2022-04-01" || put.Auth != "Bearer "+fakeMgmtTok {
		t.Errorf("PUT %s?%s with %q", put.Path, put.Query, put.Auth)
	}
	wantBody := map[string]any{"properties": map[string]any{"roleDefinitionId": secretsUser, "principalId": "principal-id1", "principalType": "ServicePrincipal"}}
	if body := decode[map[string]any](t, put.Body); !reflect.DeepEqual(body, wantBody) {
		t.Errorf("PUT body %s", put.Body)
	}

	// By GUID and principal ID, at a resource group: no role lookup.
	defsBefore := countRequests(fake, "GET", "/roleDefinitions")
	out := c.ok("role", "assignment", "create", "--role", readerRoleID, "--assignee", "PRINCIPAL-ID2", "-g", "rg1", "--query", "[scope, principalId, roleDefinitionId]", "-o", "tsv")
	if out != "/subscriptions/sub-1/resourceGroups/rg1\nprincipal-id2\n"+reader+"\n" {
		t.Errorf("create by GUID and principal ID printed %q", out)
	}
	if n := countRequests(fake, "GET", "/roleDefinitions"); n != defsBefore {
		t.Errorf("a role given by GUID was looked up (%d lookups)", n-defsBefore)
	}

	// The admin's object ID directly, at the subscription: no identity
	// lookup.
	idsBefore := countRequests(fake, "GET", "/userAssignedIdentities")
	c.ok("role", "assignment", "create", "--role", "Reader", "--assignee-object-id", "admin-object", "--assignee-principal-type", "serviceprincipal", "-o", "none")
	if n := countRequests(fake, "GET", "/userAssignedIdentities"); n != idsBefore {
		t.Errorf("--assignee-object-id looked up identities")
	}
	// The client ID the CLI signs in with is its own principal.
	idsBefore = countRequests(fake, "GET", "/userAssignedIdentities")
	if out := c.ok("role", "assignment", "create", "--role", "Reader", "--assignee", strings.ToUpper(fakeClient), "-g", "rg1",
		"--query", "principalId", "-o", "tsv"); out != "admin-object\n" {
		t.Errorf("--assignee with the admin's client ID assigned %q", out)
	}
	if n := countRequests(fake, "GET", "/userAssignedIdentities"); n != idsBefore {
		t.Errorf("the admin's client ID was looked up among identities")
	}
	c.ok("role", "assignment", "delete", "--assignee", fakeClient, "--role", "Reader", "-g", "rg1")
	if out := c.ok("role", "assignment", "list", "-g", "rg1", "--query", "[].principalId", "-o", "tsv"); out != "principal-id2\n" {
		t.Errorf("after deleting the admin's assignment at rg1: %q", out)
	}
	// An assignee that is no identity's is taken as a principal ID.
	c.ok("role", "assignment", "create", "--role", "Reader", "--assignee", "some-object", "--scope", "/subscriptions/sub-1/", "-o", "none")

	errOut := c.fail(exitError, "role", "assignment", "create", "--role", "Key Vault Secrets User", "--assignee", "client-id1", "--scope", vaultID)
	if errOut != "ERROR: (RoleAssignmentExists) The role assignment already exists.\n" {
		t.Errorf("duplicate assignment: %q", errOut)
	}
	if errOut := c.fail(exitError, "role", "assignment", "create", "--role", "Nope", "--assignee", "client-id1"); errOut != "ERROR: role 'Nope' doesn't exist\n" {
		t.Errorf("unknown role: %q", errOut)
	}
	errOut = c.fail(exitError, "role", "assignment", "create", "--role", "00000000-0000-0000-0000-000000000000", "--assignee", "client-id1")
	if !strings.HasPrefix(errOut, "ERROR: (RoleDefinitionDoesNotExist) ") {
		t.Errorf("unknown role GUID: %q", errOut)
	}
	if errOut := c.fail(exitError, "role", "assignment", "create", "--role", "Reader", "--assignee", "x", "--scope", "subscriptions/sub-1"); !strings.Contains(errOut, "must start with /") {
		t.Errorf("relative scope: %q", errOut)
	}

	// Lists: exactly at the scope unless --all or --include-inherited.
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "the subscription by default", args: nil, want: "admin-object\tReader\nsome-object\tReader\n"},
		{name: "a resource group", args: []string{"-g", "rg1"}, want: "principal-id2\tReader\n"},
		{name: "a vault", args: []string{"--scope", vaultID}, want: "principal-id1\tKey Vault Secrets User\n"},
		{name: "a vault and above", args: []string{"--scope", vaultID, "--include-inherited"},
			want: "admin-object\tReader\nsome-object\tReader\nprincipal-id2\tReader\nprincipal-id1\tKey Vault Secrets User\n"},
		{name: "everything", args: []string{"--all"}, want: "admin-object\tReader\nsome-object\tReader\nprincipal-id2\tReader\nprincipal-id1\tKey Vault Secrets User\n"},
		{name: "everything of an assignee by client ID", args: []string{"--all", "--assignee", "client-id1"}, want: "principal-id1\tKey Vault Secrets User\n"},
		{name: "everything of a role", args: []string{"--all", "--role", "reader"}, want: "admin-object\tReader\nsome-object\tReader\nprincipal-id2\tReader\n"},
		{name: "an assignee with nothing at the scope", args: []string{"--assignee", "client-id1"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"role", "assignment", "list", "--query", "sort_by(@, &join(' ', [scope, principalId]))[].[principalId, roleDefinitionName]", "-o", "tsv"}, tt.args...)
			if out := c.ok(args...); out != tt.want {
				t.Errorf("list %v =\n%q\nwant\n%q", tt.args, out, tt.want)
			}
		})
	}
	wantTable := "Principal      Role                    Scope\n" +
		"-------------  ----------------------  " + strings.Repeat("-", len(vaultID)) + "\n" +
		"principal-id1  Key Vault Secrets User  " + vaultID + "\n"
	if out := c.ok("role", "assignment", "list", "--scope", vaultID, "-o", "table"); out != wantTable {
		t.Errorf("role assignment list -o table =\n%s\nwant\n%s", out, wantTable)
	}
	c.ok("role", "assignment", "list", "-o", "none")
	req := lastRequest(t, fake, "GET", "/roleAssignments")
	if req.Path != "/subscriptions/sub-1/providers/Microsoft.Authorization/roleAssignments" || req.Query != "api-version=2022-04-01&$filter=atScope%28%29" {
		t.Errorf("list at the subscription sent %s?%s", req.Path, req.Query)
	}
	c.ok("role", "assignment", "list", "--all", "--assignee", "client-id1", "-o", "none")
	if req := lastRequest(t, fake, "GET", "/roleAssignments"); req.Query != "api-version=2022-04-01&$filter=principalId%20eq%20%27principal-id1%27" {
		t.Errorf("list --all --assignee sent ?%s", req.Query)
	}

	// Deletes.
	errOut = c.fail(exitError, "role", "assignment", "delete", "--assignee", "client-id1", "--role", "Reader", "--scope", vaultID)
	if errOut != "ERROR: no matched assignments were found to delete\n" {
		t.Errorf("delete of nothing: %q", errOut)
	}
	if out := c.ok("role", "assignment", "delete", "--assignee", "client-id1", "--role", "Key Vault Secrets User", "--scope", vaultID); out != "" {
		t.Errorf("delete printed %q", out)
	}
	del := lastRequest(t, fake, "DELETE", "/roleAssignments/"+name)
	if del.Path != vaultID+"/providers/Microsoft.Authorization/roleAssignments/"+name || del.Query != "api-version=2022-04-01" {
		t.Errorf("DELETE %s?%s", del.Path, del.Query)
	}
	id := strings.TrimSpace(c.ok("role", "assignment", "list", "-g", "rg1", "--query", "[0].id", "-o", "tsv"))
	c.ok("role", "assignment", "delete", "--ids", id, "--yes")
	if out := c.ok("role", "assignment", "list", "--all", "--query", "length(@)"); out != "2\n" {
		t.Errorf("assignments left: %s", out)
	}
	if errOut := c.fail(exitError, "role", "assignment", "delete", "--ids", "/subscriptions/sub-1/resourceGroups/rg1"); !strings.Contains(errOut, "is not a role assignment ID") {
		t.Errorf("delete of a non-assignment ID: %q", errOut)
	}
}

func TestRoleUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "create without an assignee", args: []string{"role", "assignment", "create", "--role", "Reader"},
			want: "at least one of the flags in the group [assignee assignee-object-id] is required"},
		{name: "create with both assignee flags", args: []string{"role", "assignment", "create", "--role", "Reader", "--assignee", "a", "--assignee-object-id", "b"},
			want: "none of the others can be"},
		{name: "create with scope and group", args: []string{"role", "assignment", "create", "--role", "Reader", "--assignee", "a", "--scope", "/s", "-g", "rg"},
			want: "none of the others can be"},
		{name: "bad principal type", args: []string{"role", "assignment", "create", "--role", "Reader", "--assignee", "a", "--assignee-principal-type", "Robot"},
			want: `--assignee-principal-type "Robot" is not one of ServicePrincipal, User, Group, ForeignGroup, Device`},
		{name: "list --all with a scope", args: []string{"role", "assignment", "list", "--all", "-g", "rg1"},
			want: "--resource-group and --scope are not used with --all"},
		{name: "delete without a selection", args: []string{"role", "assignment", "delete", "--scope", "/subscriptions/sub-1"},
			want: "give --ids, or --assignee and/or --role"},
		{name: "delete by ID with a filter", args: []string{"role", "assignment", "delete", "--ids", "/x", "--role", "Reader"},
			want: "--ids is used without --assignee"},
		{name: "definition list with an argument", args: []string{"role", "definition", "list", "Reader"},
			want: `unknown command "Reader" for "fedcred role definition list"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeServer(t)
			c := newCLI(t, fake)
			errOut := c.fail(exitUsage, tt.args...)
			if lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n"); len(lines) != 2 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr = %q, want ERROR: ...%s... and a See line", errOut, tt.want)
			}
			if n := len(fake.recorded()); n != 0 {
				t.Errorf("a usage error sent %d requests", n)
			}
		})
	}
}

func TestRoleAssignmentCreateRefusesAnEmptyAssignee(t *testing.T) {
	t.Parallel()
	c := newCLI(t, nil)
	for _, flag := range []string{"--assignee", "--assignee-object-id"} {
		_, errOut, code := c.run("role", "assignment", "create", "--role", "Reader", flag, "")
		if code != exitUsage || !strings.Contains(errOut, "empty") {
			t.Errorf("%s \"\": exit %d, %q; want a usage error naming the empty flag", flag, code, errOut)
		}
	}
}
