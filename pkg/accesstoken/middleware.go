package accesstoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// claimsKey is the context key of the validated claims.
type claimsKey struct{}

// NewContext returns a copy of ctx carrying c.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// FromContext returns the claims Middleware validated for the request.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}

// Middleware authenticates requests with v. A request without a bearer token
// gets 401 and "WWW-Authenticate: Bearer"; one with an invalid token gets 401
// and `Bearer error="invalid_token", error_description="<reason>"`, where the
// reason is one of the short Reason constants (RFC 6750 §3.1). When the keys
// cannot be obtained the answer is 503. Otherwise the request goes on with the
// claims in its context (FromContext).
func Middleware(v *Validator) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearerToken(r)
			if !ok {
				w.Header().Set("WWW-Authenticate", "Bearer")
				writeError(w, http.StatusUnauthorized, "invalid_request", "bearer token required")
				return
			}
			c, err := v.Validate(r.Context(), token)
			var te *TokenError
			switch {
			case errors.As(err, &te):
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="invalid_token", error_description=%q`, te.Reason))
				writeError(w, http.StatusUnauthorized, "invalid_token", te.Reason)
				return
			case err != nil:
				w.Header().Set("Retry-After", "5")
				writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the token cannot be validated now")
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), c)))
		})
	}
}

// RequireRole lets a request through only if its validated claims (put in
// the context by Middleware) carry role in "roles"; otherwise it answers 403
// with `Bearer error="insufficient_scope"`. Without claims in the context it
// answers 401, so a handler mounted without Middleware stays closed.
func RequireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := FromContext(r.Context())
			if !ok {
				w.Header().Set("WWW-Authenticate", "Bearer")
				writeError(w, http.StatusUnauthorized, "invalid_request", "bearer token required")
				return
			}
			if !c.HasRole(role) {
				w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", error_description="required role missing"`)
				writeError(w, http.StatusForbidden, "insufficient_scope", "required role missing")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bearerToken extracts the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

func writeError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, description})
}
