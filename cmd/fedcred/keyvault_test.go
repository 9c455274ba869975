package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestKeyVaultCommands(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, fake)
	c.ok("group", "create", "-n", "rg1", "-l", "westeurope", "-o", "none")
	c.ok("group", "create", "-n", "rg2", "-o", "none")

	got := decode[map[string]any](t, c.ok("keyvault", "create", "-n", "kv1", "-g", "rg1"))
	vaultID := "/subscriptions/sub-1/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv1"
	want := map[string]any{
		"id": vaultID, "name": "kv1", "type": typeVault, "location": "westeurope", "resourceGroup": "rg1", "tags": map[string]any{},
		"properties": map[string]any{
			"tenantId": fakeTenant, "sku": map[string]any{"family": "A", "name": "standard"}, "enableRbacAuthorization": true,
			"vaultUri": fake.URL() + "/vaults/kv1/", "provisioningState": "Succeeded",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keyvault create printed\n%v\nwant\n%v (properties nested, as az prints vaults)", got, want)
	}
	put := lastRequest(t, fake, "PUT", "/vaults/kv1")
	if put.Path != vaultID || put.Query != "api-version=2023-07-01" {
		t.Errorf("PUT %s?%s", put.Path, put.Query)
	}
	wantBody := map[string]any{"location": "westeurope", "properties": map[string]any{
		"tenantId": fakeTenant, "sku": map[string]any{"family": "A", "name": "standard"}, "enableRbacAuthorization": true}}
	if body := decode[map[string]any](t, put.Body); !reflect.DeepEqual(body, wantBody) {
		t.Errorf("PUT body %s", put.Body)
	}
	c.ok("keyvault", "create", "-n", "kv2", "-g", "rg2", "-l", "uksouth", "-o", "none")

	if out := c.ok("keyvault", "show", "-n", "KV1", "--query", "properties.vaultUri", "-o", "tsv"); out != fake.URL()+"/vaults/kv1/\n" {
		t.Errorf("show without -g found %q", out)
	}
	if out := c.ok("keyvault", "show", "-n", "kv2", "-g", "rg2", "--query", "[resourceGroup, location]", "-o", "tsv"); out != "rg2\nuksouth\n" {
		t.Errorf("show with -g = %q", out)
	}
	if req := lastRequest(t, fake, "GET", "/vaults/kv2"); req.Path != "/subscriptions/sub-1/resourceGroups/rg2/providers/Microsoft.KeyVault/vaults/kv2" {
		t.Errorf("show -g sent GET %s", req.Path)
	}
	wantTable := "Location    Name    ResourceGroup\n----------  ------  ---------------\nwesteurope  kv1     rg1\nuksouth     kv2     rg2\n"
	if out := c.ok("keyvault", "list", "-o", "table"); out != wantTable {
		t.Errorf("keyvault list -o table =\n%s\nwant\n%s", out, wantTable)
	}
	if out := c.ok("keyvault", "list", "-g", "rg2", "--query", "[].name", "-o", "tsv"); out != "kv2\n" {
		t.Errorf("keyvault list -g rg2 = %q", out)
	}
	if errOut := c.fail(exitError, "keyvault", "show", "-n", "nope"); errOut != "ERROR: (ResourceNotFound) The vault 'nope' was not found in subscription 'sub-1'.\n" {
		t.Errorf("show of a missing vault: %q", errOut)
	}
	if errOut := c.fail(exitError, "keyvault", "show", "-n", "kv1", "-g", "rg2"); !strings.HasPrefix(errOut, "ERROR: (ResourceNotFound) ") {
		t.Errorf("show in the wrong group: %q", errOut)
	}

	if out := c.ok("keyvault", "delete", "-n", "kv2", "--yes"); out != "" {
		t.Errorf("delete printed %q", out)
	}
	if del := lastRequest(t, fake, "DELETE", "/vaults/kv2"); del.Path != "/subscriptions/sub-1/resourceGroups/rg2/providers/Microsoft.KeyVault/vaults/kv2" || del.Query != "api-version=2023-07-01" {
		t.Errorf("DELETE %s?%s", del.Path, del.Query)
	}
	if out := c.ok("keyvault", "list", "--query", "[].name", "-o", "tsv"); out != "kv1\n" {
		t.Errorf("vaults after delete = %q", out)
	}
	if errOut := c.fail(exitError, "keyvault", "delete", "-n", "kv2"); !strings.Contains(errOut, "The vault 'kv2' was not found") {
		t.Errorf("delete of a missing vault: %q", errOut)
	}
}

func TestSecretCommands(t *testing.T) {
	t.Parallel()
	fake := newFakeServer(t)
	c := newCLI(t, fake)
	c.ok("group", "create", "-n", "rg1", "-o", "none")
	c.ok("keyvault", "create", "-n", "kv1", "-g", "rg1", "-o", "none")
	base := fake.URL() + "/vaults/kv1/"
	const value = "s3cr3t-value-\u00e9"

	// set --value: the value is sent but never printed.
	out := c.ok("keyvault", "secret", "set", "--vault-name", "kv1", "-n", "db-password", "--value", value, "--content-type", "text/plain", "--tags", "env=dev", "--tags", "flag")
	if strings.Contains(out, "s3cr3t") {
		t.Fatalf("secret set printed the value: %s", out)
	}
	set := decode[map[string]any](t, out)
	version1 := strings.TrimPrefix(set["id"].(string), base+"secrets/db-password/")
	wantSet := map[string]any{
		"attributes": map[string]any{"created": "2026-01-02T03:04:05+00:00", "enabled": true, "expires": nil, "notBefore": nil,
			"recoverableDays": float64(0), "recoveryLevel": "Purgeable", "updated": "2026-01-02T03:04:05+00:00"},
		"contentType": "text/plain", "id": base + "secrets/db-password/" + version1, "kid": nil, "managed": nil,
		"name": "db-password", "tags": map[string]any{"env": "dev", "flag": ""},
	}
	if !reflect.DeepEqual(set, wantSet) {
		t.Errorf("secret set printed\n%v\nwant\n%v", set, wantSet)
	}
	put := lastRequest(t, fake, "PUT", "/secrets/db-password")
	if put.Path != "/vaults/kv1/secrets/db-password" || put.Query != "api-version=7.6" || put.Auth != "Bearer "+fakeVaultTok {
		t.Errorf("PUT %s?%s with %q", put.Path, put.Query, put.Auth)
	}
	wantBody := map[string]any{"value": value, "contentType": "text/plain", "tags": map[string]any{"env": "dev", "flag": ""}}
	if body := decode[map[string]any](t, put.Body); !reflect.DeepEqual(body, wantBody) {
		t.Errorf("PUT body %s", put.Body)
	}
	var vaultScope bool
	for _, r := range fake.recorded() {
		vaultScope = vaultScope || (r.Form.Get("scope") == "https://vault.azure.net/.default" && r.Form.Get("client_id") == fakeClient)
	}
	if !vaultScope {
		t.Error("no token was requested for https://vault.azure.net/.default with the admin's credentials")
	}

	// set --file: a second version, read from a file.
	dir := t.TempDir()
	file := filepath.Join(dir, "password.txt")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("keyvault", "secret", "set", "--vault-name", "kv1", "-n", "db-password", "--file", file, "-o", "none")
	if body := decode[map[string]any](t, lastRequest(t, fake, "PUT", "/secrets/db-password").Body); !reflect.DeepEqual(body,
		map[string]any{"value": "from-file\n", "tags": map[string]any{"file-encoding": "utf-8"}}) {
		t.Errorf("set --file sent %v", body)
	}
	binary := filepath.Join(dir, "key.der")
	if err := os.WriteFile(binary, []byte{0xff, 0x00, 0x01}, 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("keyvault", "secret", "set", "--vault-name", "kv1", "-n", "tls-key", "--file", binary, "--encoding", "base64", "-o", "none")
	if body := decode[map[string]any](t, lastRequest(t, fake, "PUT", "/secrets/tls-key").Body); body["value"] != base64.StdEncoding.EncodeToString([]byte{0xff, 0, 1}) ||
		!reflect.DeepEqual(body["tags"], map[string]any{"file-encoding": "base64"}) {
		t.Errorf("set --encoding base64 sent %v", body)
	}
	c.ok("keyvault", "secret", "set", "--vault-name", "kv1", "-n", "api-key", "--value", "k", "-o", "none")

	// show: the latest version, with its value; or the version asked for.
	if out := c.ok("keyvault", "secret", "show", "--vault-name", "kv1", "-n", "db-password", "--query", "value", "-o", "tsv"); out != "from-file\n\n" {
		t.Errorf("show --query value -o tsv = %q", out)
	}
	shown := decode[map[string]any](t, c.ok("keyvault", "secret", "show", "--vault-name", "kv1", "-n", "db-password", "--version", version1))
	if shown["value"] != value || shown["name"] != "db-password" || shown["contentType"] != "text/plain" {
		t.Errorf("show --version printed %v", shown)
	}
	if get := lastRequest(t, fake, "GET", "/secrets/db-password/"+version1); get.Query != "api-version=7.6" || get.Auth != "Bearer "+fakeVaultTok {
		t.Errorf("GET ?%s with %q", get.Query, get.Auth)
	}

	// list: three secrets on two pages, no values.
	out = c.ok("keyvault", "secret", "list", "--vault-name", "kv1")
	if strings.Contains(out, "value") || strings.Contains(out, "from-file") {
		t.Errorf("secret list printed values: %s", out)
	}
	items := decode[[]map[string]any](t, out)
	if len(items) != 3 || items[0]["name"] != "api-key" || items[1]["name"] != "db-password" || items[2]["name"] != "tls-key" ||
		items[1]["id"] != base+"secrets/db-password" || items[1]["contentType"] != nil {
		t.Errorf("secret list = %v", items)
	}
	if n := countRequests(fake, "GET", "/vaults/kv1/secrets"); n < 2 {
		t.Errorf("list made %d data-plane requests, want two pages", n)
	}

	// delete: the deleted secret without its value, even though the fake
	// sends it.
	out = c.ok("keyvault", "secret", "delete", "--vault-name", "kv1", "-n", "db-password")
	if strings.Contains(out, "from-file") || strings.Contains(out, "\"value\"") {
		t.Fatalf("secret delete printed the value: %s", out)
	}
	deleted := decode[map[string]any](t, out)
	if deleted["name"] != "db-password" || deleted["recoveryId"] != base+"deletedsecrets/db-password" || deleted["deletedDate"] != "2026-01-02T04:04:05+00:00" {
		t.Errorf("secret delete printed %v", deleted)
	}
	errOut := c.fail(exitError, "keyvault", "secret", "show", "--vault-name", "kv1", "-n", "db-password")
	if errOut != "ERROR: (SecretNotFound) A secret with (name/id) db-password was not found in this key vault. "+
		"If you recently deleted this secret you may be able to recover it using the correct recovery command.\n" {
		t.Errorf("show of a deleted secret: %q", errOut)
	}

	// A vault the caller has no role on: the first line and the inner code.
	c.ok("keyvault", "create", "-n", lockedVault, "-g", "rg1", "-o", "none")
	errOut = c.fail(exitError, "keyvault", "secret", "show", "--vault-name", lockedVault, "-n", "x")
	if errOut != "ERROR: (Forbidden) Caller is not authorized to perform action on resource. Inner error: ForbiddenByRbac\n" {
		t.Errorf("forbidden: %q", errOut)
	}
	if errOut := c.fail(exitError, "keyvault", "secret", "list", "--vault-name", "nope"); errOut != "ERROR: (ResourceNotFound) The vault 'nope' was not found in subscription 'sub-1'.\n" {
		t.Errorf("list in a missing vault: %q", errOut)
	}
	if strings.Contains(strings.Join(requestBodies(fake), "\n"), fakeVaultTok) {
		t.Error("a token ended up in a request body")
	}
}

// requestBodies returns the bodies of the recorded requests.
func requestBodies(f *fakeServer) []string {
	var out []string
	for _, r := range f.recorded() {
		out = append(out, r.Body)
	}
	return out
}

func TestSecretSetRefusesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string][]byte{
		"big":    make([]byte, maxSecretFileBytes+1),
		"limit":  make([]byte, maxSecretFileBytes),
		"latin1": {'c', 'a', 'f', 0xe9},
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "file over the limit", args: []string{"--file", filepath.Join(dir, "big")}, code: exitError, want: "is larger than 25600 bytes"},
		{name: "file that is not UTF-8", args: []string{"--file", filepath.Join(dir, "latin1")}, code: exitError, want: "is not UTF-8 text: use --encoding base64 or hex"},
		{name: "file that is not ASCII", args: []string{"--file", filepath.Join(dir, "latin1"), "--encoding", "ascii"}, code: exitError, want: "is not ASCII text"},
		{name: "missing file", args: []string{"--file", filepath.Join(dir, "absent")}, code: exitError, want: "no such file"},
		{name: "unknown encoding", args: []string{"--file", filepath.Join(dir, "limit"), "--encoding", "utf-16"}, code: exitUsage, want: `--encoding "utf-16" is not one of utf-8, ascii, base64, hex`},
		{name: "encoding without a file", args: []string{"--value", "v", "--encoding", "hex"}, code: exitUsage, want: "--encoding is used with --file"},
		{name: "tag without a key", args: []string{"--value", "v", "--tags", "=x"}, code: exitUsage, want: `--tags "=x" has no key`},
		{name: "neither value nor file", args: nil, code: exitUsage, want: "at least one of the flags in the group [value file] is required"},
		{name: "value and file", args: []string{"--value", "v", "--file", "f"}, code: exitUsage, want: "none of the others can be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeServer(t)
			c := newCLI(t, fake)
			errOut := c.fail(tt.code, append([]string{"keyvault", "secret", "set", "--vault-name", "kv1", "-n", "s"}, tt.args...)...)
			if first, _, _ := strings.Cut(errOut, "\n"); !strings.Contains(first, tt.want) {
				t.Errorf("stderr = %q, want %q", errOut, tt.want)
			}
			if n := len(fake.recorded()); n != 0 {
				t.Errorf("refused input sent %d requests", n)
			}
		})
	}
}

func TestSecretSetHelpRecommendsFile(t *testing.T) {
	t.Parallel()
	out := newCLI(t, nil).ok("keyvault", "secret", "set", "--help")
	for _, want := range []string{"--file", "prefer\n--file", "shell's history", "Examples:", "--vault-name"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}
