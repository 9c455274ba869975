package client

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const (
	roleDefs    = "/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions"
	readerGUID  = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	secretsGUID = "4633458b-17de-408a-b874-0445c86b69e6"
)

// rolesJSON is a role definition list; it holds more than a name filter
// asks for, as a server that ignores $filter would answer.
const rolesJSON = `{"value":[
 {"id":"` + roleDefs + `/` + readerGUID + `","name":"` + readerGUID + `","type":"Microsoft.Authorization/roleDefinitions",
  "properties":{"roleName":"Reader","type":"BuiltInRole","description":"View","assignableScopes":["/"],
  "permissions":[{"actions":["*/read"],"notActions":[],"dataActions":[],"notDataActions":[]}]}},
 {"id":"` + roleDefs + `/` + secretsGUID + `","name":"` + secretsGUID + `","type":"Microsoft.Authorization/roleDefinitions",
  "properties":{"roleName":"Key Vault Secrets User","type":"BuiltInRole","assignableScopes":["/"],"permissions":[]}}]}`

func TestListRoleDefinitions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		roleName  string
		wantQuery string
		wantNames []string
	}{
		{name: "all roles", wantQuery: "api-version=2022-04-01", wantNames: []string{"Reader", "Key Vault Secrets User"}},
		{name: "by name, filtered again on the client", roleName: "key vault secrets user",
			wantQuery: "api-version=2022-04-01&$filter=roleName%20eq%20%27key%20vault%20secrets%20user%27", wantNames: []string{"Key Vault Secrets User"}},
		{name: "a quote in the name is doubled", roleName: "O'Brien",
			wantQuery: "api-version=2022-04-01&$filter=roleName%20eq%20%27O%27%27Brien%27", wantNames: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.mux.HandleFunc("GET /subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions", func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprint(w, rolesJSON)
			})
			defs, err := f.client(nil).ListRoleDefinitions(context.Background(), "/subscriptions/sub-1/", tt.roleName)
			if err != nil {
				t.Fatal(err)
			}
			names := []string{}
			for _, d := range defs {
				names = append(names, d.Properties.RoleName)
			}
			if !reflect.DeepEqual(names, tt.wantNames) {
				t.Errorf("roles %v, want %v", names, tt.wantNames)
			}
			reqs := f.recorded()
			if len(reqs) != 1 || reqs[0].Path != roleDefs || reqs[0].Query != tt.wantQuery {
				t.Fatalf("requests %+v, want GET %s?%s", reqs, roleDefs, tt.wantQuery)
			}
		})
	}
	t.Run("the role type and permissions decode", func(t *testing.T) {
		t.Parallel()
		f := newFakeAPI(t)
		f.mux.HandleFunc("GET /subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, rolesJSON)
		})
		defs, err := f.client(nil).ListRoleDefinitions(context.Background(), "/subscriptions/sub-1", "Reader")
		if err != nil || len(defs) != 1 {
			t.Fatalf("defs %v, %v", defs, err)
		}
		p := defs[0].Properties
		if p.RoleType != "BuiltInRole" || len(p.Permissions) != 1 || !reflect.DeepEqual(p.Permissions[0].Actions, []string{"*/read"}) || defs[0].Name != readerGUID {
			t.Errorf("definition %+v", defs[0])
		}
	})
}

func TestResolveRoleDefinition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		role         string
		wantID       string
		wantName     string
		wantRequests int
		wantErr      string
	}{
		{name: "a full ID is used as it is", role: roleDefs + "/" + readerGUID, wantID: roleDefs + "/" + readerGUID},
		{name: "a GUID becomes the subscription's role", role: strings.ToUpper(readerGUID), wantID: roleDefs + "/" + readerGUID},
		{name: "a name is looked up", role: "reader", wantID: roleDefs + "/" + readerGUID, wantName: "Reader", wantRequests: 1},
		{name: "an unknown name", role: "Nope", wantRequests: 1, wantErr: "role 'Nope' doesn't exist"},
		{name: "an empty role", role: " ", wantErr: "role is required"},
		{name: "an ID with an empty segment", role: "/subscriptions//x", wantErr: "empty or relative segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.mux.HandleFunc("GET /subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions", func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprint(w, rolesJSON)
			})
			id, name, err := f.client(nil).ResolveRoleDefinition(context.Background(), testSub, tt.role)
			if n := len(f.recorded()); n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || id != tt.wantID || name != tt.wantName {
				t.Errorf("ResolveRoleDefinition = %q, %q, %v; want %q, %q", id, name, err, tt.wantID, tt.wantName)
			}
		})
	}
}

func TestResolvePrincipalID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		assignee string
		want     string
	}{
		{name: "a client ID becomes the identity's principal ID", assignee: "CLIENT-B", want: "principal-b"},
		{name: "a principal ID stays", assignee: "principal-a", want: "principal-a"},
		{name: "an unknown ID is taken as an object ID", assignee: "admin-object", want: "admin-object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.mux.HandleFunc("GET /subscriptions/{sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities", func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("$skiptoken") == "" {
					writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"name": "a", "properties": map[string]any{"clientId": "client-a", "principalId": "principal-a"}}},
						"nextLink": f.srv.URL + r.URL.Path + "?api-version=x&$skiptoken=2"})
					return
				}
				writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"name": "b", "properties": map[string]any{"clientId": "client-b", "principalId": "principal-b"}}}})
			})
			got, err := f.client(nil).ResolvePrincipalID(context.Background(), testSub, tt.assignee)
			if err != nil || got != tt.want {
				t.Fatalf("ResolvePrincipalID(%q) = %q, %v; want %q", tt.assignee, got, err, tt.want)
			}
		})
	}
}

func TestRoleAssignmentRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const (
		rgScope = "/subscriptions/sub-1/resourceGroups/rg 1"
		rgRaw   = "/subscriptions/sub-1/resourceGroups/rg%201"
		asgns   = "/providers/Microsoft.Authorization/roleAssignments"
	)
	assignment := `{"id":"` + rgScope + asgns + `/a1","name":"a1","type":"Microsoft.Authorization/roleAssignments",
		"properties":{"roleDefinitionId":"` + roleDefs + `/` + readerGUID + `","principalId":"p1","principalType":"ServicePrincipal",
		"scope":"` + rgScope + `","createdOn":"2026-01-02T03:04:05.1234567Z","createdBy":"admin"}}`
	tests := []struct {
		name      string
		call      func(c *Client) (any, error)
		status    int
		response  string
		wantPath  string // raw path; a trailing "{guid}" matches any GUID
		wantQuery string
		wantBody  string
		method    string
		check     func(t *testing.T, got any)
	}{
		{
			name: "create at a resource group",
			call: func(c *Client) (any, error) {
				return c.CreateRoleAssignment(ctx, rgScope+"/", RoleAssignmentProperties{RoleDefinitionID: roleDefs + "/" + readerGUID, PrincipalID: "p1", Scope: "ignored"})
			},
			status: 201, response: assignment, method: "PUT",
			wantPath: rgRaw + asgns + "/{guid}", wantQuery: "api-version=2022-04-01",
			wantBody: `{"properties":{"roleDefinitionId":"` + roleDefs + `/` + readerGUID + `","principalId":"p1","principalType":"ServicePrincipal"}}`,
			check: func(t *testing.T, got any) {
				ra := got.(*RoleAssignment)
				if ra.Name != "a1" || ra.Properties.Scope != rgScope || ra.Properties.CreatedOn != "2026-01-02T03:04:05.1234567Z" || ra.Properties.PrincipalType != "ServicePrincipal" {
					t.Errorf("assignment %+v", ra)
				}
			},
		},
		{
			name: "create with another principal type",
			call: func(c *Client) (any, error) {
				return c.CreateRoleAssignment(ctx, "/subscriptions/sub-1", RoleAssignmentProperties{RoleDefinitionID: "r", PrincipalID: "p", PrincipalType: "User"})
			},
			status: 201, response: assignment, method: "PUT",
			wantPath: "/subscriptions/sub-1" + asgns + "/{guid}", wantQuery: "api-version=2022-04-01",
			wantBody: `{"properties":{"roleDefinitionId":"r","principalId":"p","principalType":"User"}}`,
		},
		{
			name:   "list at a scope",
			call:   func(c *Client) (any, error) { return c.ListRoleAssignments(ctx, rgScope, AtScopeFilter) },
			status: 200, response: `{"value":[` + assignment + `]}`, method: "GET",
			wantPath: rgRaw + asgns, wantQuery: "api-version=2022-04-01&$filter=atScope%28%29",
			check: func(t *testing.T, got any) {
				if l := got.([]RoleAssignment); len(l) != 1 || l[0].Properties.PrincipalID != "p1" {
					t.Errorf("list %+v", l)
				}
			},
		},
		{
			name: "list of a principal",
			call: func(c *Client) (any, error) {
				return c.ListRoleAssignments(ctx, "/subscriptions/sub-1", PrincipalFilter("p'1"))
			},
			status: 200, response: `{"value":[]}`, method: "GET",
			wantPath: "/subscriptions/sub-1" + asgns, wantQuery: "api-version=2022-04-01&$filter=principalId%20eq%20%27p%27%271%27",
		},
		{
			name:   "delete by ID",
			call:   func(c *Client) (any, error) { return nil, c.DeleteRoleAssignment(ctx, rgScope+asgns+"/a1") },
			status: 200, response: assignment, method: "DELETE",
			wantPath: rgRaw + asgns + "/a1", wantQuery: "api-version=2022-04-01",
		},
		{
			name:   "delete of an assignment that is gone",
			call:   func(c *Client) (any, error) { return nil, c.DeleteRoleAssignment(ctx, rgScope+asgns+"/a1") },
			status: 204, method: "DELETE",
			wantPath: rgRaw + asgns + "/a1", wantQuery: "api-version=2022-04-01",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			scopes := f.scopedTokens()
			f.mux.HandleFunc("/subscriptions/", func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.response)
			})
			got, err := tt.call(f.client(nil))
			if err != nil {
				t.Fatal(err)
			}
			reqs := f.recorded()
			if len(reqs) != 1 {
				t.Fatalf("%d requests: %+v", len(reqs), reqs)
			}
			r := reqs[0]
			path := r.RawPath
			if prefix, ok := strings.CutSuffix(tt.wantPath, "{guid}"); ok {
				rest, has := strings.CutPrefix(path, prefix)
				if !has || !IsGUID(rest) {
					t.Errorf("path %s, want %s followed by a GUID", path, prefix)
				}
				path = tt.wantPath
			}
			if r.Method != tt.method || path != tt.wantPath || r.Query != tt.wantQuery || r.Auth != "Bearer tok-mgmt-1" {
				t.Errorf("request %s %s?%s (%s), want %s %s?%s", r.Method, r.RawPath, r.Query, r.Auth, tt.method, tt.wantPath, tt.wantQuery)
			}
			assertJSONEqual(t, r.Body, tt.wantBody)
			if s := scopes(); len(s) != 1 || s[0] != f.srv.URL+"/.default" {
				t.Errorf("token scopes %v, want the management scope", s)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestRoleCallsRefuseBadScopesWithoutCallingTheServer(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	c := f.client(nil)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{name: "relative scope", call: func() error { _, err := c.ListRoleAssignments(ctx, "subscriptions/s", ""); return err }, want: "must start with /"},
		{name: "empty scope", call: func() error { _, err := c.ListRoleDefinitions(ctx, "", ""); return err }, want: "must start with /"},
		{name: "root scope", call: func() error { _, err := c.ListRoleDefinitions(ctx, "/", ""); return err }, want: "must start with /"},
		{name: "dot-dot segment", call: func() error {
			_, err := c.CreateRoleAssignment(ctx, "/subscriptions/s/../t", RoleAssignmentProperties{RoleDefinitionID: "r", PrincipalID: "p"})
			return err
		}, want: "empty or relative segment"},
		{name: "no principal", call: func() error {
			_, err := c.CreateRoleAssignment(ctx, "/subscriptions/s", RoleAssignmentProperties{RoleDefinitionID: "r"})
			return err
		}, want: "principal ID are required"},
		{name: "delete of a resource that is no assignment", call: func() error { return c.DeleteRoleAssignment(ctx, "/subscriptions/s/resourceGroups/rg") }, want: "is not a role assignment ID"},
		{name: "delete of the assignments collection", call: func() error {
			return c.DeleteRoleAssignment(ctx, "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments")
		}, want: "is not a role assignment ID"},
		{name: "delete below an assignment", call: func() error {
			return c.DeleteRoleAssignment(ctx, "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a/b")
		}, want: "is not a role assignment ID"},
		{name: "empty assignee", call: func() error { _, err := c.ResolvePrincipalID(ctx, testSub, ""); return err }, want: "assignee is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	if n := len(f.recorded()); n != 0 {
		t.Errorf("refused calls sent %d requests", n)
	}
}

func TestOwnClientIDResolvesToTheSignedInPrincipal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		token   string
		want    string
		wantErr string
	}{
		{name: "the oid claim of the management token", token: "tok-h.eyJvaWQiOiJhZG1pbi1vYmplY3QiLCJhcHBpZCI6ImFkbWluLWNsaWVudCJ9.sig", want: "admin-object"},
		{name: "a token that is not a JWT", token: "tok-opaque", wantErr: "the management token is not a JWT"},
		{name: "a payload that is not base64url", token: "tok-h.!!!.sig", wantErr: "read signed-in principal"},
		{name: "a token without oid", token: "tok-h.eyJhcHBpZCI6IngifQ.sig", wantErr: "has no oid claim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.setTokenHandler(func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": tt.token})
			})
			got, err := f.client(nil).ResolvePrincipalID(context.Background(), testSub, strings.ToUpper(testClient))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tt.token) {
					t.Errorf("error %q shows the token", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ResolvePrincipalID = %q, %v; want %q", got, err, tt.want)
			}
			if n := len(f.recorded()); n != 0 {
				t.Errorf("%d management requests, want none (no identity lookup)", n)
			}
		})
	}
}
