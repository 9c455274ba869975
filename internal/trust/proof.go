package trust

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The publish-keys proof: a JWT with which an issuer fedcred cannot reach
// (a private cluster) replaces its uploaded keys itself, signed by one of
// the keys fedcred trusts for it now.
const (
	// ProofType is the proof's "typ" header (RFC 8725 §3.11 explicit
	// typing). No Kubernetes service-account token and no ID token carries
	// it, so a token an issuer issued to a workload cannot serve as a proof.
	ProofType = "fedcred-publish-keys+jwt"
	// MaxProofLifetime bounds exp − iat.
	MaxProofLifetime = 10 * time.Minute
	// ProofClockSkew is how far iat and nbf may lie in the future and exp
	// in the past.
	ProofClockSkew = time.Minute
	// maxProofBytes bounds the compact proof.
	maxProofBytes = 16 << 10
	// maxJTILength bounds the proof's jti.
	maxJTILength = 256
)

// proofAlgs are the signature algorithms a proof may use: those the token
// service accepts on assertions.
func proofAlgs() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.ES256, jose.ES384}
}

// The kinds of proof refusal; VerifyProof's errors are *ProofError values
// wrapping one of these.
var (
	// ErrProofMalformed: not a compact JWS with an accepted algorithm, the
	// typ header and a kid.
	ErrProofMalformed = errors.New("malformed proof")
	// ErrProofSignature: the kid is not among the trusted keys, or the
	// signature does not verify with the key it names.
	ErrProofSignature = errors.New("proof not signed by a trusted key")
	// ErrProofAudience: aud is not the trusted issuer's publish-keys
	// audience.
	ErrProofAudience = errors.New("proof for another audience")
	// ErrProofExpired: exp has passed.
	ErrProofExpired = errors.New("proof expired")
	// ErrProofClaims: iss, sub, iat, nbf, exp or jti are missing or wrong.
	ErrProofClaims = errors.New("invalid proof claims")
)

// ProofError is a refused proof. Its message is a safe sentence for the
// caller; it never holds the token.
type ProofError struct {
	Kind   error
	Detail string
}

// Error is the detail.
func (e *ProofError) Error() string { return e.Detail }

// Unwrap returns the kind.
func (e *ProofError) Unwrap() error { return e.Kind }

func proofErr(kind error, format string, args ...any) *ProofError {
	return &ProofError{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// Proof is an accepted publish-keys proof.
type Proof struct {
	// KeyID is the kid of the trusted key that signed it.
	KeyID string
	// JTI is its unique ID.
	JTI string
	// NotAfter is when it stops being accepted (exp + ProofClockSkew):
	// its jti must be remembered until then.
	NotAfter time.Time
}

// proofClaims are the claims of a proof.
type proofClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ID        string           `json:"jti"`
}

// ProofAudience is the audience of publish-keys proofs for the trusted
// issuer with resource ID resourceID on the server at publicURL.
func ProofAudience(publicURL, resourceID string) string {
	return strings.TrimSuffix(publicURL, "/") + resourceID
}

// VerifyProof checks a publish-keys proof, in this order:
//
//  1. structure: a compact JWS of at most 16 KiB, one signature with an
//     accepted algorithm (RS256, RS384, RS512, PS256, ES256, ES384), the
//     typ header ProofType, and a kid;
//  2. signature: by the key of keys that the kid names;
//  3. claims: iss equal to issuer; sub equal to iss; aud exactly one
//     value, equal to audience ignoring case (ARM paths are
//     case-insensitive); exp, iat and jti present; exp − iat at most
//     MaxProofLifetime; iat and nbf not later than now + ProofClockSkew;
//     exp not earlier than now − ProofClockSkew.
//
// Structural errors come before the signature check and claim errors after
// it, so a caller without a trusted key learns nothing about the claims
// expected. Replay (a jti seen before) is the caller's to check, with
// Proof.JTI and Proof.NotAfter.
func VerifyProof(raw string, keys jose.JSONWebKeySet, issuer, audience string, now time.Time) (Proof, error) {
	if len(raw) > maxProofBytes {
		return Proof{}, proofErr(ErrProofMalformed, "the proof token is longer than %d bytes.", maxProofBytes)
	}
	tok, err := jwt.ParseSigned(raw, proofAlgs())
	if err != nil || len(tok.Headers) != 1 {
		return Proof{}, proofErr(ErrProofMalformed, "the proof token is not a compact JWS with one signature by RS256, RS384, RS512, PS256, ES256 or ES384.")
	}
	hdr := tok.Headers[0]
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); !isProofType(typ) {
		return Proof{}, proofErr(ErrProofMalformed, "the proof token's typ header must be %q.", ProofType)
	}
	if hdr.KeyID == "" {
		return Proof{}, proofErr(ErrProofMalformed, "the proof token has no kid header: it must name the trusted key that signed it.")
	}
	var claims proofClaims
	if !verifyWith(tok, keys.Key(hdr.KeyID), &claims) {
		return Proof{}, proofErr(ErrProofSignature, "the proof token is not signed by a key the trusted issuer currently trusts (kid %q).", clip(hdr.KeyID))
	}

	switch {
	case claims.Issuer != issuer:
		return Proof{}, proofErr(ErrProofClaims, "the proof token's iss %q is not the trusted issuer's issuer %q.", clip(claims.Issuer), issuer)
	case claims.Subject != claims.Issuer:
		return Proof{}, proofErr(ErrProofClaims, "the proof token's sub must equal its iss: a proof is made by the issuer about itself.")
	case len(claims.Audience) != 1 || !strings.EqualFold(claims.Audience[0], audience):
		return Proof{}, proofErr(ErrProofAudience, "the proof token's aud must be exactly %q.", audience)
	case claims.Expiry == nil || claims.IssuedAt == nil:
		return Proof{}, proofErr(ErrProofClaims, "the proof token must have exp and iat.")
	case claims.ID == "" || len(claims.ID) > maxJTILength:
		return Proof{}, proofErr(ErrProofClaims, "the proof token must have a jti of 1 to %d characters.", maxJTILength)
	}
	exp, iat := claims.Expiry.Time(), claims.IssuedAt.Time()
	switch {
	case !exp.After(iat):
		return Proof{}, proofErr(ErrProofClaims, "the proof token's exp is not after its iat.")
	case exp.Sub(iat) > MaxProofLifetime:
		return Proof{}, proofErr(ErrProofClaims, "the proof token lives %v; at most %v is allowed.", exp.Sub(iat), MaxProofLifetime)
	case iat.After(now.Add(ProofClockSkew)):
		return Proof{}, proofErr(ErrProofClaims, "the proof token's iat lies in the future.")
	case claims.NotBefore != nil && claims.NotBefore.Time().After(now.Add(ProofClockSkew)):
		return Proof{}, proofErr(ErrProofClaims, "the proof token is not valid yet (nbf).")
	case now.After(exp.Add(ProofClockSkew)):
		return Proof{}, proofErr(ErrProofExpired, "the proof token expired at %s.", exp.UTC().Format(time.RFC3339))
	}
	return Proof{KeyID: hdr.KeyID, JTI: claims.ID, NotAfter: exp.Add(ProofClockSkew).UTC()}, nil
}

func isProofType(typ string) bool {
	return strings.EqualFold(typ, ProofType) || strings.EqualFold(typ, "application/"+ProofType)
}

// verifyWith verifies tok with one of candidates (public RSA or EC signing
// keys whose alg, when set, is the token's) and decodes its claims.
func verifyWith(tok *jwt.JSONWebToken, candidates []jose.JSONWebKey, dst *proofClaims) bool {
	alg := tok.Headers[0].Algorithm
	for _, k := range candidates {
		switch k.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
		default:
			continue
		}
		if (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != alg) {
			continue
		}
		if err := tok.Claims(k.Key, dst); err == nil {
			return true
		}
	}
	return false
}

// ProofRequest is what SignProof signs.
type ProofRequest struct {
	// Key is the issuer's current private signing key: *rsa.PrivateKey
	// (signs RS256) or *ecdsa.PrivateKey on P-256 or P-384 (ES256, ES384).
	Key crypto.Signer
	// KeyID is the kid under which fedcred trusts the key.
	KeyID string
	// Issuer is the issuer URL; it is the proof's iss and sub.
	Issuer string
	// Audience is ProofAudience of the trusted issuer.
	Audience string
	// JTI is a unique ID for this proof.
	JTI string
	// Now is the issue time; Lifetime (at most MaxProofLifetime; default
	// 5 minutes) sets exp.
	Now      time.Time
	Lifetime time.Duration
}

// SignProof builds and signs a publish-keys proof.
func SignProof(req ProofRequest) (string, error) {
	var alg jose.SignatureAlgorithm
	switch k := req.Key.(type) {
	case *rsa.PrivateKey:
		alg = jose.RS256
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			alg = jose.ES256
		case elliptic.P384():
			alg = jose.ES384
		default:
			return "", fmt.Errorf("sign proof: EC curve %s is not accepted (P-256 and P-384 are)", k.Curve.Params().Name)
		}
	default:
		return "", fmt.Errorf("sign proof: %T keys are not accepted (RSA and EC are)", req.Key)
	}
	lifetime := req.Lifetime
	if lifetime == 0 {
		lifetime = 5 * time.Minute
	}
	switch {
	case lifetime < 0 || lifetime > MaxProofLifetime:
		return "", fmt.Errorf("sign proof: lifetime %v is not within (0, %v]", lifetime, MaxProofLifetime)
	case req.KeyID == "" || req.Issuer == "" || req.Audience == "" || req.JTI == "":
		return "", errors.New("sign proof: key ID, issuer, audience and jti are required")
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: req.Key, KeyID: req.KeyID}},
		(&jose.SignerOptions{}).WithType(ProofType))
	if err != nil {
		return "", fmt.Errorf("sign proof: %w", err)
	}
	now := req.Now.Truncate(time.Second)
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: req.Issuer, Subject: req.Issuer, Audience: jwt.Audience{req.Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(lifetime)),
		ID: req.JTI,
	}).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign proof: %w", err)
	}
	return tok, nil
}
