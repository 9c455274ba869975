package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/config"
)

func TestEveryCommandHasAnExample(t *testing.T) {
	t.Parallel()
	a := &app{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}
	var walk func(cmd *cobra.Command)
	count := 0
	walk = func(cmd *cobra.Command) {
		if cmd.Name() == "help" {
			return
		}
		count++
		if strings.TrimSpace(cmd.Example) == "" {
			t.Errorf("%q has no Example", cmd.CommandPath())
		}
		if cmd.Short == "" {
			t.Errorf("%q has no Short", cmd.CommandPath())
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(a.newRootCommand())
	if count < 30 {
		t.Errorf("walked only %d commands", count)
	}
}

func TestHelpShowsTheExample(t *testing.T) {
	t.Parallel()
	c := newCLI(t, nil)
	out := c.ok("identity", "federated-credential", "create", "--help")
	for _, want := range []string{"Examples:", "--issuer", "--audiences", "--query", "-o, --output"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	if out := c.ok("aks"); !strings.Contains(out, "create-token") {
		t.Errorf("'fedcred aks' does not list its commands:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "unknown command", args: []string{"bogus"}, want: `unknown command "bogus" for "fedcred"`},
		{name: "unknown subcommand", args: []string{"group", "bogus"}, want: "'bogus' is not a command of 'fedcred group'"},
		{name: "unknown nested subcommand", args: []string{"aks", "oidc-issuer", "spin"}, want: "'spin' is not a command of 'fedcred aks oidc-issuer'"},
		{name: "unknown flag", args: []string{"group", "list", "--bogus"}, want: "unknown flag: --bogus"},
		{name: "positional argument", args: []string{"group", "list", "extra"}, want: `unknown command "extra" for "fedcred group list"`},
		{name: "missing required flag", args: []string{"identity", "create", "-g", "rg1"}, want: `required flag(s) "name" not set`},
		{name: "missing group name", args: []string{"group", "create"}, want: "at least one of the flags in the group [name resource-group] is required"},
		{name: "two group names", args: []string{"group", "create", "-n", "a", "-g", "b"}, want: `--name "a" and --resource-group "b" name different groups`},
		{name: "empty required flag", args: []string{"identity", "show", "-n", "", "-g", "rg1"}, want: "--name must not be empty"},
		{name: "empty group name", args: []string{"group", "show", "-n", ""}, want: "--name must not be empty"},
		{name: "bad output format", args: []string{"group", "list", "-o", "yaml"}, want: `invalid output format "yaml"`},
		{name: "bad query", args: []string{"group", "list", "--query", "[?name=="}, want: "invalid jmespath query"},
		{name: "secret and token file", args: []string{"get-token", "--client-id", "c", "--scope", "s", "--client-secret", "x", "--federated-token-file", "f"},
			want: "none of the others can be"},
		{name: "neither secret nor token file", args: []string{"get-token", "--client-id", "c", "--scope", "s"},
			want: "at least one of the flags in the group [federated-token-file client-secret] is required"},
		{name: "scope and resource", args: []string{"get-token", "--client-id", "c", "--scope", "s", "--resource", "r", "--client-secret", "x"},
			want: "none of the others can be"},
		{name: "duration not in seconds", args: []string{"aks", "create-token", "-n", "c", "-g", "g", "--namespace", "n", "--service-account", "s", "--duration", "1500ms"},
			want: "--duration 1.5s must be a positive whole number of seconds"},
		{name: "duration that does not parse", args: []string{"aks", "create-token", "-n", "c", "-g", "g", "--namespace", "n", "--service-account", "s", "--duration", "soon"},
			want: `invalid argument "soon" for "--duration"`},
		{name: "aks update without a change", args: []string{"aks", "update", "-n", "c", "-g", "g"},
			want: "at least one of the flags in the group [enable-oidc-issuer enable-workload-identity] is required"},
		{name: "workload identity without the issuer", args: []string{"aks", "create", "-n", "c", "-g", "g", "--enable-workload-identity"},
			want: "--enable-workload-identity needs --enable-oidc-issuer"},
		{name: "login without a secret", args: []string{"login", "--server", "https://x", "--tenant", "t", "--client-id", "c"}, want: "--client-secret is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeServer(t)
			c := newCLI(t, fake)
			errOut := c.fail(exitUsage, tt.args...)
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr = %q, want the line ERROR: ...%s... and a See line", errOut, tt.want)
			}
			if !strings.HasPrefix(lines[len(lines)-1], "See 'fedcred") {
				t.Errorf("stderr = %q lacks the See line", errOut)
			}
			if n := len(fake.recorded()); n != 0 {
				t.Errorf("a usage error sent %d requests", n)
			}
		})
	}
}

func TestGroupCommands(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, fake)

	got := decode[map[string]any](t, c.ok("group", "create", "-n", "rg1"))
	want := map[string]any{
		"id": "/subscriptions/sub-1/resourceGroups/rg1", "name": "rg1", "type": typeGroup, "location": "eastus",
		"tags": nil, "properties": map[string]any{"provisioningState": "Succeeded"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("group create printed %v, want %v (not flattened, as az prints groups)", got, want)
	}
	c.ok("group", "create", "-g", "rg2", "-l", "westeurope", "-o", "none")
	c.ok("group", "create", "--name", "rg3", "--location", "northeurope", "-o", "none")

	if out := c.ok("group", "show", "-n", "rg2", "--query", "location", "-o", "tsv"); out != "westeurope\n" {
		t.Errorf("show --query location -o tsv = %q", out)
	}
	// Three groups take two pages of the fake.
	wantTable := "Location     Name\n-----------  ------\neastus       rg1\nwesteurope   rg2\nnortheurope  rg3\n"
	if out := c.ok("group", "list", "-o", "table"); out != wantTable {
		t.Errorf("list -o table =\n%s\nwant\n%s", out, wantTable)
	}
	if out := c.ok("group", "list", "--query", "[].name", "-o", "tsv"); out != "rg1\nrg2\nrg3\n" {
		t.Errorf("list --query [].name -o tsv = %q", out)
	}
	if out := c.ok("group", "delete", "-n", "rg2", "--yes"); out != "" {
		t.Errorf("delete printed %q", out)
	}
	errOut := c.fail(exitError, "group", "show", "-n", "rg2")
	if errOut != "ERROR: (ResourceGroupNotFound) Resource group 'rg2' could not be found.\n" {
		t.Errorf("show of a deleted group: stderr %q", errOut)
	}
	for _, r := range fake.recorded() {
		if r.Path == "/subscriptions/sub-1/resourceGroups/rg1" && r.Method == "PUT" && r.Query != "api-version=2021-04-01" {
			t.Errorf("group PUT query %q", r.Query)
		}
	}
}

func TestIdentityAndFederatedCredentialCommands(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, fake)
	c.ok("group", "create", "-n", "rg1", "-l", "westeurope", "-o", "none")
	c.ok("group", "create", "-n", "rg2", "-o", "none")

	id := decode[map[string]any](t, c.ok("identity", "create", "-n", "id1", "-g", "rg1"))
	wantID := map[string]any{
		"id":   "/subscriptions/sub-1/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
		"name": "id1", "type": typeIdentity, "location": "westeurope", "tags": nil, "resourceGroup": "rg1",
		"clientId": "client-id1", "principalId": "principal-id1", "tenantId": fakeTenant,
	}
	if !reflect.DeepEqual(id, wantID) {
		t.Errorf("identity create printed %v\nwant %v", id, wantID)
	}
	c.ok("identity", "create", "-n", "id2", "-g", "rg2", "-l", "uksouth", "-o", "none")
	c.ok("identity", "create", "-n", "id3", "-g", "rg2", "-o", "none")

	if out := c.ok("identity", "show", "-n", "id1", "-g", "rg1", "--query", "clientId", "-o", "tsv"); out != "client-id1\n" {
		t.Errorf("identity show --query clientId -o tsv = %q", out)
	}
	if out := c.ok("identity", "list", "--query", "[].name", "-o", "tsv"); out != "id1\nid2\nid3\n" {
		t.Errorf("subscription-wide identity list = %q", out)
	}
	if out := c.ok("identity", "list", "-g", "rg2", "--query", "[].[name, location]", "-o", "tsv"); out != "id2\tuksouth\nid3\teastus\n" {
		t.Errorf("identity list -g rg2 = %q", out)
	}
	wantTable := "ClientId    Location    Name    PrincipalId    ResourceGroup    TenantId\n" +
		"----------  ----------  ------  -------------  ---------------  ----------\n" +
		"client-id1  westeurope  id1     principal-id1  rg1              tenant-1\n"
	if out := c.ok("identity", "list", "-g", "rg1", "-o", "table"); out != wantTable {
		t.Errorf("identity list -o table =\n%s\nwant\n%s", out, wantTable)
	}

	fic := decode[map[string]any](t, c.ok("identity", "federated-credential", "create", "--name", "fic1", "--identity-name", "id1", "-g", "rg1",
		"--issuer", "https://issuer.example/", "--subject", "system:serviceaccount:default:app"))
	wantFIC := map[string]any{
		"id":   "/subscriptions/sub-1/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/fic1",
		"name": "fic1", "type": typeFIC, "resourceGroup": "rg1",
		"issuer": "https://issuer.example/", "subject": "system:serviceaccount:default:app", "audiences": []any{"api://AzureADTokenExchange"},
	}
	if !reflect.DeepEqual(fic, wantFIC) {
		t.Errorf("federated-credential create printed %v\nwant %v", fic, wantFIC)
	}
	c.ok("identity", "federated-credential", "create", "-n", "fic2", "--identity-name", "id1", "-g", "rg1",
		"--issuer", "https://other/", "--subject", "s2", "--audiences", "aud-a", "--audiences", "aud-b", "-o", "none")
	if out := c.ok("identity", "federated-credential", "show", "-n", "fic2", "--identity-name", "id1", "-g", "rg1", "--query", "audiences", "-o", "tsv"); out != "aud-a\naud-b\n" {
		t.Errorf("audiences of fic2 = %q", out)
	}

	updated := decode[map[string]any](t, c.ok("identity", "federated-credential", "update", "-n", "fic1", "--identity-name", "id1", "-g", "rg1",
		"--subject", "system:serviceaccount:prod:app"))
	if updated["subject"] != "system:serviceaccount:prod:app" || updated["issuer"] != "https://issuer.example/" ||
		!reflect.DeepEqual(updated["audiences"], []any{"api://AzureADTokenExchange"}) {
		t.Errorf("update changed more than the subject: %v", updated)
	}

	wantFICTable := "Issuer                   Name    ResourceGroup    Subject\n" +
		"-----------------------  ------  ---------------  ------------------------------\n" +
		"https://issuer.example/  fic1    rg1              system:serviceaccount:prod:app\n" +
		"https://other/           fic2    rg1              s2\n"
	if out := c.ok("identity", "federated-credential", "list", "--identity-name", "id1", "-g", "rg1", "-o", "table"); out != wantFICTable {
		t.Errorf("federated-credential list -o table =\n%s\nwant\n%s", out, wantFICTable)
	}
	c.ok("identity", "federated-credential", "delete", "-n", "fic2", "--identity-name", "id1", "-g", "rg1", "--yes")
	if out := c.ok("identity", "federated-credential", "list", "--identity-name", "id1", "-g", "rg1", "--query", "length(@)"); out != "1\n" {
		t.Errorf("credentials left = %q", out)
	}

	errOut := c.fail(exitError, "identity", "federated-credential", "list", "--identity-name", "nope", "-g", "rg1")
	if errOut != "ERROR: (ResourceNotFound) The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/nope' under resource group 'rg1' was not found.\n" {
		t.Errorf("list of a missing identity: %q", errOut)
	}
	if errOut := c.fail(exitError, "identity", "create", "-n", "x", "-g", "missing"); errOut != "ERROR: (ResourceGroupNotFound) Resource group 'missing' could not be found.\n" {
		t.Errorf("create in a missing group: %q", errOut)
	}
	c.ok("identity", "delete", "-n", "id1", "-g", "rg1")
	c.fail(exitError, "identity", "show", "-n", "id1", "-g", "rg1")
}

func TestAKSCommands(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, fake)
	c.ok("group", "create", "-n", "rg1", "-o", "none")

	cl := decode[map[string]any](t, c.ok("aks", "create", "-n", "c1", "-g", "rg1"))
	if cl["oidcIssuerProfile"].(map[string]any)["enabled"] != false || cl["resourceGroup"] != "rg1" || cl["location"] != "eastus" ||
		cl["provisioningState"] != "Succeeded" || cl["name"] != "c1" {
		t.Errorf("aks create printed %v", cl)
	}
	errOut := c.fail(exitError, "aks", "create-token", "-n", "c1", "-g", "rg1", "--namespace", "default", "--service-account", "app")
	if errOut != "ERROR: (OIDCIssuerNotEnabled) The OIDC issuer of cluster 'c1' is not enabled.\n" {
		t.Errorf("token of a cluster without issuer: %q", errOut)
	}

	issuer := c.ok("aks", "update", "-n", "c1", "-g", "rg1", "--enable-oidc-issuer", "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv")
	if want := fake.URL() + "/oidc/tenant-1/uid-c1/\n"; issuer != want {
		t.Errorf("issuer after update = %q, want %q", issuer, want)
	}
	var put *fakeRequest
	for _, r := range fake.recorded() {
		if r.Method == "PUT" && strings.HasSuffix(r.Path, "/managedClusters/c1") {
			put = &r
		}
	}
	if put == nil || put.Query != "api-version=2025-01-01" {
		t.Fatalf("no cluster PUT with api-version 2025-01-01: %+v", put)
	}
	body := decode[map[string]any](t, put.Body)
	if body["properties"].(map[string]any)["oidcIssuerProfile"].(map[string]any)["enabled"] != true || body["location"] != "eastus" {
		t.Errorf("update PUT body = %s", put.Body)
	}
	if strings.Contains(put.Body, "provisioningState") || strings.Contains(put.Body, `"id"`) {
		t.Errorf("update PUT sent read-only fields: %s", put.Body)
	}

	c.ok("aks", "create", "-n", "c2", "-g", "rg1", "--enable-oidc-issuer", "--enable-workload-identity", "-o", "none")
	if out := c.ok("aks", "list", "--query", "[].{n: name, on: oidcIssuerProfile.enabled}", "-o", "tsv"); out != "c1\tTrue\nc2\tTrue\n" {
		t.Errorf("aks list = %q", out)
	}

	if out := c.ok("aks", "create-token", "-n", "c1", "-g", "rg1", "--namespace", "default", "--service-account", "app"); out != "sa-token-default-app\n" {
		t.Errorf("create-token printed %q, want the raw token and a newline", out)
	}
	status := decode[map[string]any](t, c.ok("aks", "create-token", "-n", "c1", "-g", "rg1", "--namespace", "ns", "--service-account", "sa",
		"--audience", "aud-1", "--audience", "aud-2", "--duration", "2h", "-o", "json"))
	if !reflect.DeepEqual(status, map[string]any{"token": "sa-token-ns-sa", "expirationTimestamp": "2026-01-02T05:04:05Z"}) {
		t.Errorf("create-token -o json = %v", status)
	}
	reqs := fake.recorded()
	last := reqs[len(reqs)-1]
	if last.Path != "/subscriptions/sub-1/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/c1/api/v1/namespaces/ns/serviceaccounts/sa/token" {
		t.Errorf("token path = %s", last.Path)
	}
	spec := decode[map[string]any](t, last.Body)["spec"]
	if !reflect.DeepEqual(spec, map[string]any{"audiences": []any{"aud-1", "aud-2"}, "expirationSeconds": float64(7200)}) {
		t.Errorf("token spec = %v", spec)
	}
	if out := c.ok("aks", "create-token", "-n", "c1", "-g", "rg1", "--namespace", "ns", "--service-account", "sa", "--query", "token"); out != "\"sa-token-ns-sa\"\n" {
		t.Errorf("create-token --query token = %q", out)
	}
	errOut = c.fail(exitError, "aks", "create-token", "-n", "c1", "-g", "rg1", "--namespace", "ns", "--service-account", "sa", "--duration", "1m")
	if errOut != `ERROR: (Invalid) TokenRequest.authentication.k8s.io "sa" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes`+"\n" {
		t.Errorf("short duration: %q", errOut)
	}

	if out := c.ok("aks", "oidc-issuer", "rotate-signing-keys", "-n", "c1", "-g", "rg1"); out != "" {
		t.Errorf("rotate printed %q", out)
	}
	reqs = fake.recorded()
	if last := reqs[len(reqs)-1]; last.Method != "POST" || !strings.HasSuffix(last.Path, "/managedClusters/c1/rotateServiceAccountSigningKeys") {
		t.Errorf("rotate sent %s %s", last.Method, last.Path)
	}
	c.fail(exitError, "aks", "oidc-issuer", "rotate-signing-keys", "-n", "nope", "-g", "rg1")

	c.ok("aks", "delete", "-n", "c2", "-g", "rg1", "--yes")
	if out := c.ok("aks", "list", "-g", "rg1", "--query", "[].name", "-o", "tsv"); out != "c1\n" {
		t.Errorf("clusters after delete = %q", out)
	}
}

func TestGetToken(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, fake)
	c.ok("group", "create", "-n", "rg1", "-o", "none")
	c.ok("identity", "create", "-n", "id1", "-g", "rg1", "-o", "none")
	c.ok("identity", "federated-credential", "create", "-n", "fic1", "--identity-name", "id1", "-g", "rg1",
		"--issuer", "https://iss/", "--subject", "system:serviceaccount:default:app", "-o", "none")
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jwt")
	bad := filepath.Join(dir, "bad.jwt")
	empty := filepath.Join(dir, "empty.jwt")
	for path, content := range map[string]string{good: "sa-token-default-app\n", bad: "sa-token-default-other", empty: " \n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	got := decode[map[string]any](t, c.ok("get-token", "--client-id", "client-id1", "--scope", "https://vault.azure.net/.default", "--federated-token-file", good))
	want := map[string]any{
		"accessToken": "access-for-client-id1",
		"expiresOn":   "2026-01-02 04:04:04.123456",
		"expires_on":  float64(testNow.Unix() + 3599),
		"tokenType":   "Bearer",
		"tenant":      fakeTenant,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("get-token printed %v\nwant %v", got, want)
	}
	reqs := fake.recorded()
	form := reqs[len(reqs)-1].Form
	if form.Get("client_assertion") != "sa-token-default-app" || form.Get("scope") != "https://vault.azure.net/.default" ||
		form.Get("client_id") != "client-id1" || form.Get("grant_type") != "client_credentials" {
		t.Errorf("token form = %v", form)
	}

	if out := c.ok("get-token", "--client-id", "client-id1", "--resource", "https://vault.azure.net/", "--federated-token-file", good,
		"--query", "accessToken", "-o", "tsv"); out != "access-for-client-id1\n" {
		t.Errorf("get-token --query accessToken -o tsv = %q", out)
	}
	reqs = fake.recorded()
	if scope := reqs[len(reqs)-1].Form.Get("scope"); scope != "https://vault.azure.net/.default" {
		t.Errorf("--resource sent scope %q", scope)
	}
	if out := c.ok("get-token", "--client-id", fakeClient, "--scope", fake.URL()+"/.default", "--client-secret", fakeSecret,
		"--query", "accessToken", "-o", "tsv"); out != fakeMgmtTok+"\n" {
		t.Errorf("get-token with a secret = %q", out)
	}

	errOut := c.fail(exitError, "get-token", "--client-id", "client-id1", "--scope", "s/.default", "--federated-token-file", bad)
	if errOut != "ERROR: AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:default:other'.\n" {
		t.Errorf("refused exchange: stderr %q", errOut)
	}
	errOut = c.fail(exitError, "get-token", "--client-id", fakeClient, "--scope", "s/.default", "--client-secret", "wrong-secret")
	if errOut != "ERROR: AADSTS7000215: Invalid client secret provided.\n" {
		t.Errorf("wrong secret: stderr %q", errOut)
	}
	if errOut := c.fail(exitError, "get-token", "--client-id", "c", "--scope", "s", "--federated-token-file", empty); !strings.Contains(errOut, "is empty") {
		t.Errorf("empty token file: %q", errOut)
	}
	if errOut := c.fail(exitError, "get-token", "--client-id", "c", "--scope", "s", "--federated-token-file", filepath.Join(dir, "absent")); !strings.Contains(errOut, "no such file") {
		t.Errorf("missing token file: %q", errOut)
	}
	errOut = c.fail(exitError, "get-token", "--tenant", "other-tenant", "--client-id", "c", "--scope", "s", "--client-secret", "x")
	if !strings.HasPrefix(errOut, "ERROR: AADSTS90002: Tenant 'other-tenant' not found.") {
		t.Errorf("--tenant was not used: %q", errOut)
	}
}

func TestLoginLogoutAndAccount(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, nil) // nothing in the data directory: only the profile can say where the server is
	login := []string{"login", "--server", fake.URL() + "/", "--tenant", fakeTenant, "--client-id", fakeClient, "--ca-file", fake.caFile}

	c.fail(exitError, "group", "list")
	errOut := c.fail(exitError, append(login, "--client-secret", "wrong")...)
	if errOut != "ERROR: AADSTS7000215: Invalid client secret provided.\n" {
		t.Errorf("login with a wrong secret: %q", errOut)
	}
	profile := filepath.Join(c.configDir, profileFile)
	if _, err := os.Stat(profile); !os.IsNotExist(err) {
		t.Fatalf("a failed login left a profile: %v", err)
	}
	if errOut := c.fail(exitError, append(login, "--client-secret", fakeSecret, "--subscription", "sub-9")...); !strings.Contains(errOut, "subscription sub-9 is not visible") {
		t.Errorf("login to an unknown subscription: %q", errOut)
	}

	accounts := decode[[]map[string]any](t, c.ok(append(login, "--client-secret", fakeSecret)...))
	wantAccounts := []map[string]any{{
		"cloudName": "fedcred", "id": fakeSub, "isDefault": true, "name": "fake", "state": "Enabled", "tenantId": fakeTenant,
		"user": map[string]any{"name": fakeClient, "type": "servicePrincipal"},
	}}
	if !reflect.DeepEqual(accounts, wantAccounts) {
		t.Errorf("login printed %v\nwant %v", accounts, wantAccounts)
	}
	info, err := os.Stat(profile)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("profile mode %v, want 0600", info.Mode().Perm())
	}
	if dirInfo, err := os.Stat(c.configDir); err != nil || dirInfo.Mode().Perm() != 0o700 {
		t.Errorf("config dir mode %v (%v), want 0700", dirInfo.Mode().Perm(), err)
	}
	stored, err := readSettings(profile)
	if err != nil {
		t.Fatal(err)
	}
	wantStored := config.Admin{TenantID: fakeTenant, SubscriptionID: fakeSub, ClientID: fakeClient, ClientSecret: fakeSecret, Server: fake.URL(), CAFile: fake.caFile}
	if stored != wantStored {
		t.Errorf("stored profile %+v, want %+v", stored, wantStored)
	}

	c.ok("group", "create", "-n", "rg1", "-o", "none")
	show := decode[map[string]any](t, c.ok("account", "show"))
	wantShow := map[string]any{
		"id": fakeSub, "tenantId": fakeTenant, "user": map[string]any{"name": fakeClient, "type": "servicePrincipal"},
		"server": fake.URL(), "caFile": fake.caFile, "source": profile,
	}
	if !reflect.DeepEqual(show, wantShow) {
		t.Errorf("account show = %v\nwant %v", show, wantShow)
	}
	if strings.Contains(c.ok("account", "show"), fakeSecret) {
		t.Error("account show prints the secret")
	}

	if out := c.ok("logout"); out != "" {
		t.Errorf("logout printed %q", out)
	}
	if _, err := os.Stat(profile); !os.IsNotExist(err) {
		t.Errorf("profile still there after logout: %v", err)
	}
	if errOut := c.fail(exitError, "logout"); !strings.Contains(errOut, "not logged in") {
		t.Errorf("second logout: %q", errOut)
	}
	if errOut := c.fail(exitError, "group", "list"); !strings.Contains(errOut, "no fedcred server to talk to") {
		t.Errorf("after logout: %q", errOut)
	}
}

func TestSettingsPrecedence(t *testing.T) {
	t.Parallel()
	local := newFakeServer(t)  // the server admin.json names
	remote := newFakeServer(t) // another server
	c := newCLI(t, local)

	// Flags beat the environment, which beats admin.json.
	c.env[envSubscription] = "sub-from-env"
	if errOut := c.fail(exitError, "group", "list"); !strings.Contains(errOut, "The subscription 'sub-from-env' could not be found.") {
		t.Errorf("FEDCRED_SUBSCRIPTION_ID was not used: %q", errOut)
	}
	c.ok("group", "list", "--subscription", fakeSub)
	delete(c.env, envSubscription)

	// A server named in the environment gets none of admin.json's settings,
	// so the admin secret never leaves for another server.
	c.env[envServer] = remote.URL()
	errOut := c.fail(exitError, "group", "list")
	if !strings.Contains(errOut, "sign in to "+remote.URL()+": no management credentials") || !strings.Contains(errOut, "fedcred login") {
		t.Errorf("remote server without credentials: %q", errOut)
	}
	if n := len(remote.recorded()); n != 0 {
		t.Fatalf("the other server got %d requests without credentials of its own", n)
	}
	// Nor does admin.json's CA file apply to it.
	c.env[envTenantID], c.env[envClientID], c.env[envClientSecret], c.env[envSubscription] = fakeTenant, fakeClient, fakeSecret, fakeSub
	errOut = c.fail(exitError, "group", "list")
	if !strings.Contains(errOut, "cannot verify the TLS certificate of the fedcred server at "+remote.URL()) || !strings.Contains(errOut, "--ca-file") {
		t.Errorf("remote server without its CA: %q", errOut)
	}
	c.env[envCAFile] = remote.caFile
	c.ok("group", "create", "-n", "remote-rg", "-o", "none")
	if len(remote.recorded()) == 0 {
		t.Fatal("the environment's server got no request")
	}

	// --server beats FEDCRED_SERVER, and admin.json fills in for its own
	// server even with a trailing slash.
	for _, k := range []string{envCAFile, envTenantID, envClientID, envClientSecret, envSubscription} {
		delete(c.env, k)
	}
	out := c.ok("group", "list", "--server", local.URL()+"/", "--query", "length(@)")
	if out != "0\n" {
		t.Errorf("local group count = %q", out)
	}
}

func TestSubscriptionIsPickedWhenOnlyOneIsVisible(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, nil)
	c.writeAdmin(config.Admin{TenantID: fakeTenant, ClientID: fakeClient, ClientSecret: fakeSecret, Server: fake.URL(), CAFile: "ca.crt"})
	ca, err := os.ReadFile(fake.caFile)
	if err != nil {
		t.Fatal(err)
	}
	// A relative caFile in admin.json is relative to the data directory.
	if err := os.WriteFile(filepath.Join(c.dataDir, "ca.crt"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("group", "create", "-n", "rg1", "-o", "none")
	reqs := fake.recorded()
	var paths []string
	for _, r := range reqs {
		paths = append(paths, r.Method+" "+r.Path)
	}
	want := []string{"POST /tenant-1/oauth2/v2.0/token", "GET /subscriptions", "PUT /subscriptions/sub-1/resourceGroups/rg1"}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("requests = %v, want %v", paths, want)
	}
}

func TestConnectionErrors(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, fake)
	url := fake.URL()
	fake.srv.Close()
	errOut := c.fail(exitError, "identity", "list")
	if !strings.HasPrefix(errOut, "ERROR: cannot reach the fedcred server at "+url+": ") ||
		!strings.Contains(errOut, "'fedcred serve'") || !strings.Contains(errOut, "'fedcred login") {
		t.Errorf("stderr = %q", errOut)
	}
	if strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr has more than one line: %q", errOut)
	}

	empty := newCLI(t, nil)
	errOut = empty.fail(exitError, "group", "list")
	if !strings.Contains(errOut, "no fedcred server to talk to") || !strings.Contains(errOut, empty.dataDir) {
		t.Errorf("no server anywhere: %q", errOut)
	}
}

func TestCorruptSettingsAreReported(t *testing.T) {
	t.Parallel()
	c := newCLI(t, nil)
	if err := os.WriteFile(filepath.Join(c.dataDir, config.AdminFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	errOut := c.fail(exitError, "group", "list")
	if !strings.Contains(errOut, config.AdminFile) {
		t.Errorf("stderr = %q, want it to name admin.json", errOut)
	}
}
