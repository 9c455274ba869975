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
	msg := e.Error()
	if i := strings.IndexAny(msg, "\r\n"); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	return msg
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
