package store

import (
	"strings"
	"time"
)

// Kinds of the portal's sign-in state.
const (
	KindPortalSignInCode Kind = "portalSignInCode"
	KindPortalSession    Kind = "portalSession"
)

// PortalPrincipal is who a portal sign-in code or session acts as: the
// principal that asked for the sign-in link, as the management API
// authenticated it.
type PortalPrincipal struct {
	ObjectID string `json:"objectId"`
	ClientID string `json:"clientId"`
	TenantID string `json:"tenantId"`
	// Type is ServicePrincipal or ManagedIdentity.
	Type string `json:"type"`
}

// PortalSignInCode is a one-time portal sign-in code. Only the hash of the
// code is stored: the code itself exists in the sign-in link alone.
type PortalSignInCode struct {
	// Hash is the hex SHA-256 of the code.
	Hash      string          `json:"hash"`
	Principal PortalPrincipal `json:"principal"`
	CreatedAt time.Time       `json:"createdAt"`
	ExpiresAt time.Time       `json:"expiresAt"`
}

// Kind implements Object.
func (PortalSignInCode) Kind() Kind { return KindPortalSignInCode }

// Key implements Object.
func (c PortalSignInCode) Key() string { return strings.ToLower(c.Hash) }

// AltKey implements Object.
func (PortalSignInCode) AltKey() string { return "" }

// PortalSession is a signed-in portal session. Only the hash of the session
// ID is stored: the ID itself exists in the browser's cookie alone, so every
// replica that shares the store recognises the session and none can forge
// one from what the store holds.
type PortalSession struct {
	// Hash is the hex SHA-256 of the session ID.
	Hash      string          `json:"hash"`
	Principal PortalPrincipal `json:"principal"`
	CreatedAt time.Time       `json:"createdAt"`
	// LastSeenAt is when the session was last used, to the granularity the
	// portal records it; the session ends after an idle timeout.
	LastSeenAt time.Time `json:"lastSeenAt"`
	// ExpiresAt ends the session whatever its use.
	ExpiresAt time.Time `json:"expiresAt"`
}

// Kind implements Object.
func (PortalSession) Kind() Kind { return KindPortalSession }

// Key implements Object.
func (s PortalSession) Key() string { return strings.ToLower(s.Hash) }

// AltKey implements Object.
func (PortalSession) AltKey() string { return "" }
