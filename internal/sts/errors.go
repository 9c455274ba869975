package sts

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fedcred/fedcred/internal/store"
)

// OAuth error values, as Entra sends them.
const (
	errInvalidRequest       = "invalid_request"
	errInvalidClient        = "invalid_client"
	errUnauthorizedClient   = "unauthorized_client"
	errInvalidScope         = "invalid_scope"
	errInvalidResource      = "invalid_resource"
	errUnsupportedGrantType = "unsupported_grant_type"
	errInvalidTenant        = "invalid_tenant"
	errInvalidInstance      = "invalid_instance"
	errTemporarilyUnavail   = "temporarily_unavailable"
)

const wifDocs = "https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"

// Error is a refusal the STS sends as Entra's error JSON. Every refusal is an
// *Error built by one of the constructors below and written by writeError;
// nothing else writes an error response.
type Error struct {
	Status int    // HTTP status
	OAuth  string // the "error" member
	Code   int    // AADSTS number
	Text   string // error_description after "AADSTSnnnn: ", before the trace suffix
	// Hint is fedcred's explanation beyond Entra's text, appended to Text.
	Hint string
	// Err is an internal cause; it is logged and never sent.
	Err error
	// Log carries extra attributes for the refusal's log line (a FIC name).
	Log []any
}

// Error implements error.
func (e *Error) Error() string {
	s := fmt.Sprintf("AADSTS%d: %s", e.Code, e.Text)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) description() string {
	if e.Hint == "" {
		return e.Text
	}
	return e.Text + " fedcred: " + e.Hint
}

func (e *Error) withHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// errorBody is Entra's error JSON, members in Entra's order.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

// entraTimestamp is the format of "timestamp" and of the description's suffix.
const entraTimestamp = "2006-01-02 15:04:05Z"

// assertionTime is how Entra prints times inside AADSTS texts.
const assertionTime = "2006-01-02T15:04:05.0000000Z"

func formatAssertionTime(t time.Time) string { return t.UTC().Format(assertionTime) }

func (h *Handler) errorBody(e *Error, traceID, correlationID string) errorBody {
	ts := h.now().UTC().Format(entraTimestamp)
	return errorBody{
		Error: e.OAuth,
		ErrorDescription: fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			e.Code, e.description(), traceID, correlationID, ts),
		ErrorCodes:    []int{e.Code},
		Timestamp:     ts,
		TraceID:       traceID,
		CorrelationID: correlationID,
		ErrorURI:      fmt.Sprintf("%s/error?code=%d", h.publicURL, e.Code),
	}
}

// The refusals. Texts follow Entra's (reference §2.4); where Entra's code for
// a case is not known the choice is explained on the constructor.

func errTenantNotFound(oauth, tenant string) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: oauth, Code: 90002,
		Text: fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)}
}

func errMissingParameter(name string) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidRequest, Code: 900144,
		Text: fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

func errUnsupportedGrant(grant string) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errUnsupportedGrantType, Code: 70003,
		Text: fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant)}
}

func errResourceOnV2() *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidRequest, Code: 901002,
		Text: "The 'resource' request parameter is not supported."}
}

func errInvalidScopeValue(scope string) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidScope, Code: 70011,
		Text: fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)}
}

// errMalformedRequest is Entra's generic "request is malformed" (9002313),
// used for what Entra has no finer code for that fedcred knows of: an
// oversized or unparsable body, a repeated parameter, two client
// authentication methods at once, HTTP Basic credentials naming another client.
func errMalformedRequest(hint string) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidRequest, Code: 9002313,
		Text: "Invalid request. Request is malformed or invalid.", Hint: hint}
}

func errClientNotFound(clientID, tenant string) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errUnauthorizedClient, Code: 700016,
		Text: fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)}
}

// errNoCredential is 7000218. The reference lists it as invalid_request;
// real responses quoted in MSAL and next-auth issues say invalid_client, and
// fedcred follows the observed responses (401).
func errNoCredential() *Error {
	return &Error{Status: http.StatusUnauthorized, OAuth: errInvalidClient, Code: 7000218,
		Text: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

func errBadSecret() *Error {
	return &Error{Status: http.StatusUnauthorized, OAuth: errInvalidClient, Code: 7000215,
		Text: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."}
}

func errSecretExpired(clientID string) *Error {
	return &Error{Status: http.StatusUnauthorized, OAuth: errInvalidClient, Code: 7000222,
		Text: fmt.Sprintf("The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", clientID)}
}

// errAssertionType is Entra's 90011 for a client_assertion_type other than
// jwt-bearer (observed in ADAL issues).
func errAssertionType() *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidRequest, Code: 90011,
		Text: "Unexpected client assertion type.",
		Hint: "client_assertion_type must be '" + jwtBearer + "'."}
}

func errMalformedAssertion(hint string) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidRequest, Code: 50027,
		Text: "JWT token is invalid or malformed.", Hint: hint}
}

func errSignature(issuer string) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidRequest, Code: 50027,
		Text: fmt.Sprintf("JWT token is invalid or malformed. External ID token from issuer '%s' failed signature verification.", issuer)}
}

func errIssuerKeys(hint string) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidRequest, Code: 90061,
		Text: "Request to External OIDC endpoint failed.", Hint: hint}
}

// errBadProviderKeys is 900612: the issuer's JWKS does not parse or holds
// no usable key.
func errBadProviderKeys(hint string) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidRequest, Code: 900612,
		Text: "Failed to parse provider signing keys.", Hint: hint}
}

func errAssertionLifetime(iat, exp time.Time) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidRequest, Code: 70023,
		Text: fmt.Sprintf("External OIDC Provider token must have a lifetime of less than or equal to 1.01:00:00. Token issued at %s. Token expires on %s.",
			formatAssertionTime(iat), formatAssertionTime(exp))}
}

func errAssertionTime(now, nbf, exp time.Time) *Error {
	return &Error{Status: http.StatusUnauthorized, OAuth: errInvalidClient, Code: 700024,
		Text: fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
			formatAssertionTime(now), formatAssertionTime(nbf), formatAssertionTime(exp))}
}

func errNoFICForIssuer(iss string) *Error {
	return &Error{Status: http.StatusUnauthorized, OAuth: errInvalidClient, Code: 700211,
		Text: fmt.Sprintf("No matching federated identity record found for presented assertion issuer '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. %s", iss, wifDocs)}
}

func errNoFICForSubject(sub string) *Error {
	return &Error{Status: http.StatusUnauthorized, OAuth: errInvalidClient, Code: 700213,
		Text: fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", sub)}
}

func errSubjectCase(sub string) *Error {
	return &Error{Status: http.StatusUnauthorized, OAuth: errInvalidClient, Code: 7002138,
		Text: fmt.Sprintf("No matching federated identity record found for presented assertion subject '%s'. The subject matches with case-insensitive comparison, but not with case-sensitive comparison. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. See documentation at: https://learn.microsoft.com/entra/workload-id/workload-identity-federation. See breaking change notification and remediation at: https://learn.microsoft.com/en-us/entra/identity-platform/reference-breaking-changes#august-2024.", sub)}
}

func errNoFICForAudience(aud []string) *Error {
	return &Error{Status: http.StatusUnauthorized, OAuth: errInvalidClient, Code: 700212,
		Text: fmt.Sprintf("No matching federated identity record found for presented assertion audience '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. %s", strings.Join(aud, ","), wifDocs)}
}

func errResourceNotFound(resource, tenantName string) *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidResource, Code: 500011,
		Text: fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, tenantName)}
}

func errUnknownInstance() *Error {
	return &Error{Status: http.StatusBadRequest, OAuth: errInvalidInstance, Code: 50049,
		Text: "Unknown or invalid instance."}
}

// errInternal hides an unexpected failure (the store is down, a key ring is
// empty) behind Entra's transient-error text; the cause is only logged.
// A store that cannot answer (database lost, replica catching up) is a 503.
func errInternal(err error) *Error {
	status := http.StatusInternalServerError
	if errors.Is(err, store.ErrUnavailable) {
		status = http.StatusServiceUnavailable
	}
	return &Error{Status: status, OAuth: errTemporarilyUnavail, Code: 90033,
		Text: "A transient error has occurred. Please try again.", Err: err}
}
