package attack

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Hostile tokens are built here by hand, header and payload as raw JSON,
// because a JOSE library refuses to produce most of them.

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// segment encodes a header or payload: a string is taken as raw JSON text,
// anything else is marshalled.
func segment(t *testing.T, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		return b64([]byte(s))
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(data)
}

// signer signs a JWS signing input.
type signer func(t *testing.T, input []byte) []byte

// craft returns header.payload.signature; sign nil leaves the signature
// empty.
func craft(t *testing.T, header, payload any, sign signer) string {
	t.Helper()
	input := segment(t, header) + "." + segment(t, payload)
	if sign == nil {
		return input + "."
	}
	return input + "." + b64(sign(t, []byte(input)))
}

func rs256(k *rsa.PrivateKey) signer {
	return func(t *testing.T, input []byte) []byte {
		sum := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

func ps256(k *rsa.PrivateKey) signer {
	return func(t *testing.T, input []byte) []byte {
		sum := sha256.Sum256(input)
		sig, err := rsa.SignPSS(rand.Reader, k, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

// es256 signs as JWS does: r and s, 32 bytes each.
func es256(k *ecdsa.PrivateKey) signer {
	return func(t *testing.T, input []byte) []byte {
		sum := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}

func hs256(secret []byte) signer {
	return func(_ *testing.T, input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

// rawPayloadRS256 signs header + "." + the payload itself, unencoded, as
// RFC 7797 (b64 false) does.
func rawPayloadRS256(k *rsa.PrivateKey, header, payload string) string {
	h := b64([]byte(header))
	sum := sha256.Sum256([]byte(h + "." + payload))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	return h + "." + b64([]byte(payload)) + "." + b64(sig)
}

// claims are an assertion's claims for iss and sub, valid for an hour from
// now, with edits applied.
func claims(iss, sub string, edits ...func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": iss, "sub": sub, "aud": exchangeAudience, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for _, e := range edits {
		e(c)
	}
	return c
}

func set(name string, v any) func(map[string]any) { return func(c map[string]any) { c[name] = v } }

func unset(name string) func(map[string]any) { return func(c map[string]any) { delete(c, name) } }

// parts splits a compact JWS.
func parts(t *testing.T, token string) (header, payload, sig string) {
	t.Helper()
	p := strings.Split(token, ".")
	if len(p) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(p))
	}
	return p[0], p[1], p[2]
}

// payloadOf decodes a compact JWS's claims.
func payloadOf(t *testing.T, token string) map[string]any {
	t.Helper()
	_, p, _ := parts(t, token)
	data, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// publicPEM is a public key as PKIX PEM: what an HMAC key-confusion attack
// uses as the secret.
func publicPEM(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// publicJWK is a public key as a JWK object.
func publicJWK(t *testing.T, key any, kid string) map[string]any {
	t.Helper()
	data, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// selfSigned returns a self-signed CA certificate for key, valid for the
// IP addresses given.
func selfSigned(t *testing.T, signer crypto.Signer, name string, ips ...[]byte) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func newRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEC(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
