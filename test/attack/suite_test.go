package attack

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/server"
)

// TestAttackSuite runs every attack against running servers, in parallel
// within each group, and then scans what the servers wrote.
//
//	go test ./test/attack -run 'TestAttackSuite/attacks/assertions/alg_none'
func TestAttackSuite(t *testing.T) {
	s := newSuite(t)
	target := s.start(t, server.Config{})
	sc := setUpScenario(t, target)
	t.Run("attacks", func(t *testing.T) {
		t.Run("assertions", func(t *testing.T) { t.Parallel(); testAssertions(t, target, sc) })
		t.Run("issuer fetching", func(t *testing.T) { t.Parallel(); testIssuerFetching(t, target, sc) })
		t.Run("hostile input", func(t *testing.T) { t.Parallel(); testHostileInput(t, target) })
		t.Run("rate limits", func(t *testing.T) { t.Parallel(); testRateLimits(t, s) })
		t.Run("management authorization", func(t *testing.T) { t.Parallel(); testManagement(t, s, target, sc) })
		t.Run("TLS", func(t *testing.T) { t.Parallel(); testTLS(t, target) })
		t.Run("secrets at rest", func(t *testing.T) { t.Parallel(); testSecretsAtRest(t, target) })
	})
	t.Run("nothing secret in logs or error bodies", func(t *testing.T) { testNoLeaks(t, s) })
}

// scenario is the target's setup: two clusters with issuers, a victim
// identity trusting cluster A's pets/ai-svc, and one trusting the remote
// issuer's subject.
type scenario struct {
	rgPath                      string
	issuerA, issuerB            string
	kidA, kidB                  string
	keyA                        any // cluster A's public key
	clusterA, clusterB          string
	victim, victimPrincipal     string // client and principal ID
	remoteVictim                string // client ID
	tokenA, tokenB              string // genuine pets/ai-svc tokens of A and B
	subject, remoteSubject      string
	operator, operatorPrincipal string // a managed identity given a role on the resource group
	operatorSubject             string
}

const apiVersion = "?api-version=2024-11-30"

func setUpScenario(t *testing.T, e *env) scenario {
	t.Helper()
	sc := scenario{subject: "system:serviceaccount:pets:ai-svc", remoteSubject: "repo:attack/victim:ref:refs/heads/main",
		operatorSubject: "system:serviceaccount:pets:operator"}
	sc.rgPath = e.subURL + "/resourceGroups/rg-attack"
	e.call(t, "PUT", sc.rgPath+"?api-version=2021-04-01", map[string]any{"location": "eastus"}, http.StatusCreated)
	cluster := func(name string) (path, issuer, kid string, key any) {
		path = sc.rgPath + "/providers/Microsoft.ContainerService/managedClusters/" + name
		e.call(t, "PUT", path+"?api-version=2025-01-01", map[string]any{
			"location": "eastus", "properties": map[string]any{"oidcIssuerProfile": map[string]any{"enabled": true}},
		}, http.StatusCreated)
		c := e.call(t, "GET", path+"?api-version=2025-01-01", nil, http.StatusOK)
		issuer, _ = c["properties"].(map[string]any)["oidcIssuerProfile"].(map[string]any)["issuerURL"].(string)
		res := e.armCall(t, "", "GET", issuer+"openid/v1/jwks", nil)
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(res.body, &set); err != nil || len(set.Keys) == 0 {
			t.Fatalf("JWKS of %s: %d %s", issuer, res.status, res.body)
		}
		return path, issuer, set.Keys[0].KeyID, set.Keys[0].Key
	}
	sc.clusterA, sc.issuerA, sc.kidA, sc.keyA = cluster("cluster-a")
	sc.clusterB, sc.issuerB, sc.kidB, _ = cluster("cluster-b")

	identity := func(name, issuer, subject string) (clientID, principalID string) {
		path := sc.rgPath + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
		id := e.call(t, "PUT", path+apiVersion, map[string]any{"location": "eastus"}, http.StatusCreated)
		props := id["properties"].(map[string]any)
		e.call(t, "PUT", path+"/federatedIdentityCredentials/trust"+apiVersion, map[string]any{"properties": map[string]any{
			"issuer": issuer, "subject": subject, "audiences": []string{exchangeAudience},
		}}, http.StatusCreated)
		return props["clientId"].(string), props["principalId"].(string)
	}
	sc.victim, sc.victimPrincipal = identity("victim", sc.issuerA, sc.subject)
	sc.remoteVictim, _ = identity("remote-victim", e.s.remoteIss.issuer("remote"), sc.remoteSubject)
	sc.operator, sc.operatorPrincipal = identity("operator", sc.issuerA, sc.operatorSubject)

	sc.tokenA = serviceAccountToken(t, e, sc.clusterA, "ai-svc")
	sc.tokenB = serviceAccountToken(t, e, sc.clusterB, "ai-svc")
	return sc
}

// serviceAccountToken mints cluster's token for pets/sa, as kubelet would
// project it.
func serviceAccountToken(t *testing.T, e *env, cluster, sa string) string {
	t.Helper()
	tr := e.call(t, "POST", cluster+"/api/v1/namespaces/pets/serviceaccounts/"+sa+"/token?api-version=2025-01-01", map[string]any{
		"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
		"spec": map[string]any{"audiences": []string{exchangeAudience}, "expirationSeconds": 3600},
	}, http.StatusCreated)
	tok, _ := tr["status"].(map[string]any)["token"].(string)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("token request answered without a token: %v", tr)
	}
	e.s.secret(tok, "a service-account token")
	return tok
}
