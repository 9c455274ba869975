package remoteissuer

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Key rules.
const (
	// maxKeys is how many JWKS entries are considered; Entra stores only
	// the first 100 keys of an issuer's JWKS.
	maxKeys = 100
	// minRSABits is the smallest RSA modulus accepted.
	minRSABits = 2048
)

// rsaAlgs are the algorithms an RSA key may name.
func rsaAlgs() []string { return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} }

// ecAlg returns the one algorithm a key on an accepted curve may name.
func ecAlg(crv string) (string, bool) {
	switch crv {
	case "P-256":
		return "ES256", true
	case "P-384":
		return "ES384", true
	}
	return "", false
}

// KeyInfo describes one JWKS entry (one of the first 100).
type KeyInfo struct {
	KID string `json:"kid"`
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	// Usable is true when the key is kept for signature verification.
	Usable bool `json:"usable"`
	// Problem says why an unusable key is dropped.
	Problem string `json:"problem,omitempty"`
}

// keySet is a parsed JWKS.
type keySet struct {
	usable  jose.JSONWebKeySet
	infos   []KeyInfo
	total   int      // entries in the document, before the first-100 cut
	private []string // kids of entries carrying private key material
}

// rawKey holds the members of a JWK that are checked before go-jose
// parses it. Private members are only tested for presence.
type rawKey struct {
	Kty    string          `json:"kty"`
	Kid    string          `json:"kid"`
	Use    string          `json:"use"`
	Alg    string          `json:"alg"`
	KeyOps []string        `json:"key_ops"`
	D      json.RawMessage `json:"d"`
	P      json.RawMessage `json:"p"`
	Q      json.RawMessage `json:"q"`
	DP     json.RawMessage `json:"dp"`
	DQ     json.RawMessage `json:"dq"`
	QI     json.RawMessage `json:"qi"`
	Priv   json.RawMessage `json:"priv"`
}

func (r rawKey) hasPrivate() bool {
	return r.D != nil || r.P != nil || r.Q != nil || r.DP != nil || r.DQ != nil || r.QI != nil || r.Priv != nil
}

// parseJWKS parses a JWKS document. It keeps the first maxKeys entries and
// of those the public RSA (≥ 2048 bits) and EC P-256/P-384 signing keys;
// every entry gets a KeyInfo. It fails with ErrBadKeys when the document is
// not a key set or no key is usable.
func parseJWKS(d document) (keySet, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(d.body, &doc); err != nil {
		return keySet{}, fmt.Errorf("%w: %s: not a JSON web key set: %w", ErrBadKeys, d.url, err)
	}
	if doc.Keys == nil {
		return keySet{}, fmt.Errorf("%w: %s: no \"keys\" array", ErrBadKeys, d.url)
	}
	ks := keySet{total: len(*doc.Keys)}
	for _, raw := range (*doc.Keys)[:min(len(*doc.Keys), maxKeys)] {
		info, key, private := parseKey(raw)
		ks.infos = append(ks.infos, info)
		if private {
			ks.private = append(ks.private, info.KID)
		}
		if info.Usable {
			ks.usable.Keys = append(ks.usable.Keys, key)
		}
	}
	if len(ks.usable.Keys) == 0 {
		return ks, fmt.Errorf("%w: %s: none of the %d keys is usable%s", ErrBadKeys, d.url, len(ks.infos), problems(ks.infos))
	}
	return ks, nil
}

// problems summarises the first few key problems for an error message.
func problems(infos []KeyInfo) string {
	const shown = 3
	var parts []string
	for _, in := range infos[:min(len(infos), shown)] {
		parts = append(parts, fmt.Sprintf("kid %q: %s", in.KID, in.Problem))
	}
	if len(parts) == 0 {
		return ""
	}
	s := " (" + strings.Join(parts, "; ")
	if len(infos) > shown {
		s += fmt.Sprintf("; and %d more", len(infos)-shown)
	}
	return s + ")"
}

// parseKey checks one JWKS entry and, when usable, returns its public key.
// private reports private key material: such a key is refused, since a
// published private key lets anyone sign tokens for the issuer.
func parseKey(raw json.RawMessage) (info KeyInfo, key jose.JSONWebKey, private bool) {
	var r rawKey
	if err := json.Unmarshal(raw, &r); err != nil {
		return KeyInfo{Problem: "not a JSON object with string kty, kid, use and alg"}, key, false
	}
	info = KeyInfo{KID: r.Kid, Kty: r.Kty, Alg: r.Alg, Use: r.Use}
	refuse := func(format string, args ...any) (KeyInfo, jose.JSONWebKey, bool) {
		info.Problem = fmt.Sprintf(format, args...)
		return info, jose.JSONWebKey{}, private
	}
	private = r.hasPrivate()
	switch r.Kty {
	case "RSA", "EC":
	case "oct":
		return refuse("symmetric key (kty oct) refused")
	case "":
		return refuse("kty is missing")
	default:
		return refuse("key type %q unsupported (RSA and EC are)", r.Kty)
	}
	switch {
	case private:
		return refuse("the entry carries private key material: a published private key lets anyone sign tokens, so the key is not trusted")
	case r.Use != "" && r.Use != "sig":
		return refuse("use %q is not \"sig\"", r.Use)
	case r.KeyOps != nil && !slices.Contains(r.KeyOps, "verify"):
		return refuse("key_ops %q does not include \"verify\"", r.KeyOps)
	}
	if err := key.UnmarshalJSON(raw); err != nil {
		return refuse("invalid %s key: %s", r.Kty, strings.TrimPrefix(err.Error(), "go-jose/go-jose: "))
	}
	switch k := key.Key.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < minRSABits {
			return refuse("RSA key of %d bits; at least %d are required", bits, minRSABits)
		}
		if r.Alg != "" && !slices.Contains(rsaAlgs(), r.Alg) {
			return refuse("alg %q does not fit an RSA key (%s do)", r.Alg, strings.Join(rsaAlgs(), ", "))
		}
	case *ecdsa.PublicKey:
		crv := k.Curve.Params().Name
		want, ok := ecAlg(crv)
		if !ok {
			return refuse("curve %s unsupported (P-256 and P-384 are)", crv)
		}
		if r.Alg != "" && r.Alg != want {
			return refuse("alg %q does not fit a %s key (%s does)", r.Alg, crv, want)
		}
	default:
		return refuse("unsupported %s key", r.Kty)
	}
	info.Usable = true
	return info, key, private
}
