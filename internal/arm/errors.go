package arm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/fedcred/fedcred/internal/store"
)

// ErrUnauthenticated is what Config.Authenticate wraps when a request carries
// no bearer token or an invalid one.
var ErrUnauthenticated = errors.New("unauthenticated")

// apiError is an ARM error: an HTTP status and a CloudError body. cause, if
// set, is logged and never sent.
type apiError struct {
	status  int
	code    string
	message string
	target  string
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

// cloudError is ARM's error body.
type cloudError struct {
	Error cloudErrorBody `json:"error"`
}

type cloudErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

// kubeStatusError is a Kubernetes API error, answered as a Status object.
type kubeStatusError struct {
	code    int
	reason  string
	message string
}

func (e *kubeStatusError) Error() string { return e.reason + ": " + e.message }

// kubeStatus is Kubernetes' meta/v1 Status.
type kubeStatus struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Status     string `json:"status"`
	Message    string `json:"message"`
	Reason     string `json:"reason"`
	Code       int    `json:"code"`
}

// Messages for failures whose detail stays in the log.
const (
	msgInternal    = "The server encountered an internal error. Please retry the request."
	msgUnavailable = "The service is temporarily unavailable. Please retry the request."
)

// writeError writes err: the one place errors become responses.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ke *kubeStatusError
	if errors.As(err, &ke) {
		h.writeJSON(w, r, ke.code, kubeStatus{
			Kind: "Status", APIVersion: "v1", Status: "Failure",
			Message: ke.message, Reason: ke.reason, Code: ke.code,
		})
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		switch {
		case errors.Is(err, store.ErrUnavailable):
			h.log.ErrorContext(r.Context(), "store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
			ae = &apiError{status: http.StatusServiceUnavailable, code: "ServiceUnavailable", message: msgUnavailable}
		case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
			h.log.DebugContext(r.Context(), "request canceled", "method", r.Method, "path", r.URL.Path)
			ae = &apiError{status: http.StatusInternalServerError, code: "InternalServerError", message: msgInternal}
		default:
			h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			ae = &apiError{status: http.StatusInternalServerError, code: "InternalServerError", message: msgInternal}
		}
	} else if ae.cause != nil {
		h.log.DebugContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path,
			"code", ae.code, "err", ae.cause)
	}
	for k, vs := range ae.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(ae.status)
		return
	}
	h.writeJSON(w, r, ae.status, cloudError{Error: cloudErrorBody{Code: ae.code, Message: ae.message, Target: ae.target}})
}

// writeJSON writes v as the response body with the given status.
func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		h.log.ErrorContext(r.Context(), "encode response", "err", err)
		status = http.StatusInternalServerError
		data, _ = json.Marshal(cloudError{Error: cloudErrorBody{Code: "InternalServerError", Message: msgInternal}})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(append(data, '\n')); err != nil {
		h.log.DebugContext(r.Context(), "write response", "err", err)
	}
}

// The errors below are the ARM answers this package gives, one constructor
// per kind of refusal.

func errBadRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "BadRequest", message: fmt.Sprintf(format, args...)}
}

func errInvalidContent(detail string) *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		code:    "InvalidRequestContent",
		message: "The request content was invalid and could not be deserialized: '" + detail + "'.",
	}
}

func errTooLarge(limit int64) *apiError {
	return &apiError{
		status:  http.StatusRequestEntityTooLarge,
		code:    "RequestEntityTooLarge",
		message: fmt.Sprintf("The request content size exceeds the maximum of %d bytes.", limit),
	}
}

func errMissingAPIVersion() *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		code:    "MissingApiVersionParameter",
		message: "The api-version query parameter (?api-version=) is required for all requests.",
	}
}

func errInvalidQuery(name, value, want string) *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		code:    "InvalidQueryParameterValue",
		message: fmt.Sprintf("The value '%s' of query parameter '%s' is invalid: %s.", clip(value), name, want),
		target:  name,
	}
}

func errMethodNotAllowed(method string, allow []string) *apiError {
	h := http.Header{}
	for _, m := range allow {
		h.Add("Allow", m)
	}
	return &apiError{
		status:  http.StatusMethodNotAllowed,
		code:    "MethodNotAllowed",
		message: fmt.Sprintf("The requested resource does not support http method '%s'.", clip(method)),
		header:  h,
	}
}

func errSubscriptionNotFound(sub string) *apiError {
	return &apiError{
		status:  http.StatusNotFound,
		code:    "SubscriptionNotFound",
		message: fmt.Sprintf("The subscription '%s' could not be found.", clip(sub)),
	}
}

func errResourceGroupNotFound(rg string) *apiError {
	return &apiError{
		status:  http.StatusNotFound,
		code:    "ResourceGroupNotFound",
		message: fmt.Sprintf("Resource group '%s' could not be found.", clip(rg)),
	}
}

// errResourceNotFound is ARM's 404 for a resource: typeName is the full
// resource type and name the resource's name path below its group (for a
// child, "parent/child").
func errResourceNotFound(typeName, name, rg string) *apiError {
	return &apiError{
		status:  http.StatusNotFound,
		code:    "ResourceNotFound",
		message: fmt.Sprintf("The Resource '%s/%s' under resource group '%s' was not found.", typeName, clip(name), clip(rg)),
	}
}

func errParentIdentityNotFound() *apiError {
	return &apiError{
		status:  http.StatusNotFound,
		code:    "ParentResourceNotFound",
		message: "The parent user-assigned identity doesn't exist.",
	}
}

func errNoRoute(path string) *apiError {
	return &apiError{
		status:  http.StatusNotFound,
		code:    "NotFound",
		message: fmt.Sprintf("The requested path '%s' is not supported.", clip(path)),
	}
}

func errInvalidResourceType(namespace, typ, apiVersion string) *apiError {
	return &apiError{
		status: http.StatusNotFound,
		code:   "InvalidResourceType",
		message: fmt.Sprintf("The resource type '%s' could not be found in the namespace '%s' for api version '%s'.",
			clip(typ), clip(namespace), clip(apiVersion)),
	}
}

func errLocationRequired() *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		code:    "LocationRequired",
		message: "The location property is required for this definition.",
		target:  "location",
	}
}

func errInvalidLocation(location, typ string) *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		code:    "LocationNotAvailableForResourceType",
		message: fmt.Sprintf("The provided location '%s' is not available for resource type '%s'.", clip(location), typ),
		target:  "location",
	}
}

func errResourceLocationChanged(name, rg, have, want string) *apiError {
	return &apiError{
		status: http.StatusConflict,
		code:   "InvalidResourceLocation",
		message: fmt.Sprintf("The resource '%s' already exists in location '%s' in resource group '%s'. "+
			"A resource with the same name cannot be created in location '%s'. Please select a new resource name.",
			clip(name), have, clip(rg), clip(want)),
	}
}

func errResourceGroupLocationChanged(have, want string) *apiError {
	return &apiError{
		status: http.StatusConflict,
		code:   "InvalidResourceGroupLocation",
		message: fmt.Sprintf("Invalid resource group location '%s'. The Resource group already exists in location '%s'.",
			clip(want), have),
	}
}

func errMissingProperty(target string) *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		code:    "InvalidRequestContent",
		message: fmt.Sprintf("The request content is missing the required property '%s'.", target),
		target:  target,
	}
}

func errRoleDefinitionNotFound(status int, id string) *apiError {
	return &apiError{
		status:  status,
		code:    "RoleDefinitionDoesNotExist",
		message: fmt.Sprintf("The specified role definition with ID '%s' does not exist.", clip(id)),
	}
}

func errInvalidRoleDefinitionID(id string) *apiError {
	return &apiError{
		status: http.StatusBadRequest,
		code:   "InvalidRoleDefinitionId",
		message: fmt.Sprintf("The role definition ID '%s' is not valid. It must be "+
			"/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/{guid}.", clip(id)),
		target: "properties.roleDefinitionId",
	}
}

func errInvalidRoleAssignmentID(name string) *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		code:    "InvalidRoleAssignmentId",
		message: fmt.Sprintf("The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", clip(name)),
	}
}

func errRoleAssignmentNotFound(name string) *apiError {
	return &apiError{
		status:  http.StatusNotFound,
		code:    "RoleAssignmentNotFound",
		message: fmt.Sprintf("The role assignment '%s' is not found.", clip(name)),
	}
}

func errRoleAssignmentExists() *apiError {
	return &apiError{status: http.StatusConflict, code: "RoleAssignmentExists", message: "The role assignment already exists."}
}

func errRoleAssignmentUpdateNotPermitted() *apiError {
	return &apiError{
		status:  http.StatusConflict,
		code:    "RoleAssignmentUpdateNotPermitted",
		message: "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
	}
}

func errPrincipalNotFound(principal, tenant string) *apiError {
	return &apiError{
		status:  http.StatusBadRequest,
		code:    "PrincipalNotFound",
		message: fmt.Sprintf("Principal %s does not exist in the directory %s.", clip(principal), tenant),
	}
}

func errUnmatchedPrincipalType(principal, have, want string) *apiError {
	return &apiError{
		status: http.StatusBadRequest,
		code:   "UnmatchedPrincipalType",
		message: fmt.Sprintf("The PrincipalId '%s' has type '%s', which is different from specified PrincipalType '%s'.",
			clip(principal), have, clip(want)),
		target: "properties.principalType",
	}
}

func errVaultNameNotValid(name string) *apiError {
	return &apiError{
		status: http.StatusBadRequest,
		code:   "VaultNameNotValid",
		message: fmt.Sprintf("The vault name '%s' is invalid. A vault's name must be between 3-24 alphanumeric characters. "+
			"The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.", clip(name)),
	}
}

func errVaultAlreadyExists(name string) *apiError {
	return &apiError{
		status:  http.StatusConflict,
		code:    "VaultAlreadyExists",
		message: fmt.Sprintf("The vault name '%s' is already in use.", clip(name)),
	}
}

func errInvalidName(code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: message}
}

// clip bounds user input echoed in messages.
func clip(s string) string {
	const maxEcho = 256
	if len(s) <= maxEcho {
		return s
	}
	return s[:maxEcho] + "..."
}
