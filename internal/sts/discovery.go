package sts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
)

// metadataCacheControl is sent with tenant metadata and keys. An hour, not
// Entra's day: a tenant key is published (as the ring's next key) before it
// signs, but fedcred does not promise that happens a full day ahead, and a
// retired key should stop being trusted soon after it leaves the set. An
// hour matches the Kubernetes issuer's max-age.
const metadataCacheControl = "public, max-age=3600"

// tenantPlaceholder stands for the tenant in multi-tenant (common,
// organizations) metadata, as Entra writes it.
const tenantPlaceholder = "{tenantid}"

// multiTenant reports whether name is one of Entra's multi-tenant aliases.
func multiTenant(name string) bool {
	return strings.EqualFold(name, "common") || strings.EqualFold(name, "organizations")
}

// discoveryTenant resolves a metadata request's tenant: a known tenant's
// canonical ID, or tenantPlaceholder for common/organizations.
func (h *Handler) discoveryTenant(ctx context.Context, name string) (string, *Error) {
	if multiTenant(name) {
		return tenantPlaceholder, nil
	}
	var (
		id  string
		out *Error
	)
	err := h.store.View(ctx, func(tx store.Tx) error {
		t, e := lookupTenant(ctx, tx, name)
		if e != nil {
			if e.Code == 90002 {
				e = errTenantNotFound(errInvalidTenant, name)
			}
			out = e
			return nil
		}
		id = t.ID
		return nil
	})
	if err != nil {
		return "", errInternal(fmt.Errorf("get tenant: %w", err))
	}
	return id, out
}

// openIDConfiguration serves the tenant's OpenID Provider metadata. The
// issuer is built from PublicURL, so its scheme, host and port are the
// authority's, as MSAL requires.
func (h *Handler) openIDConfiguration(v endpointVersion) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("tenant")
		tid, e := h.discoveryTenant(r.Context(), name)
		if e != nil {
			h.writeError(w, r, e, "tenant", name)
			return
		}
		// Endpoints name the tenant as the request did (a GUID, or common),
		// the issuer uses the canonical ID or the placeholder.
		pathTenant := tid
		if tid == tenantPlaceholder {
			pathTenant = strings.ToLower(name)
		}
		a := h.publicURL + "/" + pathTenant
		var doc any
		if v == v2 {
			doc = h.metadataV2(a, tid)
		} else {
			doc = h.metadataV1(a, tid)
		}
		w.Header().Set("Cache-Control", metadataCacheControl)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		writeJSON(w, http.StatusOK, doc)
	}
}

// metadataV2 is Entra's v2.0 metadata document (reference §3.2).
type metadataV2 struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	KerberosEndpoint                  string   `json:"kerberos_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

// metadataV1 is Entra's v1 metadata document.
type metadataV1 struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	MicrosoftMultiRefreshToken        bool     `json:"microsoft_multi_refresh_token"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	CheckSessionIframe                string   `json:"check_session_iframe"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	KerberosEndpoint                  string   `json:"kerberos_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

func authMethods() []string {
	return []string{"client_secret_post", "private_key_jwt", "client_secret_basic"}
}

func (h *Handler) metadataV2(a, tid string) metadataV2 {
	return metadataV2{
		TokenEndpoint:                     a + "/oauth2/v2.0/token",
		TokenEndpointAuthMethodsSupported: authMethods(),
		JWKSURI:                           a + "/discovery/v2.0/keys",
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "id_token token"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		Issuer:                            h.publicURL + "/" + tid + "/v2.0",
		RequestURIParameterSupported:      false,
		UserinfoEndpoint:                  "https://graph.microsoft.com/oidc/userinfo",
		AuthorizationEndpoint:             a + "/oauth2/v2.0/authorize",
		DeviceAuthorizationEndpoint:       a + "/oauth2/v2.0/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                a + "/oauth2/v2.0/logout",
		ClaimsSupported: []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		KerberosEndpoint:   a + "/kerberos",
		CloudInstanceName:  "microsoftonline.com",
		CloudGraphHostName: "graph.windows.net",
		MSGraphHost:        "graph.microsoft.com",
		RBACURL:            "https://pas.windows.net",
	}
}

func (h *Handler) metadataV1(a, tid string) metadataV1 {
	return metadataV1{
		TokenEndpoint:                     a + "/oauth2/token",
		TokenEndpointAuthMethodsSupported: authMethods(),
		JWKSURI:                           a + "/discovery/keys",
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "token id_token", "token"},
		ScopesSupported:                   []string{"openid"},
		Issuer:                            h.tokenIssuer(tid),
		MicrosoftMultiRefreshToken:        true,
		AuthorizationEndpoint:             a + "/oauth2/authorize",
		DeviceAuthorizationEndpoint:       a + "/oauth2/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                a + "/oauth2/logout",
		ClaimsSupported: []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name",
			"nickname"},
		CheckSessionIframe: a + "/oauth2/checksession",
		UserinfoEndpoint:   a + "/openid/userinfo",
		KerberosEndpoint:   a + "/kerberos",
		CloudInstanceName:  "microsoftonline.com",
		CloudGraphHostName: "graph.windows.net",
		MSGraphHost:        "graph.microsoft.com",
		RBACURL:            "https://pas.windows.net",
	}
}

// jwks serves the tenant's published access-token keys, each with the
// issuer of the matching metadata document, like Entra. For common and
// organizations it serves every tenant's keys.
func (h *Handler) jwks(v endpointVersion) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("tenant")
		tid, e := h.discoveryTenant(r.Context(), name)
		if e != nil {
			h.writeError(w, r, e, "tenant", name)
			return
		}
		tenants := []string{tid}
		if tid == tenantPlaceholder {
			all, err := h.allTenants(r.Context())
			if err != nil {
				h.writeError(w, r, errInternal(err), "tenant", name)
				return
			}
			tenants = all
		}
		iss := h.publicURL + "/" + tid + "/v2.0"
		if v == v1 {
			iss = h.tokenIssuer(tid)
		}
		out := jwksBody{Keys: []json.RawMessage{}}
		for _, t := range tenants {
			set, err := h.keys.PublicKeys(r.Context(), keys.TenantOwner(t))
			if err != nil {
				h.writeError(w, r, errInternal(fmt.Errorf("get keys of tenant %s: %w", t, err)), "tenant", name)
				return
			}
			for _, k := range set.Keys {
				raw, err := withIssuer(k, iss)
				if err != nil {
					h.writeError(w, r, errInternal(err), "tenant", name)
					return
				}
				out.Keys = append(out.Keys, raw)
			}
		}
		w.Header().Set("Cache-Control", metadataCacheControl)
		w.Header().Set("Access-Control-Allow-Origin", "*")
		writeJSON(w, http.StatusOK, out)
	}
}

type jwksBody struct {
	Keys []json.RawMessage `json:"keys"`
}

// withIssuer renders a public JWK with Entra's extra "issuer" member.
func withIssuer(k jose.JSONWebKey, iss string) (json.RawMessage, error) {
	if !k.IsPublic() {
		return nil, errors.New("refuse to publish a private key")
	}
	b, err := k.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("marshal key %s: %w", k.KeyID, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode key %s: %w", k.KeyID, err)
	}
	m["issuer"] = iss
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode key %s: %w", k.KeyID, err)
	}
	return out, nil
}

func (h *Handler) allTenants(ctx context.Context) ([]string, error) {
	var ids []string
	err := h.store.View(ctx, func(tx store.Tx) error {
		ts, err := store.List[store.Tenant](ctx, tx, "", "", 0)
		if err != nil {
			return err
		}
		for _, t := range ts {
			ids = append(ids, t.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return ids, nil
}

// instanceDiscoveryResponse is Entra's instance discovery answer.
type instanceDiscoveryResponse struct {
	TenantDiscoveryEndpoint string             `json:"tenant_discovery_endpoint"`
	APIVersion              string             `json:"api-version"`
	Metadata                []instanceMetadata `json:"metadata"`
}

type instanceMetadata struct {
	PreferredNetwork string   `json:"preferred_network"`
	PreferredCache   string   `json:"preferred_cache"`
	Aliases          []string `json:"aliases"`
}

// instanceDiscovery answers MSAL's instance discovery for this server's own
// host. The authorization_endpoint's host must be PublicURL's host, or the
// host the request was sent to (a client whose login.microsoftonline.com is
// routed here); Python MSAL drops the port, so a host without a port matches
// too. Any other host is refused with invalid_instance, as Entra refuses
// hosts it does not know.
func (h *Handler) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	ae, err := url.Parse(r.URL.Query().Get("authorization_endpoint"))
	if err != nil || ae.Host == "" || (ae.Scheme != "https" && ae.Scheme != "http") {
		h.writeError(w, r, errUnknownInstance().withHint("authorization_endpoint must be an absolute URL."))
		return
	}
	if !sameHost(ae.Host, h.host) && !sameHost(ae.Host, r.Host) {
		h.writeError(w, r, errUnknownInstance().withHint("'%s' is not this server's host '%s'.", ae.Hostname(), h.host))
		return
	}
	tenant := strings.SplitN(strings.TrimPrefix(ae.EscapedPath(), "/"), "/", 2)[0]
	if tenant == "" {
		tenant = "common"
	}
	if !validTenantName(tenant) {
		h.writeError(w, r, errUnknownInstance().withHint("the authorization_endpoint's tenant is not a tenant ID or name."))
		return
	}
	aliases := []string{h.host}
	if !strings.EqualFold(ae.Host, h.host) {
		aliases = append(aliases, ae.Host)
	}
	writeJSON(w, http.StatusOK, instanceDiscoveryResponse{
		TenantDiscoveryEndpoint: h.publicURL + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		APIVersion:              "1.1",
		Metadata:                []instanceMetadata{{PreferredNetwork: h.host, PreferredCache: h.host, Aliases: aliases}},
	})
}

// sameHost reports whether got (host[:port]) names want (host[:port]); a got
// without a port matches any port of want's host.
func sameHost(got, want string) bool {
	if want == "" {
		return false
	}
	gh, gp := splitHost(got)
	wh, wp := splitHost(want)
	return strings.EqualFold(gh, wh) && (gp == "" || gp == wp)
}

// validTenantName reports whether s can be a tenant path segment: letters,
// digits, '-' and '.', as azidentity requires.
func validTenantName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func splitHost(hp string) (host, port string) {
	if h, p, err := net.SplitHostPort(hp); err == nil {
		return h, p
	}
	return strings.Trim(hp, "[]"), ""
}
