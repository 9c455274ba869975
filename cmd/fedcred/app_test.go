package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/client"
)

func TestAppCommands(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, fake)
	c.ok("group", "create", "-n", "rg1", "-o", "none")
	c.ok("identity", "create", "-n", "id1", "-g", "rg1", "-o", "none")

	app := decode[map[string]any](t, c.ok("app", "create", "--display-name", "orders", "--identifier-uris", "api://orders",
		"--app-role", "Orders.Read", "--app-role", "Orders.Write"))
	post := lastRequest(t, fake, "POST", "/v1.0/applications")
	if post.Auth != "Bearer "+fakeGraphTok || post.Query != "" {
		t.Errorf("POST with %q ?%s", post.Auth, post.Query)
	}
	body := decode[map[string]any](t, post.Body)
	roles, _ := body["appRoles"].([]any)
	if len(body) != 3 || body["displayName"] != "orders" || !reflect.DeepEqual(body["identifierUris"], []any{"api://orders"}) || len(roles) != 2 {
		t.Fatalf("POST body %s", post.Body)
	}
	for i, value := range []string{"Orders.Read", "Orders.Write"} {
		r := roles[i].(map[string]any)
		id, _ := r["id"].(string)
		want := map[string]any{"id": id, "value": value, "displayName": value, "description": value,
			"allowedMemberTypes": []any{"Application"}, "isEnabled": true}
		if !client.IsGUID(id) || !reflect.DeepEqual(r, want) {
			t.Errorf("app role %d = %v, want %v with a GUID id", i, r, want)
		}
	}
	appID, objectID := app["appId"].(string), app["id"].(string)
	if app["displayName"] != "orders" || !reflect.DeepEqual(app["appRoles"], body["appRoles"]) || app["signInAudience"] != "AzureADMyOrg" {
		t.Errorf("app create printed %v", app)
	}
	var graphScope bool
	for _, r := range fake.recorded() {
		graphScope = graphScope || r.Form.Get("scope") == "https://graph.microsoft.com/.default"
	}
	if !graphScope {
		t.Error("no token was requested for https://graph.microsoft.com/.default")
	}

	// A manifest file, as az takes it: isEnabled as a string, an id given.
	manifest := filepath.Join(t.TempDir(), "roles.json")
	if err := os.WriteFile(manifest, []byte(`[{"value":"Admin","displayName":"Administrators","description":"Run the shop",`+
		`"allowedMemberTypes":["User","Application"],"isEnabled":"false","id":"3f2504e0-4f89-11d3-9a0c-0305e82c3301"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("app", "create", "--display-name", "shop", "--identifier-uris", "api://shop", "--app-roles", "@"+manifest, "--app-role", "Shop.Read", "-o", "none")
	roles = decode[map[string]any](t, lastRequest(t, fake, "POST", "/v1.0/applications").Body)["appRoles"].([]any)
	wantAdmin := map[string]any{"id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "value": "Admin", "displayName": "Administrators",
		"description": "Run the shop", "allowedMemberTypes": []any{"User", "Application"}, "isEnabled": false}
	if len(roles) != 2 || !reflect.DeepEqual(roles[1], wantAdmin) || roles[0].(map[string]any)["value"] != "Shop.Read" {
		t.Errorf("manifest roles sent %v", roles)
	}
	c.ok("app", "create", "--display-name", "bare", "--identifier-uris", "api://bare", "-o", "none")
	if body := decode[map[string]any](t, lastRequest(t, fake, "POST", "/v1.0/applications").Body); !reflect.DeepEqual(body["appRoles"], []any{}) {
		t.Errorf("an app without roles sent appRoles %v, want []", body["appRoles"])
	}

	// show by identifier URI, application ID and object ID.
	if out := c.ok("app", "show", "--id", "api://orders", "--query", "appId", "-o", "tsv"); out != appID+"\n" {
		t.Errorf("show by URI = %q", out)
	}
	if req := lastRequest(t, fake, "GET", "/v1.0/applications"); req.Query != "$filter=identifierUris%2Fany%28x%3Ax%20eq%20%27api%3A%2F%2Forders%27%29" {
		t.Errorf("show by URI sent ?%s", req.Query)
	}
	if out := c.ok("app", "show", "--id", appID, "--query", "displayName", "-o", "tsv"); out != "orders\n" {
		t.Errorf("show by appId = %q", out)
	}
	if req := lastRequest(t, fake, "GET", ")"); req.RawPath != "/v1.0/applications(appId='"+appID+"')" {
		t.Errorf("show by appId sent %s", req.RawPath)
	}
	if out := c.ok("app", "show", "--id", objectID, "--query", "displayName", "-o", "tsv"); out != "orders\n" {
		t.Errorf("show by object ID = %q", out)
	}
	if req := lastRequest(t, fake, "GET", objectID); req.Path != "/v1.0/applications/"+objectID {
		t.Errorf("show by object ID sent %s", req.Path)
	}
	// Three applications: two pages.
	if out := c.ok("app", "list", "--query", "[].displayName", "-o", "tsv"); out != "orders\nshop\nbare\n" {
		t.Errorf("app list = %q", out)
	}

	// Assign an app role to a managed identity by its client ID.
	grant := decode[map[string]any](t, c.ok("app", "role", "assign", "--id", "api://orders", "--role", "Orders.Write", "--assignee", "client-id1"))
	writeRole := app["appRoles"].([]any)[1].(map[string]any)["id"]
	spID := fakeGUID('5', 1)
	post = lastRequest(t, fake, "POST", "/appRoleAssignedTo")
	if post.Path != "/v1.0/servicePrincipals/"+spID+"/appRoleAssignedTo" || post.Auth != "Bearer "+fakeGraphTok {
		t.Errorf("POST %s with %q", post.Path, post.Auth)
	}
	if body := decode[map[string]any](t, post.Body); !reflect.DeepEqual(body, map[string]any{"principalId": "principal-id1", "resourceId": spID, "appRoleId": writeRole}) {
		t.Errorf("assign body %s", post.Body)
	}
	if sp := lastRequest(t, fake, "GET", ")"); sp.RawPath != "/v1.0/servicePrincipals(appId='"+appID+"')" {
		t.Errorf("service principal lookup sent %s", sp.RawPath)
	}
	if grant["principalId"] != "principal-id1" || grant["resourceId"] != spID || grant["appRoleId"] != writeRole || grant["resourceDisplayName"] != "orders" {
		t.Errorf("app role assign printed %v", grant)
	}
	c.ok("app", "role", "assign", "--id", appID, "--role", "Orders.Read", "--assignee", "other-object", "-o", "none")
	if out := c.ok("app", "role", "assignment", "list", "--id", "api://orders", "--query", "[].principalId", "-o", "tsv"); out != "principal-id1\nother-object\n" {
		t.Errorf("app role assignment list = %q", out)
	}

	errOut := c.fail(exitError, "app", "role", "assign", "--id", "api://orders", "--role", "orders.read", "--assignee", "client-id1")
	if errOut != "ERROR: application orders defines no app role \"orders.read\" (its roles: Orders.Read, Orders.Write)\n" {
		t.Errorf("unknown app role: %q", errOut)
	}
	if errOut := c.fail(exitError, "app", "show", "--id", "api://missing"); errOut != "ERROR: Resource 'api://missing' does not exist or one of its queried reference-property objects are not present.\n" {
		t.Errorf("show of a missing app: %q", errOut)
	}
	if errOut := c.fail(exitError, "app", "create", "--display-name", "again", "--identifier-uris", "api://orders"); errOut != "ERROR: Another object with the same value for property identifierUris already exists.\n" {
		t.Errorf("duplicate identifier URI: %q", errOut)
	}

	if out := c.ok("app", "delete", "--id", "api://shop"); out != "" {
		t.Errorf("delete printed %q", out)
	}
	if del := lastRequest(t, fake, "DELETE", "/v1.0/applications/"+fakeGUID('0', 2)); del.Auth != "Bearer "+fakeGraphTok {
		t.Errorf("DELETE with %q", del.Auth)
	}
	missing := "00000000-0000-0000-0000-0000000000ff"
	if errOut := c.fail(exitError, "app", "show", "--id", missing); errOut != "ERROR: Resource '"+missing+"' does not exist or one of its queried reference-property objects are not present.\n" {
		t.Errorf("show of a missing GUID: %q", errOut)
	}
}

func TestAppUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"value":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	create := []string{"app", "create", "--display-name", "a", "--identifier-uris", "api://a"}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "manifest that is not an array", args: append(create, "--app-roles", "@"+bad), code: exitUsage, want: "--app-roles is not a JSON array of app roles"},
		{name: "manifest with an unknown field", args: append(create, "--app-roles", `[{"value":"x","origin":"y"}]`), code: exitUsage, want: `unknown field "origin"`},
		{name: "manifest with a bad isEnabled", args: append(create, "--app-roles", `[{"value":"x","isEnabled":"maybe"}]`), code: exitUsage, want: `isEnabled: "maybe" is not true or false`},
		{name: "role id that is not a GUID", args: append(create, "--app-roles", `[{"value":"x","id":"1"}]`), code: exitUsage, want: `has id "1", which is not a GUID`},
		{name: "repeated role value", args: append(create, "--app-role", "R", "--app-roles", `[{"value":"r"}]`), code: exitUsage, want: `app role value "r" is given twice`},
		{name: "role value with a space", args: append(create, "--app-role", "a b"), code: exitUsage, want: `app role value "a b" must be non-empty and without spaces`},
		{name: "missing manifest file", args: append(create, "--app-roles", "@"+filepath.Join(dir, "absent.json")), code: exitError, want: "no such file"},
		{name: "create without identifier URIs", args: []string{"app", "create", "--display-name", "a"}, code: exitUsage, want: `required flag(s) "identifier-uris" not set`},
		{name: "assign without an assignee", args: []string{"app", "role", "assign", "--id", "x", "--role", "r"}, code: exitUsage, want: `required flag(s) "assignee" not set`},
		{name: "show without an id", args: []string{"app", "show"}, code: exitUsage, want: `required flag(s) "id" not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeServer(t)
			c := newCLI(t, fake)
			errOut := c.fail(tt.code, tt.args...)
			if first, _, _ := strings.Cut(errOut, "\n"); !strings.Contains(first, tt.want) {
				t.Errorf("stderr = %q, want %q", errOut, tt.want)
			}
			if n := len(fake.recorded()); n != 0 {
				t.Errorf("refused input sent %d requests", n)
			}
		})
	}
}
