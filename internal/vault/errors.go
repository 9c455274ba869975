package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// apiError is a Key Vault error: an HTTP status and an error body. cause, if
// set, is logged at debug level and never sent.
type apiError struct {
	status  int
	code    string
	message string
	inner   string // innererror.code, "" for none
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

// errorBody is Key Vault's error body.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code       string      `json:"code"`
	Message    string      `json:"message"`
	InnerError *innerError `json:"innererror,omitempty"`
}

type innerError struct {
	Code string `json:"code"`
}

// Messages for failures whose detail stays in the log.
const (
	msgInternal    = "The server encountered an internal error. Please retry the request."
	msgUnavailable = "The service is temporarily unavailable. Please retry the request."
)

// writeError writes err: the one place errors become responses.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		switch {
		case errors.Is(err, store.ErrUnavailable):
			h.log.ErrorContext(r.Context(), "store unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
			ae = &apiError{status: http.StatusServiceUnavailable, code: "ServiceUnavailable", message: msgUnavailable}
		case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
			h.log.DebugContext(r.Context(), "request canceled", "method", r.Method, "path", r.URL.Path)
			ae = &apiError{status: http.StatusInternalServerError, code: "InternalError", message: msgInternal}
		default:
			h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			ae = &apiError{status: http.StatusInternalServerError, code: "InternalError", message: msgInternal}
		}
	} else {
		h.log.DebugContext(r.Context(), "request refused", "method", r.Method, "path", r.URL.Path,
			"status", ae.status, "code", ae.code, "err", ae.cause)
	}
	for k, vs := range ae.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body := errorBody{Error: errorDetail{Code: ae.code, Message: ae.message}}
	if ae.inner != "" {
		body.Error.InnerError = &innerError{Code: ae.inner}
	}
	h.writeJSON(w, r, ae.status, body)
}

// writeJSON writes v as the response body with the given status.
func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		h.log.ErrorContext(r.Context(), "encode response", "err", err)
		status = http.StatusInternalServerError
		data, _ = json.Marshal(errorBody{Error: errorDetail{Code: "InternalError", Message: msgInternal}})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(data); err != nil {
		h.log.DebugContext(r.Context(), "write response", "err", err)
	}
}

// clip shortens client-supplied text quoted in an error message.
func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// The errors below are the Key Vault answers this package gives, one
// constructor per kind of refusal.

func errBadParameter(message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "BadParameter", message: message}
}

// errUnauthorized is a 401 with Key Vault's bearer challenge, naming the
// tenant whose token the vault wants.
func errUnauthorized(tenant, publicURL, message string, cause error) *apiError {
	h := http.Header{}
	h.Set("WWW-Authenticate", challenge(publicURL, tenant))
	return &apiError{status: http.StatusUnauthorized, code: "Unauthorized", message: message, header: h, cause: cause}
}

// challenge is the WWW-Authenticate value of a 401: the Azure SDKs take the
// tenant from the authorization URL's first path segment and the token's
// scope from resource.
func challenge(publicURL, tenant string) string {
	return fmt.Sprintf(`Bearer authorization="%s/%s", resource="%s"`, publicURL, tenant, Resource)
}

func errForbiddenByRBAC(publicURL string, c Caller, action, scope string, v store.Vault) *apiError {
	var b strings.Builder
	b.WriteString("Caller is not authorized to perform action on resource.\r\n")
	b.WriteString("If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n")
	fmt.Fprintf(&b, "Caller: appid=%s;oid=%s;iss=%s/%s/\r\n", c.AppID, c.ObjectID, publicURL, c.TenantID)
	fmt.Fprintf(&b, "Action: '%s'\r\n", action)
	fmt.Fprintf(&b, "Resource: '%s'\r\n", strings.ToLower(scope))
	b.WriteString("Assignment: (not found)\r\n")
	b.WriteString("DecisionReason: 'DeniedWithNoValidRBAC' \r\n")
	fmt.Fprintf(&b, "Vault: %s;location=%s\r\n", v.Name, v.Location)
	return &apiError{status: http.StatusForbidden, code: "Forbidden", message: b.String(), inner: "ForbiddenByRbac"}
}

func errSecretDisabled() *apiError {
	return &apiError{
		status:  http.StatusForbidden,
		code:    "Forbidden",
		message: "Operation get is not allowed on a disabled secret.",
		inner:   "SecretDisabled",
	}
}

func errSecretNotFound(name string) *apiError {
	return &apiError{
		status: http.StatusNotFound,
		code:   "SecretNotFound",
		message: fmt.Sprintf("A secret with (name/id) %s was not found in this key vault. If you recently deleted "+
			"this secret you may be able to recover it using the correct recovery command. For help resolving this "+
			"issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", clip(name)),
	}
}

func errDeletedSecretNotFound(name string) *apiError {
	return &apiError{
		status: http.StatusNotFound,
		code:   "DeletedSecretNotFound",
		message: fmt.Sprintf("Deleted Secret not found: %s. fedcred purges secrets when they are deleted; "+
			"it keeps no deleted secrets to recover.", clip(name)),
	}
}

func errVaultNotFound(name string) *apiError {
	return &apiError{
		status:  http.StatusNotFound,
		code:    "VaultNotFound",
		message: fmt.Sprintf("The vault '%s' was not found.", clip(name)),
	}
}

func errNoRoute(path string) *apiError {
	return &apiError{
		status:  http.StatusNotFound,
		code:    "NotFound",
		message: fmt.Sprintf("The requested path '%s' is not supported.", clip(path)),
	}
}

func errMethodNotAllowed(method string, allow []string) *apiError {
	h := http.Header{}
	h.Set("Allow", strings.Join(allow, ", "))
	return &apiError{
		status:  http.StatusMethodNotAllowed,
		code:    "MethodNotAllowed",
		message: fmt.Sprintf("The requested resource does not support http method '%s'.", clip(method)),
		header:  h,
	}
}
