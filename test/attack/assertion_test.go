package attack

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Refusal hints: which check refused, as the description says it.
const (
	hintNotJWS      = "is not a compact JWS signed with one of RS256, RS384, RS512, PS256, ES256, ES384"
	hintSignature   = "failed signature verification"
	hintCrit        = "no JWS extension is supported"
	hintClaimsTypes = "are not valid JSON claims"
)

// assertionAttack is one hostile client assertion and the refusal it must
// meet. A zero status means the assertion is a control that must succeed.
type assertionAttack struct {
	name      string
	client    string
	assertion string
	status    int
	oauth     string
	code      int
	hint      string
}

func malformed(name, client, assertion, hint string) assertionAttack {
	return assertionAttack{name: name, client: client, assertion: assertion, status: http.StatusBadRequest, oauth: "invalid_request", code: 50027, hint: hint}
}

func outOfTime(name, client, assertion string) assertionAttack {
	return assertionAttack{name: name, client: client, assertion: assertion, status: http.StatusUnauthorized, oauth: "invalid_client", code: 700024,
		hint: "Client assertion is not within its valid time range"}
}

func control(name, client, assertion string) assertionAttack {
	return assertionAttack{name: name, client: client, assertion: assertion}
}

func testAssertions(t *testing.T, e *env, sc scenario) {
	attacker := newRSA(t)
	attackerEC := newEC(t)
	remote := e.s.remoteIss
	remoteIss := remote.issuer("remote")
	inward := "https://127.0.0.1:" + e.s.inward.port()
	genuine := payloadOf(t, sc.tokenA)
	_, genuinePayload, genuineSig := parts(t, sc.tokenA)
	headerB, _, sigB := parts(t, sc.tokenB)
	uidB := strings.TrimSuffix(sc.issuerB[strings.LastIndex(strings.TrimSuffix(sc.issuerB, "/"), "/")+1:], "/")
	attackerCert := selfSigned(t, attacker, "attacker")
	hdr := func(alg, kid string, extra ...any) map[string]any {
		h := map[string]any{"alg": alg, "typ": "JWT"}
		if kid != "" {
			h["kid"] = kid
		}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i].(string)] = extra[i+1]
		}
		return h
	}
	// Claims a trusted remote issuer validly signs for the remote victim.
	remoteClaims := func(edits ...func(map[string]any)) map[string]any {
		return claims(remoteIss, sc.remoteSubject, edits...)
	}
	remoteRS256 := func(c any) string { return craft(t, hdr("RS256", remoteRSAKid), c, rs256(remote.rsa)) }
	now := time.Now()

	attacks := []assertionAttack{
		// Controls: the genuine paths work, so every refusal below is the
		// attack's doing.
		control("control: the cluster's own token", sc.victim, sc.tokenA),
		control("control: remote issuer RS256", sc.remoteVictim, remoteRS256(remoteClaims())),
		control("control: remote issuer PS256", sc.remoteVictim, craft(t, hdr("PS256", remoteRSAKid), remoteClaims(), ps256(remote.rsa))),
		control("control: remote issuer ES256", sc.remoteVictim, craft(t, hdr("ES256", remoteECKid), remoteClaims(), es256(remote.ec))),
		control("control: nbf two minutes ahead is within the skew", sc.remoteVictim, remoteRS256(remoteClaims(set("nbf", now.Add(2*time.Minute).Unix())))),
		control("control: exp two minutes ago is within the skew", sc.remoteVictim, remoteRS256(remoteClaims(set("iat", now.Add(-time.Hour).Unix()), set("nbf", now.Add(-time.Hour).Unix()), set("exp", now.Add(-2*time.Minute).Unix())))),

		// Unsecured and confused algorithms.
		malformed("alg none", sc.victim, craft(t, hdr("none", ""), genuine, nil), hintNotJWS),
		malformed("alg none keeping the genuine signature", sc.victim, segment(t, hdr("none", sc.kidA))+"."+genuinePayload+"."+genuineSig, hintNotJWS),
		malformed("alg None in another case", sc.victim, craft(t, hdr("None", ""), genuine, nil), hintNotJWS),
		malformed("HS256 signed with the cluster's RSA public key as PEM", sc.victim, craft(t, hdr("HS256", sc.kidA), genuine, hs256(publicPEM(t, sc.keyA))), hintNotJWS),
		malformed("HS256 signed with the remote issuer's RSA public key as PEM", sc.remoteVictim, craft(t, hdr("HS256", remoteRSAKid), remoteClaims(), hs256(publicPEM(t, &remote.rsa.PublicKey))), hintNotJWS),
		malformed("HS256 signed with the remote issuer's RSA key as DER", sc.remoteVictim, craft(t, hdr("HS256", remoteRSAKid), remoteClaims(), hs256(mustPKIX(t, &remote.rsa.PublicKey))), hintNotJWS),
		malformed("HS512 signed with the remote issuer's JWK", sc.remoteVictim, craft(t, hdr("HS512", remoteRSAKid), remoteClaims(), hs256([]byte(jsonText(t, publicJWK(t, &remote.rsa.PublicKey, remoteRSAKid))))), hintNotJWS),
		malformed("ES256 header naming the RSA key", sc.remoteVictim, craft(t, hdr("ES256", remoteRSAKid), remoteClaims(), es256(remote.ec)), hintSignature),
		malformed("RS256 header naming the EC key", sc.remoteVictim, craft(t, hdr("RS256", remoteECKid), remoteClaims(), rs256(remote.rsa)), hintSignature),
		malformed("RS256 signature sent as PS256", sc.remoteVictim, craft(t, hdr("PS256", remoteRSAKid), remoteClaims(), rs256(remote.rsa)), hintSignature),

		// Keys from the token's own header.
		malformed("embedded jwk with the attacker's key", sc.victim, craft(t, hdr("RS256", "", "jwk", publicJWK(t, &attacker.PublicKey, "")), genuine, rs256(attacker)), hintSignature),
		malformed("embedded jwk with the attacker's key and the issuer's kid", sc.victim, craft(t, hdr("RS256", sc.kidA, "jwk", publicJWK(t, &attacker.PublicKey, sc.kidA)), genuine, rs256(attacker)), hintSignature),
		malformed("embedded EC jwk on a remote issuer", sc.remoteVictim, craft(t, hdr("ES256", "", "jwk", publicJWK(t, &attackerEC.PublicKey, "")), remoteClaims(), es256(attackerEC)), hintSignature),
		malformed("jku at the attacker's URL", sc.victim, craft(t, hdr("RS256", "attacker", "jku", inward+"/jwks"), genuine, rs256(attacker)), hintSignature),
		malformed("x5u at the attacker's URL", sc.victim, craft(t, hdr("RS256", "attacker", "x5u", inward+"/cert.pem"), genuine, rs256(attacker)), hintSignature),
		malformed("jku and x5u on a remote issuer", sc.remoteVictim, craft(t, hdr("RS256", "", "jku", inward+"/jwks", "x5u", inward+"/x5u"), remoteClaims(), rs256(attacker)), hintSignature),
		malformed("x5c with the attacker's certificate", sc.victim, craft(t, hdr("RS256", "", "x5c", []string{base64.StdEncoding.EncodeToString(attackerCert.Raw)}), genuine, rs256(attacker)), hintSignature),

		// Critical extensions, validly signed by a trusted issuer.
		malformed("crit naming exp", sc.remoteVictim, craft(t, hdr("RS256", remoteRSAKid, "crit", []string{"exp"}, "exp", now.Unix()), remoteClaims(), rs256(remote.rsa)), hintCrit),
		malformed("crit naming an unknown extension", sc.remoteVictim, craft(t, hdr("RS256", remoteRSAKid, "crit", []string{"urn:attack:ext"}, "urn:attack:ext", true), remoteClaims(), rs256(remote.rsa)), hintCrit),
		malformed("crit b64 with an unencoded payload", sc.remoteVictim, rawPayloadRS256(remote.rsa, `{"alg":"RS256","kid":"`+remoteRSAKid+`","b64":false,"crit":["b64"]}`, jsonText(t, remoteClaims())), hintCrit),
		malformed("crit b64 true", sc.remoteVictim, craft(t, hdr("RS256", remoteRSAKid, "b64", true, "crit", []string{"b64"}), remoteClaims(), rs256(remote.rsa)), hintCrit),
		malformed("crit empty", sc.remoteVictim, craft(t, hdr("RS256", remoteRSAKid, "crit", []string{}), remoteClaims(), rs256(remote.rsa)), hintCrit),

		// kid selects only among the issuer's own keys.
		malformed("kid of another cluster's key", sc.victim, craft(t, hdr("RS256", sc.kidB), genuine, rs256(attacker)), hintSignature),
		malformed("another cluster's signature claiming this issuer", sc.victim, headerB+"."+genuinePayload+"."+sigB, hintSignature),
		malformed("remote issuer's valid signature claiming the cluster's issuer", sc.victim, craft(t, hdr("RS256", remoteRSAKid), claims(sc.issuerA, sc.subject), rs256(remote.rsa)), hintSignature),
		malformed("remote issuer's signature under the cluster's kid", sc.victim, craft(t, hdr("RS256", sc.kidA), claims(sc.issuerA, sc.subject), rs256(remote.rsa)), hintSignature),
		malformed("attacker's signature under the issuer's kid", sc.victim, craft(t, hdr("RS256", sc.kidA), genuine, rs256(attacker)), hintSignature),
		malformed("kid path traversal to /etc/passwd", sc.victim, craft(t, hdr("RS256", "../../../../../../etc/passwd"), genuine, rs256(attacker)), hintSignature),
		malformed("kid path traversal to another cluster's key", sc.victim, craft(t, hdr("RS256", "../"+uidB+"/"+sc.kidB), genuine, rs256(attacker)), hintSignature),
		malformed("kid naming another cluster's JWKS path", sc.victim, craft(t, hdr("RS256", "/oidc/"+e.admin.TenantID+"/"+uidB+"/openid/v1/jwks"), genuine, rs256(attacker)), hintSignature),
		malformed("kid as a URL into the operator's network", sc.victim, craft(t, hdr("RS256", inward+"/jwks"), genuine, rs256(attacker)), hintSignature),
		malformed("kid percent-encoded traversal", sc.victim, craft(t, hdr("RS256", "..%2F..%2F"+sc.kidB), genuine, rs256(attacker)), hintSignature),
		malformed("kid with a NUL before the issuer's kid", sc.victim, craft(t, hdr("RS256", "\x00"+sc.kidA), genuine, rs256(attacker)), hintSignature),
		malformed("kid traversal on a remote issuer", sc.remoteVictim, craft(t, hdr("RS256", "../../jwks?kid="+remoteRSAKid), remoteClaims(), rs256(attacker)), hintSignature),
		{name: "another cluster's genuine token", client: sc.victim, assertion: sc.tokenB, status: http.StatusUnauthorized, oauth: "invalid_client", code: 700211,
			hint: "No matching federated identity record found for presented assertion issuer '" + sc.issuerB + "'"},

		// Not a compact JWS, or one without its signature.
		malformed("JWE compact, five parts", sc.victim, segment(t, map[string]any{"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": sc.kidA})+".ZW5jcnlwdGVka2V5.aXYxMjM0NTY3ODkw."+genuinePayload+".dGFn", hintNotJWS),
		malformed("JWS JSON serialization", sc.victim, jsonText(t, map[string]any{"payload": genuinePayload, "signatures": []any{map[string]any{"protected": segment(t, hdr("RS256", sc.kidA)), "signature": genuineSig}}}), hintNotJWS),
		malformed("signature stripped", sc.victim, strings.TrimSuffix(sc.tokenA, genuineSig), hintSignature),
		malformed("signature truncated", sc.victim, sc.tokenA[:len(sc.tokenA)-8], ""),
		malformed("two signatures' worth of dots", sc.victim, strings.Replace(sc.tokenA, ".", "..", 1), hintNotJWS),

		// Sizes.
		malformed("oversized token", sc.victim, craft(t, hdr("RS256", sc.kidA), claims(sc.issuerA, sc.subject, set("pad", strings.Repeat("A", 17<<10))), rs256(attacker)), "longer than 16384 bytes"),
		malformed("oversized header", sc.remoteVictim, craft(t, hdr("RS256", remoteRSAKid, "pad", strings.Repeat("A", 9<<10)), remoteClaims(), rs256(remote.rsa)), "header is longer than 8192 bytes"),
		malformed("oversized sub", sc.remoteVictim, remoteRS256(remoteClaims(set("sub", strings.Repeat("s", 601)))), "'sub' claim is longer than 600 characters"),
		malformed("oversized iss", sc.remoteVictim, remoteRS256(remoteClaims(set("iss", remoteIss+strings.Repeat("/i", 300)))), "'iss' claim is longer than 600 characters"),
		malformed("oversized aud", sc.remoteVictim, remoteRS256(remoteClaims(set("aud", []string{exchangeAudience, strings.Repeat("a", 601)}))), "'aud' claim is longer than 600 characters"),
		malformed("too many audiences", sc.remoteVictim, remoteRS256(remoteClaims(set("aud", manyAudiences(51)))), "more than 50 audiences"),

		// Claim types, validly signed by a trusted issuer.
		malformed("aud as an object", sc.remoteVictim, remoteRS256(remoteClaims(set("aud", map[string]any{"0": exchangeAudience}))), hintClaimsTypes),
		malformed("aud as an array of numbers", sc.remoteVictim, remoteRS256(remoteClaims(set("aud", []any{1, 2}))), hintClaimsTypes),
		malformed("sub as a number", sc.remoteVictim, remoteRS256(remoteClaims(set("sub", 12345))), hintClaimsTypes),
		malformed("sub as an object", sc.remoteVictim, remoteRS256(remoteClaims(set("sub", map[string]any{"value": sc.remoteSubject}))), hintClaimsTypes),
		malformed("iss as an array", sc.remoteVictim, remoteRS256(remoteClaims(set("iss", []string{remoteIss}))), hintClaimsTypes),
		malformed("exp as a string", sc.remoteVictim, remoteRS256(remoteClaims(set("exp", "9999999999"))), hintClaimsTypes),
		malformed("exp beyond any date", sc.remoteVictim, remoteRS256(remoteClaims(set("exp", 1e300))), hintClaimsTypes),
		malformed("nbf as a boolean", sc.remoteVictim, remoteRS256(remoteClaims(set("nbf", true))), hintClaimsTypes),
		malformed("sub given twice", sc.remoteVictim, remoteRS256(strings.Replace(jsonText(t, remoteClaims()), `"sub":`, `"sub":"other","sub":`, 1)), hintClaimsTypes),
		malformed("sub only in another case", sc.remoteVictim, remoteRS256(remoteClaims(unset("sub"), set("Sub", sc.remoteSubject))), "has no 'sub' claim"),
		malformed("claims not an object", sc.remoteVictim, remoteRS256(`["`+remoteIss+`"]`), hintClaimsTypes),

		// Time.
		outOfTime("exp missing", sc.remoteVictim, remoteRS256(remoteClaims(unset("exp")))),
		{name: "lifetime over 25 hours", client: sc.remoteVictim, assertion: remoteRS256(remoteClaims(set("exp", now.Add(26*time.Hour).Unix()))),
			status: http.StatusBadRequest, oauth: "invalid_request", code: 70023, hint: "must have a lifetime of less than or equal to 1.01:00:00"},
		{name: "far-future exp", client: sc.remoteVictim, assertion: remoteRS256(remoteClaims(set("exp", now.AddDate(10, 0, 0).Unix()))),
			status: http.StatusBadRequest, oauth: "invalid_request", code: 70023},
		outOfTime("lifetime stretched by an iat in the future", sc.remoteVictim, remoteRS256(remoteClaims(unset("nbf"), set("iat", now.AddDate(0, 1, 0).Unix()), set("exp", now.AddDate(0, 1, 0).Add(time.Hour).Unix())))),
		outOfTime("nbf in the future", sc.remoteVictim, remoteRS256(remoteClaims(set("nbf", now.Add(10*time.Minute).Unix())))),
		outOfTime("nbf and iat in the future", sc.remoteVictim, remoteRS256(remoteClaims(set("iat", now.Add(time.Hour).Unix()), set("nbf", now.Add(time.Hour).Unix()), set("exp", now.Add(2*time.Hour).Unix())))),
		outOfTime("expired", sc.remoteVictim, remoteRS256(remoteClaims(set("iat", now.Add(-2*time.Hour).Unix()), set("nbf", now.Add(-2*time.Hour).Unix()), set("exp", now.Add(-10*time.Minute).Unix())))),
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			res := e.exchangeAssertion(t, a.client, a.assertion)
			if a.status == 0 {
				if res.status != http.StatusOK || res.accessToken == "" {
					t.Fatalf("control refused: %d %s", res.status, res.body)
				}
				return
			}
			wantRefused(t, res, a.status, a.oauth, a.code, a.hint)
		})
	}
	// After every attack: nothing fetched the jku, x5u or kid URLs.
	t.Cleanup(func() { e.s.inward.wantNone(t) })
}

func manyAudiences(n int) []string {
	out := []string{exchangeAudience}
	for i := 1; i < n; i++ {
		out = append(out, "api://audience-"+strings.Repeat("x", i%7))
	}
	return out
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func mustPKIX(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
