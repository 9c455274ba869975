package attack

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/server"
)

// roleAssignmentsAPI is the api-version of the suite's role assignment calls.
const roleAssignmentsAPI = "?api-version=2022-04-01"

func testManagement(t *testing.T, s *suite, e *env, sc scenario) {
	list := e.subURL + "/resourcegroups?api-version=2021-04-01"
	t.Run("control: the admin's management token is accepted", func(t *testing.T) {
		t.Parallel()
		if res := e.armCall(t, e.adminToken(t), "GET", list, nil); res.status != http.StatusOK {
			t.Fatalf("%d %s", res.status, res.body)
		}
	})

	// Tokens that must not authenticate a management call: 401 with ARM's
	// challenge.
	other := s.start(t, server.Config{}) // another installation: another tenant, other keys
	forge := func(claims map[string]any, sign signer, alg string) string {
		return craft(t, map[string]any{"alg": alg, "typ": "JWT", "kid": "forged"}, claims, sign)
	}
	now := time.Now()
	stolen := payloadOf(t, e.adminToken(t)) // the admin's claims, to re-sign
	attacker := newRSA(t)
	unauthenticated := []struct {
		name  string
		token func(t *testing.T) string
	}{
		{name: "no token", token: func(*testing.T) string { return "" }},
		{name: "a Key Vault token of this tenant", token: func(t *testing.T) string { return mustToken(t, e.secretToken(t, vaultScope)) }},
		{name: "a Graph token of this tenant", token: func(t *testing.T) string {
			return mustToken(t, e.secretToken(t, "https://graph.microsoft.com/.default"))
		}},
		{name: "another tenant's token for a management audience", token: func(t *testing.T) string {
			return mustToken(t, other.secretToken(t, "https://management.azure.com/.default"))
		}},
		{name: "another tenant's token for its own management API", token: func(t *testing.T) string { return other.adminToken(t) }},
		{name: "the admin's claims re-signed by the attacker", token: func(t *testing.T) string { return forge(stolen, rs256(attacker), "RS256") }},
		{name: "the admin's claims with alg none", token: func(t *testing.T) string { return forge(stolen, nil, "none") }},
		{name: "the admin's claims HMAC-signed with the tenant's public key", token: func(t *testing.T) string {
			return forge(stolen, hs256(publicPEM(t, tenantKey(t, e))), "HS256")
		}},
		{name: "the admin's token with another tenant's tid", token: func(t *testing.T) string {
			h, _, sig := parts(t, e.adminToken(t))
			c := payloadOf(t, e.adminToken(t))
			c["tid"] = other.admin.TenantID
			return h + "." + segment(t, c) + "." + sig
		}},
		{name: "a cluster's service-account token", token: func(*testing.T) string { return sc.tokenA }},
		{name: "an expired token", token: func(t *testing.T) string {
			c := payloadOf(t, e.adminToken(t))
			c["exp"] = now.Add(-time.Hour).Unix()
			h, _, sig := parts(t, e.adminToken(t))
			return h + "." + segment(t, c) + "." + sig
		}},
	}
	for _, a := range unauthenticated {
		t.Run("401: "+a.name, func(t *testing.T) {
			t.Parallel()
			tok := a.token(t)
			if tok != "" {
				s.secret(tok, "a management token")
			}
			res := e.armCall(t, tok, "GET", list, nil)
			wantARMError(t, res, http.StatusUnauthorized, "AuthenticationFailed")
			if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer authorization_uri=") {
				t.Errorf("WWW-Authenticate %q", res.header.Get("WWW-Authenticate"))
			}
		})
	}

	// A managed identity that may manage identities in a resource group
	// cannot raise its own rights.
	e.call(t, "PUT", assignmentPath(sc.rgPath), roleAssignment(e, rbac.ManagedIdentityContributorID, sc.operatorPrincipal), http.StatusCreated)
	opToken := mustToken(t, e.exchangeFor(t, sc.operator, serviceAccountToken(t, e, sc.clusterA, "operator"), e.srv.URL+"/.default"))
	t.Run("control: the identity uses the role it has", func(t *testing.T) {
		t.Parallel()
		res := e.armCall(t, opToken, "PUT", sc.rgPath+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/made-by-operator"+apiVersion, map[string]any{"location": "eastus"})
		if res.status != http.StatusCreated {
			t.Fatalf("%d %s", res.status, res.body)
		}
	})
	opPath := sc.rgPath + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/operator"
	escalations := []struct {
		name   string
		method string
		path   string
		body   any
	}{
		{name: "Owner for itself on the resource group", method: "PUT", path: assignmentPath(sc.rgPath), body: roleAssignment(e, rbac.OwnerID, sc.operatorPrincipal)},
		{name: "Owner for itself on its own identity", method: "PUT", path: assignmentPath(opPath), body: roleAssignment(e, rbac.OwnerID, sc.operatorPrincipal)},
		{name: "Contributor for itself on the subscription", method: "PUT", path: assignmentPath(e.subURL), body: roleAssignment(e, rbac.ContributorID, sc.operatorPrincipal)},
		{name: "its own role again on the subscription", method: "PUT", path: assignmentPath(e.subURL), body: roleAssignment(e, rbac.ManagedIdentityContributorID, sc.operatorPrincipal)},
		{name: "Owner for another identity", method: "PUT", path: assignmentPath(sc.rgPath), body: roleAssignment(e, rbac.OwnerID, sc.victimPrincipal)},
		{name: "delete the admin's Owner assignment", method: "DELETE", path: adminAssignment(t, e)},
		{name: "a resource outside its resource group", method: "PUT", path: e.subURL + "/resourceGroups/rg-elsewhere?api-version=2021-04-01", body: map[string]any{"location": "eastus"}},
	}
	for _, a := range escalations {
		t.Run("403: "+a.name, func(t *testing.T) {
			t.Parallel()
			res := e.armCall(t, opToken, a.method, a.path, a.body)
			wantARMError(t, res, http.StatusForbidden, "AuthorizationFailed")
		})
	}
}

func mustToken(t *testing.T, res tokenResult) string {
	t.Helper()
	if res.accessToken == "" {
		t.Fatalf("no access token: %d %s", res.status, res.body)
	}
	return res.accessToken
}

func assignmentPath(scope string) string {
	return scope + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString() + roleAssignmentsAPI
}

func roleAssignment(e *env, roleID, principal string) map[string]any {
	return map[string]any{"properties": map[string]any{
		"roleDefinitionId": "/subscriptions/" + e.admin.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID,
		"principalId":      principal,
	}}
}

// adminAssignment is the path of the admin's Owner assignment on the
// subscription.
func adminAssignment(t *testing.T, e *env) string {
	t.Helper()
	res := e.call(t, "GET", e.subURL+"/providers/Microsoft.Authorization/roleAssignments"+roleAssignmentsAPI, nil, http.StatusOK)
	values, _ := res["value"].([]any)
	for _, v := range values {
		a, _ := v.(map[string]any)
		props, _ := a["properties"].(map[string]any)
		if strings.HasSuffix(strings.ToLower(props["roleDefinitionId"].(string)), rbac.OwnerID) && props["principalId"] != nil {
			return a["id"].(string) + roleAssignmentsAPI
		}
	}
	t.Fatalf("no Owner assignment on the subscription: %v", res)
	return ""
}

// tenantKey is the public key the tenant signs access tokens with.
func tenantKey(t *testing.T, e *env) any {
	t.Helper()
	res := e.armCall(t, "", "GET", "/"+e.admin.TenantID+"/discovery/v2.0/keys", nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(res.body, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("tenant keys: %d %s", res.status, res.body)
	}
	return set.Keys[0].Key
}
