package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const (
	appGUID = "a0000000-0000-0000-0000-000000000001"
	objGUID = "00000000-0000-0000-0000-000000000001"
	spGUID  = "50000000-0000-0000-0000-000000000001"
)

// graphFake serves /v1.0/ on f with h for requests with a Graph token.
func graphFake(f *fakeAPI, h http.HandlerFunc) {
	f.mux.HandleFunc("/v1.0/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-graph-") {
			writeJSON(w, 401, map[string]any{"error": map[string]any{"code": "InvalidAuthenticationToken", "message": "Access token validation failure. Invalid audience."}})
			return
		}
		h(w, r)
	})
}

func TestGraphRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	appJSON := `{"id":"` + objGUID + `","appId":"` + appGUID + `","displayName":"orders","identifierUris":["api://orders"],
		"appRoles":[{"id":"r1","value":"Orders.Read","displayName":"Orders.Read","description":"d","allowedMemberTypes":["Application"],"isEnabled":true}],
		"signInAudience":"AzureADMyOrg"}`
	notFound := `{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist or one of its queried reference-property objects are not present."}}`
	type answer struct {
		status int
		body   string
	}
	type want struct {
		method, rawPath, query, body string
	}
	tests := []struct {
		name    string
		call    func(c *Client) (any, error)
		answers []answer // one per request, in order
		want    []want
		wantErr string
		check   func(t *testing.T, got any)
	}{
		{
			name: "create an application",
			call: func(c *Client) (any, error) {
				return c.CreateApplication(ctx, Application{ID: "ignored", AppID: "ignored", DisplayName: "orders", IdentifierURIs: []string{"api://orders"},
					AppRoles: []AppRole{{ID: "r1", Value: "Orders.Read", DisplayName: "Orders.Read", Description: "d", AllowedMemberTypes: []string{"Application"}, IsEnabled: true}}})
			},
			answers: []answer{{201, appJSON}},
			want: []want{{method: "POST", rawPath: "/v1.0/applications", body: `{"displayName":"orders","identifierUris":["api://orders"],` +
				`"appRoles":[{"id":"r1","value":"Orders.Read","displayName":"Orders.Read","description":"d","allowedMemberTypes":["Application"],"isEnabled":true}]}`}},
			check: func(t *testing.T, got any) {
				a := got.(*Application)
				if a.AppID != appGUID || a.ID != objGUID || len(a.AppRoles) != 1 || a.AppRoles[0].Value != "Orders.Read" || a.SignInAudience != "AzureADMyOrg" {
					t.Errorf("application %+v", a)
				}
			},
		},
		{
			name:    "create an application without roles or URIs sends empty lists",
			call:    func(c *Client) (any, error) { return c.CreateApplication(ctx, Application{DisplayName: "bare"}) },
			answers: []answer{{201, appJSON}},
			want:    []want{{method: "POST", rawPath: "/v1.0/applications", body: `{"displayName":"bare","identifierUris":[],"appRoles":[]}`}},
		},
		{
			name:    "find by application ID",
			call:    func(c *Client) (any, error) { return c.FindApplication(ctx, appGUID) },
			answers: []answer{{200, appJSON}},
			want:    []want{{method: "GET", rawPath: "/v1.0/applications(appId='" + appGUID + "')"}},
		},
		{
			name:    "find by object ID after the application ID lookup fails",
			call:    func(c *Client) (any, error) { return c.FindApplication(ctx, objGUID) },
			answers: []answer{{404, notFound}, {200, appJSON}},
			want: []want{
				{method: "GET", rawPath: "/v1.0/applications(appId='" + objGUID + "')"},
				{method: "GET", rawPath: "/v1.0/applications/" + objGUID},
			},
		},
		{
			name:    "find by a GUID that is neither",
			call:    func(c *Client) (any, error) { return c.FindApplication(ctx, objGUID) },
			answers: []answer{{404, notFound}, {404, notFound}},
			want: []want{
				{method: "GET", rawPath: "/v1.0/applications(appId='" + objGUID + "')"},
				{method: "GET", rawPath: "/v1.0/applications/" + objGUID},
			},
			wantErr: "Resource 'x' does not exist",
		},
		{
			name:    "find by GUID stops on an error that is not a 404",
			call:    func(c *Client) (any, error) { return c.FindApplication(ctx, objGUID) },
			answers: []answer{{403, `{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}`}},
			want:    []want{{method: "GET", rawPath: "/v1.0/applications(appId='" + objGUID + "')"}},
			wantErr: "Insufficient privileges to complete the operation.",
		},
		{
			name:    "find by identifier URI, checked again on the client",
			call:    func(c *Client) (any, error) { return c.FindApplication(ctx, "api://orders") },
			answers: []answer{{200, `{"value":[{"id":"o2","appId":"a2","displayName":"other","identifierUris":["api://other"]},` + appJSON + `]}`}},
			want: []want{{method: "GET", rawPath: "/v1.0/applications",
				query: "$filter=identifierUris%2Fany%28x%3Ax%20eq%20%27api%3A%2F%2Forders%27%29"}},
			check: func(t *testing.T, got any) {
				if a := got.(*Application); a.DisplayName != "orders" {
					t.Errorf("found %+v", a)
				}
			},
		},
		{
			name:    "an identifier URI no application has",
			call:    func(c *Client) (any, error) { return c.FindApplication(ctx, "api://it's") },
			answers: []answer{{200, `{"value":[]}`}},
			want: []want{{method: "GET", rawPath: "/v1.0/applications",
				query: "$filter=identifierUris%2Fany%28x%3Ax%20eq%20%27api%3A%2F%2Fit%27%27s%27%29"}},
			wantErr: "Resource 'api://it's' does not exist or one of its queried reference-property objects are not present.",
		},
		{
			name:    "delete an application",
			call:    func(c *Client) (any, error) { return nil, c.DeleteApplication(ctx, objGUID) },
			answers: []answer{{204, ""}},
			want:    []want{{method: "DELETE", rawPath: "/v1.0/applications/" + objGUID}},
		},
		{
			name:    "the service principal of an application",
			call:    func(c *Client) (any, error) { return c.GetServicePrincipalByAppID(ctx, appGUID) },
			answers: []answer{{200, `{"id":"` + spGUID + `","appId":"` + appGUID + `"}`}},
			want:    []want{{method: "GET", rawPath: "/v1.0/servicePrincipals(appId='" + appGUID + "')"}},
			check: func(t *testing.T, got any) {
				if sp := got.(*ServicePrincipal); sp.ID != spGUID {
					t.Errorf("service principal %+v", sp)
				}
			},
		},
		{
			name:    "a service principal answer without an id",
			call:    func(c *Client) (any, error) { return c.GetServicePrincipalByAppID(ctx, appGUID) },
			answers: []answer{{200, `{}`}},
			want:    []want{{method: "GET", rawPath: "/v1.0/servicePrincipals(appId='" + appGUID + "')"}},
			wantErr: "has no id",
		},
		{
			name: "assign an app role",
			call: func(c *Client) (any, error) { return c.AssignAppRole(ctx, spGUID, "principal-1", "r1") },
			answers: []answer{{201, `{"id":"g1","principalId":"principal-1","principalType":"ServicePrincipal","resourceId":"` + spGUID +
				`","appRoleId":"r1","createdDateTime":"2026-01-02T03:04:05Z"}`}},
			want: []want{{method: "POST", rawPath: "/v1.0/servicePrincipals/" + spGUID + "/appRoleAssignedTo",
				body: `{"principalId":"principal-1","resourceId":"` + spGUID + `","appRoleId":"r1"}`}},
			check: func(t *testing.T, got any) {
				if g := got.(*AppRoleAssignment); g.ID != "g1" || g.PrincipalType != "ServicePrincipal" || g.CreatedDateTime == "" {
					t.Errorf("assignment %+v", g)
				}
			},
		},
		{
			name: "list app role assignments across pages",
			call: func(c *Client) (any, error) { return c.ListAppRoleAssignedTo(ctx, spGUID) },
			answers: []answer{
				{200, `{"value":[{"id":"g1","principalId":"p1","resourceId":"s","appRoleId":"r1"}],"@odata.nextLink":"https://public.example/v1.0/servicePrincipals/` + spGUID + `/appRoleAssignedTo?$skiptoken=x"}`},
				{200, `{"value":[{"id":"g2","principalId":"p2","resourceId":"s","appRoleId":"r1"}]}`},
			},
			want: []want{
				{method: "GET", rawPath: "/v1.0/servicePrincipals/" + spGUID + "/appRoleAssignedTo"},
				{method: "GET", rawPath: "/v1.0/servicePrincipals/" + spGUID + "/appRoleAssignedTo", query: "$skiptoken=x"},
			},
			check: func(t *testing.T, got any) {
				if l := got.([]AppRoleAssignment); len(l) != 2 || l[1].PrincipalID != "p2" {
					t.Errorf("assignments %+v", l)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			scopes := f.scopedTokens()
			n := 0
			graphFake(f, func(w http.ResponseWriter, _ *http.Request) {
				a := tt.answers[min(n, len(tt.answers)-1)]
				n++
				w.WriteHeader(a.status)
				fmt.Fprint(w, a.body)
			})
			got, err := tt.call(f.client(nil))
			reqs := f.recorded()
			if len(reqs) != len(tt.want) {
				t.Fatalf("%d requests, want %d: %+v", len(reqs), len(tt.want), reqs)
			}
			for i, w := range tt.want {
				r := reqs[i]
				if r.Method != w.method || r.RawPath != w.rawPath || r.Query != w.query || r.Auth != "Bearer tok-graph-1" {
					t.Errorf("request %d = %s %s?%s (%s), want %s %s?%s with the Graph token", i, r.Method, r.RawPath, r.Query, r.Auth, w.method, w.rawPath, w.query)
				}
				assertJSONEqual(t, r.Body, w.body)
			}
			if s := scopes(); !reflect.DeepEqual(s, []string{GraphScope}) {
				t.Errorf("token scopes %v, want [%s]", s, GraphScope)
			}
			if tt.wantErr != "" {
				var ge *GraphError
				if !errors.As(err, &ge) && !strings.Contains(tt.wantErr, "has no id") {
					t.Errorf("error %v is not a *GraphError", err)
				}
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestGraphErrorDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		want     GraphError
		wantText string
	}{
		{name: "Graph error", status: 400, body: `{"error":{"code":"Request_BadRequest","message":"Another object with the same value for property identifierUris already exists."}}`,
			want:     GraphError{StatusCode: 400, Code: "Request_BadRequest", Message: "Another object with the same value for property identifierUris already exists."},
			wantText: "Another object with the same value for property identifierUris already exists."},
		{name: "code only", status: 409, body: `{"error":{"code":"Conflict"}}`,
			want: GraphError{StatusCode: 409, Code: "Conflict"}, wantText: "Conflict"},
		{name: "not JSON", status: 500, body: `oops`,
			want:     GraphError{StatusCode: 500, Code: "HTTP500", Message: "The server answered 500 Internal Server Error."},
			wantText: "The server answered 500 Internal Server Error."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.scopedTokens()
			graphFake(f, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			_, err := f.client(nil).ListApplications(context.Background())
			var ge *GraphError
			if !errors.As(err, &ge) || *ge != tt.want || err.Error() != tt.wantText {
				t.Fatalf("error = %#v (%v), want %+v printing %q", ge, err, tt.want, tt.wantText)
			}
			if ge.IsNotFound() {
				t.Error("IsNotFound() on a non-404")
			}
		})
	}
}

func TestGraphCallsNeedIDs(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	c := f.client(nil)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"create without a name":     func() error { _, err := c.CreateApplication(ctx, Application{}); return err },
		"find without an ID":        func() error { _, err := c.FindApplication(ctx, " "); return err },
		"get without an ID":         func() error { _, err := c.GetApplication(ctx, ""); return err },
		"get by empty app ID":       func() error { _, err := c.GetApplicationByAppID(ctx, ""); return err },
		"delete without an ID":      func() error { return c.DeleteApplication(ctx, "") },
		"service principal":         func() error { _, err := c.GetServicePrincipalByAppID(ctx, ""); return err },
		"assign without a role":     func() error { _, err := c.AssignAppRole(ctx, spGUID, "p", ""); return err },
		"list without an SP":        func() error { _, err := c.ListAppRoleAssignedTo(ctx, ""); return err },
		"assign without a resource": func() error { _, err := c.AssignAppRole(ctx, "", "p", "r"); return err },
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), "is required") {
			t.Errorf("%s: error %v, want a required ID", name, err)
		}
	}
	if n := len(f.recorded()); n != 0 {
		t.Errorf("refused calls sent %d requests", n)
	}
}
