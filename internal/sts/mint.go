package sts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
)

// AccessClaims are the claims of an issued access token: Entra's v1.0
// app-only token (reference §3.1), which resources such as ARM and Key Vault
// receive.
type AccessClaims struct {
	Audience  string `json:"aud"`
	Issuer    string `json:"iss"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`
	AppID     string `json:"appid"`
	AppIDACR  string `json:"appidacr"`
	IDP       string `json:"idp"`
	IDType    string `json:"idtyp"`
	ObjectID  string `json:"oid"`
	Subject   string `json:"sub"`
	TenantID  string `json:"tid"`
	UTI       string `json:"uti"`
	Version   string `json:"ver"`
	// MIResourceID is a managed identity's resource ID, spelled with
	// lower-case "resourcegroups" as Entra does.
	MIResourceID string `json:"xms_mirid,omitempty"`
	// Roles are the values of the app roles the client holds on the
	// resource application, sorted; absent when it holds none (and for
	// built-in resources).
	Roles []string `json:"roles,omitempty"`
}

// issued is a minted token and its times.
type issued struct {
	token    string
	resource string
	nbf, exp time.Time
	lifetime time.Duration
}

// tokenV2 is the v2 endpoint's success body.
type tokenV2 struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	ExtExpiresIn int64  `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// tokenV1 is the v1 endpoint's success body: numbers as strings.
type tokenV1 struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    string `json:"expires_in"`
	ExtExpiresIn string `json:"ext_expires_in"`
	ExpiresOn    string `json:"expires_on"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	AccessToken  string `json:"access_token"`
}

func (t issued) response(v endpointVersion) any {
	// expires_in is one second short of the lifetime, as Entra sends
	// 3599 and 86399.
	in := int64((t.lifetime - time.Second) / time.Second)
	if v == v1 {
		s := strconv.FormatInt(in, 10)
		return tokenV1{TokenType: "Bearer", ExpiresIn: s, ExtExpiresIn: s,
			ExpiresOn: strconv.FormatInt(t.exp.Unix(), 10), NotBefore: strconv.FormatInt(t.nbf.Unix(), 10),
			Resource: t.resource, AccessToken: t.token}
	}
	return tokenV2{TokenType: "Bearer", ExpiresIn: in, ExtExpiresIn: in, AccessToken: t.token}
}

// tokenIssuer is the iss of the tenant's access tokens.
func (h *Handler) tokenIssuer(tenantID string) string {
	return h.publicURL + "/" + tenantID + "/"
}

func (h *Handler) mint(ctx context.Context, tenant store.Tenant, cl client, auth authResult, req tokenRequest, res resource) (issued, *Error) {
	now := h.now().UTC().Truncate(time.Second)
	life := h.appLife
	if cl.identity != nil {
		life = h.idLife
	}
	uti, err := newUTI()
	if err != nil {
		return issued{}, errInternal(err)
	}
	iss := h.tokenIssuer(tenant.ID)
	c := AccessClaims{
		Audience: req.resource, Issuer: iss, IDP: iss,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(life).Unix(),
		AppIDACR: auth.appidacr(), IDType: "app",
		ObjectID: cl.objectID(), Subject: cl.objectID(), TenantID: tenant.ID,
		UTI: uti, Version: "1.0", Roles: res.roles,
	}
	// appid is the client ID as stored, whatever case the request used.
	if cl.identity != nil {
		c.AppID = cl.identity.ClientID
		c.MIResourceID = mirid(*cl.identity)
	} else {
		c.AppID = cl.sp.ClientID
	}
	tok, err := h.keys.SignJWT(ctx, keys.TenantOwner(tenant.ID), c, map[jose.HeaderKey]any{"typ": "JWT"})
	if err != nil {
		return issued{}, errInternal(fmt.Errorf("sign access token: %w", err))
	}
	return issued{token: tok, resource: req.resource, nbf: now, exp: now.Add(life), lifetime: life}, nil
}

// mirid is xms_mirid: the identity's resource ID with "resourcegroups" in
// lower case.
func mirid(id store.Identity) string {
	return strings.Replace(id.ResourceID(), "/resourceGroups/", "/resourcegroups/", 1)
}

// newUTI returns a random token identifier: 16 bytes, base64url.
func newUTI() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
