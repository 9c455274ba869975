package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/uuid"
)

// Built-in role GUIDs, as Azure spells them.
const (
	keyVaultSecretsOfficer = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
	keyVaultSecretsUser    = "4633458b-17de-408a-b874-0445c86b69e6"
)

// createVault creates a vault and returns its data-plane URL.
func (e *env) createVault(name string) (id, uri string) {
	e.t.Helper()
	path := e.subURL + "/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/" + name + "?api-version=2023-07-01"
	v := e.call("PUT", path, map[string]any{"location": "eastus", "properties": map[string]any{
		"tenantId": e.admin.TenantID, "sku": map[string]any{"family": "A", "name": "standard"}, "enableRbacAuthorization": true,
	}}, http.StatusCreated)
	uri, _ = v["properties"].(map[string]any)["vaultUri"].(string)
	if uri == "" {
		e.t.Fatalf("vault without vaultUri: %v", v)
	}
	return v["id"].(string), uri
}

// assignRole grants roleID to principalID at scope.
func (e *env) assignRole(scope, roleID, principalID string) {
	e.t.Helper()
	e.call("PUT", e.srv.URL+scope+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01",
		map[string]any{"properties": map[string]any{
			"roleDefinitionId": "/subscriptions/" + e.admin.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID,
			"principalId":      principalID, "principalType": "ServicePrincipal",
		}}, http.StatusCreated)
}

// adminObjectID reads the admin principal's object ID from its token.
func (e *env) adminObjectID() string {
	e.t.Helper()
	tok, err := e.mgmt.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{e.srv.URL + "/.default"}})
	if err != nil {
		e.t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok.Token, ".")[1])
	if err != nil {
		e.t.Fatal(err)
	}
	var c struct {
		OID string `json:"oid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.OID == "" {
		e.t.Fatalf("admin token has no oid: %v", err)
	}
	return c.OID
}

func (e *env) secretsClient(uri string, cred azcore.TokenCredential) *azsecrets.Client {
	e.t.Helper()
	c, err := azsecrets.NewClient(uri, cred, &azsecrets.ClientOptions{
		ClientOptions: azcore.ClientOptions{Transport: e.http},
		// The vault is served at <server>/vaults/<name>/, not on a
		// *.vault.azure.net host, so the SDK's host check does not apply.
		DisableChallengeResourceVerification: true,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestWorkloadReadsSecretWithItsRole: a workload holding only its
// service-account token reads a secret from a vault where it is "Key Vault
// Secrets User", with the unmodified Azure SDK, and is refused by a vault
// where it has no role.
func TestWorkloadReadsSecretWithItsRole(t *testing.T) {
	t.Parallel()
	e := start(t)
	s := e.setUp()
	ctx := context.Background()

	kv1ID, kv1 := e.createVault("pets-kv")
	kv2ID, kv2 := e.createVault("other-kv")
	admin := e.adminObjectID()
	for _, id := range []string{kv1ID, kv2ID} {
		e.assignRole(id, keyVaultSecretsOfficer, admin)
		if _, err := e.secretsClient(map[string]string{kv1ID: kv1, kv2ID: kv2}[id], e.mgmt).SetSecret(ctx, "openai-key",
			azsecrets.SetSecretParameters{Value: ptr("sk-" + id[len(id)-8:])}, nil); err != nil {
			t.Fatalf("admin sets a secret: %v", err)
		}
	}
	e.assignRole(kv1ID, keyVaultSecretsUser, s.principalID)

	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: e.clientOptions(), ClientID: s.clientID, TenantID: e.admin.TenantID,
		TokenFilePath: e.serviceAccountToken(s, "pets", "ai-svc"), DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.secretsClient(kv1, cred).GetSecret(ctx, "openai-key", "", nil)
	if err != nil {
		t.Fatalf("workload reads its secret: %v", err)
	}
	if got.Value == nil || *got.Value != "sk-"+kv1ID[len(kv1ID)-8:] {
		t.Fatalf("secret value = %v", got.Value)
	}

	_, err = e.secretsClient(kv2, cred).GetSecret(ctx, "openai-key", "", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || re.ErrorCode != "Forbidden" {
		t.Fatalf("reading a vault without a role = %v, want 403 Forbidden", err)
	}
	// The role does not let it write, either.
	_, err = e.secretsClient(kv1, cred).SetSecret(ctx, "openai-key", azsecrets.SetSecretParameters{Value: ptr("x")}, nil)
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Fatalf("Secrets User writing a secret = %v, want 403", err)
	}
}

func ptr[T any](v T) *T { return &v }
