package trust

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/go-jose/go-jose/v4"
)

// Limits of an uploaded JSON web key set.
const (
	// MaxJWKSBytes bounds the JWKS document.
	MaxJWKSBytes = 64 << 10
	// MaxJWKSKeys bounds the keys of a set; Entra keeps no more than 100
	// of an issuer's keys either.
	MaxJWKSKeys = 100
	// maxKIDLength bounds a key ID.
	maxKIDLength = 256
	// minRSABits and maxRSABits bound an RSA modulus: below 2048 bits is
	// weak, above 8192 makes every verification needlessly slow.
	minRSABits = 2048
	maxRSABits = 8192
)

// JWKS is an uploaded JSON web key set that passed ParseJWKS: public RSA
// and EC signing keys only, each with a unique kid.
type JWKS struct {
	// Raw is the document, compacted: what is stored and echoed.
	Raw json.RawMessage
	// Set holds the parsed public keys.
	Set jose.JSONWebKeySet
	// Keys describes each key, in document order.
	Keys []KeyInfo
}

// KeyInfo describes one key of a JWKS.
type KeyInfo struct {
	KID string `json:"kid"`
	Kty string `json:"kty"`
	// Alg is the key's "alg" member, "" when the key does not name one.
	Alg string `json:"alg,omitempty"`
	// Use is the key's "use" member ("sig" or "").
	Use string `json:"use,omitempty"`
}

// JWKSError says why a JWKS was refused. Key is the index of the offending
// key in "keys", or -1 when the problem is the set as a whole.
type JWKSError struct {
	Key    int
	Reason string
}

// Error names the key and the reason.
func (e *JWKSError) Error() string {
	if e.Key < 0 {
		return "invalid JSON web key set: " + e.Reason
	}
	return fmt.Sprintf("invalid JSON web key set: keys[%d]: %s", e.Key, e.Reason)
}

// privateMembers are the JWK members that carry private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParseJWKS validates an uploaded JSON web key set strictly. It must be a
// JSON object of at most MaxJWKSBytes whose "keys" array holds 1 to
// MaxJWKSKeys keys, each of them:
//
//   - an RSA key of 2048 to 8192 bits with an odd public exponent of at
//     least 3, or an EC key on P-256 or P-384;
//   - public: a set holding any private or symmetric key material ("d",
//     "p", "k", ...) is refused whole, since a published private key lets
//     anyone sign tokens as the issuer;
//   - for signatures: "use", if present, is "sig", and "key_ops", if
//     present, is ["verify"];
//   - with an "alg", if present, that fits the key (RS256, RS384, RS512,
//     PS256, PS384, PS512 for RSA; ES256 for P-256, ES384 for P-384);
//   - with a "kid" of 1 to 256 printable characters, unique in the set.
//
// Unlike a fetched JWKS, where unusable keys are skipped, one bad key
// refuses the whole upload: the uploader can fix it, and a silently
// dropped key would surprise them at the next rotation.
func ParseJWKS(data []byte) (JWKS, error) {
	if len(data) > MaxJWKSBytes {
		return JWKS{}, &JWKSError{Key: -1, Reason: fmt.Sprintf("the document is larger than %d bytes", MaxJWKSBytes)}
	}
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return JWKS{}, &JWKSError{Key: -1, Reason: "not a JSON object with a \"keys\" array"}
	}
	switch {
	case doc.Keys == nil:
		return JWKS{}, &JWKSError{Key: -1, Reason: "no \"keys\" array"}
	case len(*doc.Keys) == 0:
		return JWKS{}, &JWKSError{Key: -1, Reason: "the \"keys\" array is empty: at least one key is required"}
	case len(*doc.Keys) > MaxJWKSKeys:
		return JWKS{}, &JWKSError{Key: -1, Reason: fmt.Sprintf("%d keys; at most %d are allowed", len(*doc.Keys), MaxJWKSKeys)}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return JWKS{}, &JWKSError{Key: -1, Reason: "not valid JSON"}
	}
	out := JWKS{Raw: compact.Bytes()}
	seen := make(map[string]bool, len(*doc.Keys))
	for i, raw := range *doc.Keys {
		info, key, reason := parseKey(raw)
		if reason == "" && seen[info.KID] {
			reason = fmt.Sprintf("kid %q is used by an earlier key; key IDs must be unique", info.KID)
		}
		if reason != "" {
			return JWKS{}, &JWKSError{Key: i, Reason: reason}
		}
		seen[info.KID] = true
		out.Set.Keys = append(out.Set.Keys, key)
		out.Keys = append(out.Keys, info)
	}
	return out, nil
}

// jwkMembers are the members of a JWK checked before go-jose parses it.
type jwkMembers struct {
	Kty    *string  `json:"kty"`
	Kid    *string  `json:"kid"`
	Use    *string  `json:"use"`
	Alg    *string  `json:"alg"`
	KeyOps []string `json:"key_ops"`
}

// parseKey checks one key; reason is "" when it is acceptable.
func parseKey(raw json.RawMessage) (info KeyInfo, key jose.JSONWebKey, reason string) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return info, key, "not a JSON object"
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return info, key, fmt.Sprintf("the key carries private or symmetric key material (%q): upload public keys only, and rotate a key whose private part was exposed", m)
		}
	}
	var m jwkMembers
	if err := json.Unmarshal(raw, &m); err != nil {
		return info, key, "kty, kid, use and alg must be strings and key_ops an array of strings"
	}
	info = KeyInfo{KID: deref(m.Kid), Kty: deref(m.Kty), Alg: deref(m.Alg), Use: deref(m.Use)}
	switch {
	case m.Kty == nil || info.Kty == "":
		return info, key, "kty is missing"
	case info.Kty != "RSA" && info.Kty != "EC":
		return info, key, fmt.Sprintf("key type %q is not accepted (RSA and EC are)", clip(info.Kty))
	case m.Kid == nil || info.KID == "":
		return info, key, "kid is missing: every key needs a key ID"
	case len(info.KID) > maxKIDLength:
		return info, key, fmt.Sprintf("kid is longer than %d characters", maxKIDLength)
	case strings.ContainsFunc(info.KID, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
		return info, key, "kid contains spaces or control characters"
	case m.Use != nil && info.Use != "sig":
		return info, key, fmt.Sprintf("use %q is not \"sig\"", clip(info.Use))
	case m.KeyOps != nil && !slices.Equal(m.KeyOps, []string{"verify"}):
		return info, key, "key_ops must be [\"verify\"] when present"
	}
	if err := key.UnmarshalJSON(raw); err != nil {
		return info, key, fmt.Sprintf("invalid %s key: %s", info.Kty, strings.TrimPrefix(err.Error(), "go-jose/go-jose: "))
	}
	if !key.IsPublic() {
		return info, key, "not a public key"
	}
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return info, key, fmt.Sprintf("RSA key of %d bits; %d to %d are accepted", bits, minRSABits, maxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return info, key, fmt.Sprintf("RSA public exponent %d is not accepted", k.E)
		}
		if info.Alg != "" && !slices.Contains(rsaAlgs(), info.Alg) {
			return info, key, fmt.Sprintf("alg %q does not fit an RSA key (%s do)", clip(info.Alg), strings.Join(rsaAlgs(), ", "))
		}
	case *ecdsa.PublicKey:
		crv := k.Curve.Params().Name
		want := map[string]string{"P-256": "ES256", "P-384": "ES384"}[crv]
		if want == "" {
			return info, key, fmt.Sprintf("curve %s is not accepted (P-256 and P-384 are)", crv)
		}
		if info.Alg != "" && info.Alg != want {
			return info, key, fmt.Sprintf("alg %q does not fit a %s key (%s does)", clip(info.Alg), crv, want)
		}
	default:
		return info, key, fmt.Sprintf("unsupported %s key", info.Kty)
	}
	return info, key, ""
}

// rsaAlgs are the algorithms an RSA key may name.
func rsaAlgs() []string { return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// clip bounds input echoed in messages.
func clip(s string) string {
	const maxEcho = 64
	if len(s) <= maxEcho {
		return s
	}
	return s[:maxEcho] + "..."
}
