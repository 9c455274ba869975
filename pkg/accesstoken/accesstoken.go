// Package accesstoken validates access tokens issued by a fedcred server, for
// Go services that accept them (as an Azure resource validates Entra tokens).
//
// A Validator checks the compact JWS signature (RS256 only) against the
// tenant's published keys, the issuer, the audience, and the validity window
// with a bounded leeway, and returns the claims a resource authorizes on.
//
// For a service that trusts one tenant of a remote fedcred server,
// NewTenantValidator reads the tenant's OpenID metadata and validates against
// a RemoteKeySet, which caches the tenant's JWKS and refreshes it on an
// unknown key ID at most once per refresh interval. Middleware puts the
// validated Claims into the request context (FromContext) and answers 401
// otherwise; RequireRole answers 403 unless the token carries an app role:
//
//	v, err := accesstoken.NewTenantValidator(ctx, "https://fedcred.example", tenantID, "api://orders", client)
//	...
//	mux.Handle("GET /orders", accesstoken.Middleware(v)(accesstoken.RequireRole("Orders.Read")(orders)))
package accesstoken

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// MaxTokenSize bounds the tokens a Validator will parse.
const MaxTokenSize = 16 << 10

// DefaultLeeway is the clock skew allowed on exp and nbf.
const DefaultLeeway = 2 * time.Minute

// ErrInvalidToken wraps every validation failure.
var ErrInvalidToken = errors.New("invalid access token")

// ErrUnknownKey is returned by a KeyLookup that has no key with the
// requested key ID (after refreshing, where it refreshes).
var ErrUnknownKey = errors.New("unknown signing key")

// Short reasons a token is refused, as TokenError.Reason carries them. They
// name the failed check and never echo anything from the token.
const (
	ReasonMalformed     = "malformed token"
	ReasonTooLarge      = "token too large"
	ReasonUnknownKey    = "unknown signing key"
	ReasonSignature     = "invalid signature"
	ReasonIssuer        = "invalid issuer"
	ReasonAudience      = "invalid audience"
	ReasonExpired       = "token expired"
	ReasonNotYetValid   = "token not yet valid"
	ReasonMissingClaims = "required claims missing"
)

// TokenError is a refused token. It matches ErrInvalidToken with errors.Is.
type TokenError struct {
	// Reason is one of the Reason constants: short and safe to send to the
	// caller.
	Reason string
	// Detail says more, for logs; it may quote claims of the token.
	Detail string
}

// Error implements error.
func (e *TokenError) Error() string {
	return ErrInvalidToken.Error() + ": " + e.Detail
}

// Is reports whether target is ErrInvalidToken.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

func invalid(reason, format string, args ...any) error {
	return &TokenError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// KeySource returns the issuer's current signing keys.
type KeySource func(ctx context.Context) (jose.JSONWebKeySet, error)

// LookupKey implements KeyLookup over the keys s returns: the first public
// RSA signing key with the given key ID, or ErrUnknownKey.
func (s KeySource) LookupKey(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	set, err := s(ctx)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	if k, ok := findKey(set.Keys, kid); ok {
		return k, nil
	}
	return jose.JSONWebKey{}, ErrUnknownKey
}

// KeyLookup finds the verification key a token's kid names. It returns an
// error wrapping ErrUnknownKey when there is none; any other error means the
// keys could not be obtained. KeySource and *RemoteKeySet implement it.
type KeyLookup interface {
	LookupKey(ctx context.Context, kid string) (jose.JSONWebKey, error)
}

// usableKey reports whether k can verify RS256 signatures: a public RSA key
// for signing whose alg, if given, is RS256.
func usableKey(k jose.JSONWebKey) bool {
	if _, ok := k.Key.(*rsa.PublicKey); !ok {
		return false
	}
	return (k.Use == "" || k.Use == "sig") && (k.Algorithm == "" || k.Algorithm == string(jose.RS256))
}

func findKey(keys []jose.JSONWebKey, kid string) (jose.JSONWebKey, bool) {
	for _, k := range keys {
		if k.KeyID == kid && usableKey(k) {
			return k, true
		}
	}
	return jose.JSONWebKey{}, false
}

// Config configures a Validator.
type Config struct {
	// Issuer is the exact iss the tokens must carry, e.g.
	// "https://fedcred.example/<tenantId>/".
	Issuer string
	// Audiences lists the aud values accepted; at least one is required.
	Audiences []string
	// Keys returns the issuer's published keys. Set Keys or KeyLookup.
	Keys KeySource
	// KeyLookup finds a token's key by its kid; a *RemoteKeySet refreshes
	// its cache on a kid it does not know. Set Keys or KeyLookup.
	KeyLookup KeyLookup
	// Now defaults to time.Now.
	Now func() time.Time
	// Leeway defaults to DefaultLeeway.
	Leeway time.Duration
}

// Claims are the validated claims of an access token.
type Claims struct {
	Issuer     string   `json:"iss"`
	Audience   string   `json:"aud"`
	Subject    string   `json:"sub"`
	ObjectID   string   `json:"oid"`
	TenantID   string   `json:"tid"`
	AppID      string   `json:"appid"`
	IDType     string   `json:"idtyp"`
	Roles      []string `json:"roles,omitempty"`
	ResourceID string   `json:"xms_mirid,omitempty"`
	IssuedAt   int64    `json:"iat"`
	NotBefore  int64    `json:"nbf"`
	Expiry     int64    `json:"exp"`
	Version    string   `json:"ver"`
}

// HasRole reports whether the token carries the app role value role
// (compared exactly, as Entra's roles claim is matched).
func (c *Claims) HasRole(role string) bool {
	return c != nil && slices.Contains(c.Roles, role)
}

// Validator validates access tokens of one issuer.
type Validator struct {
	cfg    Config
	lookup KeyLookup
}

// NewValidator returns a Validator.
func NewValidator(cfg Config) (*Validator, error) {
	if cfg.Issuer == "" || len(cfg.Audiences) == 0 || (cfg.Keys == nil) == (cfg.KeyLookup == nil) {
		return nil, errors.New("accesstoken: issuer, audiences and one of keys or key lookup are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	v := &Validator{cfg: cfg, lookup: cfg.KeyLookup}
	if v.lookup == nil {
		v.lookup = cfg.Keys
	}
	return v, nil
}

// UnverifiedTenant returns the tid claim of a token without verifying it, so
// a multi-tenant server can pick the Validator to use. Never trust it further.
func UnverifiedTenant(token string) (string, error) {
	if len(token) > MaxTokenSize {
		return "", invalid(ReasonTooLarge, "token larger than %d bytes", MaxTokenSize)
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", invalid(ReasonMalformed, "malformed token")
	}
	var c struct {
		TenantID string `json:"tid"`
	}
	if err := parsed.UnsafeClaimsWithoutVerification(&c); err != nil || c.TenantID == "" {
		return "", invalid(ReasonMissingClaims, "token has no tenant")
	}
	return c.TenantID, nil
}

// Validate checks token and returns its claims. A refusal is a *TokenError
// (errors.Is(err, ErrInvalidToken)); any other error means the signing keys
// could not be obtained.
func (v *Validator) Validate(ctx context.Context, token string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, invalid(ReasonTooLarge, "token larger than %d bytes", MaxTokenSize)
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, invalid(ReasonMalformed, "malformed token")
	}
	if len(parsed.Headers) != 1 || parsed.Headers[0].KeyID == "" {
		return nil, invalid(ReasonMalformed, "token has no key id")
	}
	key, err := v.lookup.LookupKey(ctx, parsed.Headers[0].KeyID)
	if errors.Is(err, ErrUnknownKey) {
		return nil, invalid(ReasonUnknownKey, "signed by an unknown key")
	}
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	var c Claims
	if err := parsed.Claims(key.Key, &c); err != nil {
		return nil, invalid(ReasonSignature, "signature does not verify")
	}
	if c.Issuer != v.cfg.Issuer {
		return nil, invalid(ReasonIssuer, "issuer %q is not %q", c.Issuer, v.cfg.Issuer)
	}
	if !slices.Contains(v.cfg.Audiences, c.Audience) {
		return nil, invalid(ReasonAudience, "audience %q is not accepted", c.Audience)
	}
	now := v.cfg.Now()
	if c.Expiry == 0 || now.Add(-v.cfg.Leeway).After(time.Unix(c.Expiry, 0)) {
		return nil, invalid(ReasonExpired, "token expired")
	}
	if c.NotBefore != 0 && now.Add(v.cfg.Leeway).Before(time.Unix(c.NotBefore, 0)) {
		return nil, invalid(ReasonNotYetValid, "token not yet valid")
	}
	if c.ObjectID == "" || c.TenantID == "" || !strings.EqualFold(c.ObjectID, c.Subject) {
		return nil, invalid(ReasonMissingClaims, "token lacks oid, sub or tid")
	}
	return &c, nil
}
