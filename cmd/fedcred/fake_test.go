package main

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Credentials and IDs of the fake server.
const (
	fakeTenant   = "tenant-1"
	fakeClient   = "admin-client"
	fakeSecret   = "admin-secret-value"
	fakeSub      = "sub-1"
	fakeMgmtTok  = "mgmt.eyJvaWQiOiJhZG1pbi1vYmplY3QifQ.sig" // a JWT whose payload is {"oid":"admin-object"}
	fakeVaultTok = "vault-token"
	fakeGraphTok = "graph-token"
	fakePageSize = 2
)

// fakeServer is an in-memory HTTPS fake of fedcred's token endpoint,
// management API, Key Vault data plane and Graph-shaped application API,
// enough to drive the CLI: resource groups, identities, federated
// credentials, clusters, role definitions and assignments, vaults and their
// secrets, applications and app role assignments, paged lists (two items a
// page), ARM, Kubernetes, Key Vault and Graph errors. The admin's client
// credentials get one token per scope (fakeMgmtTok, fakeVaultTok,
// fakeGraphTok), and each API takes only its own. Service-account tokens are
// "sa-token-NS-SA"; a token exchange succeeds when a credential of the
// identity has the subject system:serviceaccount:NS:SA.
type fakeServer struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string

	mu        sync.Mutex
	resources map[string]map[string]any // by lower-cased ID
	requests  []fakeRequest
	secrets   map[string][]map[string]any // versions (oldest first) by lower-cased vault/secret
	apps      []map[string]any            // applications in creation order
	appGrants []map[string]any            // app role assignments
	serial    int                         // for IDs
}

type fakeRequest struct {
	Method, Path, RawPath, Query string
	Form                         url.Values
	Body                         string
	Auth                         string
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, resources: map[string]map[string]any{}, secrets: map[string][]map[string]any{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	f.caFile = filepath.Join(t.TempDir(), "ca.crt")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(f.caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// URL is the fake's base URL.
func (f *fakeServer) URL() string { return f.srv.URL }

// recorded returns the requests so far.
func (f *fakeServer) recorded() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := fakeRequest{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: string(body),
		Auth: r.Header.Get("Authorization")}
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		rec.Form, _ = url.ParseQuery(string(body))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, rec)

	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		f.token(w, strings.Split(strings.Trim(r.URL.Path, "/"), "/")[0], rec.Form)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/vaults/") {
		f.vaultData(w, r, body)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/v1.0/") {
		if rec.Auth != "Bearer "+fakeGraphTok {
			graphError(w, 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
			return
		}
		f.graph(w, r, body)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+fakeMgmtTok {
		armError(w, 401, "AuthenticationFailed", "Authentication failed.")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		armError(w, 400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return
	}
	f.management(w, r, body)
}

func (f *fakeServer) token(w http.ResponseWriter, tenant string, form url.Values) {
	stsError := func(status int, code int, desc string) {
		writeJSON(w, status, map[string]any{
			"error":             "invalid_client",
			"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: 00000000-0000-0000-0000-000000000001\r\nCorrelation ID: x", code, desc),
			"error_codes":       []int{code},
		})
	}
	if tenant != fakeTenant {
		stsError(400, 90002, "Tenant '"+tenant+"' not found.")
		return
	}
	if secret := form.Get("client_secret"); secret != "" {
		if form.Get("client_id") != fakeClient || secret != fakeSecret {
			stsError(401, 7000215, "Invalid client secret provided.")
			return
		}
		tok := "token-for-" + form.Get("scope")
		switch form.Get("scope") {
		case f.srv.URL + "/.default":
			tok = fakeMgmtTok
		case "https://vault.azure.net/.default":
			tok = fakeVaultTok
		case "https://graph.microsoft.com/.default":
			tok = fakeGraphTok
		}
		writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
		return
	}
	if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		stsError(400, 7000216, "client_assertion or client_secret is required.")
		return
	}
	subject := ""
	if rest, ok := strings.CutPrefix(form.Get("client_assertion"), "sa-token-"); ok {
		if ns, sa, ok := strings.Cut(rest, "-"); ok {
			subject = "system:serviceaccount:" + ns + ":" + sa
		}
	}
	for id, res := range f.resources {
		if res["type"] != typeIdentity || res["properties"].(map[string]any)["clientId"] != form.Get("client_id") {
			continue
		}
		for _, fic := range f.children(id+"/federatedidentitycredentials/", "") {
			if fic["properties"].(map[string]any)["subject"] == subject {
				writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": "access-for-" + form.Get("client_id")})
				return
			}
		}
	}
	stsError(400, 700213, "No matching federated identity record found for presented assertion subject '"+subject+"'.")
}

// children lists resources whose ID starts with prefix and, when typ is
// set, have that type, in ID order.
func (f *fakeServer) children(prefix, typ string) []map[string]any {
	var ids []string
	for id, res := range f.resources {
		rest, ok := strings.CutPrefix(id, prefix)
		if ok && !strings.Contains(rest, "/") && (typ == "" || strings.EqualFold(res["type"].(string), typ)) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]map[string]any, len(ids))
	for i, id := range ids {
		out[i] = f.resources[id]
	}
	return out
}

const (
	typeGroup    = "Microsoft.Resources/resourceGroups"
	typeIdentity = "Microsoft.ManagedIdentity/userAssignedIdentities"
	typeFIC      = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
	typeCluster  = "Microsoft.ContainerService/managedClusters"
	typeVault    = "Microsoft.KeyVault/vaults"
)

func (f *fakeServer) management(w http.ResponseWriter, r *http.Request, body []byte) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	is := strings.EqualFold
	n := len(segs)
	switch {
	case n == 1 && is(segs[0], "subscriptions") && r.Method == http.MethodGet:
		writeJSON(w, 200, map[string]any{"value": []any{map[string]any{
			"id": "/subscriptions/" + fakeSub, "subscriptionId": fakeSub, "tenantId": fakeTenant, "displayName": "fake", "state": "Enabled",
		}}})
		return
	case n < 2 || !is(segs[0], "subscriptions") || segs[1] != fakeSub:
		armError(w, 404, "SubscriptionNotFound", "The subscription '"+segs[min(1, n-1)]+"' could not be found.")
		return
	}
	sub := "/subscriptions/" + fakeSub
	for i := 2; i+1 < n; i++ {
		if is(segs[i], "providers") && is(segs[i+1], "Microsoft.Authorization") {
			f.authorization(w, r, body, "/"+strings.Join(segs[:i], "/"), segs[i+2:])
			return
		}
	}
	// Subscription-wide lists.
	if n == 5 && is(segs[2], "providers") && r.Method == http.MethodGet {
		f.list(w, r, sub, segs[3]+"/"+segs[4], true)
		return
	}
	if n < 3 || !is(segs[2], "resourceGroups") {
		armError(w, 404, "NotFound", "no route")
		return
	}
	if n == 3 {
		f.list(w, r, sub+"/resourceGroups/", typeGroup, false)
		return
	}
	rg := segs[3]
	rgID := sub + "/resourceGroups/" + rg
	_, rgExists := f.resources[strings.ToLower(rgID)]
	if n == 4 {
		f.crud(w, r, body, rgID, typeGroup, rg, func(in map[string]any) map[string]any {
			return map[string]any{"location": in["location"], "tags": in["tags"], "properties": map[string]any{"provisioningState": "Succeeded"}}
		})
		return
	}
	if !rgExists {
		armError(w, 404, "ResourceGroupNotFound", "Resource group '"+rg+"' could not be found.")
		return
	}
	if n < 7 || !is(segs[4], "providers") {
		armError(w, 404, "NotFound", "no route")
		return
	}
	typ := segs[5] + "/" + segs[6]
	if n == 7 {
		f.list(w, r, rgID+"/providers/"+typ+"/", typ, false)
		return
	}
	name := segs[7]
	id := rgID + "/providers/" + typ + "/" + name
	switch {
	case is(typ, typeIdentity) && n == 8:
		f.crud(w, r, body, id, typeIdentity, name, func(in map[string]any) map[string]any {
			return map[string]any{"location": in["location"], "tags": in["tags"], "properties": map[string]any{
				"clientId": "client-" + name, "principalId": "principal-" + name, "tenantId": fakeTenant}}
		})
	case is(typ, typeIdentity) && n >= 9 && is(segs[8], "federatedIdentityCredentials"):
		if _, ok := f.resources[strings.ToLower(id)]; !ok {
			armError(w, 404, "ResourceNotFound", "The Resource '"+typeIdentity+"/"+name+"' under resource group '"+rg+"' was not found.")
			return
		}
		if n == 9 {
			f.list(w, r, id+"/federatedIdentityCredentials/", typeFIC, false)
			return
		}
		f.crud(w, r, body, id+"/federatedIdentityCredentials/"+segs[9], typeFIC, segs[9], func(in map[string]any) map[string]any {
			return map[string]any{"properties": in["properties"]}
		})
	case is(typ, typeCluster) && n == 8:
		f.crud(w, r, body, id, typeCluster, name, func(in map[string]any) map[string]any {
			props, _ := in["properties"].(map[string]any)
			oidc, _ := props["oidcIssuerProfile"].(map[string]any)
			enabled, _ := oidc["enabled"].(bool)
			out := map[string]any{"enabled": enabled}
			if enabled {
				out["issuerURL"] = f.srv.URL + "/oidc/" + fakeTenant + "/uid-" + name + "/"
			}
			return map[string]any{"location": in["location"], "tags": in["tags"], "properties": map[string]any{
				"provisioningState": "Succeeded", "kubernetesVersion": "1.33.0", "servicePrincipalProfile": map[string]any{"clientId": "msi"},
				"oidcIssuerProfile": out}}
		})
	case is(typ, typeVault) && n == 8:
		f.crud(w, r, body, id, typeVault, name, func(in map[string]any) map[string]any {
			props, _ := in["properties"].(map[string]any)
			return map[string]any{"location": in["location"], "tags": map[string]any{}, "properties": map[string]any{
				"tenantId": props["tenantId"], "sku": props["sku"], "enableRbacAuthorization": props["enableRbacAuthorization"],
				"vaultUri": f.srv.URL + "/vaults/" + name + "/", "provisioningState": "Succeeded", "accessPolicies": []any{}}}
		})
	case is(typ, typeCluster) && n == 9 && is(segs[8], "rotateServiceAccountSigningKeys") && r.Method == http.MethodPost:
		if _, ok := f.resources[strings.ToLower(id)]; !ok {
			armError(w, 404, "ResourceNotFound", "The Resource '"+typeCluster+"/"+name+"' under resource group '"+rg+"' was not found.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case is(typ, typeCluster) && n == 15 && r.Method == http.MethodPost:
		f.saToken(w, id, segs[11], segs[13], body)
	default:
		armError(w, 404, "NotFound", "no route")
	}
}

// crud serves GET, PUT and DELETE of one resource; build makes the stored
// resource (without id, name and type) from the PUT body.
func (f *fakeServer) crud(w http.ResponseWriter, r *http.Request, body []byte, id, typ, name string, build func(map[string]any) map[string]any) {
	key := strings.ToLower(id)
	cur, exists := f.resources[key]
	switch r.Method {
	case http.MethodGet:
		if !exists {
			notFound(w, typ, id, name)
			return
		}
		writeJSON(w, 200, cur)
	case http.MethodPut:
		var in map[string]any
		if err := json.Unmarshal(body, &in); err != nil {
			armError(w, 400, "InvalidRequestContent", "The request content was invalid.")
			return
		}
		res := build(in)
		res["id"], res["name"], res["type"] = id, name, typ
		f.resources[key] = res
		status := 201
		if exists {
			status = 200
		}
		writeJSON(w, status, res)
	case http.MethodDelete:
		if !exists {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		for k := range f.resources {
			if k == key || strings.HasPrefix(k, key+"/") {
				delete(f.resources, k)
			}
		}
		w.WriteHeader(http.StatusOK)
	default:
		armError(w, 405, "MethodNotAllowed", "no")
	}
}

func notFound(w http.ResponseWriter, typ, id, name string) {
	if typ == typeGroup {
		armError(w, 404, "ResourceGroupNotFound", "Resource group '"+name+"' could not be found.")
		return
	}
	segs := strings.Split(id, "/")
	armError(w, 404, "ResourceNotFound", "The Resource '"+typ+"/"+name+"' under resource group '"+segs[4]+"' was not found.")
}

// list answers a paged list: items under prefix (at any depth when deep)
// of type typ, fakePageSize a page, $skiptoken the index to start at.
func (f *fakeServer) list(w http.ResponseWriter, r *http.Request, prefix, typ string, deep bool) {
	var items []map[string]any
	if deep {
		var ids []string
		for id, res := range f.resources {
			if strings.HasPrefix(id, strings.ToLower(prefix)) && strings.EqualFold(res["type"].(string), typ) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			items = append(items, f.resources[id])
		}
	} else {
		items = f.children(strings.ToLower(prefix), typ)
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	start = min(start, len(items))
	end := min(start+fakePageSize, len(items))
	page := map[string]any{"value": append([]map[string]any{}, items[start:end]...)}
	if end < len(items) {
		page["nextLink"] = f.srv.URL + r.URL.Path + "?api-version=" + r.URL.Query().Get("api-version") + "&$skiptoken=" + strconv.Itoa(end)
	}
	writeJSON(w, 200, page)
}

func (f *fakeServer) saToken(w http.ResponseWriter, clusterID, ns, sa string, body []byte) {
	cluster, ok := f.resources[strings.ToLower(clusterID)]
	if !ok {
		armError(w, 404, "ResourceNotFound", "cluster not found")
		return
	}
	oidc := cluster["properties"].(map[string]any)["oidcIssuerProfile"].(map[string]any)
	if oidc["enabled"] != true {
		armError(w, 400, "OIDCIssuerNotEnabled", "The OIDC issuer of cluster '"+cluster["name"].(string)+"' is not enabled.")
		return
	}
	var tr struct {
		Spec struct {
			ExpirationSeconds int64 `json:"expirationSeconds"`
		} `json:"spec"`
	}
	_ = json.Unmarshal(body, &tr)
	if tr.Spec.ExpirationSeconds < 600 {
		writeJSON(w, 422, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Invalid", "code": 422,
			"message": fmt.Sprintf("TokenRequest.authentication.k8s.io %q is invalid: spec.expirationSeconds: Invalid value: %d: may not specify a duration less than 10 minutes", sa, tr.Spec.ExpirationSeconds)})
		return
	}
	exp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(tr.Spec.ExpirationSeconds) * time.Second)
	writeJSON(w, 201, map[string]any{"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
		"status": map[string]any{"token": "sa-token-" + ns + "-" + sa, "expirationTimestamp": exp.Format(time.RFC3339)}})
}

func armError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
