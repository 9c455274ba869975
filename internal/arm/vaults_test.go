package arm

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/store"
)

func vaultBodyJSON(props map[string]any) map[string]any {
	b := map[string]any{"location": "eastus"}
	if props != nil {
		b["properties"] = props
	}
	return b
}

func TestVaults_Lifecycle(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	path := vaultPath("rg", "App-Vault")

	r := env.call(http.MethodPut, path, map[string]any{
		"location": "West Europe", "tags": map[string]string{"env": "dev"},
		"properties": map[string]any{
			"tenantId": strings.ToUpper(testTenant), "sku": map[string]any{"family": "A", "name": "standard"},
			"enableRbacAuthorization": true,
			"accessPolicies":          []any{map[string]any{"objectId": adminObjectID}}, // ignored under RBAC, as in Azure
		},
	}).wantStatus(t, http.StatusCreated)
	var created map[string]any
	r.decode(t, &created)
	wantTop := map[string]any{
		"id": path, "name": "App-Vault", "type": "Microsoft.KeyVault/vaults", "location": "westeurope",
	}
	for k, v := range wantTop {
		if created[k] != v {
			t.Errorf("%s = %v, want %v", k, created[k], v)
		}
	}
	if tags, _ := created["tags"].(map[string]any); tags["env"] != "dev" {
		t.Errorf("tags = %v", created["tags"])
	}
	props, _ := created["properties"].(map[string]any)
	wantProps := map[string]any{
		"tenantId": testTenant, "vaultUri": testPublicURL + "/vaults/App-Vault/", "enableRbacAuthorization": true,
		"enableSoftDelete": false, "provisioningState": "Succeeded",
	}
	for k, v := range wantProps {
		if props[k] != v {
			t.Errorf("properties.%s = %v, want %v", k, props[k], v)
		}
	}
	if sku, _ := props["sku"].(map[string]any); sku["family"] != "A" || sku["name"] != "standard" {
		t.Errorf("sku = %v", props["sku"])
	}
	if ap, ok := props["accessPolicies"].([]any); !ok || len(ap) != 0 {
		t.Errorf("accessPolicies = %#v, want []", props["accessPolicies"])
	}

	t.Run("minimal body defaults the tenant and sku", func(t *testing.T) {
		var got vaultJSON
		env.mustCreate(vaultPath("rg", "kv-minimal"), vaultBodyJSON(nil)).decode(t, &got)
		if got.Properties.TenantID != testTenant || got.Properties.SKU != (vaultSKU{Family: "A", Name: "standard"}) {
			t.Errorf("properties = %+v", got.Properties)
		}
	})
	t.Run("update replaces tags and keeps the name", func(t *testing.T) {
		var got vaultJSON
		env.call(http.MethodPut, vaultPath("rg", "app-vault"), map[string]any{"location": "westeurope", "tags": map[string]string{"x": "y"}}).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Name != "App-Vault" || len(got.Tags) != 1 || got.Tags["x"] != "y" {
			t.Errorf("updated = %+v", got)
		}
	})
	t.Run("location cannot change", func(t *testing.T) {
		env.call(http.MethodPut, path, vaultBodyJSON(nil)).wantError(t, http.StatusConflict, "InvalidResourceLocation", "")
	})
	t.Run("get", func(t *testing.T) {
		var got vaultJSON
		env.call(http.MethodGet, strings.ToLower(path), nil).wantStatus(t, http.StatusOK).decode(t, &got)
		if got.ID != path || got.Properties.VaultURI != testPublicURL+"/vaults/App-Vault/" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		env.call(http.MethodDelete, path, nil).wantStatus(t, http.StatusOK)
		env.call(http.MethodGet, path, nil).wantError(t, http.StatusNotFound, "ResourceNotFound",
			"The Resource 'Microsoft.KeyVault/vaults/App-Vault' under resource group 'rg' was not found.")
		env.call(http.MethodDelete, path, nil).wantStatus(t, http.StatusNoContent)
	})
}

func TestVaults_Validation(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	nameMsg := func(name string) string {
		return "The vault name '" + name + "' is invalid. A vault's name must be between 3-24 alphanumeric characters. " +
			"The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens."
	}
	tests := []struct {
		name    string
		vault   string
		rg      string
		body    any
		status  int
		code    string
		message string
	}{
		{name: "shortest name", vault: "kv1", body: vaultBodyJSON(nil), status: http.StatusCreated},
		{name: "longest name", vault: "k" + strings.Repeat("v", 22) + "1", body: vaultBodyJSON(nil), status: http.StatusCreated},
		{name: "too short", vault: "kv", body: vaultBodyJSON(nil), status: http.StatusBadRequest, code: "VaultNameNotValid", message: nameMsg("kv")},
		{name: "too long", vault: "k" + strings.Repeat("v", 23) + "1", body: vaultBodyJSON(nil), status: http.StatusBadRequest, code: "VaultNameNotValid"},
		{name: "starts with a digit", vault: "1kv", body: vaultBodyJSON(nil), status: http.StatusBadRequest, code: "VaultNameNotValid"},
		{name: "ends with a hyphen", vault: "kv-", body: vaultBodyJSON(nil), status: http.StatusBadRequest, code: "VaultNameNotValid"},
		{name: "consecutive hyphens", vault: "k--v", body: vaultBodyJSON(nil), status: http.StatusBadRequest, code: "VaultNameNotValid", message: nameMsg("k--v")},
		{name: "underscore", vault: "k_v1", body: vaultBodyJSON(nil), status: http.StatusBadRequest, code: "VaultNameNotValid"},
		{name: "location required", vault: "kv-noloc", body: map[string]any{"properties": map[string]any{}}, status: http.StatusBadRequest, code: "LocationRequired"},
		{name: "tenant of another directory", vault: "kv-tenant", body: vaultBodyJSON(map[string]any{"tenantId": otherTenant}),
			status: http.StatusBadRequest, code: "BadRequest"},
		{name: "premium sku", vault: "kv-premium", body: vaultBodyJSON(map[string]any{"sku": map[string]any{"family": "A", "name": "premium"}}),
			status: http.StatusBadRequest, code: "BadRequest"},
		{name: "other sku family", vault: "kv-family", body: vaultBodyJSON(map[string]any{"sku": map[string]any{"family": "B", "name": "standard"}}),
			status: http.StatusBadRequest, code: "BadRequest"},
		{name: "access policies instead of rbac", vault: "kv-policies", body: vaultBodyJSON(map[string]any{"enableRbacAuthorization": false}),
			status: http.StatusBadRequest, code: "BadRequest"},
		{name: "sku case-insensitive", vault: "kv-upper", body: vaultBodyJSON(map[string]any{"sku": map[string]any{"family": "a", "name": "Standard"}}),
			status: http.StatusCreated},
		{name: "missing group", vault: "kv-nogroup", rg: "absent", body: vaultBodyJSON(nil), status: http.StatusNotFound, code: "ResourceGroupNotFound"},
		{name: "bad tags", vault: "kv-tags", body: map[string]any{"location": "eastus", "tags": manyTags(51)}, status: http.StatusBadRequest, code: "InvalidTag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rg := tt.rg
			if rg == "" {
				rg = "rg"
			}
			r := env.call(http.MethodPut, vaultPath(rg, tt.vault), tt.body)
			if tt.code == "" {
				r.wantStatus(t, tt.status)
				return
			}
			r.wantError(t, tt.status, tt.code, tt.message)
		})
	}
	t.Run("missing vault", func(t *testing.T) {
		t.Parallel()
		env.call(http.MethodGet, vaultPath("rg", "absent"), nil).wantError(t, http.StatusNotFound, "ResourceNotFound", "")
		env.call(http.MethodGet, vaultPath("absent", "absent"), nil).wantError(t, http.StatusNotFound, "ResourceGroupNotFound", "")
		env.call(http.MethodDelete, vaultPath("absent", "absent"), nil).wantError(t, http.StatusNotFound, "ResourceGroupNotFound", "")
	})
	t.Run("no vault directly under a subscription", func(t *testing.T) {
		t.Parallel()
		env.call(http.MethodGet, subPath+"/providers/Microsoft.KeyVault/vaults/kv1", nil).wantError(t, http.StatusNotFound, "NotFound", "")
	})
	t.Run("patch is not served", func(t *testing.T) {
		t.Parallel()
		r := env.call(http.MethodPatch, vaultPath("rg", "kv1"), map[string]any{})
		r.wantError(t, http.StatusMethodNotAllowed, "MethodNotAllowed", "")
		if got := strings.Join(r.header.Values("Allow"), ","); got != "GET,PUT,DELETE" {
			t.Errorf("Allow = %s", got)
		}
	})
}

func TestVaults_NamesAreGloballyUnique(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg1")
	env.createGroup("rg2")
	env.mustCreate(vaultPath("rg1", "shared-kv"), vaultBodyJSON(nil))
	const msg = "The vault name 'Shared-KV' is already in use."

	env.call(http.MethodPut, vaultPath("rg2", "Shared-KV"), vaultBodyJSON(nil)).wantError(t, http.StatusConflict, "VaultAlreadyExists", msg)
	otherRG := "/subscriptions/" + otherSub + "/resourceGroups/theirs"
	env.callAs(otherTenantToken, http.MethodPut, otherRG, map[string]any{"location": "eastus"}).wantStatus(t, http.StatusCreated)
	env.callAs(otherTenantToken, http.MethodPut, otherRG+"/providers/Microsoft.KeyVault/vaults/Shared-KV", vaultBodyJSON(nil)).
		wantError(t, http.StatusConflict, "VaultAlreadyExists", msg)

	env.call(http.MethodDelete, vaultPath("rg1", "shared-kv"), nil).wantStatus(t, http.StatusOK)
	env.mustCreate(vaultPath("rg2", "Shared-KV"), vaultBodyJSON(nil))
}

func TestVaults_List(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg-b")
	env.createGroup("rg-a")
	for _, n := range []string{"zeta-kv", "Alpha-kv"} {
		env.mustCreate(vaultPath("rg-b", n), vaultBodyJSON(nil))
	}
	env.mustCreate(vaultPath("rg-a", "other-kv"), vaultBodyJSON(nil))

	tests := []struct {
		name string
		path string
		want []string
	}{
		{name: "resource group", path: rgPath("rg-b") + "/providers/Microsoft.KeyVault/vaults", want: []string{"Alpha-kv", "zeta-kv"}},
		{name: "subscription", path: subPath + "/providers/Microsoft.KeyVault/vaults", want: []string{"other-kv", "Alpha-kv", "zeta-kv"}},
		{name: "paged", path: subPath + "/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01&$top=2", want: []string{"other-kv", "Alpha-kv", "zeta-kv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			path := tt.path
			for pages := 0; path != ""; pages++ {
				if pages > 3 {
					t.Fatal("too many pages")
				}
				var page listResult[vaultJSON]
				env.call(http.MethodGet, path, nil).wantStatus(t, http.StatusOK).decode(t, &page)
				for _, v := range page.Value {
					got = append(got, v.Name)
				}
				path = strings.TrimPrefix(page.NextLink, testPublicURL)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("vaults = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("missing group", func(t *testing.T) {
		t.Parallel()
		env.call(http.MethodGet, rgPath("absent")+"/providers/Microsoft.KeyVault/vaults", nil).wantError(t, http.StatusNotFound, "ResourceGroupNotFound", "")
	})
}

func TestVaults_DeleteRemovesSecrets(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.createGroup("rg2")
	env.mustCreate(vaultPath("rg", "kv1"), vaultBodyJSON(nil))
	env.mustCreate(vaultPath("rg", "kv10"), vaultBodyJSON(nil)) // its name extends kv1's: its secrets survive
	env.mustCreate(vaultPath("rg2", "kv2"), vaultBodyJSON(nil))
	ctx := context.Background()
	secret := func(vault, name, version string) store.Secret {
		return store.Secret{VaultName: vault, Name: name, Version: version, SealedValue: []byte("sealed"), Enabled: true, CreatedAt: testNow, UpdatedAt: testNow}
	}
	err := env.store.Update(ctx, func(tx store.Tx) error {
		for _, s := range []store.Secret{
			secret("kv1", "db", "v1"), secret("kv1", "db", "v2"), secret("kv1", "api", "v1"),
			secret("kv10", "db", "v1"), secret("kv2", "db", "v1"),
		} {
			if err := store.Create(ctx, tx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	secrets := func(vault string) int {
		t.Helper()
		var n int
		err := env.store.View(ctx, func(tx store.Tx) error {
			got, err := store.List[store.Secret](ctx, tx, store.VaultSecretsPrefix(vault), "", 0)
			n = len(got)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	t.Run("vault delete", func(t *testing.T) {
		env.call(http.MethodDelete, vaultPath("rg", "KV1"), nil).wantStatus(t, http.StatusOK)
		if n := secrets("kv1"); n != 0 {
			t.Errorf("%d secret versions left in the deleted vault", n)
		}
		if n := secrets("kv10"); n != 1 {
			t.Errorf("kv10 has %d secret versions, want 1", n)
		}
	})
	t.Run("recreated vault is empty", func(t *testing.T) {
		env.mustCreate(vaultPath("rg2", "kv1"), vaultBodyJSON(nil))
		if n := secrets("kv1"); n != 0 {
			t.Errorf("recreated vault has %d secret versions", n)
		}
	})
	t.Run("group delete", func(t *testing.T) {
		env.call(http.MethodDelete, rgPath("rg2"), nil).wantStatus(t, http.StatusOK)
		if n := secrets("kv2"); n != 0 {
			t.Errorf("%d secret versions left in the deleted group's vault", n)
		}
		env.call(http.MethodGet, vaultPath("rg2", "kv2"), nil).wantError(t, http.StatusNotFound, "ResourceGroupNotFound", "")
		env.mustCreate(vaultPath("rg", "kv2"), vaultBodyJSON(nil)) // the name is free again
	})
}
