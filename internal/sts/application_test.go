package sts_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/store"
)

// Role IDs of the orders application.
const (
	ordersRead     = "5f3c1b2a-0000-4000-8000-00000000ab01"
	ordersWrite    = "5f3c1b2a-0000-4000-8000-00000000ab02"
	ordersApprove  = "5f3c1b2a-0000-4000-8000-00000000ab03" // users only
	ordersLegacy   = "5f3c1b2a-0000-4000-8000-00000000ab04" // disabled
	ordersAppID    = "a0a0a0a0-1111-4222-8333-444455556601"
	ordersSP       = "a0a0a0a0-1111-4222-8333-444455556602"
	foreignAppID   = "b0b0b0b0-1111-4222-8333-444455556601"
	shadowAppID    = "c0c0c0c0-1111-4222-8333-444455556601"
	ordersSubject  = "system:serviceaccount:shop:orders-client"
	strangerSubjct = "system:serviceaccount:shop:stranger"
)

// registerOrders stores api://orders with its roles, an application of the
// other tenant, and an application that claims a built-in resource's URI
// (which the Graph API refuses, but the token service must not honour
// either).
func (r *rig) registerOrders(t *testing.T) store.Application {
	t.Helper()
	app := store.Application{TenantID: tenantID, ObjectID: "a0a0a0a0-1111-4222-8333-444455556600", AppID: ordersAppID,
		ServicePrincipalID: ordersSP, DisplayName: "orders",
		IdentifierURIs: []string{"api://orders", "https://orders.contoso.example/api/"},
		AppRoles: []store.AppRole{
			{ID: ordersWrite, Value: "Orders.Write", AllowedMemberTypes: []string{"Application", "User"}, IsEnabled: true},
			{ID: ordersRead, Value: "Orders.Read", AllowedMemberTypes: []string{"Application"}, IsEnabled: true},
			{ID: ordersApprove, Value: "Orders.Approve", AllowedMemberTypes: []string{"User"}, IsEnabled: true},
			{ID: ordersLegacy, Value: "Orders.Legacy", AllowedMemberTypes: []string{"Application"}, IsEnabled: false},
		}}
	foreign := store.Application{TenantID: otherTenant, ObjectID: "b0b0b0b0-1111-4222-8333-444455556600", AppID: foreignAppID,
		ServicePrincipalID: "b0b0b0b0-1111-4222-8333-444455556602", DisplayName: "elsewhere", IdentifierURIs: []string{"api://elsewhere"}}
	shadow := store.Application{TenantID: tenantID, ObjectID: "c0c0c0c0-1111-4222-8333-444455556600", AppID: shadowAppID,
		ServicePrincipalID: "c0c0c0c0-1111-4222-8333-444455556602", DisplayName: "shadow", IdentifierURIs: []string{"https://vault.azure.net"},
		AppRoles: []store.AppRole{{ID: ordersRead, Value: "Vault.Everything", AllowedMemberTypes: []string{"Application"}, IsEnabled: true}}}
	r.put(t, app, foreign, shadow)
	return app
}

func (r *rig) put(t *testing.T, objs ...store.Object) {
	t.Helper()
	ctx := context.Background()
	err := r.store.Update(ctx, func(tx store.Tx) error {
		for _, o := range objs {
			if err := store.Put(ctx, tx, o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func grant(id, principal, resourceSP, role string) store.AppRoleAssignment {
	return store.AppRoleAssignment{ID: id, TenantID: tenantID, PrincipalID: principal, PrincipalType: "ServicePrincipal",
		ResourceID: resourceSP, AppRoleID: role}
}

// rawClaims decodes the payload of a token without verifying it, to see
// which members are present.
func rawClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestToken_ApplicationResource(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	app := r.registerOrders(t)
	client := r.identity(t, tenantID, "orders-client", fic("orders-client", r.issURL, ordersSubject))
	stranger := r.identity(t, tenantID, "stranger", fic("stranger", r.issURL, strangerSubjct))
	r.put(t,
		grant("g-write", client.PrincipalID, app.ServicePrincipalID, ordersWrite),
		grant("g-read", client.PrincipalID, app.ServicePrincipalID, strings.ToUpper(ordersRead)),
		grant("g-approve", client.PrincipalID, app.ServicePrincipalID, ordersApprove), // not for applications: ignored
		grant("g-legacy", client.PrincipalID, app.ServicePrincipalID, ordersLegacy),   // disabled: ignored
		grant("g-sp", r.sp.ObjectID, app.ServicePrincipalID, ordersRead),
		grant("g-shadow", client.PrincipalID, "c0c0c0c0-1111-4222-8333-444455556602", ordersRead),
	)
	sa := r.saToken(t, "shop", "orders-client")
	strangerSA := r.saToken(t, "shop", "stranger")
	set := r.tenantKeys(t)
	both := []string{"Orders.Read", "Orders.Write"}

	tests := []struct {
		name      string
		path      string
		form      url.Values
		wantAud   string
		wantRoles []string // nil: no roles claim at all
	}{
		{name: "identifier URI", path: v2Path, form: with(assertionForm(client.ClientID, sa), "scope", "api://orders/.default"),
			wantAud: "api://orders", wantRoles: both},
		{name: "identifier URI with a trailing slash", path: v2Path, form: with(assertionForm(client.ClientID, sa), "scope", "api://orders//.default"),
			wantAud: "api://orders/", wantRoles: both},
		{name: "https identifier URI registered with a trailing slash", path: v2Path,
			form:    with(assertionForm(client.ClientID, sa), "scope", "https://orders.contoso.example/api/.default"),
			wantAud: "https://orders.contoso.example/api", wantRoles: both},
		{name: "application ID", path: v2Path, form: with(assertionForm(client.ClientID, sa), "scope", ordersAppID+"/.default"),
			wantAud: ordersAppID, wantRoles: both},
		{name: "api:// and the application ID", path: v2Path, form: with(assertionForm(client.ClientID, sa), "scope", "api://"+strings.ToUpper(ordersAppID)+"/.default"),
			wantAud: "api://" + strings.ToUpper(ordersAppID), wantRoles: both},
		{name: "v1 resource", path: v1Path, form: with(with(assertionForm(client.ClientID, sa), "scope"), "resource", "api://orders"),
			wantAud: "api://orders", wantRoles: both},
		{name: "identity without assignments", path: v2Path, form: with(assertionForm(stranger.ClientID, strangerSA), "scope", "api://orders/.default"),
			wantAud: "api://orders"},
		{name: "service principal with an assignment", path: v2Path, form: with(secretForm(r.sp.ClientID, spSecret), "scope", "api://orders/.default"),
			wantAud: "api://orders", wantRoles: []string{"Orders.Read"}},
		{name: "built-in resource wins over an application claiming it", path: v2Path, form: assertionForm(client.ClientID, sa),
			wantAud: "https://vault.azure.net"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := r.post(t, tt.path, tt.form)
			if resp.status != http.StatusOK {
				t.Fatalf("status = %d\n%s", resp.status, resp.raw)
			}
			c := verifyAccessToken(t, resp.str("access_token"), set)
			if c.Audience != tt.wantAud || !reflect.DeepEqual(c.Roles, tt.wantRoles) {
				t.Errorf("aud, roles = %q, %v; want %q, %v", c.Audience, c.Roles, tt.wantAud, tt.wantRoles)
			}
			if _, has := rawClaims(t, resp.str("access_token"))["roles"]; has != (tt.wantRoles != nil) {
				t.Errorf("roles claim present = %v, want %v", has, tt.wantRoles != nil)
			}
		})
	}

	unknown := []struct {
		name     string
		resource string
	}{
		{name: "unregistered api URI", resource: "api://unregistered"},
		{name: "identifier URI in another case", resource: "api://Orders"},
		{name: "identifier URI with two trailing slashes", resource: "api://orders//"},
		{name: "identifier URI prefix", resource: "api://order"},
		{name: "identifier URI with a suffix", resource: "api://orders/read"},
		{name: "another tenant's identifier URI", resource: "api://elsewhere"},
		{name: "another tenant's application ID", resource: foreignAppID},
		{name: "another tenant's application ID with api://", resource: "api://" + foreignAppID},
		{name: "unregistered application ID", resource: "api://d0d0d0d0-1111-4222-8333-444455556601"},
		{name: "an application's service principal ID", resource: ordersSP},
	}
	for _, tt := range unknown {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := r.post(t, v2Path, with(assertionForm(client.ClientID, sa), "scope", tt.resource+"/.default"))
			if resp.status != http.StatusBadRequest || resp.str("error") != "invalid_resource" ||
				!strings.HasPrefix(resp.str("error_description"), "AADSTS500011: The resource principal named "+tt.resource+" was not found in the tenant named Contoso.") {
				t.Fatalf("status %d\n%s", resp.status, resp.raw)
			}
		})
	}
}

func TestToken_ApplicationRolesFollowAssignments(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	app := r.registerOrders(t)
	client := r.identity(t, tenantID, "orders-client", fic("orders-client", r.issURL, ordersSubject))
	sa := r.saToken(t, "shop", "orders-client")
	set := r.tenantKeys(t)
	roles := func() []string {
		t.Helper()
		resp := r.post(t, v2Path, with(assertionForm(client.ClientID, sa), "scope", "api://orders/.default"))
		if resp.status != http.StatusOK {
			t.Fatalf("status = %d\n%s", resp.status, resp.raw)
		}
		return verifyAccessToken(t, resp.str("access_token"), set).Roles
	}
	if got := roles(); got != nil {
		t.Fatalf("roles before any assignment = %v", got)
	}
	a := grant("g-read", client.PrincipalID, app.ServicePrincipalID, ordersRead)
	r.put(t, a)
	if got := roles(); !reflect.DeepEqual(got, []string{"Orders.Read"}) {
		t.Fatalf("roles right after the assignment = %v", got)
	}
	ctx := context.Background()
	if err := r.store.Update(ctx, func(tx store.Tx) error { return store.Delete[store.AppRoleAssignment](ctx, tx, a.Key()) }); err != nil {
		t.Fatal(err)
	}
	if got := roles(); got != nil {
		t.Fatalf("roles right after the assignment was deleted = %v", got)
	}
}
