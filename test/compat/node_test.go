package compat

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestNode runs test/compat/node/compat.js with the npm packages pinned in
// test/compat/node/package-lock.json: @azure/identity's
// WorkloadIdentityCredential and DefaultAzureCredential (configured, and
// unmodified through the login proxy), @azure/arm-msi and
// @azure/keyvault-secrets.
func TestNode(t *testing.T) {
	t.Parallel()
	node := requireTool(t, "node", "apt-get install nodejs npm")
	if _, err := os.Stat(filepath.Join("node", "node_modules", "@azure", "identity")); err != nil {
		requireTool(t, "node_modules/@azure/identity", "cd test/compat/node && npm ci")
	}
	f := startFedcred(t)
	w := f.newWorkload(t, "node")
	env := f.clientEnv(map[string]string{
		"AZURE_CLIENT_ID":            w.identity.Properties.ClientID,
		"AZURE_TENANT_ID":            f.admin.TenantID,
		"AZURE_FEDERATED_TOKEN_FILE": w.tokenFile,
		"AZURE_AUTHORITY_HOST":       f.url,
		"NODE_EXTRA_CA_CERTS":        f.caFile,
		"FEDCRED_URL":                f.url,
		"FEDCRED_SUBSCRIPTION_ID":    f.admin.SubscriptionID,
		"FEDCRED_RG":                 w.rg,
		"FEDCRED_ISSUER":             w.issuer,
		"FEDCRED_VAULT_URL":          w.vaultURI,
		"FEDCRED_VAULT_HOST_URL":     "https://" + w.vault + ".vault.azure.net/",
		"FEDCRED_SECRET_NAME":        secretName,
		"FEDCRED_WRONG_TOKEN_FILE":   w.wrongTokenFile,
	})
	got := runScript(t, 2*time.Minute, env, "node", node, "compat.js")
	expectSteps(t, got, []string{
		"workload_identity_credential", "default_credential", "default_credential_unmodified",
		"identity_create", "identity_get", "identity_list", "fic_create", "fic_get", "fic_list_paged",
		"fic_delete", "fic_get_deleted", "identity_delete", "keyvault_get_by_host",
	}, map[string]string{
		"wrong_fic": "AADSTS700213",
		// A known limit, documented in the README: the SDK parses the
		// secret's ID, and a vault under a path (<server>/vaults/<name>/)
		// has one segment too many. The vault's own host works.
		"keyvault_get": "Invalid vaults identifier",
	})
	if v := detail[string](t, got, "keyvault_get_by_host"); v != secretValue {
		t.Errorf("vault by host gave %q, want %q", v, secretValue)
	}
	paged := detail[struct {
		Pages int      `json:"pages"`
		Names []string `json:"names"`
	}](t, got, "fic_list_paged")
	if paged.Pages < 2 || !slices.Equal(paged.Names, []string{"node-fic", "node-fic-0", "node-fic-1", "node-fic-2"}) {
		t.Errorf("paged federated credential list = %+v, want four credentials over at least two pages", paged)
	}
	gone := detail[struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}](t, got, "fic_get_deleted")
	if gone.Status != 404 {
		t.Errorf("deleted federated credential: %+v, want status 404", gone)
	}
	if !f.sawIntercepted("login.microsoftonline.com", "/common/discovery/instance") {
		t.Errorf("msal-node's instance discovery did not reach fedcred through the proxy; proxied: %v", f.intercepted())
	}
}
