package store

import (
	"strings"
	"time"
)

// KindAuditEvent is the kind of audit log entries.
const KindAuditEvent Kind = "auditEvent"

// Audit event kinds.
const (
	AuditTokenIssued    = "token.issued"    // the token service issued an access token
	AuditTokenRefused   = "token.refused"   // the token service refused a token request
	AuditResourceWrite  = "resource.write"  // a management PUT or PATCH
	AuditResourceDelete = "resource.delete" // a management DELETE
	AuditResourceAction = "resource.action" // a management POST (an action)
	AuditKeysRotated    = "keys.rotated"    // signing keys were rotated
	AuditKeysPublished  = "keys.published"  // a trusted issuer published new keys
)

// Audit outcomes.
const (
	AuditSuccess = "success" // the request did what it asked
	AuditDenied  = "denied"  // refused: bad credentials, no matching credential, no role
	AuditFailed  = "failed"  // the server could not complete it (5xx)
)

// AuditTimeFormat is the fixed-width UTC time at the start of an audit
// event ID, so IDs, and keys within a tenant, sort by time.
const AuditTimeFormat = "20060102T150405.000000000Z"

// AuditActor is who made a request: the authenticated principal or, for a
// refused token request, the client it claimed to be.
type AuditActor struct {
	// ObjectID is the principal's object ID (a managed identity's
	// principalId).
	ObjectID string `json:"objectId,omitempty"`
	// ClientID is the principal's client (application) ID.
	ClientID string `json:"clientId,omitempty"`
	// Type is ManagedIdentity, ServicePrincipal or System.
	Type string `json:"type,omitempty"`
}

// AuditOutcome is how a request ended.
type AuditOutcome struct {
	// Result is AuditSuccess, AuditDenied or AuditFailed.
	Result string `json:"result"`
	// Status is the HTTP status answered (0 for events without a request).
	Status int `json:"status,omitempty"`
	// Code is the error code answered: "AADSTS700213" for the token
	// service, an ARM error code such as "AuthorizationFailed" for the
	// management API.
	Code string `json:"code,omitempty"`
}

// AuditEvent is one entry of the append-only audit log: a token issued or
// refused, or a change made through the management API. It never holds a
// token, a client assertion, a secret value or a request body.
type AuditEvent struct {
	// TenantID is the tenant the event belongs to (lower case).
	TenantID string `json:"tenantId"`
	// ID is unique within the tenant and sorts by time: the event time in
	// AuditTimeFormat, "-", and a hexadecimal suffix.
	ID string `json:"id"`
	// Time is when the event happened, in UTC with nanoseconds.
	Time time.Time `json:"time"`
	// EventKind is one of the Audit* kinds (token.issued, resource.write,
	// ...); the Go name differs from the JSON one only because Kind is
	// taken by the Object method.
	EventKind string     `json:"kind"`
	Actor     AuditActor `json:"actor"`
	// ClientID is the client ID a token was requested for, or the
	// management caller's client ID.
	ClientID string `json:"clientId,omitempty"`
	// Target is the ARM resource ID acted on, or the resource a token was
	// requested for.
	Target string `json:"target,omitempty"`
	// SubscriptionID is the subscription the target (or the managed
	// identity a token was issued to) lives in; empty for tenant-level
	// events.
	SubscriptionID string `json:"subscriptionId,omitempty"`
	// Action is the RBAC action of a management request, or how a token
	// client authenticated (client_assertion or client_secret).
	Action  string       `json:"action,omitempty"`
	Outcome AuditOutcome `json:"outcome"`
	// FIC is the name of the federated identity credential that matched or,
	// for a refusal, came closest.
	FIC string `json:"fic,omitempty"`
	// Reason is fedcred's explanation of a refusal (never a credential).
	Reason string `json:"reason,omitempty"`
	// CorrelationID is the caller's correlation ID (client-request-id,
	// x-ms-client-request-id) or the one the server assigned.
	CorrelationID string `json:"correlationId,omitempty"`
	// RequestID is the server's ID of the request (the token service's
	// trace ID, ARM's x-ms-request-id).
	RequestID string `json:"requestId,omitempty"`
	// SourceIP is the address the request came from (the TCP peer).
	SourceIP string `json:"sourceIp,omitempty"`
	// UserAgent is the caller's User-Agent, shortened.
	UserAgent string `json:"userAgent,omitempty"`
}

// Kind implements Object.
func (AuditEvent) Kind() Kind { return KindAuditEvent }

// Key implements Object: events sort under their tenant by time, so a
// tenant prefix and an after key page through them chronologically.
func (e AuditEvent) Key() string { return AuditEventPrefix(e.TenantID) + e.ID }

// AltKey implements Object.
func (AuditEvent) AltKey() string { return "" }

// AuditEventPrefix is the key prefix of every audit event of a tenant.
func AuditEventPrefix(tenantID string) string { return strings.ToLower(tenantID) + "/" }

// AuditTimeKey is the key below which a tenant's events before t sort, and
// after which those at or after t sort.
func AuditTimeKey(tenantID string, t time.Time) string {
	return AuditEventPrefix(tenantID) + t.UTC().Format(AuditTimeFormat)
}
