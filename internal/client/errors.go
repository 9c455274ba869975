package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// APIError is an error answer of the management API: an ARM error body
// {"error":{"code","message"}}, or a Kubernetes Status object for the
// service-account token call (Code is then the Status reason).
type APIError struct {
	StatusCode int
	Code       string
	Message    string
	Target     string
}

// Error prints the error the way az does: "(Code) Message".
func (e *APIError) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return "(" + e.Code + ") " + e.Message
}

// IsNotFound reports whether the server answered 404.
func (e *APIError) IsNotFound() bool { return e.StatusCode == http.StatusNotFound }

// decodeAPIError reads an error body of any shape the API uses.
func decodeAPIError(status int, body []byte) *APIError {
	var shape struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Target  string `json:"target"`
		} `json:"error"`
		Kind    string `json:"kind"`
		Message string `json:"message"`
		Reason  string `json:"reason"`
	}
	if json.Unmarshal(body, &shape) == nil {
		switch {
		case shape.Error != nil && (shape.Error.Code != "" || shape.Error.Message != ""):
			return &APIError{StatusCode: status, Code: shape.Error.Code, Message: shape.Error.Message, Target: shape.Error.Target}
		case shape.Kind == "Status" && shape.Message != "":
			return &APIError{StatusCode: status, Code: shape.Reason, Message: shape.Message}
		}
	}
	return &APIError{
		StatusCode: status,
		Code:       fmt.Sprintf("HTTP%d", status),
		Message:    fmt.Sprintf("The server answered %d %s.", status, http.StatusText(status)),
	}
}

// TokenError is an error answer of the token endpoint, in Entra's shape.
// Description starts with the AADSTS code, e.g. "AADSTS700211: No matching
// federated identity record found ...".
type TokenError struct {
	StatusCode    int
	ErrorCode     string // the OAuth "error", e.g. invalid_client
	Description   string
	Codes         []int
	TraceID       string
	CorrelationID string
}

// Error is the description, or the OAuth error code when there is none.
func (e *TokenError) Error() string {
	if e.Description != "" {
		return e.Description
	}
	if e.ErrorCode != "" {
		return fmt.Sprintf("%s (HTTP %d)", e.ErrorCode, e.StatusCode)
	}
	return fmt.Sprintf("the token endpoint answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// Summary is the first line of the description: Entra appends trace and
// correlation IDs on further lines.
func (e *TokenError) Summary() string {
	return firstLine(e.Error())
}

// HasCode reports whether the error carries the AADSTS code.
func (e *TokenError) HasCode(code int) bool {
	return slices.Contains(e.Codes, code)
}

func decodeTokenError(status int, body []byte) *TokenError {
	var shape struct {
		Error         string `json:"error"`
		Description   string `json:"error_description"`
		Codes         []int  `json:"error_codes"`
		TraceID       string `json:"trace_id"`
		CorrelationID string `json:"correlation_id"`
	}
	e := &TokenError{StatusCode: status}
	if json.Unmarshal(body, &shape) == nil {
		e.ErrorCode = shape.Error
		e.Description = shape.Description
		e.Codes = shape.Codes
		e.TraceID = shape.TraceID
		e.CorrelationID = shape.CorrelationID
	}
	return e
}

// ConnectionError means the server could not be reached, or its TLS
// certificate was not trusted.
type ConnectionError struct {
	Server string
	Err    error
}

// Error names the server and the cause.
func (e *ConnectionError) Error() string {
	return "cannot reach " + e.Server + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ConnectionError) Unwrap() error { return e.Err }

// VaultError is an error answer of the Key Vault data plane:
// {"error":{"code","message","innererror":{"code"}}}. Message may span
// several lines (Key Vault's Forbidden names the caller, action and
// resource on lines of their own).
type VaultError struct {
	StatusCode int
	Code       string
	Message    string
	InnerCode  string
}

// Error prints the first line of the message the way az does, "(Code)
// Message", and the inner error's code when there is one.
func (e *VaultError) Error() string {
	msg := firstLine(e.Message)
	if e.Code != "" {
		msg = "(" + e.Code + ") " + msg
	}
	if e.InnerCode != "" {
		msg += " Inner error: " + e.InnerCode
	}
	return msg
}

// IsNotFound reports whether the vault answered 404.
func (e *VaultError) IsNotFound() bool { return e.StatusCode == http.StatusNotFound }

func decodeVaultError(status int, body []byte) *VaultError {
	var shape struct {
		Error *struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError *struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &shape) == nil && shape.Error != nil && (shape.Error.Code != "" || shape.Error.Message != "") {
		e := &VaultError{StatusCode: status, Code: shape.Error.Code, Message: shape.Error.Message}
		if shape.Error.InnerError != nil {
			e.InnerCode = shape.Error.InnerError.Code
		}
		return e
	}
	return &VaultError{
		StatusCode: status,
		Code:       fmt.Sprintf("HTTP%d", status),
		Message:    fmt.Sprintf("The vault answered %d %s.", status, http.StatusText(status)),
	}
}

// GraphError is an error answer of the Graph-shaped application API:
// {"error":{"code","message"}}.
type GraphError struct {
	StatusCode int
	Code       string
	Message    string
}

// Error is the message, as az prints Graph errors; the code when there is
// no message.
func (e *GraphError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return e.Code
}

// IsNotFound reports whether Graph answered 404.
func (e *GraphError) IsNotFound() bool { return e.StatusCode == http.StatusNotFound }

func decodeGraphError(status int, body []byte) *GraphError {
	var shape struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &shape) == nil && shape.Error != nil && (shape.Error.Code != "" || shape.Error.Message != "") {
		return &GraphError{StatusCode: status, Code: shape.Error.Code, Message: shape.Error.Message}
	}
	return &GraphError{
		StatusCode: status,
		Code:       fmt.Sprintf("HTTP%d", status),
		Message:    fmt.Sprintf("The server answered %d %s.", status, http.StatusText(status)),
	}
}

// firstLine is s up to its first line break, trimmed.
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
