package graph

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/fedcred/fedcred/internal/store"
)

// ErrUnauthenticated is what Config.Authenticate wraps when a request carries
// no bearer token or an invalid one.
var ErrUnauthenticated = errors.New("unauthenticated")

// Graph error codes.
const (
	codeBadRequest        = "Request_BadRequest"
	codeNotFound          = "Request_ResourceNotFound"
	codeUnsupportedQuery  = "Request_UnsupportedQuery"
	codeDenied            = "Authorization_RequestDenied"
	codeInvalidToken      = "InvalidAuthenticationToken"
	codeSegmentBadRequest = "BadRequest"
	codeQuotaExceeded     = "Directory_QuotaExceeded"
	codeGeneral           = "generalException"
	codeUnavailable       = "serviceNotAvailable"
)

// apiError is a Graph error: an HTTP status and an OData error body. cause,
// if set, is logged and never sent.
type apiError struct {
	status  int
	code    string
	message string
	header  http.Header
	cause   error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.code, e.message, e.cause)
	}
	return e.code + ": " + e.message
}

func (e *apiError) Unwrap() error { return e.cause }

// errorBody is Graph's OData error.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string     `json:"code"`
	Message    string     `json:"message"`
	InnerError innerError `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeBadRequest, message: fmt.Sprintf(format, args...)}
}

// invalidProperty is Graph's message for a rejected property value, with
// fedcred's reason.
func invalidProperty(property, resource, hintFormat string, args ...any) *apiError {
	return badRequest("Invalid value specified for property '%s' of resource '%s'. fedcred: %s",
		property, resource, fmt.Sprintf(hintFormat, args...))
}

func notFound(id string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotFound,
		message: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)}
}

func invalidObjectID(id string) *apiError {
	return badRequest("Invalid object identifier '%s'.", clip(id))
}

func errDuplicateIdentifierURI() *apiError {
	return badRequest("Another object with the same value for property identifierUris already exists.")
}

func errDenied() *apiError {
	return &apiError{status: http.StatusForbidden, code: codeDenied, message: "Insufficient privileges to complete the operation."}
}

func errSegment(segment string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeSegmentBadRequest,
		message: fmt.Sprintf("Resource not found for the segment '%s'.", clip(segment))}
}

func errMethod() *apiError {
	return &apiError{status: http.StatusMethodNotAllowed, code: codeBadRequest,
		message: "Specified HTTP method is not allowed for the request target."}
}

func errQuota(hint string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeQuotaExceeded,
		message: "The directory object quota limit for the Tenant has been exceeded. fedcred: " + hint}
}

// unauthenticated answers a request without a valid bearer token as Graph
// does: 401 InvalidAuthenticationToken with a Bearer challenge.
func unauthenticated(r *http.Request, cause error) *apiError {
	message := "Access token validation failure. Invalid audience, issuer, signature or lifetime."
	if r.Header.Get("Authorization") == "" {
		message = "Access token is empty."
	}
	hdr := http.Header{}
	hdr.Set("WWW-Authenticate", `Bearer realm="", error="invalid_token", client_id="00000003-0000-0000-c000-000000000000"`)
	return &apiError{status: http.StatusUnauthorized, code: codeInvalidToken, message: message, header: hdr, cause: cause}
}

// internal hides an unexpected failure; a store that cannot answer is a 503.
func internal(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, store.ErrUnavailable) {
		hdr := http.Header{}
		hdr.Set("Retry-After", "5")
		return &apiError{status: http.StatusServiceUnavailable, code: codeUnavailable,
			message: "The service is temporarily unavailable. Please retry the request.", header: hdr, cause: err}
	}
	return &apiError{status: http.StatusInternalServerError, code: codeGeneral,
		message: "General exception while processing.", cause: err}
}

// clip bounds caller-supplied text echoed in messages and logs.
func clip(s string) string {
	const limit = 128
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}
