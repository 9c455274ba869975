package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// fakeSecretEpoch is when the fake's first secret version was made
// (2026-01-02T03:04:05Z); each later version is a second later.
const fakeSecretEpoch = 1767323045

// lockedVault is the name of a vault the admin has no data-plane role on.
const lockedVault = "locked"

func vaultError(w http.ResponseWriter, status int, code, message, inner string) {
	e := map[string]any{"code": code, "message": message}
	if inner != "" {
		e["innererror"] = map[string]any{"code": inner}
	}
	writeJSON(w, status, map[string]any{"error": e})
}

// vaultData serves the Key Vault data plane at /vaults/{vault}/secrets/...
// for the vaults of f.resources: a bearer challenge without the vault token,
// 403 ForbiddenByRbac on lockedVault, set (PUT), get (latest or a version),
// list (paged, absolute nextLink) and delete.
func (f *fakeServer) vaultData(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Header.Get("Authorization") != "Bearer "+fakeVaultTok {
		w.Header().Set("WWW-Authenticate", `Bearer authorization="`+f.srv.URL+"/"+fakeTenant+`", resource="https://vault.azure.net"`)
		vaultError(w, 401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", "")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		vaultError(w, 400, "BadParameter", "The 'api-version' query parameter is missing.", "")
		return
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) < 3 || len(segs) > 5 || segs[2] != "secrets" {
		vaultError(w, 404, "NotFound", "The requested path is not supported.", "")
		return
	}
	var vault map[string]any
	for _, res := range f.resources {
		if res["type"] == typeVault && strings.EqualFold(res["name"].(string), segs[1]) {
			vault = res
		}
	}
	if vault == nil {
		vaultError(w, 404, "VaultNotFound", "The vault '"+segs[1]+"' was not found.", "")
		return
	}
	name := vault["name"].(string)
	if strings.EqualFold(name, lockedVault) {
		vaultError(w, 403, "Forbidden", "Caller is not authorized to perform action on resource.\r\n"+
			"If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n"+
			"Caller: appid="+fakeClient+";oid=admin-object\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\n", "ForbiddenByRbac")
		return
	}
	base := f.srv.URL + "/vaults/" + name + "/"
	switch {
	case len(segs) == 3 && r.Method == http.MethodGet:
		f.listSecrets(w, r, name, base)
	case len(segs) == 4 && r.Method == http.MethodPut:
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil {
			vaultError(w, 400, "BadParameter", "The request body is not JSON.", "")
			return
		}
		for k := range in {
			if k != "value" && k != "contentType" && k != "tags" {
				vaultError(w, 400, "BadParameter", "Unexpected property "+k+".", "")
				return
			}
		}
		if _, ok := in["value"].(string); !ok {
			vaultError(w, 400, "BadParameter", "Property value is required.", "")
			return
		}
		f.serial++
		in["name"], in["version"], in["created"] = segs[3], fmt.Sprintf("%032x", f.serial), fakeSecretEpoch+f.serial-1
		key := strings.ToLower(name + "/" + segs[3])
		f.secrets[key] = append(f.secrets[key], in)
		writeJSON(w, 200, secretBundle(base, in, true))
	case (len(segs) == 4 || len(segs) == 5) && (r.Method == http.MethodGet || r.Method == http.MethodDelete):
		key := strings.ToLower(name + "/" + segs[3])
		versions := f.secrets[key]
		var v map[string]any
		switch {
		case len(segs) == 5:
			for _, c := range versions {
				if c["version"] == segs[4] {
					v = c
				}
			}
		case len(versions) > 0:
			v = versions[len(versions)-1]
		}
		if v == nil || (len(segs) == 5 && r.Method == http.MethodDelete) {
			vaultError(w, 404, "SecretNotFound", "A secret with (name/id) "+segs[3]+" was not found in this key vault. "+
				"If you recently deleted this secret you may be able to recover it using the correct recovery command.", "")
			return
		}
		out := secretBundle(base, v, true)
		if r.Method == http.MethodDelete {
			delete(f.secrets, key)
			// Key Vault sends no value here; the fake does, so the CLI
			// is seen not to print it.
			out["recoveryId"] = base + "deletedsecrets/" + v["name"].(string)
			out["deletedDate"] = fakeSecretEpoch + 3600
			out["scheduledPurgeDate"] = fakeSecretEpoch + 3600
		}
		writeJSON(w, 200, out)
	default:
		vaultError(w, 405, "MethodNotAllowed", "The requested resource does not support http method '"+r.Method+"'.", "")
	}
}

// secretBundle renders a stored version; items (in lists) have no value
// and no version in their ID.
func secretBundle(base string, v map[string]any, withValue bool) map[string]any {
	created := v["created"].(int)
	out := map[string]any{
		"id": base + "secrets/" + v["name"].(string),
		"attributes": map[string]any{"enabled": true, "created": created, "updated": created,
			"recoveryLevel": "Purgeable", "recoverableDays": 0},
	}
	if withValue {
		out["value"] = v["value"]
		out["id"] = out["id"].(string) + "/" + v["version"].(string)
	}
	if ct, ok := v["contentType"]; ok {
		out["contentType"] = ct
	}
	if tags, ok := v["tags"]; ok {
		out["tags"] = tags
	}
	return out
}

func (f *fakeServer) listSecrets(w http.ResponseWriter, r *http.Request, vault, base string) {
	var keys []string
	for k := range f.secrets {
		if strings.HasPrefix(k, strings.ToLower(vault)+"/") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	start, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	start = min(start, len(keys))
	end := min(start+fakePageSize, len(keys))
	items := []map[string]any{}
	for _, k := range keys[start:end] {
		versions := f.secrets[k]
		items = append(items, secretBundle(base, versions[len(versions)-1], false))
	}
	page := map[string]any{"value": items, "nextLink": nil}
	if end < len(keys) {
		page["nextLink"] = base + "secrets?api-version=" + r.URL.Query().Get("api-version") + "&$skiptoken=" + strconv.Itoa(end)
	}
	writeJSON(w, 200, page)
}
