package graph_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/store"
)

const (
	roleRead     = "5f3c1b2a-0000-4000-8000-00000000ab01"
	roleUserOnly = "5f3c1b2a-0000-4000-8000-00000000ab02"
	roleDisabled = "5f3c1b2a-0000-4000-8000-00000000ab03"
	roleWrite    = "5f3c1b2a-0000-4000-8000-00000000ab04"
)

// resourceApp creates api://orders with roles for every case and returns
// the application and its service principal.
func (r *rig) resourceApp(t *testing.T) (app, sp reply) {
	t.Helper()
	app = r.createApp(t, map[string]any{
		"displayName":    "orders",
		"identifierUris": []string{"api://orders"},
		"appRoles": []map[string]any{
			{"id": roleRead, "value": "Orders.Read", "allowedMemberTypes": []string{"Application"}},
			{"id": roleUserOnly, "value": "Orders.Approve", "allowedMemberTypes": []string{"User"}},
			{"id": roleDisabled, "value": "Orders.Legacy", "allowedMemberTypes": []string{"Application"}, "isEnabled": false},
			{"id": roleWrite, "value": "Orders.Write", "allowedMemberTypes": []string{"Application", "User"}},
		},
	})
	sp = r.do(t, tokOwner, http.MethodGet, "/v1.0/servicePrincipals(appId='"+app.str("appId")+"')", nil).want(t, http.StatusOK, "")
	return app, sp
}

func assignment(principal, resource, role string) map[string]any {
	return map[string]any{"principalId": principal, "resourceId": resource, "appRoleId": role}
}

func TestAssignments(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	app, sp := r.resourceApp(t)
	spID := sp.str("id")
	base := "/v1.0/servicePrincipals/" + spID + "/appRoleAssignedTo"

	// To a managed identity, by its principal ID.
	mi := r.do(t, tokOwner, http.MethodPost, base, assignment(ordersClientID, spID, roleRead)).want(t, http.StatusCreated, "")
	want := map[string]string{"principalId": ordersClientID, "principalType": "ServicePrincipal", "principalDisplayName": "orders-client",
		"resourceId": spID, "resourceDisplayName": "orders", "appRoleId": roleRead, "createdDateTime": "2026-11-29T10:00:00Z",
		"@odata.context": "https://fedcred.test/v1.0/$metadata#servicePrincipals('" + spID + "')/appRoleAssignedTo/$entity"}
	for k, v := range want {
		if mi.str(k) != v {
			t.Errorf("assignment %s = %q, want %q", k, mi.str(k), v)
		}
	}
	// The ID is Graph-shaped: base64url of the principal's GUID bytes and 16 more.
	raw, err := base64.RawURLEncoding.DecodeString(mi.str("id"))
	if err != nil || len(raw) != 32 {
		t.Fatalf("assignment id %q is not 32 bytes of base64url: %v", mi.str("id"), err)
	}
	g := raw[:16]
	g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7] = g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6]
	if u, err := uuid.FromBytes(g); err != nil || u.String() != ordersClientID {
		t.Errorf("assignment id encodes principal %v, want %s", u, ordersClientID)
	}

	// To a service principal, by its object ID; through the appId form of the path.
	spAssignment := r.do(t, tokOwner, http.MethodPost, "/v1.0/servicePrincipals(appId='"+app.str("appId")+"')/appRoleAssignedTo",
		assignment(strings.ToUpper(readerID), spID, roleWrite)).want(t, http.StatusCreated, "")
	if spAssignment.str("principalDisplayName") != "auditor" || spAssignment.str("principalId") != readerID {
		t.Errorf("service principal assignment = %s", spAssignment.raw)
	}

	refusals := []struct {
		name        string
		path        string
		body        any
		wantStatus  int
		wantCode    string
		wantMessage string
	}{
		{name: "duplicate", path: base, body: assignment(ordersClientID, spID, roleRead),
			wantStatus: http.StatusBadRequest, wantCode: "Request_BadRequest", wantMessage: "Permission being assigned already exists on the object"},
		{name: "duplicate in other case", path: base, body: assignment(strings.ToUpper(ordersClientID), spID, strings.ToUpper(roleRead)),
			wantStatus: http.StatusBadRequest, wantCode: "Request_BadRequest", wantMessage: "Permission being assigned already exists on the object"},
		{name: "role for users only", path: base, body: assignment(ordersClientID, spID, roleUserOnly),
			wantStatus: http.StatusBadRequest, wantCode: "Request_BadRequest", wantMessage: "does not allow members of type Application"},
		{name: "disabled role", path: base, body: assignment(ordersClientID, spID, roleDisabled),
			wantStatus: http.StatusBadRequest, wantCode: "Request_BadRequest", wantMessage: "is disabled"},
		{name: "unknown role", path: base, body: assignment(ordersClientID, spID, "00000000-0000-0000-0000-000000000000"),
			wantStatus: http.StatusBadRequest, wantCode: "Request_BadRequest", wantMessage: "Permission being assigned was not found on application"},
		{name: "unknown principal", path: base, body: assignment("00000000-0000-4000-8000-0000000000aa", spID, roleRead),
			wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
		{name: "identity of another tenant", path: base, body: assignment(otherTenantMI, spID, roleRead),
			wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
		{name: "an application's service principal is no principal", path: base, body: assignment(spID, spID, roleRead),
			wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
		{name: "resourceId other than the path", path: base, body: assignment(ordersClientID, app.str("id"), roleRead),
			wantStatus: http.StatusBadRequest, wantCode: "Request_BadRequest", wantMessage: "resourceId must be the service principal"},
		{name: "missing appRoleId", path: base, body: map[string]any{"principalId": ordersClientID, "resourceId": spID},
			wantStatus: http.StatusBadRequest, wantCode: "Request_BadRequest", wantMessage: "appRoleId is required"},
		{name: "principalId not a GUID", path: base, body: assignment("orders-client", spID, roleRead),
			wantStatus: http.StatusBadRequest, wantCode: "Request_BadRequest", wantMessage: "principalId is required"},
		{name: "unknown property", path: base, body: map[string]any{"principalId": ordersClientID, "resourceId": spID, "appRoleId": roleRead, "expiry": "never"},
			wantStatus: http.StatusBadRequest, wantCode: "Request_BadRequest", wantMessage: `"expiry"`},
		{name: "unknown resource service principal", path: "/v1.0/servicePrincipals/00000000-0000-4000-8000-000000000000/appRoleAssignedTo",
			body: assignment(ordersClientID, "00000000-0000-4000-8000-000000000000", roleRead), wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
		{name: "application object id instead of the service principal", path: "/v1.0/servicePrincipals/" + app.str("id") + "/appRoleAssignedTo",
			body: assignment(ordersClientID, app.str("id"), roleRead), wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			got := r.do(t, tokOwner, http.MethodPost, tt.path, tt.body).want(t, tt.wantStatus, tt.wantCode)
			if !strings.Contains(got.errorMessage(), tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", got.errorMessage(), tt.wantMessage)
			}
		})
	}

	list := r.do(t, tokOwner, http.MethodGet, base, nil).want(t, http.StatusOK, "")
	if n := len(list.values()); n != 2 {
		t.Fatalf("listed %d assignments, want 2: %s", n, list.raw)
	}
	one := r.do(t, tokOwner, http.MethodGet, base+"/"+mi.str("id"), nil).want(t, http.StatusOK, "")
	if one.str("principalDisplayName") != "orders-client" || one.str("appRoleId") != roleRead {
		t.Errorf("GET assignment = %s", one.raw)
	}
	// IDs are case-sensitive, as Graph's are.
	r.do(t, tokOwner, http.MethodGet, base+"/"+swapCase(mi.str("id")), nil).want(t, http.StatusNotFound, "Request_ResourceNotFound")

	// An assigned role cannot be removed, nor closed to applications.
	keepOthers := []map[string]any{
		{"id": roleUserOnly, "value": "Orders.Approve", "allowedMemberTypes": []string{"User"}},
		{"id": roleWrite, "value": "Orders.Write", "allowedMemberTypes": []string{"Application", "User"}},
	}
	got := r.do(t, tokOwner, http.MethodPatch, "/v1.0/applications/"+app.str("id"), map[string]any{"appRoles": keepOthers}).
		want(t, http.StatusBadRequest, "Request_BadRequest")
	if !strings.Contains(got.errorMessage(), "Cannot delete app role 'Orders.Read'") {
		t.Errorf("message = %q", got.errorMessage())
	}
	closed := append([]map[string]any{{"id": roleRead, "value": "Orders.Read", "allowedMemberTypes": []string{"User"}}}, keepOthers...)
	r.do(t, tokOwner, http.MethodPatch, "/v1.0/applications/"+app.str("id"), map[string]any{"appRoles": closed}).
		want(t, http.StatusBadRequest, "Request_BadRequest")
	// Disabling it, renaming it, and removing unassigned roles are fine.
	r.do(t, tokOwner, http.MethodPatch, "/v1.0/applications/"+app.str("id"), map[string]any{"appRoles": []map[string]any{
		{"id": roleRead, "value": "Orders.ReadAll", "allowedMemberTypes": []string{"Application"}, "isEnabled": false},
		{"id": roleWrite, "value": "Orders.Write", "allowedMemberTypes": []string{"Application"}},
	}}).want(t, http.StatusNoContent, "")

	// DELETE the assignment, then the role can go.
	r.do(t, tokOwner, http.MethodDelete, base+"/"+mi.str("id"), nil).want(t, http.StatusNoContent, "")
	r.do(t, tokOwner, http.MethodDelete, base+"/"+mi.str("id"), nil).want(t, http.StatusNotFound, "Request_ResourceNotFound")
	r.do(t, tokOwner, http.MethodPatch, "/v1.0/applications/"+app.str("id"), map[string]any{"appRoles": []map[string]any{
		{"id": roleWrite, "value": "Orders.Write", "allowedMemberTypes": []string{"Application"}},
	}}).want(t, http.StatusNoContent, "")

	// Deleting the application deletes its remaining assignments.
	r.do(t, tokOwner, http.MethodDelete, "/v1.0/applications/"+app.str("id"), nil).want(t, http.StatusNoContent, "")
	var left []store.AppRoleAssignment
	err = r.store.View(context.Background(), func(tx store.Tx) error {
		var err error
		left, err = store.List[store.AppRoleAssignment](context.Background(), tx, "", "", 0)
		return err
	})
	if err != nil || len(left) != 0 {
		t.Fatalf("assignments left after deleting the application: %v, %v", left, err)
	}
	r.do(t, tokOwner, http.MethodGet, base, nil).want(t, http.StatusNotFound, "Request_ResourceNotFound")
}

func swapCase(s string) string {
	return strings.Map(func(c rune) rune {
		switch {
		case 'a' <= c && c <= 'z':
			return c - 32
		case 'A' <= c && c <= 'Z':
			return c + 32
		}
		return c
	}, s)
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	app, sp := r.resourceApp(t)
	appPath := "/v1.0/applications/" + app.str("id")
	assignPath := "/v1.0/servicePrincipals/" + sp.str("id") + "/appRoleAssignedTo"

	tests := []struct {
		name       string
		token      string
		method     string
		path       string
		body       any
		wantStatus int
		wantCode   string
	}{
		{name: "no token", token: "", method: http.MethodGet, path: "/v1.0/applications", wantStatus: http.StatusUnauthorized, wantCode: "InvalidAuthenticationToken"},
		{name: "invalid token", token: "forged", method: http.MethodGet, path: "/v1.0/applications", wantStatus: http.StatusUnauthorized, wantCode: "InvalidAuthenticationToken"},
		{name: "invalid token on an unknown path", token: "forged", method: http.MethodGet, path: "/v1.0/users", wantStatus: http.StatusUnauthorized, wantCode: "InvalidAuthenticationToken"},
		{name: "authentication fails internally", token: tokBroken, method: http.MethodGet, path: "/v1.0/applications", wantStatus: http.StatusInternalServerError, wantCode: "generalException"},
		{name: "no role cannot read", token: tokNobody, method: http.MethodGet, path: appPath, wantStatus: http.StatusForbidden, wantCode: "Authorization_RequestDenied"},
		{name: "no role cannot create", token: tokNobody, method: http.MethodPost, path: "/v1.0/applications", body: ordersApp("api://x"), wantStatus: http.StatusForbidden, wantCode: "Authorization_RequestDenied"},
		{name: "reader reads", token: tokReader, method: http.MethodGet, path: appPath, wantStatus: http.StatusOK},
		{name: "reader lists assignments", token: tokReader, method: http.MethodGet, path: assignPath, wantStatus: http.StatusOK},
		{name: "reader cannot create", token: tokReader, method: http.MethodPost, path: "/v1.0/applications", body: ordersApp("api://x"), wantStatus: http.StatusForbidden, wantCode: "Authorization_RequestDenied"},
		{name: "reader cannot patch", token: tokReader, method: http.MethodPatch, path: appPath, body: map[string]any{"displayName": "x"}, wantStatus: http.StatusForbidden, wantCode: "Authorization_RequestDenied"},
		{name: "reader cannot delete", token: tokReader, method: http.MethodDelete, path: appPath, wantStatus: http.StatusForbidden, wantCode: "Authorization_RequestDenied"},
		{name: "reader cannot assign", token: tokReader, method: http.MethodPost, path: assignPath, body: assignment(ordersClientID, sp.str("id"), roleRead), wantStatus: http.StatusForbidden, wantCode: "Authorization_RequestDenied"},
		{name: "owner of a resource group only", token: tokGroupOwner, method: http.MethodGet, path: appPath, wantStatus: http.StatusForbidden, wantCode: "Authorization_RequestDenied"},
		{name: "contributor creates", token: tokContributor, method: http.MethodPost, path: "/v1.0/applications", body: ordersApp("api://contrib"), wantStatus: http.StatusCreated},
		{name: "contributor assigns", token: tokContributor, method: http.MethodPost, path: assignPath, body: assignment(ordersClientID, sp.str("id"), roleRead), wantStatus: http.StatusCreated},
		{name: "other tenant's owner does not see the application", token: tokOtherOwner, method: http.MethodGet, path: appPath, wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
		{name: "other tenant's owner does not see it by appId", token: tokOtherOwner, method: http.MethodGet, path: "/v1.0/applications(appId='" + app.str("appId") + "')", wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
		{name: "other tenant's owner cannot delete it", token: tokOtherOwner, method: http.MethodDelete, path: appPath, wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
		{name: "other tenant's owner cannot assign on it", token: tokOtherOwner, method: http.MethodPost, path: assignPath, body: assignment(otherTenantMI, sp.str("id"), roleRead), wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.do(t, tt.token, tt.method, tt.path, tt.body).want(t, tt.wantStatus, tt.wantCode)
			if tt.wantStatus == http.StatusUnauthorized && !strings.HasPrefix(got.header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("WWW-Authenticate = %q", got.header.Get("WWW-Authenticate"))
			}
		})
	}
	// The other tenant's list is its own.
	other := r.do(t, tokOtherOwner, http.MethodGet, "/v1.0/applications", nil).want(t, http.StatusOK, "")
	if n := len(other.values()); n != 0 {
		t.Fatalf("other tenant lists %d applications", n)
	}
	empty := r.do(t, "", http.MethodGet, "/v1.0/applications", nil)
	if empty.errorMessage() != "Access token is empty." {
		t.Errorf("message without a token = %q", empty.errorMessage())
	}
}
