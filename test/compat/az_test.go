package compat

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/rbac"
)

// azCLI runs az commands in one AZURE_CONFIG_DIR.
type azCLI struct {
	t   *testing.T
	bin string
	env []string
}

// run runs az and returns stdout, stderr and the exit code.
func (a *azCLI) run(args ...string) (string, string, int) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.bin, args...)
	cmd.Env = a.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case err != nil:
		a.t.Fatalf("az %s: %v", strings.Join(args, " "), err)
	}
	return stdout.String(), stderr.String(), 0
}

// ok runs az, fails the test unless it succeeds, and returns its trimmed
// standard output.
func (a *azCLI) ok(args ...string) string {
	a.t.Helper()
	out, errOut, code := a.run(args...)
	if code != 0 {
		a.t.Fatalf("az %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return strings.TrimSpace(out)
}

// expect runs az with -o tsv and checks its output.
func (a *azCLI) expect(want string, args ...string) {
	a.t.Helper()
	if got := a.ok(append(args, "-o", "tsv")...); got != want {
		a.t.Errorf("az %s = %q, want %q", strings.Join(args, " "), got, want)
	}
}

// TestAZ drives Debian's az CLI 2.45 in one AZURE_CONFIG_DIR (az is slow:
// each command is a second or two): `fedcred az-setup --run` registers the
// server (the AD FS-style authority, no instance discovery), the cloud is
// also registered with four endpoint flags and through /metadata/endpoints;
// then login with a secret, get-access-token, group show, identity and
// federated-credential management, aks show, role assignments, keyvault
// secret set/show (the vault host reached through the login proxy), login
// with --federated-token on both authorities (the tenant one with instance
// discovery answered through the proxy), and the AADSTS error of a
// federated token that matches no credential.
func TestAZ(t *testing.T) {
	t.Parallel()
	azBin := requireTool(t, "az", "apt-get install azure-cli")
	bin := fedcredBinary(t)
	f := startFedcred(t)
	w := f.newWorkload(t, "az")
	cfg := t.TempDir()
	seedVersionCheck(t, cfg)
	az := &azCLI{t: t, bin: azBin, env: f.clientEnv(map[string]string{
		"AZURE_CONFIG_DIR":             cfg,
		"REQUESTS_CA_BUNDLE":           filepath.Join(cfg, "fedcred-ca-bundle.pem"),
		"AZURE_CORE_COLLECT_TELEMETRY": "no",
		"AZURE_CORE_NO_COLOR":          "true",
	})}
	sub, tenant := f.admin.SubscriptionID, f.admin.TenantID

	// fedcred az-setup registers both authorities and writes the bundle.
	for _, args := range [][]string{
		{"--cloud-name", "fedcred-tenant", "--authority", "tenant"},
		{"--cloud-name", "fedcred"},
	} {
		setup := exec.Command(bin, append([]string{"az-setup", "--data-dir", f.dataDir, "--config-dir", cfg, "--run"}, args...)...)
		setup.Env = az.env
		if out, err := setup.CombinedOutput(); err != nil {
			t.Fatalf("fedcred az-setup %v: %v\n%s", args, err, out)
		}
	}
	az.expect(f.url+"/adfs", "cloud", "show", "--query", "endpoints.activeDirectory")
	az.expect("fedcred", "cloud", "show", "--query", "name")
	// The four endpoints as flags, and only the ARM endpoint (az reads the
	// others from /metadata/endpoints?api-version=2015-01-01).
	az.ok("cloud", "register", "-n", "fedcred-flags", "--endpoint-resource-manager", f.url+"/",
		"--endpoint-active-directory", f.url+"/adfs",
		"--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
		"--endpoint-active-directory-graph-resource-id", "https://graph.windows.net/",
		"--endpoint-management", "https://management.core.windows.net/", "--suffix-keyvault-dns", ".vault.azure.net")
	az.ok("cloud", "register", "-n", "fedcred-metadata", "--endpoint-resource-manager", f.url+"/")
	az.expect(f.url+"/", "cloud", "show", "-n", "fedcred-metadata", "--query", "endpoints.activeDirectory")
	az.expect("https://graph.windows.net/", "cloud", "show", "-n", "fedcred-metadata", "--query", "endpoints.activeDirectoryGraphResourceId")

	// The admin service principal, with its secret.
	az.expect(sub, "login", "--service-principal", "-u", f.admin.ClientID, "-p", f.admin.ClientSecret, "--tenant", tenant, "--query", "[0].id")
	az.expect("Bearer\n"+tenant, "account", "get-access-token", "--query", "[tokenType, tenant]")
	vaultToken := az.ok("account", "get-access-token", "--resource", "https://vault.azure.net", "--query", "accessToken", "-o", "tsv")
	if aud := claim(t, vaultToken, "aud"); aud != "https://vault.azure.net" {
		t.Errorf("get-access-token --resource: aud %q", aud)
	}
	az.expect(w.rg, "group", "show", "-n", w.rg, "--query", "name")

	// Identities and federated credentials (api-version 2022-01-31-preview).
	clientID := az.ok("identity", "create", "-n", "az-made", "-g", w.rg, "--query", "clientId", "-o", "tsv")
	az.expect(clientID, "identity", "show", "-n", "az-made", "-g", w.rg, "--query", "clientId")
	if got := az.ok("identity", "list", "-g", w.rg, "--query", "sort([].name)", "-o", "tsv"); !strings.Contains(got, "az-made") {
		t.Errorf("az identity list = %q, lacks az-made", got)
	}
	az.expect("fic-a\nsystem:serviceaccount:az:a\napi://custom", "identity", "federated-credential", "create", "--name", "fic-a",
		"--identity-name", "az-made", "-g", w.rg, "--issuer", w.issuer, "--subject", "system:serviceaccount:az:a",
		"--audiences", "api://custom", "--query", "[name, subject, audiences[0]]")
	az.expect(defaultAud, "identity", "federated-credential", "create", "--name", "fic-b",
		"--identity-name", "az-made", "-g", w.rg, "--issuer", w.issuer, "--subject", "system:serviceaccount:az:b", "--query", "audiences[0]")
	az.expect(w.issuer, "identity", "federated-credential", "show", "--name", "fic-b", "--identity-name", "az-made", "-g", w.rg, "--query", "issuer")
	az.expect("fic-a\nfic-b", "identity", "federated-credential", "list", "--identity-name", "az-made", "-g", w.rg, "--query", "sort([].name)")
	az.ok("identity", "federated-credential", "delete", "--name", "fic-b", "--identity-name", "az-made", "-g", w.rg, "--yes")
	az.expect("fic-a", "identity", "federated-credential", "list", "--identity-name", "az-made", "-g", w.rg, "--query", "[].name")
	if _, errOut, code := az.run("identity", "federated-credential", "show", "--name", "fic-b", "--identity-name", "az-made", "-g", w.rg); code != 3 || !strings.Contains(errOut, "(NotFound)") && !strings.Contains(errOut, "(ResourceNotFound)") {
		t.Errorf("show a deleted federated credential: exit %d, %q; want exit 3 and ARM's not-found code", code, errOut)
	}

	// The seed's command.
	az.expect(w.issuer, "aks", "show", "-n", w.cluster, "-g", w.rg, "--query", "oidcIssuerProfile.issuerUrl")

	// Role assignments. Debian's az 2.45 is packaged with
	// azure-mgmt-authorization 3.0.0, whose operations objects renamed
	// .config: `az role assignment create|list` crash in az before any
	// request, against Azure too. `az rest` makes the same calls.
	principal := az.ok("identity", "show", "-n", "az-made", "-g", w.rg, "--query", "principalId", "-o", "tsv")
	rgScope := "/subscriptions/" + sub + "/resourceGroups/" + w.rg
	if _, errOut, code := az.run("role", "assignment", "create", "--assignee-object-id", principal, "--assignee-principal-type",
		"ServicePrincipal", "--role", "Managed Identity Operator", "--scope", rgScope); code == 0 || !strings.Contains(errOut, "has no attribute 'config'") {
		t.Logf("az role assignment create: exit %d (the packaging bug may be fixed: update the README's Compatibility table)\n%s", code, errOut)
	}
	body, err := json.Marshal(map[string]any{"properties": map[string]string{
		"roleDefinitionId": "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + rbac.ManagedIdentityOperatorID,
		"principalId":      principal, "principalType": "ServicePrincipal"}})
	if err != nil {
		t.Fatal(err)
	}
	az.expect(rgScope, "rest", "--method", "put", "--url", fmt.Sprintf("%s%s/providers/Microsoft.Authorization/roleAssignments/%s?api-version=2022-04-01", f.url, rgScope, uuid.NewString()),
		"--body", string(body), "--query", "properties.scope")
	if got := az.ok("rest", "--url", f.url+rgScope+"/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=principalId%20eq%20'"+principal+"'",
		"--query", "value[].properties.roleDefinitionId", "-o", "tsv"); !strings.HasSuffix(got, "/"+rbac.ManagedIdentityOperatorID) {
		t.Errorf("az rest list of the identity's role assignments = %q, want the Managed Identity Operator role", got)
	}

	// Key Vault. Debian's az 2.45 lacks the azure.keyvault.v7_0 SDK its
	// keyvault module imports: every `az keyvault secret` command crashes
	// in az before any request. `az rest` makes the same calls, to the
	// vault's own host (https://<vault>.vault.azure.net, answered by fedcred
	// through the login proxy) with a token for https://vault.azure.net.
	if _, errOut, code := az.run("keyvault", "secret", "show", "--vault-name", w.vault, "--name", secretName); code == 0 || !strings.Contains(errOut, "azure.keyvault.v7_0") {
		t.Logf("az keyvault secret show: exit %d (the packaging bug may be fixed: update the README's Compatibility table)\n%s", code, errOut)
	}
	vaultURL := "https://" + w.vault + ".vault.azure.net"
	kvGet := []string{"rest", "--url", vaultURL + "/secrets/" + secretName + "?api-version=7.3", "--resource", "https://vault.azure.net", "--query", "value"}
	az.expect("from-az", "rest", "--method", "put", "--url", vaultURL+"/secrets/az-set?api-version=7.3", "--resource", "https://vault.azure.net",
		"--body", `{"value": "from-az"}`, "--query", "value")
	az.expect(secretValue, kvGet...)
	az.ok("identity", "delete", "-n", "az-made", "-g", w.rg)

	// The workload's identity, with its service-account token: on the AD FS
	// authority, then on the tenant authority (instance discovery answered
	// through the proxy).
	token := strings.TrimSpace(readFile(t, w.tokenFile))
	cid := w.identity.Properties.ClientID
	az.expect(sub, "login", "--service-principal", "-u", cid, "--tenant", tenant, "--federated-token", token, "--query", "[0].id")
	az.expect(secretValue, kvGet...)
	az.expect(w.identity.Name, "identity", "list", "-g", w.rg, "--query", "[].name")
	az.ok("cloud", "set", "-n", "fedcred-tenant")
	az.expect(sub, "login", "--service-principal", "-u", cid, "--tenant", tenant, "--federated-token", token, "--query", "[0].id")
	if got := az.ok("account", "get-access-token", "--resource", "https://vault.azure.net", "--query", "accessToken", "-o", "tsv"); claim(t, got, "oid") != w.identity.Properties.PrincipalID {
		t.Errorf("the tenant authority's token is not the identity's: oid %q", claim(t, got, "oid"))
	}
	if !f.sawIntercepted("login.microsoftonline.com", "/common/discovery/instance") {
		t.Errorf("az's instance discovery did not reach fedcred through the proxy; proxied: %v", f.intercepted())
	}

	// A service-account token no federated credential matches.
	wrong := strings.TrimSpace(readFile(t, w.wrongTokenFile))
	_, errOut, code := az.run("login", "--service-principal", "-u", cid, "--tenant", tenant, "--federated-token", wrong)
	if code != 1 || !strings.Contains(errOut, "AADSTS700213") || !strings.Contains(errOut, "system:serviceaccount:"+namespace+":"+otherSA) {
		t.Errorf("az login with another service account's token: exit %d\n%s", code, errOut)
	}
}

// seedVersionCheck records in az's configuration directory that az has
// checked for updates today, so az does not probe https://azure.microsoft.com
// (its connectivity check before looking for a newer version) from the
// first command in a fresh directory. The test's proxy would refuse that
// probe, and the test counts every refused host as a failure.
func seedVersionCheck(t *testing.T, dir string) {
	t.Helper()
	out, err := exec.Command(debianPython, "-c", "from azure.cli.core import __version__; print(__version__)").Output()
	if err != nil {
		t.Fatalf("read az's version: %v", err)
	}
	v := strings.TrimSpace(string(out))
	local := map[string]string{"local": v}
	seed, err := json.Marshal(map[string]any{
		"versions":    map[string]any{"core": local, "azure-cli": local, "telemetry": local},
		"update_time": time.Now().Format("2006-01-02 15:04:05.000000"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "versionCheck.json"), seed, 0o600); err != nil {
		t.Fatal(err)
	}
}

// claim is one string claim of a JWT's payload (not verified).
func claim(t *testing.T, jwt, name string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	s, _ := claims[name].(string)
	return s
}
