package store

import (
	"encoding/json"
	"strings"
	"time"
)

// KindTrustedIssuer is the kind of TrustedIssuer.
const KindTrustedIssuer Kind = "trustedIssuer"

// TrustedIssuerType is the ARM resource type of a trusted issuer: a
// resource of fedcred's own provider namespace.
const TrustedIssuerType = "Fedcred/trustedIssuers"

// TrustedIssuer is an OIDC issuer fedcred neither hosts nor fetches: its
// verification keys were uploaded (or published by the issuer itself), so
// a private cluster whose issuer cannot be reached from fedcred can still
// be trusted by federated credentials. It lives in a subscription; the
// issuer URL is unique per tenant.
type TrustedIssuer struct {
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	// Name is the resource name, in the casing it was created with.
	Name string `json:"name"`
	// Issuer is the issuer URL exactly as tokens carry it in iss.
	Issuer string `json:"issuer"`
	// JWKS is the uploaded JSON web key set, compacted; it holds public
	// keys only (the management API refuses anything else).
	JWKS json.RawMessage `json:"jwks"`
	// KeysUpdatedAt is when JWKS was last replaced.
	KeysUpdatedAt time.Time `json:"keysUpdatedAt"`
	// KeysPublishedBy is the key ID whose proof published the current
	// JWKS through publishKeys; "" when it was uploaded through the
	// management API.
	KeysPublishedBy string `json:"keysPublishedBy,omitempty"`
	// UsedProofs are the publishKeys proofs accepted and not yet expired,
	// kept so that none is accepted twice.
	UsedProofs []UsedProof `json:"usedProofs,omitempty"`
	CreatedAt  time.Time   `json:"createdAt"`
	UpdatedAt  time.Time   `json:"updatedAt"`
}

// UsedProof records one accepted publishKeys proof until it expires.
type UsedProof struct {
	JTI       string    `json:"jti"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Kind implements Object.
func (TrustedIssuer) Kind() Kind { return KindTrustedIssuer }

// Key implements Object: the lower-cased resource ID, so that a
// subscription's trusted issuers list under TrustedIssuersPrefix.
func (i TrustedIssuer) Key() string { return ScopeKey(i.ResourceID()) }

// AltKey implements Object: one trusted issuer per (tenant, issuer URL).
func (i TrustedIssuer) AltKey() string { return TrustedIssuerAltKey(i.TenantID, i.Issuer) }

// ResourceID is the trusted issuer's ARM resource ID.
func (i TrustedIssuer) ResourceID() string { return TrustedIssuerID(i.SubscriptionID, i.Name) }

// TrustedIssuerID is the ARM resource ID of a trusted issuer.
func TrustedIssuerID(sub, name string) string {
	return "/subscriptions/" + sub + "/providers/" + TrustedIssuerType + "/" + name
}

// TrustedIssuersPrefix is the key prefix of every trusted issuer of a
// subscription.
func TrustedIssuersPrefix(sub string) string {
	return ScopeKey("/subscriptions/"+sub+"/providers/"+TrustedIssuerType) + "/"
}

// TrustedIssuerAltKey is the alternate key of the trusted issuer of
// issuerURL in a tenant. The issuer is kept exactly: issuers match
// case-sensitively, as tokens' iss claims do.
func TrustedIssuerAltKey(tenantID, issuerURL string) string {
	if issuerURL == "" {
		return ""
	}
	return strings.ToLower(tenantID) + " " + issuerURL
}
