package arm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/trust"
)

const privateIssuer = "https://private-cluster.example/"

// Cluster signing keys of the tests, generated once: RSA generation is slow.
var (
	clusterKeysOnce sync.Once
	clusterRSA      *rsa.PrivateKey
	clusterEC       [3]*ecdsa.PrivateKey
)

func clusterKeys(t *testing.T) {
	t.Helper()
	clusterKeysOnce.Do(func() {
		var err error
		if clusterRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		for i := range clusterEC {
			if clusterEC[i], err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
				panic(err)
			}
		}
	})
}

// publicJWK is the public JWK of key as a JSON object.
func publicJWK(t *testing.T, key crypto.Signer, kid string) map[string]any {
	t.Helper()
	data, err := json.Marshal(jose.JSONWebKey{Key: key.Public(), KeyID: kid, Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jwksOf(keys ...map[string]any) map[string]any { return map[string]any{"keys": keys} }

// trustedIssuersPath is the trusted issuer collection of the test
// subscription.
const trustedIssuersPath = subPath + "/providers/Fedcred/trustedIssuers"

func trustedIssuerPath(name string) string { return trustedIssuersPath + "/" + name }

func trustedIssuerBodyOf(issuer string, jwks any) map[string]any {
	return map[string]any{"properties": map[string]any{"issuer": issuer, "jwks": jwks}}
}

func TestTrustedIssuers_Lifecycle(t *testing.T) {
	t.Parallel()
	clusterKeys(t)
	clock := &fakeClock{now: testNow}
	env := newTestEnv(t, func(c *Config) { c.Now = clock.Now })
	path := trustedIssuerPath("Private-1")
	set := jwksOf(publicJWK(t, clusterRSA, "rsa-1"), publicJWK(t, clusterEC[0], "ec-1"))

	var created trustedIssuerJSON
	env.mustCreate(path, trustedIssuerBodyOf(privateIssuer, set)).decode(t, &created)
	if created.ID != path || created.Name != "Private-1" || created.Type != "Fedcred/trustedIssuers" {
		t.Errorf("created = %s %s %s", created.ID, created.Name, created.Type)
	}
	p := created.Properties
	wantKeys := []trust.KeyInfo{{KID: "rsa-1", Kty: "RSA", Use: "sig"}, {KID: "ec-1", Kty: "EC", Use: "sig"}}
	if p.Issuer != privateIssuer || fmt.Sprint(p.Keys) != fmt.Sprint(wantKeys) || !p.KeysUpdatedAt.Equal(testNow) ||
		p.KeysPublishedBy != "" || p.ProvisioningState != "Succeeded" {
		t.Errorf("properties = %+v", p)
	}
	if want := testPublicURL + path; p.PublishKeysAudience != want {
		t.Errorf("publishKeysAudience = %q, want %q", p.PublishKeysAudience, want)
	}
	var echoed map[string]any
	if err := json.Unmarshal(p.JWKS, &echoed); err != nil || fmt.Sprint(echoed) != fmt.Sprint(set) {
		t.Errorf("jwks echoed as %s, want the uploaded set", p.JWKS)
	}

	t.Run("get, in any case", func(t *testing.T) {
		var got trustedIssuerJSON
		env.call(http.MethodGet, strings.ToLower(path), nil).wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Name != "Private-1" || got.Properties.Issuer != privateIssuer || len(got.Properties.Keys) != 2 {
			t.Errorf("got %+v", got)
		}
	})

	clock.Advance(time.Hour)
	t.Run("put the same keys keeps keysUpdatedAt", func(t *testing.T) {
		var got trustedIssuerJSON
		env.call(http.MethodPut, path, trustedIssuerBodyOf(privateIssuer, set)).wantStatus(t, http.StatusOK).decode(t, &got)
		if !got.Properties.KeysUpdatedAt.Equal(testNow) || !got.SystemData.LastModifiedAt.Equal(testNow.Add(time.Hour)) {
			t.Errorf("keysUpdatedAt %v, lastModifiedAt %v", got.Properties.KeysUpdatedAt, got.SystemData.LastModifiedAt)
		}
	})
	t.Run("put new keys replaces them", func(t *testing.T) {
		var got trustedIssuerJSON
		env.call(http.MethodPut, path, trustedIssuerBodyOf(privateIssuer, jwksOf(publicJWK(t, clusterEC[1], "ec-2")))).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if len(got.Properties.Keys) != 1 || got.Properties.Keys[0].KID != "ec-2" || !got.Properties.KeysUpdatedAt.Equal(testNow.Add(time.Hour)) {
			t.Errorf("after update: %+v", got.Properties)
		}
	})
	t.Run("list pages", func(t *testing.T) {
		env.mustCreate(trustedIssuerPath("private-2"), trustedIssuerBodyOf("https://other-private.example", set))
		var page listResult[trustedIssuerJSON]
		env.call(http.MethodGet, trustedIssuersPath+"?api-version=x&$top=1", nil).
			wantStatus(t, http.StatusOK).decode(t, &page)
		if len(page.Value) != 1 || page.Value[0].Name != "Private-1" || page.NextLink == "" {
			t.Fatalf("first page = %+v", page)
		}
		var rest listResult[trustedIssuerJSON]
		env.follow(page.NextLink).wantStatus(t, http.StatusOK).decode(t, &rest)
		if len(rest.Value) != 1 || rest.Value[0].Name != "private-2" || rest.NextLink != "" {
			t.Fatalf("second page = %+v", rest)
		}
	})
	t.Run("delete", func(t *testing.T) {
		env.call(http.MethodDelete, path, nil).wantStatus(t, http.StatusOK)
		env.call(http.MethodDelete, path, nil).wantStatus(t, http.StatusNoContent)
		env.call(http.MethodGet, path, nil).wantError(t, http.StatusNotFound, "ResourceNotFound",
			"The Resource 'Fedcred/trustedIssuers/Private-1' under subscription '"+testSub+"' was not found.")
		// The issuer is free again.
		env.mustCreate(trustedIssuerPath("private-3"), trustedIssuerBodyOf(privateIssuer, set))
	})
}

func TestTrustedIssuers_Validation(t *testing.T) {
	t.Parallel()
	clusterKeys(t)
	env := newTestEnv(t)
	good := jwksOf(publicJWK(t, clusterEC[0], "k1"))
	withD := publicJWK(t, clusterEC[0], "k1")
	withD["d"] = "AQAB"
	many := make([]map[string]any, 101)
	for i := range many {
		many[i] = publicJWK(t, clusterEC[0], fmt.Sprintf("k%d", i))
	}
	tests := []struct {
		name       string
		resource   string
		body       any
		wantStatus int
		wantCode   string
		wantTarget string
		wantIn     string
	}{
		{name: "name too long", resource: strings.Repeat("a", 64), body: trustedIssuerBodyOf(privateIssuer, good), wantStatus: 400, wantCode: "InvalidResourceName"},
		{name: "name ending in a hyphen", resource: "abc-", body: trustedIssuerBodyOf(privateIssuer, good), wantStatus: 400, wantCode: "InvalidResourceName"},
		{name: "no properties", resource: "p1", body: map[string]any{}, wantStatus: 400, wantCode: "InvalidRequestContent", wantTarget: "properties"},
		{name: "no issuer", resource: "p1", body: map[string]any{"properties": map[string]any{"jwks": good}}, wantStatus: 400, wantCode: "InvalidRequestContent", wantTarget: "properties.issuer"},
		{name: "http issuer", resource: "p1", body: trustedIssuerBodyOf("http://private.example/", good), wantStatus: 400, wantCode: "BadRequest", wantTarget: "properties.issuer", wantIn: "absolute https URL"},
		{name: "issuer with a query", resource: "p1", body: trustedIssuerBodyOf("https://private.example/?x=1", good), wantStatus: 400, wantCode: "BadRequest", wantTarget: "properties.issuer"},
		{name: "issuer with trailing space", resource: "p1", body: trustedIssuerBodyOf("https://private.example/ ", good), wantStatus: 400, wantCode: "BadRequest", wantTarget: "properties.issuer", wantIn: "whitespace"},
		{name: "issuer too long", resource: "p1", body: trustedIssuerBodyOf("https://p.example/"+strings.Repeat("a", 600), good), wantStatus: 400, wantCode: "BadRequest", wantTarget: "properties.issuer", wantIn: "at most 600"},
		{name: "wildcard issuer", resource: "p1", body: trustedIssuerBodyOf("https://*.example/", good), wantStatus: 400, wantCode: "BadRequest", wantTarget: "properties.issuer", wantIn: "Wildcard"},
		{name: "issuer of this server", resource: "p1", body: trustedIssuerBodyOf(testPublicURL+"/oidc/"+testTenant+"/x/", good), wantStatus: 400, wantCode: "BadRequest", wantTarget: "properties.issuer", wantIn: "under this server's URL"},
		{name: "no jwks", resource: "p1", body: trustedIssuerBodyOf(privateIssuer, nil), wantStatus: 400, wantCode: "InvalidRequestContent", wantTarget: "properties.jwks"},
		{name: "jwks not an object", resource: "p1", body: trustedIssuerBodyOf(privateIssuer, "keys"), wantStatus: 400, wantCode: "InvalidJwks", wantTarget: "properties.jwks"},
		{name: "private key in jwks", resource: "p1", body: trustedIssuerBodyOf(privateIssuer, jwksOf(withD)), wantStatus: 400, wantCode: "InvalidJwks", wantTarget: "properties.jwks.keys[0]", wantIn: "private or symmetric key material"},
		{name: "duplicate kid", resource: "p1", body: trustedIssuerBodyOf(privateIssuer, jwksOf(publicJWK(t, clusterEC[0], "k"), publicJWK(t, clusterEC[1], "k"))), wantStatus: 400, wantCode: "InvalidJwks", wantTarget: "properties.jwks.keys[1]"},
		{name: "too many keys", resource: "p1", body: trustedIssuerBodyOf(privateIssuer, jwksOf(many...)), wantStatus: 400, wantCode: "InvalidJwks", wantTarget: "properties.jwks", wantIn: "at most 100"},
		{name: "body too large", resource: "p1", body: trustedIssuerBodyOf(privateIssuer, map[string]any{"keys": []any{}, "pad": strings.Repeat("x", maxBodyBytes)}), wantStatus: 413, wantCode: "RequestEntityTooLarge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := env.call(http.MethodPut, trustedIssuerPath(tc.resource), tc.body)
			r.wantStatus(t, tc.wantStatus)
			ce := r.cloudErr(t)
			if ce.Code != tc.wantCode || ce.Target != tc.wantTarget || !strings.Contains(ce.Message, tc.wantIn) {
				t.Errorf("error = %+v, want code %s target %q containing %q", ce, tc.wantCode, tc.wantTarget, tc.wantIn)
			}
		})
	}
}

func TestTrustedIssuers_IssuerUniquePerTenant(t *testing.T) {
	t.Parallel()
	clusterKeys(t)
	env := newTestEnv(t)
	set := jwksOf(publicJWK(t, clusterEC[0], "k1"))
	env.mustCreate(trustedIssuerPath("first"), trustedIssuerBodyOf(privateIssuer, set))
	env.call(http.MethodPut, trustedIssuerPath("second"), trustedIssuerBodyOf(privateIssuer, set)).wantError(t, http.StatusConflict, "IssuerAlreadyTrusted",
		"The issuer '"+privateIssuer+"' is already trusted by trusted issuer 'first': an issuer can be trusted once per tenant.")
	// Issuers match exactly: without the slash it is another issuer.
	env.mustCreate(trustedIssuerPath("second"), trustedIssuerBodyOf(strings.TrimSuffix(privateIssuer, "/"), set))
	// Moving "second" onto the first's issuer is refused too.
	env.call(http.MethodPut, trustedIssuerPath("second"), trustedIssuerBodyOf(privateIssuer, set)).wantStatus(t, http.StatusConflict)
	// Another tenant may trust the same issuer.
	env.callAs(otherTenantToken, http.MethodPut, "/subscriptions/"+otherSub+"/providers/Fedcred/trustedIssuers/first",
		trustedIssuerBodyOf(privateIssuer, set)).wantStatus(t, http.StatusCreated)
}

func TestTrustedIssuers_AccessControl(t *testing.T) {
	t.Parallel()
	clusterKeys(t)
	env := newTestEnv(t)
	set := jwksOf(publicJWK(t, clusterEC[0], "k1"))
	path := trustedIssuerPath("p1")
	env.mustCreate(path, trustedIssuerBodyOf(privateIssuer, set))

	const readerOID, contributorOID = "aaaaaaaa-0000-0000-0000-0000000000a1", "aaaaaaaa-0000-0000-0000-0000000000a2"
	env.tokens.mu.Lock()
	env.tokens.byToken["reader"] = Principal{ObjectID: readerOID, TenantID: testTenant, Type: PrincipalServicePrincipal}
	env.tokens.byToken["contributor"] = Principal{ObjectID: contributorOID, TenantID: testTenant, Type: PrincipalServicePrincipal}
	env.tokens.mu.Unlock()
	env.grant(readerOID, subPath, rbac.ReaderID)
	env.grant(contributorOID, subPath, rbac.ContributorID)

	tests := []struct {
		name, token, method, path string
		body                      any
		want                      int
		wantAction                string
	}{
		{name: "no role cannot read", token: noRoleToken, method: http.MethodGet, path: path, want: 403, wantAction: "Fedcred/trustedIssuers/read"},
		{name: "no role cannot list", token: noRoleToken, method: http.MethodGet, path: trustedIssuersPath, want: 403, wantAction: "Fedcred/trustedIssuers/read"},
		{name: "reader reads", token: "reader", method: http.MethodGet, path: path, want: 200},
		{name: "reader cannot write", token: "reader", method: http.MethodPut, path: trustedIssuerPath("p2"), body: trustedIssuerBodyOf("https://p2.example/", set), want: 403, wantAction: "Fedcred/trustedIssuers/write"},
		{name: "reader cannot delete", token: "reader", method: http.MethodDelete, path: path, want: 403, wantAction: "Fedcred/trustedIssuers/delete"},
		{name: "contributor writes", token: "contributor", method: http.MethodPut, path: trustedIssuerPath("p3"), body: trustedIssuerBodyOf("https://p3.example/", set), want: 201},
		{name: "another tenant does not see the subscription", token: otherTenantToken, method: http.MethodGet, path: path, want: 404},
		{name: "unauthenticated", token: "", method: http.MethodGet, path: path, want: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := env.callAs(tc.token, tc.method, tc.path, tc.body)
			r.wantStatus(t, tc.want)
			if tc.wantAction != "" && !strings.Contains(r.cloudErr(t).Message, "'"+tc.wantAction+"' over scope") {
				t.Errorf("403 message %q does not name %s", r.cloudErr(t).Message, tc.wantAction)
			}
		})
	}
}

func TestTrustedIssuers_Routes(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	tests := []struct {
		name, method, path string
		want               int
		wantCode           string
	}{
		{name: "not in a resource group", method: http.MethodGet, path: rgPath("rg") + "/providers/Fedcred/trustedIssuers/p1", want: 404, wantCode: "NotFound"},
		{name: "unknown child", method: http.MethodGet, path: trustedIssuerPath("p1") + "/keys", want: 404, wantCode: "NotFound"},
		{name: "unknown fedcred type", method: http.MethodGet, path: subPath + "/providers/Fedcred/other/p1", want: 404, wantCode: "InvalidResourceType"},
		{name: "patch", method: http.MethodPatch, path: trustedIssuerPath("p1"), want: 405, wantCode: "MethodNotAllowed"},
		{name: "post on the collection", method: http.MethodPost, path: trustedIssuersPath, want: 405, wantCode: "MethodNotAllowed"},
		{name: "get publishKeys", method: http.MethodGet, path: trustedIssuerPath("p1") + "/publishKeys", want: 405, wantCode: "MethodNotAllowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env.call(tc.method, tc.path, nil).wantError(t, tc.want, tc.wantCode, "")
		})
	}
	if allow := env.call(http.MethodGet, trustedIssuerPath("p1")+"/publishKeys", nil).header.Values("Allow"); fmt.Sprint(allow) != "[POST]" {
		t.Errorf("publishKeys Allow = %v, want [POST]", allow)
	}
}

// publisher signs publishKeys proofs and posts them.
type publisher struct {
	t     *testing.T
	env   *testEnv
	clock *fakeClock
	name  string
	jti   int
}

func (p *publisher) audience() string { return testPublicURL + trustedIssuerPath(p.name) }

// proof signs a proof with key under kid; change may alter the request.
func (p *publisher) proof(key crypto.Signer, kid string, change func(*trust.ProofRequest)) string {
	p.t.Helper()
	p.jti++
	req := trust.ProofRequest{Key: key, KeyID: kid, Issuer: privateIssuer, Audience: p.audience(), JTI: fmt.Sprintf("jti-%d", p.jti), Now: p.clock.Now()}
	if change != nil {
		change(&req)
	}
	tok, err := trust.SignProof(req)
	if err != nil {
		p.t.Fatal(err)
	}
	return tok
}

// publish posts jwks (already encoded when []byte) with the proof.
func (p *publisher) publish(proof string, jwks any) result {
	p.t.Helper()
	body, ok := jwks.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(jwks); err != nil {
			p.t.Fatal(err)
		}
	}
	return p.env.raw(http.MethodPost, trustedIssuerPath(p.name)+"/publishKeys?api-version="+testAPIVersion, proof, bytes.NewReader(body))
}

func TestPublishKeys(t *testing.T) {
	t.Parallel()
	clusterKeys(t)
	clock := &fakeClock{now: testNow}
	env := newTestEnv(t, func(c *Config) { c.Now = clock.Now })
	oldKey, newKey, strangerKey := clusterEC[0], clusterEC[1], clusterEC[2]
	env.mustCreate(trustedIssuerPath("cluster"), trustedIssuerBodyOf(privateIssuer, jwksOf(publicJWK(t, clusterRSA, "rsa"), publicJWK(t, oldKey, "old"))))
	p := &publisher{t: t, env: env, clock: clock, name: "cluster"}
	rotated := jwksOf(publicJWK(t, oldKey, "old"), publicJWK(t, newKey, "new"))

	refusals := []struct {
		name       string
		proof      string
		body       any
		wantStatus int
		wantCode   string
		wantIn     string
	}{
		{name: "no proof", proof: "", body: rotated, wantStatus: 401, wantCode: "AuthenticationFailed", wantIn: "header is missing"},
		{name: "the management token", proof: adminToken, body: rotated, wantStatus: 401, wantCode: "InvalidAuthenticationToken", wantIn: "not a compact JWS"},
		{name: "untrusted key", proof: p.proof(strangerKey, "stranger", nil), body: rotated, wantStatus: 401, wantCode: "InvalidAuthenticationToken", wantIn: `not signed by a key the trusted issuer currently trusts (kid "stranger")`},
		{name: "trusted kid, another key", proof: p.proof(strangerKey, "old", nil), body: rotated, wantStatus: 401, wantCode: "InvalidAuthenticationToken", wantIn: "not signed by a key"},
		{name: "wrong audience", proof: p.proof(oldKey, "old", func(r *trust.ProofRequest) { r.Audience = testPublicURL + trustedIssuerPath("other") }), body: rotated, wantStatus: 401, wantCode: "InvalidAuthenticationTokenAudience", wantIn: p.audience()},
		{name: "wrong issuer", proof: p.proof(oldKey, "old", func(r *trust.ProofRequest) { r.Issuer = "https://elsewhere.example/" }), body: rotated, wantStatus: 401, wantCode: "InvalidAuthenticationToken", wantIn: "iss"},
		{name: "expired", proof: p.proof(oldKey, "old", func(r *trust.ProofRequest) { r.Now = testNow.Add(-time.Hour) }), body: rotated, wantStatus: 401, wantCode: "ExpiredAuthenticationToken", wantIn: "expired at"},
		{name: "invalid new keys", proof: p.proof(oldKey, "old", nil), body: jwksOf(map[string]any{"kty": "EC", "kid": "x", "d": "AQAB"}), wantStatus: 400, wantCode: "InvalidJwks", wantIn: "keys[0]: the key carries private"},
		{name: "empty body", proof: p.proof(oldKey, "old", nil), body: []byte(""), wantStatus: 400, wantCode: "InvalidRequestContent", wantIn: "new JSON web key set"},
		{name: "oversized body", proof: p.proof(oldKey, "old", nil), body: []byte(`{"keys":[],"x":"` + strings.Repeat("x", maxBodyBytes) + `"}`), wantStatus: 413, wantCode: "RequestEntityTooLarge"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			r := p.publish(tc.proof, tc.body)
			r.wantStatus(t, tc.wantStatus)
			ce := r.cloudErr(t)
			if ce.Code != tc.wantCode || !strings.Contains(ce.Message, tc.wantIn) {
				t.Errorf("error = %+v, want %s containing %q", ce, tc.wantCode, tc.wantIn)
			}
			if tc.wantStatus == 401 && r.header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("refusals changed nothing", func(t *testing.T) {
		var got trustedIssuerJSON
		env.call(http.MethodGet, trustedIssuerPath("cluster"), nil).wantStatus(t, http.StatusOK).decode(t, &got)
		if len(got.Properties.Keys) != 2 || got.Properties.Keys[0].KID != "rsa" || got.Properties.KeysPublishedBy != "" {
			t.Fatalf("keys after refusals = %+v", got.Properties)
		}
	})

	clock.Advance(time.Minute)
	proof := p.proof(clusterRSA, "rsa", nil)
	var published trustedIssuerJSON
	p.publish(proof, rotated).wantStatus(t, http.StatusOK).decode(t, &published)
	if fmt.Sprint(published.Properties.Keys) != fmt.Sprint([]trust.KeyInfo{{KID: "old", Kty: "EC", Use: "sig"}, {KID: "new", Kty: "EC", Use: "sig"}}) ||
		published.Properties.KeysPublishedBy != "rsa" || !published.Properties.KeysUpdatedAt.Equal(testNow.Add(time.Minute)) {
		t.Fatalf("published = %+v", published.Properties)
	}

	t.Run("a proof is accepted once", func(t *testing.T) {
		p.publish(proof, rotated).wantError(t, http.StatusUnauthorized, "InvalidAuthenticationToken", "")
	})
	t.Run("the removed key can no longer publish", func(t *testing.T) {
		p.publish(p.proof(clusterRSA, "rsa", nil), jwksOf(publicJWK(t, clusterRSA, "rsa"))).
			wantError(t, http.StatusUnauthorized, "InvalidAuthenticationToken", "")
	})
	t.Run("the new key publishes the next rotation", func(t *testing.T) {
		var got trustedIssuerJSON
		p.publish(p.proof(newKey, "new", nil), jwksOf(publicJWK(t, newKey, "new"))).wantStatus(t, http.StatusOK).decode(t, &got)
		if len(got.Properties.Keys) != 1 || got.Properties.KeysPublishedBy != "new" {
			t.Fatalf("after the second rotation: %+v", got.Properties)
		}
	})
	t.Run("a missing trusted issuer is refused like an untrusted key", func(t *testing.T) {
		missing := &publisher{t: t, env: env, clock: clock, name: "missing"}
		r := missing.publish(missing.proof(newKey, "new", nil), rotated)
		r.wantError(t, http.StatusUnauthorized, "InvalidAuthenticationToken",
			`The proof token is refused: the proof token is not signed by a key the trusted issuer currently trusts (kid "new").`)
	})
	t.Run("api-version is required", func(t *testing.T) {
		r := env.raw(http.MethodPost, trustedIssuerPath("cluster")+"/publishKeys", p.proof(newKey, "new", nil), bytes.NewReader([]byte(`{}`)))
		r.wantError(t, http.StatusBadRequest, "MissingApiVersionParameter", "")
	})
}

func TestPublishKeys_ReplayMemoryIsBounded(t *testing.T) {
	t.Parallel()
	clusterKeys(t)
	clock := &fakeClock{now: testNow}
	env := newTestEnv(t, func(c *Config) { c.Now = clock.Now })
	key := clusterEC[0]
	set := jwksOf(publicJWK(t, key, "k"))
	env.mustCreate(trustedIssuerPath("busy"), trustedIssuerBodyOf(privateIssuer, set))
	p := &publisher{t: t, env: env, clock: clock, name: "busy"}
	for i := range maxUsedProofs {
		if r := p.publish(p.proof(key, "k", nil), set); r.status != http.StatusOK {
			t.Fatalf("publication %d: %d %s", i, r.status, r.body)
		}
	}
	r := p.publish(p.proof(key, "k", nil), set)
	r.wantError(t, http.StatusTooManyRequests, "TooManyRequests", "")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Once the remembered proofs expire, publishing works again.
	clock.Advance(trust.MaxProofLifetime + trust.ProofClockSkew)
	p.publish(p.proof(key, "k", nil), set).wantStatus(t, http.StatusOK)
}
