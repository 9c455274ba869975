package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/graph"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

const (
	tenantID    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	otherTenant = "11111111-2222-4333-8444-555555555555"
	subID       = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	otherSubID  = "6a0e6c3c-8d63-4c57-9a57-3f5e1f7e2b11"
)

// Callers, by bearer token.
const (
	tokOwner       = "owner"        // service principal, Owner of the subscription
	tokContributor = "contributor"  // managed identity, Contributor of the subscription
	tokReader      = "reader"       // service principal, Reader of the subscription
	tokGroupOwner  = "group-owner"  // Owner of a resource group only
	tokNobody      = "nobody"       // no role assignment
	tokOtherOwner  = "other-owner"  // Owner of the other tenant's subscription
	tokBroken      = "broken-authn" // Authenticate fails internally
)

// principal object IDs.
const (
	ownerID       = "9d2c1b7e-5d0a-4f4e-9a55-1f0f5a9b1c01"
	contributorID = "8e0b7d3c-1a2b-4c3d-8e4f-5a6b7c8d9e01"
	readerID      = "7f1a2b3c-4d5e-4f60-8a7b-8c9d0e1f2a01"
	groupOwnerID  = "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c01"
	nobodyID      = "5b4c3d2e-1f0a-4b9c-8d7e-6f5a4b3c2d01"
	otherOwnerID  = "4c3d2e1f-0a9b-4c8d-9e6f-5a4b3c2d1e01"
	// identities that receive app roles
	ordersClientID = "3d2e1f0a-9b8c-4d7e-8f5a-4b3c2d1e0f01"
	otherTenantMI  = "2e1f0a9b-8c7d-4e6f-9a4b-3c2d1e0f9a01"
)

type rig struct {
	srv   *httptest.Server
	store store.Store
	now   time.Time
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "graph.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	callers := map[string]graph.Caller{
		tokOwner:       {ObjectID: ownerID, TenantID: tenantID},
		tokContributor: {ObjectID: contributorID, TenantID: tenantID},
		tokReader:      {ObjectID: readerID, TenantID: tenantID},
		tokGroupOwner:  {ObjectID: groupOwnerID, TenantID: tenantID},
		tokNobody:      {ObjectID: nobodyID, TenantID: tenantID},
		tokOtherOwner:  {ObjectID: otherOwnerID, TenantID: otherTenant},
	}
	h, err := graph.New(graph.Config{
		Store: st, PublicURL: "https://fedcred.test", Now: func() time.Time { return now },
		Authorizer:             rbac.Authorizer{Store: st},
		ReservedIdentifierURIs: []string{"https://graph.microsoft.com", "https://vault.azure.net"},
		Authenticate: func(r *http.Request) (graph.Caller, error) {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if tok == tokBroken {
				return graph.Caller{}, fmt.Errorf("keys unreadable")
			}
			c, found := callers[tok]
			if !ok || !found {
				return graph.Caller{}, fmt.Errorf("%w: bad token", graph.ErrUnauthenticated)
			}
			return c, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Route(http.NotFoundHandler()))
	t.Cleanup(srv.Close)

	assign := func(name, scope, principalID, role string) store.RoleAssignment {
		return store.RoleAssignment{Name: name, Scope: scope, PrincipalID: principalID, PrincipalType: "ServicePrincipal", TenantID: tenantID,
			RoleDefinitionID: "/subscriptions/" + subID + "/providers/" + store.RoleDefinitionType + "/" + role, CreatedAt: now}
	}
	sub := "/subscriptions/" + subID
	err = st.Update(ctx, func(tx store.Tx) error {
		for _, o := range []store.Object{
			store.Tenant{ID: tenantID, DisplayName: "Contoso"},
			store.Tenant{ID: otherTenant, DisplayName: "Fabrikam"},
			store.Subscription{ID: subID, TenantID: tenantID},
			store.Subscription{ID: otherSubID, TenantID: otherTenant},
			store.ServicePrincipal{ObjectID: ownerID, ClientID: "c0ffee00-0000-4000-8000-000000000001", TenantID: tenantID, DisplayName: "fedcred-admin"},
			store.ServicePrincipal{ObjectID: readerID, ClientID: "c0ffee00-0000-4000-8000-000000000002", TenantID: tenantID, DisplayName: "auditor"},
			store.Identity{SubscriptionID: subID, ResourceGroup: "rg", Name: "orders-client", TenantID: tenantID,
				ClientID: "c0ffee00-0000-4000-8000-000000000003", PrincipalID: ordersClientID},
			store.Identity{SubscriptionID: otherSubID, ResourceGroup: "rg", Name: "elsewhere", TenantID: otherTenant,
				ClientID: "c0ffee00-0000-4000-8000-000000000004", PrincipalID: otherTenantMI},
			assign("00000000-0000-4000-8000-00000000a001", sub, ownerID, rbac.OwnerID),
			assign("00000000-0000-4000-8000-00000000a002", sub, contributorID, rbac.ContributorID),
			assign("00000000-0000-4000-8000-00000000a003", sub, readerID, rbac.ReaderID),
			assign("00000000-0000-4000-8000-00000000a004", sub+"/resourceGroups/rg", groupOwnerID, rbac.OwnerID),
			assign("00000000-0000-4000-8000-00000000a005", "/subscriptions/"+otherSubID, otherOwnerID, rbac.OwnerID),
		} {
			if err := store.Create(ctx, tx, o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{srv: srv, store: st, now: now}
}

// reply is a decoded response.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r *rig) do(t *testing.T, token, method, path string, body any) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := reply{status: res.StatusCode, header: res.Header, raw: string(data)}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out.body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, data)
		}
	}
	return out
}

// want fails unless the reply has the status (and, for errors, the code).
func (p reply) want(t *testing.T, status int, code string) reply {
	t.Helper()
	if p.status != status {
		t.Fatalf("status = %d, want %d\n%s", p.status, status, p.raw)
	}
	if code != "" {
		if got := p.errorCode(); got != code {
			t.Fatalf("error code = %q, want %q\n%s", got, code, p.raw)
		}
	}
	return p
}

func (p reply) errorCode() string {
	e, _ := p.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (p reply) errorMessage() string {
	e, _ := p.body["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func (p reply) str(key string) string {
	s, _ := p.body[key].(string)
	return s
}

func (p reply) values() []map[string]any {
	list, _ := p.body["value"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, v := range list {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

// ordersApp is a typical resource application body.
func ordersApp(uris ...string) map[string]any {
	if len(uris) == 0 {
		uris = []string{"api://orders"}
	}
	return map[string]any{
		"displayName":    "orders",
		"identifierUris": uris,
		"appRoles": []map[string]any{
			{"value": "Orders.Read", "displayName": "Read orders", "description": "Read all orders",
				"allowedMemberTypes": []string{"Application"}, "isEnabled": true},
		},
	}
}

// createApp creates an application as the owner and returns its JSON.
func (r *rig) createApp(t *testing.T, body any) reply {
	t.Helper()
	return r.do(t, tokOwner, http.MethodPost, "/v1.0/applications", body).want(t, http.StatusCreated, "")
}
