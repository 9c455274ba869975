package sts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// ADFSPath is the path of the ADFS-style authority, <PublicURL>/adfs. MSAL
// treats an authority whose first path segment is "adfs" as AD FS and skips
// instance discovery, which older clients (az CLI 2.45, MSAL Python 1.21)
// cannot turn off; those clients can log in against it without reaching
// login.microsoftonline.com. AD FS URLs name no tenant, so the tenant is the
// one of the client the request names.
const ADFSPath = "/adfs"

// adfsMetadata is the AD FS authority's OpenID Provider metadata: the fields
// MSAL reads, with the token, authorization and key endpoints under /adfs.
type adfsMetadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	AccessTokenIssuer                 string   `json:"access_token_issuer"`
}

// adfsOpenIDConfiguration serves GET /adfs/.well-known/openid-configuration.
// The issuer is the authority itself, as AD FS reports it; access tokens
// still carry the issuer of the client's tenant (access_token_issuer names
// its form).
func (h *Handler) adfsOpenIDConfiguration(w http.ResponseWriter, r *http.Request) {
	a := h.publicURL + ADFSPath
	w.Header().Set("Cache-Control", metadataCacheControl)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, adfsMetadata{
		Issuer:                            a,
		AuthorizationEndpoint:             a + "/oauth2/authorize",
		TokenEndpoint:                     a + "/oauth2/token",
		JWKSURI:                           a + "/discovery/keys",
		DeviceAuthorizationEndpoint:       a + "/oauth2/devicecode",
		EndSessionEndpoint:                a + "/oauth2/logout",
		TokenEndpointAuthMethodsSupported: authMethods(),
		GrantTypesSupported:               []string{grantClientCredentials},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "id_token token"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		AccessTokenIssuer:                 h.tokenIssuer(tenantPlaceholder),
	})
}

// adfsKeys serves GET /adfs/discovery/keys: every tenant's access-token
// keys, as the multi-tenant key set does.
func (h *Handler) adfsKeys(w http.ResponseWriter, r *http.Request) {
	r.SetPathValue("tenant", "common")
	h.jwks(v1)(w, r)
}

// adfsToken serves the AD FS token endpoint. It takes the tenant of the
// client named by client_id (or the HTTP Basic user) and then handles the
// request exactly as the tenant's own endpoint would: the v2 endpoint when
// the request has a scope (MSAL), the v1 endpoint when it has only a
// resource (ADAL).
func (h *Handler) adfsToken(w http.ResponseWriter, r *http.Request) {
	x := h.startExchange(EndpointADFS)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.refuse(w, r, x, errMalformedRequest(fmt.Sprintf("the request body is larger than %d bytes.", maxFormBytes)), "endpoint", "adfs")
			return
		}
		h.refuse(w, r, x, errMalformedRequest("the request body is not a valid form."), "endpoint", "adfs")
		return
	}
	clientID := r.PostForm.Get("client_id")
	if user, _, ok := r.BasicAuth(); ok && clientID == "" {
		clientID = user
	}
	if clientID == "" {
		h.refuse(w, r, x, errMissingParameter("client_id"), "endpoint", "adfs")
		return
	}
	tid, found, err := h.clientTenant(r.Context(), clientID)
	switch {
	case err != nil:
		h.refuse(w, r, x, errInternal(err), "endpoint", "adfs", "client_id", clip(clientID))
		return
	case !found:
		h.refuse(w, r, x, errClientNotFound(clientID, strings.TrimPrefix(ADFSPath, "/")), "endpoint", "adfs", "client_id", clip(clientID))
		return
	}
	r.SetPathValue("tenant", tid)
	version := v2
	if !r.PostForm.Has("scope") && r.PostForm.Has("resource") {
		version = v1
	}
	h.exchangeToken(w, r, version, x)
}

// clientTenant finds the tenant of the managed identity or service
// principal with clientID.
func (h *Handler) clientTenant(ctx context.Context, clientID string) (string, bool, error) {
	var tid string
	err := h.store.View(ctx, func(tx store.Tx) error {
		alt := strings.ToLower(clientID)
		id, err := store.GetByAlt[store.Identity](ctx, tx, alt)
		switch {
		case err == nil:
			tid = id.TenantID
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("get identity: %w", err)
		}
		sp, err := store.GetByAlt[store.ServicePrincipal](ctx, tx, alt)
		switch {
		case err == nil:
			tid = sp.TenantID
			return nil
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("get service principal: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("find the client's tenant: %w", err)
	}
	return tid, tid != "", nil
}
