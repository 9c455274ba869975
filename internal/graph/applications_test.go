package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/store"
)

func TestApplications_Lifecycle(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	created := r.createApp(t, map[string]any{
		"displayName":    "orders",
		"identifierUris": []string{"api://orders"},
		"appRoles": []map[string]any{
			{"id": "5F3C1B2A-0000-4000-8000-00000000AB01", "value": "Orders.Read", "displayName": "Read orders",
				"description": "Read all orders", "allowedMemberTypes": []string{"Application"}, "isEnabled": true},
			{"value": "Orders.Write", "allowedMemberTypes": []string{"Application", "User"}},
		},
	})
	id, appID := created.str("id"), created.str("appId")
	if created.str("@odata.context") != "https://fedcred.test/v1.0/$metadata#applications/$entity" {
		t.Errorf("@odata.context = %q", created.str("@odata.context"))
	}
	if created.str("createdDateTime") != "2026-11-29T10:00:00Z" || created.str("displayName") != "orders" ||
		created.str("signInAudience") != "AzureADMyOrg" || id == "" || appID == "" || id == appID {
		t.Errorf("created application = %s", created.raw)
	}
	if got := created.body["identifierUris"]; !reflect.DeepEqual(got, []any{"api://orders"}) {
		t.Errorf("identifierUris = %v", got)
	}
	roles, _ := created.body["appRoles"].([]any)
	if len(roles) != 2 {
		t.Fatalf("appRoles = %v", created.body["appRoles"])
	}
	first, second := roles[0].(map[string]any), roles[1].(map[string]any)
	wantFirst := map[string]any{"id": "5f3c1b2a-0000-4000-8000-00000000ab01", "value": "Orders.Read", "displayName": "Read orders",
		"description": "Read all orders", "allowedMemberTypes": []any{"Application"}, "isEnabled": true, "origin": "Application"}
	if !reflect.DeepEqual(first, wantFirst) {
		t.Errorf("first role = %v, want %v", first, wantFirst)
	}
	if rid, _ := second["id"].(string); len(rid) != 36 || second["isEnabled"] != true || second["description"] != nil {
		t.Errorf("second role (generated id, enabled by default, null description) = %v", second)
	}

	// Read it back every way Graph addresses it.
	for _, path := range []string{
		"/v1.0/applications/" + id,
		"/v1.0/applications/" + strings.ToUpper(id),
		"/v1.0/applications(appId='" + appID + "')",
		"/v1.0/Applications(appId='" + appID + "')",
		"/v1.0/applications(appId=%27" + appID + "%27)",
	} {
		got := r.do(t, tokOwner, http.MethodGet, path, nil).want(t, http.StatusOK, "")
		if got.str("id") != id || got.str("appId") != appID {
			t.Errorf("GET %s = %s", path, got.raw)
		}
	}

	// Its service principal.
	var spID string
	err := r.store.View(context.Background(), func(tx store.Tx) error {
		a, err := store.Get[store.Application](context.Background(), tx, store.Application{TenantID: tenantID, ObjectID: id}.Key())
		spID = a.ServicePrincipalID
		return err
	})
	if err != nil || spID == "" || spID == id {
		t.Fatalf("stored service principal id = %q, %v", spID, err)
	}
	for _, path := range []string{"/v1.0/servicePrincipals/" + spID, "/v1.0/servicePrincipals(appId='" + appID + "')"} {
		sp := r.do(t, tokOwner, http.MethodGet, path, nil).want(t, http.StatusOK, "")
		if sp.str("id") != spID || sp.str("appId") != appID || sp.str("servicePrincipalType") != "Application" ||
			sp.str("appOwnerOrganizationId") != tenantID || sp.str("displayName") != "orders" {
			t.Errorf("GET %s = %s", path, sp.raw)
		}
		if got := sp.body["servicePrincipalNames"]; !reflect.DeepEqual(got, []any{appID, "api://orders"}) {
			t.Errorf("servicePrincipalNames = %v", got)
		}
	}
	r.do(t, tokOwner, http.MethodGet, "/v1.0/servicePrincipals/"+id, nil).want(t, http.StatusNotFound, "Request_ResourceNotFound")

	// PATCH replaces what it names and keeps the rest.
	r.do(t, tokOwner, http.MethodPatch, "/v1.0/applications/"+id, map[string]any{
		"displayName": "orders-api", "identifierUris": []string{"api://orders", "api://" + appID},
	}).want(t, http.StatusNoContent, "")
	got := r.do(t, tokOwner, http.MethodGet, "/v1.0/applications/"+id, nil).want(t, http.StatusOK, "")
	if got.str("displayName") != "orders-api" || !reflect.DeepEqual(got.body["identifierUris"], []any{"api://orders", "api://" + appID}) {
		t.Errorf("after PATCH = %s", got.raw)
	}
	if roles, _ := got.body["appRoles"].([]any); len(roles) != 2 {
		t.Errorf("PATCH without appRoles changed them: %v", got.body["appRoles"])
	}
	r.do(t, tokOwner, http.MethodPatch, "/v1.0/applications(appId='"+appID+"')", map[string]any{
		"appRoles": []map[string]any{{"id": "5f3c1b2a-0000-4000-8000-00000000ab01", "value": "Orders.Read", "allowedMemberTypes": []string{"Application"}}},
	}).want(t, http.StatusNoContent, "")
	got = r.do(t, tokOwner, http.MethodGet, "/v1.0/applications/"+id, nil)
	if roles, _ := got.body["appRoles"].([]any); len(roles) != 1 {
		t.Errorf("PATCH appRoles did not replace them: %v", got.body["appRoles"])
	}

	// DELETE, then it is gone everywhere.
	r.do(t, tokOwner, http.MethodDelete, "/v1.0/applications/"+id, nil).want(t, http.StatusNoContent, "")
	r.do(t, tokOwner, http.MethodGet, "/v1.0/applications/"+id, nil).want(t, http.StatusNotFound, "Request_ResourceNotFound")
	r.do(t, tokOwner, http.MethodGet, "/v1.0/servicePrincipals/"+spID, nil).want(t, http.StatusNotFound, "Request_ResourceNotFound")
	r.do(t, tokOwner, http.MethodDelete, "/v1.0/applications/"+id, nil).want(t, http.StatusNotFound, "Request_ResourceNotFound")
	// The identifier URI is free again.
	r.createApp(t, ordersApp())
}

func TestApplications_Validation(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	role := func(edit func(map[string]any)) map[string]any {
		m := map[string]any{"value": "Orders.Read", "displayName": "Read", "allowedMemberTypes": []string{"Application"}, "isEnabled": true}
		if edit != nil {
			edit(m)
		}
		return m
	}
	app := func(uris []string, roles ...map[string]any) map[string]any {
		if roles == nil {
			roles = []map[string]any{}
		}
		return map[string]any{"displayName": "x", "identifierUris": uris, "appRoles": roles}
	}
	manyURIs := make([]string, 51)
	for i := range manyURIs {
		manyURIs[i] = fmt.Sprintf("api://many-%d", i)
	}
	manyRoles := make([]map[string]any, 101)
	for i := range manyRoles {
		manyRoles[i] = role(func(m map[string]any) { m["value"] = fmt.Sprintf("Role.%d", i) })
	}
	tests := []struct {
		name        string
		body        any
		wantStatus  int
		wantCode    string
		wantMessage string // substring
	}{
		{name: "http scheme", body: app([]string{"http://orders.example"}), wantMessage: "scheme api, https or urn"},
		{name: "no scheme", body: app([]string{"orders"}), wantMessage: "scheme api, https or urn"},
		{name: "upper-case scheme", body: app([]string{"API://orders"}), wantMessage: "scheme api, https or urn"},
		{name: "ftp scheme", body: app([]string{"ftp://orders"}), wantMessage: "scheme api, https or urn"},
		{name: "api without host", body: app([]string{"api:orders"}), wantMessage: "with a host"},
		{name: "api with empty host", body: app([]string{"api:///orders"}), wantMessage: "with a host"},
		{name: "space", body: app([]string{"api://my orders"}), wantMessage: "space"},
		{name: "wildcard", body: app([]string{"api://*.orders"}), wantMessage: "wildcard"},
		{name: "query", body: app([]string{"https://orders.example/?x=1"}), wantMessage: "query"},
		{name: "fragment", body: app([]string{"https://orders.example/#x"}), wantMessage: "fragment"},
		{name: "user info", body: app([]string{"https://me@orders.example"}), wantMessage: "user information"},
		{name: "over 120 characters", body: app([]string{"api://" + strings.Repeat("o", 115)}), wantMessage: "at most 120 characters"},
		{name: "bad urn", body: app([]string{"urn:orders"}), wantMessage: "urn:<namespace>:<name>"},
		{name: "empty uri", body: app([]string{""}), wantMessage: "is empty"},
		{name: "another application's GUID", body: app([]string{"api://0b1f6471-1bf0-4dda-aec3-cb9272f09590"}), wantMessage: "neither this application's appId nor the tenant ID"},
		{name: "reserved built-in resource", body: app([]string{"https://graph.microsoft.com/"}), wantMessage: "verified domain"},
		{name: "listed twice modulo slash and case", body: app([]string{"api://orders", "api://Orders/"}), wantMessage: "listed twice"},
		{name: "too many identifier URIs", body: app(manyURIs), wantMessage: "at most 50 identifier URIs"},
		{name: "role without value", body: app(nil, role(func(m map[string]any) { delete(m, "value") })), wantMessage: "needs a value"},
		{name: "role value with a space", body: app(nil, role(func(m map[string]any) { m["value"] = "Orders Read" })), wantMessage: "space or a character"},
		{name: "role value with a quote", body: app(nil, role(func(m map[string]any) { m["value"] = `Orders"Read` })), wantMessage: "space or a character"},
		{name: "role value with a leading dot", body: app(nil, role(func(m map[string]any) { m["value"] = ".Orders" })), wantMessage: "begins with a dot"},
		{name: "role value over 120 characters", body: app(nil, role(func(m map[string]any) { m["value"] = strings.Repeat("r", 121) })), wantMessage: "at most 120"},
		{name: "role values equal ignoring case", body: app(nil, role(nil), role(func(m map[string]any) { m["value"] = "orders.read" })), wantMessage: "already used by another app role"},
		{name: "role id not a GUID", body: app(nil, role(func(m map[string]any) { m["id"] = "role-1" })), wantMessage: "not a GUID"},
		{name: "role ids equal", body: app(nil,
			role(func(m map[string]any) { m["id"] = "5f3c1b2a-0000-4000-8000-00000000ab01" }),
			role(func(m map[string]any) { m["id"] = "5F3C1B2A-0000-4000-8000-00000000AB01"; m["value"] = "Other" })), wantMessage: "used twice"},
		{name: "role without member types", body: app(nil, role(func(m map[string]any) { m["allowedMemberTypes"] = []string{} })), wantMessage: "at least one"},
		{name: "role with an unknown member type", body: app(nil, role(func(m map[string]any) { m["allowedMemberTypes"] = []string{"Group"} })), wantMessage: "not Application or User"},
		{name: "role with member type in other case", body: app(nil, role(func(m map[string]any) { m["allowedMemberTypes"] = []string{"application"} })), wantMessage: "not Application or User"},
		{name: "role origin other than Application", body: app(nil, role(func(m map[string]any) { m["origin"] = "ServicePrincipal" })), wantMessage: "origin is read-only"},
		{name: "too many roles", body: app(nil, manyRoles...), wantMessage: "at most 100 app roles"},
		{name: "unknown property", body: map[string]any{"displayName": "x", "web": map[string]any{}}, wantMessage: `"web"`},
		{name: "unknown role property", body: app(nil, role(func(m map[string]any) { m["color"] = "red" })), wantMessage: `"color"`},
		{name: "no display name", body: map[string]any{"identifierUris": []string{"api://x"}}, wantMessage: "displayName is required"},
		{name: "blank display name", body: map[string]any{"displayName": "  "}, wantMessage: "must not be empty"},
		{name: "multi-tenant sign-in audience", body: map[string]any{"displayName": "x", "signInAudience": "AzureADMultipleOrgs"}, wantMessage: "AzureADMyOrg"},
		{name: "malformed JSON", body: `{"displayName":`, wantMessage: "Unable to read JSON request payload"},
		{name: "trailing data", body: `{"displayName":"x"} {}`, wantMessage: "Unable to read JSON request payload"},
		{name: "body over the cap", body: `{"displayName":"` + strings.Repeat("x", 300<<10) + `"}`, wantStatus: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, code := tt.wantStatus, tt.wantCode
			if status == 0 {
				status, code = http.StatusBadRequest, "Request_BadRequest"
			}
			got := r.do(t, tokOwner, http.MethodPost, "/v1.0/applications", tt.body).want(t, status, code)
			if !strings.Contains(got.errorMessage(), tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", got.errorMessage(), tt.wantMessage)
			}
		})
	}
	// Nothing was created by any of them.
	list := r.do(t, tokOwner, http.MethodGet, "/v1.0/applications", nil).want(t, http.StatusOK, "")
	if n := len(list.values()); n != 0 {
		t.Fatalf("%d applications exist after refused creations", n)
	}

	t.Run("api URI naming the app's own appId or the tenant", func(t *testing.T) {
		t.Parallel()
		a := r.createApp(t, map[string]any{"displayName": "own", "identifierUris": []string{"api://" + tenantID + "/own", "urn:fedcred:own", "https://own.example/api"}})
		r.do(t, tokOwner, http.MethodPatch, "/v1.0/applications/"+a.str("id"), map[string]any{
			"identifierUris": []string{"api://" + strings.ToUpper(a.str("appId"))}}).want(t, http.StatusNoContent, "")
	})
}

func TestApplications_IdentifierURIsUniqueInTenant(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	first := r.createApp(t, ordersApp("api://orders"))
	dup := "Another object with the same value for property identifierUris already exists."
	for _, uri := range []string{"api://orders", "api://orders/", "api://ORDERS"} {
		got := r.do(t, tokOwner, http.MethodPost, "/v1.0/applications", ordersApp(uri)).want(t, http.StatusBadRequest, "Request_BadRequest")
		if got.errorMessage() != dup {
			t.Errorf("POST %s: message = %q, want %q", uri, got.errorMessage(), dup)
		}
	}
	// Another tenant has its own namespace.
	r.do(t, tokOtherOwner, http.MethodPost, "/v1.0/applications", ordersApp("api://orders")).want(t, http.StatusCreated, "")

	second := r.createApp(t, ordersApp("api://payments"))
	got := r.do(t, tokOwner, http.MethodPatch, "/v1.0/applications/"+second.str("id"),
		map[string]any{"identifierUris": []string{"api://payments", "api://orders/"}}).want(t, http.StatusBadRequest, "Request_BadRequest")
	if got.errorMessage() != dup {
		t.Errorf("PATCH: message = %q, want %q", got.errorMessage(), dup)
	}
	// Keeping its own URIs is no conflict.
	r.do(t, tokOwner, http.MethodPatch, "/v1.0/applications/"+first.str("id"),
		map[string]any{"identifierUris": []string{"api://orders", "api://orders-v2"}}).want(t, http.StatusNoContent, "")
	r.do(t, tokOwner, http.MethodPatch, "/v1.0/applications/"+first.str("id"),
		map[string]any{"identifierUris": []string{"https://orders.example/"}}).want(t, http.StatusNoContent, "")
	// The freed URI can be taken now.
	r.do(t, tokOwner, http.MethodPatch, "/v1.0/applications/"+second.str("id"),
		map[string]any{"identifierUris": []string{"api://orders"}}).want(t, http.StatusNoContent, "")
}

func TestApplications_ListAndFilter(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	orders := r.createApp(t, ordersApp("api://orders", "https://orders.example/api"))
	payments := r.createApp(t, map[string]any{"displayName": "Payments", "identifierUris": []string{"api://payments"}})
	r.createApp(t, map[string]any{"displayName": "payroll"})
	r.do(t, tokOtherOwner, http.MethodPost, "/v1.0/applications", map[string]any{"displayName": "orders"}).want(t, http.StatusCreated, "")

	tests := []struct {
		name   string
		filter string
		want   []string // display names, in any order
	}{
		{name: "no filter lists the tenant's applications", filter: "", want: []string{"orders", "Payments", "payroll"}},
		{name: "appId eq", filter: "appId eq '" + orders.str("appId") + "'", want: []string{"orders"}},
		{name: "appId eq ignores case", filter: "appId eq '" + strings.ToUpper(payments.str("appId")) + "'", want: []string{"Payments"}},
		{name: "id eq", filter: "id eq '" + payments.str("id") + "'", want: []string{"Payments"}},
		{name: "identifierUris any", filter: "identifierUris/any(x:x eq 'api://orders')", want: []string{"orders"}},
		{name: "identifierUris any, other variable name", filter: "identifierUris/any(c: c eq 'https://orders.example/api')", want: []string{"orders"}},
		{name: "identifierUris any, no match", filter: "identifierUris/any(x:x eq 'api://nothing')", want: nil},
		{name: "displayName eq", filter: "displayName eq 'payments'", want: []string{"Payments"}},
		{name: "startswith", filter: "startswith(displayName,'pay')", want: []string{"Payments", "payroll"}},
		{name: "and", filter: "startswith(displayName,'pay') and identifierUris/any(x:x eq 'api://payments')", want: []string{"Payments"}},
		{name: "parentheses", filter: "(displayName eq 'orders') and (appId eq '" + orders.str("appId") + "')", want: []string{"orders"}},
		{name: "quote escaped in a literal", filter: "displayName eq 'o''rders'", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := r.do(t, tokOwner, http.MethodGet, "/v1.0/applications?$filter="+url.QueryEscape(tt.filter), nil).want(t, http.StatusOK, "")
			var names []string
			for _, v := range got.values() {
				names = append(names, v["displayName"].(string))
			}
			if !sameSet(names, tt.want) {
				t.Errorf("filter %q = %v, want %v", tt.filter, names, tt.want)
			}
			if got.str("@odata.context") != "https://fedcred.test/v1.0/$metadata#applications" {
				t.Errorf("@odata.context = %q", got.str("@odata.context"))
			}
		})
	}

	refused := []struct {
		name   string
		filter string
		code   string
	}{
		{name: "unsupported property", filter: "signInAudience eq 'x'", code: "Request_UnsupportedQuery"},
		{name: "any on a scalar", filter: "displayName/any(x:x eq 'x')", code: "Request_UnsupportedQuery"},
		{name: "or is not supported", filter: "displayName eq 'a' or displayName eq 'b'", code: "BadRequest"},
		{name: "ne is not supported", filter: "displayName ne 'a'", code: "BadRequest"},
		{name: "unterminated literal", filter: "displayName eq 'a", code: "BadRequest"},
		{name: "missing literal", filter: "displayName eq", code: "BadRequest"},
		{name: "mismatched lambda variable", filter: "identifierUris/any(x:y eq 'a')", code: "BadRequest"},
		{name: "unbalanced parenthesis", filter: "(displayName eq 'a'", code: "BadRequest"},
		{name: "stray character", filter: "displayName eq 'a' ;", code: "BadRequest"},
		{name: "too deep", filter: strings.Repeat("(", 40) + "displayName eq 'a'" + strings.Repeat(")", 40), code: "BadRequest"},
		{name: "too long", filter: "displayName eq '" + strings.Repeat("a", 3000) + "'", code: "BadRequest"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r.do(t, tokOwner, http.MethodGet, "/v1.0/applications?$filter="+url.QueryEscape(tt.filter), nil).want(t, http.StatusBadRequest, tt.code)
		})
	}

	t.Run("service principals filter", func(t *testing.T) {
		t.Parallel()
		for filter, want := range map[string][]string{
			"servicePrincipalNames/any(x:x eq 'api://orders')":                {"orders"},
			"servicePrincipalNames/any(x:x eq '" + orders.str("appId") + "')": {"orders"},
			"appId eq '" + payments.str("appId") + "'":                        {"Payments"},
			"": {"orders", "Payments", "payroll"},
		} {
			got := r.do(t, tokOwner, http.MethodGet, "/v1.0/servicePrincipals?$filter="+url.QueryEscape(filter), nil).want(t, http.StatusOK, "")
			var names []string
			for _, v := range got.values() {
				names = append(names, v["displayName"].(string))
			}
			if !sameSet(names, want) {
				t.Errorf("filter %q = %v, want %v", filter, names, want)
			}
		}
		r.do(t, tokOwner, http.MethodGet, "/v1.0/servicePrincipals?$filter="+url.QueryEscape("identifierUris/any(x:x eq 'a')"), nil).
			want(t, http.StatusBadRequest, "Request_UnsupportedQuery")
	})
}

func TestApplications_Paging(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for i := range 5 {
		r.createApp(t, map[string]any{"displayName": fmt.Sprintf("app-%d", i)})
	}
	seen := map[string]bool{}
	next := "/v1.0/applications?$top=2"
	pages := 0
	for next != "" {
		pages++
		got := r.do(t, tokOwner, http.MethodGet, next, nil).want(t, http.StatusOK, "")
		if n := len(got.values()); n > 2 || n == 0 {
			t.Fatalf("page %d has %d items", pages, n)
		}
		for _, v := range got.values() {
			if seen[v["id"].(string)] {
				t.Fatalf("application %s listed twice", v["id"])
			}
			seen[v["id"].(string)] = true
		}
		link := got.str("@odata.nextLink")
		if link == "" {
			break
		}
		if !strings.HasPrefix(link, "https://fedcred.test/v1.0/applications?") {
			t.Fatalf("nextLink = %q", link)
		}
		next = strings.TrimPrefix(link, "https://fedcred.test")
	}
	if len(seen) != 5 || pages != 3 {
		t.Fatalf("saw %d applications in %d pages, want 5 in 3", len(seen), pages)
	}
	for _, top := range []string{"0", "1000", "x"} {
		r.do(t, tokOwner, http.MethodGet, "/v1.0/applications?$top="+top, nil).want(t, http.StatusBadRequest, "Request_BadRequest")
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	app := r.createApp(t, ordersApp())
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantCode   string
	}{
		{name: "unknown entity set", method: http.MethodGet, path: "/v1.0/users", wantStatus: http.StatusBadRequest, wantCode: "BadRequest"},
		{name: "unknown navigation", method: http.MethodGet, path: "/v1.0/applications/" + app.str("id") + "/owners", wantStatus: http.StatusBadRequest, wantCode: "BadRequest"},
		{name: "assignments on an application", method: http.MethodGet, path: "/v1.0/applications/" + app.str("id") + "/appRoleAssignedTo", wantStatus: http.StatusBadRequest, wantCode: "BadRequest"},
		{name: "too deep", method: http.MethodGet, path: "/v1.0/servicePrincipals/" + app.str("id") + "/appRoleAssignedTo/x/y", wantStatus: http.StatusBadRequest, wantCode: "BadRequest"},
		{name: "key other than appId", method: http.MethodGet, path: "/v1.0/applications(displayName='orders')", wantStatus: http.StatusBadRequest, wantCode: "BadRequest"},
		{name: "unquoted key", method: http.MethodGet, path: "/v1.0/applications(appId=" + app.str("appId") + ")", wantStatus: http.StatusBadRequest, wantCode: "BadRequest"},
		{name: "object id not a GUID", method: http.MethodGet, path: "/v1.0/applications/orders", wantStatus: http.StatusBadRequest, wantCode: "Request_BadRequest"},
		{name: "unknown object id", method: http.MethodGet, path: "/v1.0/applications/00000000-0000-4000-8000-000000000000", wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
		{name: "unknown appId", method: http.MethodGet, path: "/v1.0/applications(appId='00000000-0000-4000-8000-000000000000')", wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
		{name: "appId not a GUID", method: http.MethodGet, path: "/v1.0/applications(appId='orders')", wantStatus: http.StatusNotFound, wantCode: "Request_ResourceNotFound"},
		{name: "PUT on an application", method: http.MethodPut, path: "/v1.0/applications/" + app.str("id"), wantStatus: http.StatusMethodNotAllowed, wantCode: "Request_BadRequest"},
		{name: "DELETE on the collection", method: http.MethodDelete, path: "/v1.0/applications", wantStatus: http.StatusMethodNotAllowed, wantCode: "Request_BadRequest"},
		{name: "POST service principal", method: http.MethodPost, path: "/v1.0/servicePrincipals", wantStatus: http.StatusMethodNotAllowed, wantCode: "Request_BadRequest"},
		{name: "trailing slash", method: http.MethodGet, path: "/v1.0/applications/", wantStatus: http.StatusOK},
		{name: "case-insensitive segments", method: http.MethodGet, path: "/v1.0/APPLICATIONS/" + app.str("id"), wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r.do(t, tokOwner, tt.method, tt.path, nil).want(t, tt.wantStatus, tt.wantCode)
		})
	}

	t.Run("error body shape", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequest(http.MethodGet, r.srv.URL+"/v1.0/applications/00000000-0000-4000-8000-000000000000", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tokOwner)
		req.Header.Set("client-request-id", "b5b7b2c1-7d55-4b8e-8e2e-1d0b8f0f0a11")
		res, err := r.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			Error struct {
				Code       string            `json:"code"`
				Message    string            `json:"message"`
				InnerError map[string]string `json:"innerError"`
			} `json:"error"`
		}
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		inner := body.Error.InnerError
		if inner["request-id"] == "" || inner["request-id"] != res.Header.Get("request-id") ||
			inner["client-request-id"] != "b5b7b2c1-7d55-4b8e-8e2e-1d0b8f0f0a11" || res.Header.Get("client-request-id") != inner["client-request-id"] ||
			inner["date"] != "2026-11-29T10:00:00" {
			t.Errorf("innerError = %v, headers request-id %q client-request-id %q", inner, res.Header.Get("request-id"), res.Header.Get("client-request-id"))
		}
		if want := "Resource '00000000-0000-4000-8000-000000000000' does not exist or one of its queried reference-property objects are not present."; body.Error.Message != want {
			t.Errorf("message = %q, want %q", body.Error.Message, want)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q", ct)
		}
	})

	t.Run("other paths go to the next handler", func(t *testing.T) {
		t.Parallel()
		res, err := r.srv.Client().Get(r.srv.URL + "/v1.0")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || res.Header.Get("request-id") != "" {
			t.Errorf("GET /v1.0 = %d (request-id %q), want the next handler's 404", res.StatusCode, res.Header.Get("request-id"))
		}
	})
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	m := map[string]int{}
	for _, g := range got {
		m[g]++
	}
	for _, w := range want {
		if m[w] == 0 {
			return false
		}
		m[w]--
	}
	return true
}
