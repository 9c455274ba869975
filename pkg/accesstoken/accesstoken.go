// Package accesstoken validates access tokens issued by a fedcred server, for
// Go services that accept them (as an Azure resource validates Entra tokens).
//
// A Validator checks the compact JWS signature (RS256 only) against the
// tenant's published keys, the issuer, the audience, and the validity window
// with a bounded leeway, and returns the claims a resource authorizes on.
package accesstoken

import (
	"context"
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

// KeySource returns the issuer's current signing keys.
type KeySource func(ctx context.Context) (jose.JSONWebKeySet, error)

// Config configures a Validator.
type Config struct {
	// Issuer is the exact iss the tokens must carry, e.g.
	// "https://fedcred.example/<tenantId>/".
	Issuer string
	// Audiences lists the aud values accepted; at least one is required.
	Audiences []string
	// Keys returns the issuer's published keys.
	Keys KeySource
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

// Validator validates access tokens of one issuer.
type Validator struct {
	cfg Config
}

// NewValidator returns a Validator.
func NewValidator(cfg Config) (*Validator, error) {
	if cfg.Issuer == "" || len(cfg.Audiences) == 0 || cfg.Keys == nil {
		return nil, errors.New("accesstoken: issuer, audiences and keys are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	return &Validator{cfg: cfg}, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// UnverifiedTenant returns the tid claim of a token without verifying it, so
// a multi-tenant server can pick the Validator to use. Never trust it further.
func UnverifiedTenant(token string) (string, error) {
	if len(token) > MaxTokenSize {
		return "", invalid("token larger than %d bytes", MaxTokenSize)
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", invalid("malformed token")
	}
	var c struct {
		TenantID string `json:"tid"`
	}
	if err := parsed.UnsafeClaimsWithoutVerification(&c); err != nil || c.TenantID == "" {
		return "", invalid("token has no tenant")
	}
	return c.TenantID, nil
}

// Validate checks token and returns its claims.
func (v *Validator) Validate(ctx context.Context, token string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, invalid("token larger than %d bytes", MaxTokenSize)
	}
	parsed, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, invalid("malformed token")
	}
	if len(parsed.Headers) != 1 || parsed.Headers[0].KeyID == "" {
		return nil, invalid("token has no key id")
	}
	set, err := v.cfg.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	found := set.Key(parsed.Headers[0].KeyID)
	if len(found) == 0 {
		return nil, invalid("signed by an unknown key")
	}
	var c Claims
	if err := parsed.Claims(found[0].Key, &c); err != nil {
		return nil, invalid("signature does not verify")
	}
	if c.Issuer != v.cfg.Issuer {
		return nil, invalid("issuer %q is not %q", c.Issuer, v.cfg.Issuer)
	}
	if !slices.Contains(v.cfg.Audiences, c.Audience) {
		return nil, invalid("audience %q is not accepted", c.Audience)
	}
	now := v.cfg.Now()
	if c.Expiry == 0 || now.Add(-v.cfg.Leeway).After(time.Unix(c.Expiry, 0)) {
		return nil, invalid("token expired")
	}
	if c.NotBefore != 0 && now.Add(v.cfg.Leeway).Before(time.Unix(c.NotBefore, 0)) {
		return nil, invalid("token not yet valid")
	}
	if c.ObjectID == "" || c.TenantID == "" || !strings.EqualFold(c.ObjectID, c.Subject) {
		return nil, invalid("token lacks oid, sub or tid")
	}
	return &c, nil
}
