package sts

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/fedcred/fedcred/internal/federation"
	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/remoteissuer"
	"github.com/fedcred/fedcred/internal/store"
)

// Assertion checks.
const (
	// maxAssertionLifetime is Entra's cap on exp−iat of an external token
	// (AADSTS70023: "less than or equal to 1.01:00:00").
	maxAssertionLifetime = 25 * time.Hour
	// clockSkew is how far nbf may lie in the future and exp in the past.
	// Entra's tolerance is not documented; five minutes is the usual value
	// (MSAL treats tokens as expired five minutes early for the same reason).
	clockSkew = 5 * time.Minute
	// maxAssertionHeaderBytes bounds the encoded JOSE header of an
	// assertion (maxAssertionBytes bounds the whole).
	maxAssertionHeaderBytes = 8 << 10
	// maxAssertionClaimChars bounds iss, sub and each aud: the longest
	// value a federated identity credential holds.
	maxAssertionClaimChars = 600
	// maxAssertionAudiences bounds the aud array.
	maxAssertionAudiences = 50
)

// assertionAlgs are the signature algorithms accepted on client assertions.
// Entra documents RS256 only; the others are safe and used by real issuers.
// "none" and the HMAC algorithms are never accepted.
func assertionAlgs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.ES256, jose.ES384}
}

// assertionClaims are the claims the STS reads from a client assertion.
type assertionClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
}

func (c assertionClaims) federation() federation.Assertion {
	return federation.Assertion{Issuer: c.Issuer, Subject: c.Subject, Audiences: c.Audience}
}

// verifyAssertion runs the pipeline of reference §2.5 and returns the name
// of the matched federated credential:
//
//  1. parse (50027), with an algorithm allowlist, no critical extension,
//     and bounds on the header and on iss, sub and aud;
//  2. the unverified iss selects an issuer among the client's credentials
//     (700211), before anything is fetched;
//  3. the issuer's keys (90061 when the issuer is neither hosted nor known);
//  4. the signature, by kid (50027);
//  5. lifetime (70023), then nbf/exp against now with clockSkew (700024);
//  6. subject (700213, 7002138), then audience (700212).
func (h *Handler) verifyAssertion(ctx context.Context, raw string, cl client) (string, *Error) {
	if len(raw) > maxAssertionBytes {
		return "", errMalformedAssertion(fmt.Sprintf("the client_assertion is longer than %d bytes.", maxAssertionBytes))
	}
	if i := strings.IndexByte(raw, '.'); i > maxAssertionHeaderBytes {
		return "", errMalformedAssertion(fmt.Sprintf("the client_assertion's header is longer than %d bytes.", maxAssertionHeaderBytes))
	}
	tok, err := jwt.ParseSigned(raw, assertionAlgs())
	if err != nil {
		return "", errMalformedAssertion("the client_assertion is not a compact JWS signed with one of RS256, RS384, RS512, PS256, ES256, ES384.")
	}
	if e := checkHeader(tok); e != nil {
		return "", e
	}
	var unverified assertionClaims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return "", errMalformedAssertion("the client_assertion's claims are not valid JSON claims (iss, sub and aud must be strings, exp, nbf and iat numbers).")
	}
	switch {
	case unverified.Issuer == "":
		return "", errMalformedAssertion("the client_assertion has no 'iss' claim.")
	case unverified.Subject == "":
		return "", errMalformedAssertion("the client_assertion has no 'sub' claim.")
	}
	if e := checkClaimSizes(unverified); e != nil {
		return "", e
	}

	if _, err := federation.MatchIssuer(unverified.federation(), cl.fics); err != nil {
		return "", refusal(err, unverified)
	}

	kid := ""
	if len(tok.Headers) == 1 {
		kid = tok.Headers[0].KeyID
	}
	set, err := h.issuers.KeysFor(ctx, cl.tenant(), unverified.Issuer, kid)
	switch {
	case errors.Is(err, remoteissuer.ErrBadKeys):
		e := errBadProviderKeys(fmt.Sprintf("the signing keys of issuer '%s' do not parse or none is usable.", unverified.Issuer))
		e.Err = err
		return "", e
	case errors.Is(err, issuer.ErrUnknownIssuer):
		return "", errIssuerKeys(fmt.Sprintf("the issuer '%s' is neither an enabled cluster issuer hosted by this server nor a remote issuer it can reach.", unverified.Issuer))
	case errors.Is(err, store.ErrUnavailable) || ctx.Err() != nil:
		return "", errInternal(fmt.Errorf("get keys of %s: %w", unverified.Issuer, err))
	case err != nil:
		e := errIssuerKeys(fmt.Sprintf("the signing keys of issuer '%s' could not be obtained.", unverified.Issuer))
		e.Err = err
		return "", e
	}

	var claims assertionClaims
	if !verifySignature(tok, set, &claims) {
		return "", errSignature(unverified.Issuer)
	}

	if e := checkLifetime(claims, h.now()); e != nil {
		return "", e
	}

	fic, err := federation.Match(claims.federation(), cl.fics)
	if err != nil {
		return "", refusal(err, claims)
	}
	return fic.Name, nil
}

// checkHeader refuses a header that names critical extensions: none is
// understood here (RFC 7515 §4.1.11). The JOSE library would honour "b64"
// (RFC 7797's unencoded payload), which a JWT never uses, and an empty
// list, which RFC 7515 forbids. The keys an assertion is verified with come
// only from its issuer, never from its header: jwk, jku, x5u and x5c are
// ignored, and kid only selects among the issuer's keys.
func checkHeader(tok *jwt.JSONWebToken) *Error {
	if len(tok.Headers) != 1 {
		return errMalformedAssertion("the client_assertion must have exactly one signature.")
	}
	for _, name := range []jose.HeaderKey{"crit", "b64"} {
		if _, ok := tok.Headers[0].ExtraHeaders[name]; ok {
			return errMalformedAssertion(fmt.Sprintf("the client_assertion's header has a '%s' parameter; no JWS extension is supported.", name))
		}
	}
	return nil
}

// checkClaimSizes bounds iss, sub and aud to what a federated identity
// credential can hold, so that an oversized claim is refused before it is
// matched, fetched or echoed in an error.
func checkClaimSizes(c assertionClaims) *Error {
	if len(c.Audience) > maxAssertionAudiences {
		return errMalformedAssertion(fmt.Sprintf("the client_assertion has more than %d audiences.", maxAssertionAudiences))
	}
	claims := []struct{ name, value string }{{"iss", c.Issuer}, {"sub", c.Subject}}
	for _, a := range c.Audience {
		claims = append(claims, struct{ name, value string }{"aud", a})
	}
	for _, cl := range claims {
		if utf8.RuneCountInString(cl.value) > maxAssertionClaimChars {
			return errMalformedAssertion(fmt.Sprintf("the client_assertion's '%s' claim is longer than %d characters, the longest value a federated identity credential can match.", cl.name, maxAssertionClaimChars))
		}
	}
	return nil
}

// verifySignature verifies tok with the key its kid names or, when it has
// none, with each key in turn, and decodes the verified claims into dst.
// Only public RSA and EC signing keys are used, and a key's alg, when set,
// must be the token's.
func verifySignature(tok *jwt.JSONWebToken, set jose.JSONWebKeySet, dst *assertionClaims) bool {
	if len(tok.Headers) != 1 {
		return false
	}
	hdr := tok.Headers[0]
	candidates := set.Keys
	if hdr.KeyID != "" {
		candidates = set.Key(hdr.KeyID)
	}
	for _, k := range candidates {
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
		default:
			continue
		}
		if (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != hdr.Algorithm) {
			continue
		}
		var c assertionClaims
		if err := tok.Claims(k.Key, &c); err == nil {
			*dst = c
			return true
		}
	}
	return false
}

// checkLifetime applies Entra's 25-hour cap on exp−iat (70023) and the
// validity window (700024), with clockSkew either side. exp is required: a
// missing exp is reported as an expiry of 1970-01-01, the way Entra prints a
// missing nbf. Without iat the lifetime is measured from nbf, and without
// either from now. An iat in the future counts as an nbf.
func checkLifetime(c assertionClaims, now time.Time) *Error {
	epoch := time.Unix(0, 0)
	exp, nbf := epoch, epoch
	if c.Expiry != nil {
		exp = c.Expiry.Time()
	}
	if c.NotBefore != nil {
		nbf = c.NotBefore.Time()
	}
	if c.Expiry == nil {
		return errAssertionTime(now, nbf, exp)
	}
	start := now
	switch {
	case c.IssuedAt != nil:
		start = c.IssuedAt.Time()
	case c.NotBefore != nil:
		start = nbf
	}
	if exp.Sub(start) > maxAssertionLifetime {
		iat := epoch
		if c.IssuedAt != nil {
			iat = c.IssuedAt.Time()
		}
		return errAssertionLifetime(iat, exp)
	}
	if (c.NotBefore != nil && now.Add(clockSkew).Before(nbf)) || !now.Add(-clockSkew).Before(exp) {
		return errAssertionTime(now, nbf, exp)
	}
	// A token is not valid before it was issued. Without this an iat in the
	// future would also stretch the lifetime cap, which counts from iat.
	if c.IssuedAt != nil && now.Add(clockSkew).Before(c.IssuedAt.Time()) {
		return errAssertionTime(now, c.IssuedAt.Time(), exp)
	}
	return nil
}

// refusal turns a federation refusal into the AADSTS error, with fedcred's
// explanation of the closest credential as the hint.
func refusal(err error, c assertionClaims) *Error {
	var r *federation.Refusal
	if !errors.As(err, &r) {
		return errInternal(fmt.Errorf("match federated credentials: %w", err))
	}
	var e *Error
	switch r.Code {
	case federation.CodeIssuerNotFound:
		e = errNoFICForIssuer(c.Issuer)
	case federation.CodeSubjectCaseMismatch:
		e = errSubjectCase(c.Subject)
	case federation.CodeSubjectNotFound:
		e = errNoFICForSubject(c.Subject)
	default:
		e = errNoFICForAudience(c.Audience)
	}
	e.Hint = r.Explanation()
	if r.Closest != "" {
		e.Log = []any{"closest_fic", r.Closest}
	}
	return e
}
