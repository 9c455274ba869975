package sts_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/fedcred/fedcred/internal/store"
)

const (
	paymentsSubject = "system:serviceaccount:payments:api"
	v2Path          = "/" + tenantID + "/oauth2/v2.0/token"
	v1Path          = "/" + tenantID + "/oauth2/token"
	vaultScope      = "https://vault.azure.net/.default"
)

var descPattern = regexp.MustCompile(`^AADSTS(\d+): .+ Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)

func assertionForm(clientID, assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {clientID},
		"scope":                 {vaultScope},
		"client_assertion_type": {jwtBearer},
		"client_assertion":      {assertion},
	}
}

func secretForm(clientID, secret string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"scope":         {vaultScope},
		"client_secret": {secret},
	}
}

// with returns a copy of f with key set to vals (no vals: key removed).
func with(f url.Values, key string, vals ...string) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	if len(vals) == 0 {
		delete(out, key)
	} else {
		out[key] = vals
	}
	return out
}

// claims builds assertion claims around the rig's clock.
func claims(iss, sub string, aud any, iat, nbf, exp time.Duration, now time.Time) map[string]any {
	c := map[string]any{"iss": iss, "sub": sub, "aud": aud}
	for k, d := range map[string]time.Duration{"iat": iat, "nbf": nbf, "exp": exp} {
		if d != absent {
			c[k] = now.Add(d).Unix()
		}
	}
	return c
}

// absent marks a time claim to leave out.
const absent = time.Duration(-1 << 63)

// signLocal signs claims with a key the rig's issuers do not publish.
func signLocal(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, c any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	p, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return p.Headers[0].KeyID
}

func TestToken_Refusals(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	id := r.identity(t, tenantID, "payments", fic("payments-api", r.issURL, paymentsSubject))
	foreign := r.identity(t, otherTenant, "elsewhere", fic("x", r.issURL, paymentsSubject))
	offIssuer := r.srv.URL + "/oidc/" + tenantID + "/5f1a2b3c-0000-4000-8000-000000000002/"
	offID := r.identity(t, tenantID, "off", fic("off-cluster", offIssuer, paymentsSubject))
	remoteID := r.identity(t, tenantID, "remote", fic("remote", "https://unreachable.example/", paymentsSubject))

	good := r.saToken(t, "payments", "api")
	kid := kidOf(t, good)
	strange, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := r.now
	h := time.Hour
	b64 := base64.RawURLEncoding.EncodeToString

	tests := []refusalCase{
		{name: "unknown tenant GUID", path: "/" + uuidFor("nope") + "/oauth2/v2.0/token", form: assertionForm(id.ClientID, good),
			wantStatus: 400, wantError: "invalid_request", wantCode: 90002, wantDesc: []string{"Tenant '" + uuidFor("nope") + "' not found"}},
		{name: "tenant given as a domain name", path: "/contoso.onmicrosoft.com/oauth2/v2.0/token", form: assertionForm(id.ClientID, good),
			wantStatus: 400, wantError: "invalid_request", wantCode: 90002},
		{name: "unknown tenant wins over a missing grant_type", path: "/" + uuidFor("nope") + "/oauth2/token", form: url.Values{},
			wantStatus: 400, wantError: "invalid_request", wantCode: 90002},
		{name: "grant_type missing", form: with(assertionForm(id.ClientID, good), "grant_type"),
			wantStatus: 400, wantError: "invalid_request", wantCode: 900144, wantDesc: []string{"'grant_type'"}},
		{name: "grant_type password", form: with(assertionForm(id.ClientID, good), "grant_type", "password"),
			wantStatus: 400, wantError: "unsupported_grant_type", wantCode: 70003, wantDesc: []string{"unsupported grant type 'password'"}},
		{name: "client_id missing", form: with(assertionForm(id.ClientID, good), "client_id"),
			wantStatus: 400, wantError: "invalid_request", wantCode: 900144, wantDesc: []string{"'client_id'"}},
		{name: "v2 scope missing", form: with(assertionForm(id.ClientID, good), "scope"),
			wantStatus: 400, wantError: "invalid_request", wantCode: 900144, wantDesc: []string{"'scope'"}},
		{name: "v2 scope blank", form: with(assertionForm(id.ClientID, good), "scope", "  "),
			wantStatus: 400, wantError: "invalid_request", wantCode: 900144, wantDesc: []string{"'scope'"}},
		{name: "v1 resource missing", path: v1Path, form: with(assertionForm(id.ClientID, good), "scope"),
			wantStatus: 400, wantError: "invalid_request", wantCode: 900144, wantDesc: []string{"'resource'"}},
		{name: "v2 with resource parameter", form: with(assertionForm(id.ClientID, good), "resource", "https://vault.azure.net"),
			wantStatus: 400, wantError: "invalid_request", wantCode: 901002},
		{name: "scope without .default", form: with(assertionForm(id.ClientID, good), "scope", "https://vault.azure.net/secrets.read"),
			wantStatus: 400, wantError: "invalid_scope", wantCode: 70011, wantDesc: []string{"The scope https://vault.azure.net/secrets.read is not valid"}},
		{name: "scope naming two resources", form: with(assertionForm(id.ClientID, good), "scope", vaultScope+" https://storage.azure.com/.default"),
			wantStatus: 400, wantError: "invalid_scope", wantCode: 70011},
		{name: "scope of only OIDC scopes", form: with(assertionForm(id.ClientID, good), "scope", "openid profile offline_access"),
			wantStatus: 400, wantError: "invalid_scope", wantCode: 70011},
		{name: "scope that is only /.default", form: with(assertionForm(id.ClientID, good), "scope", "/.default"),
			wantStatus: 400, wantError: "invalid_scope", wantCode: 70011},
		{name: "unknown client", form: assertionForm(uuidFor("ghost"), good),
			wantStatus: 400, wantError: "unauthorized_client", wantCode: 700016,
			wantDesc: []string{"Application with identifier '" + uuidFor("ghost") + "' was not found in the directory '" + tenantID + "'"}},
		{name: "identity of another tenant", form: assertionForm(foreign.ClientID, good),
			wantStatus: 400, wantError: "unauthorized_client", wantCode: 700016},
		{name: "service principal of another tenant", path: "/" + otherTenant + "/oauth2/v2.0/token", form: secretForm(r.sp.ClientID, spSecret),
			wantStatus: 400, wantError: "unauthorized_client", wantCode: 700016},
		{name: "neither secret nor assertion", form: with(with(assertionForm(id.ClientID, good), "client_assertion"), "client_assertion_type"),
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000218},
		{name: "wrong client secret", form: secretForm(r.sp.ClientID, "not-the-secret"),
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000215},
		{name: "empty client secret counts as none", form: secretForm(r.sp.ClientID, ""),
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000218},
		{name: "empty client assertion counts as none", form: assertionForm(id.ClientID, ""),
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000218},
		{name: "expired client secret", form: secretForm(r.sp.ClientID, oldSecret),
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000222, wantDesc: []string{"are expired"}},
		{name: "wrong secret over HTTP Basic", form: with(secretForm(r.sp.ClientID, ""), "client_secret"),
			edit:       func(q *http.Request) { q.SetBasicAuth(url.QueryEscape(r.sp.ClientID), "nope") },
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000215},
		{name: "client secret for a managed identity", form: secretForm(id.ClientID, "anything"),
			wantStatus: 401, wantError: "invalid_client", wantCode: 7000215, wantDesc: []string{"is a managed identity, which has no client secrets"}},
		{name: "secret and assertion together", form: with(assertionForm(id.ClientID, good), "client_secret", "x"),
			wantStatus: 400, wantError: "invalid_request", wantCode: 9002313, wantDesc: []string{"more than one client authentication method"}},
		{name: "Basic credentials and assertion together", form: assertionForm(id.ClientID, good),
			edit:       func(q *http.Request) { q.SetBasicAuth(id.ClientID, "x") },
			wantStatus: 400, wantError: "invalid_request", wantCode: 9002313},
		{name: "Basic user is another client", form: with(secretForm(id.ClientID, ""), "client_secret"),
			edit:       func(q *http.Request) { q.SetBasicAuth(r.sp.ClientID, spSecret) },
			wantStatus: 400, wantError: "invalid_request", wantCode: 9002313},
		{name: "client_id given twice", form: with(assertionForm(id.ClientID, good), "client_id", id.ClientID, r.sp.ClientID),
			wantStatus: 400, wantError: "invalid_request", wantCode: 9002313, wantDesc: []string{"'client_id' is given more than once"}},
		{name: "body over 64 KiB", form: with(assertionForm(id.ClientID, good), "padding", strings.Repeat("p", 65<<10)),
			wantStatus: 400, wantError: "invalid_request", wantCode: 9002313, wantDesc: []string{"larger than 65536 bytes"}},
		{name: "client_assertion_type missing", form: with(assertionForm(id.ClientID, good), "client_assertion_type"),
			wantStatus: 400, wantError: "invalid_request", wantCode: 900144, wantDesc: []string{"'client_assertion_type'"}},
		{name: "client_assertion_type saml", form: with(assertionForm(id.ClientID, good), "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"),
			wantStatus: 400, wantError: "invalid_request", wantCode: 90011},
		{name: "assertion not a JWT", form: assertionForm(id.ClientID, "not-a-jwt"),
			wantStatus: 400, wantError: "invalid_request", wantCode: 50027, wantDesc: []string{"JWT token is invalid or malformed."}},
		{name: "assertion over 16 KiB", form: assertionForm(id.ClientID, good+strings.Repeat("A", 16<<10)),
			wantStatus: 400, wantError: "invalid_request", wantCode: 50027, wantDesc: []string{"longer than 16384 bytes"}},
		{name: "assertion with alg none", form: assertionForm(id.ClientID,
			b64([]byte(`{"alg":"none","typ":"JWT"}`))+"."+b64([]byte(`{"iss":"`+r.issURL+`","sub":"`+paymentsSubject+`","aud":"`+defAud+`"}`))+"."),
			wantStatus: 400, wantError: "invalid_request", wantCode: 50027},
		{name: "assertion with alg HS256", form: assertionForm(id.ClientID,
			signLocal(t, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), kid, claims(r.issURL, paymentsSubject, defAud, 0, 0, h, now))),
			wantStatus: 400, wantError: "invalid_request", wantCode: 50027},
		{name: "assertion without sub", form: assertionForm(id.ClientID, r.signCluster(t, claims(r.issURL, "", defAud, 0, 0, h, now))),
			wantStatus: 400, wantError: "invalid_request", wantCode: 50027, wantDesc: []string{"no 'sub' claim"}},
		{name: "assertion with a numeric aud", form: assertionForm(id.ClientID, r.signCluster(t, claims(r.issURL, paymentsSubject, 42, 0, 0, h, now))),
			wantStatus: 400, wantError: "invalid_request", wantCode: 50027},
		{name: "issuer without its trailing slash", form: assertionForm(id.ClientID,
			r.signCluster(t, claims(strings.TrimSuffix(r.issURL, "/"), paymentsSubject, defAud, 0, 0, h, now))),
			wantStatus: 401, wantError: "invalid_client", wantCode: 700211,
			wantDesc: []string{"presented assertion issuer '" + strings.TrimSuffix(r.issURL, "/") + "'", "fedcred: closest federated identity credential 'payments-api': issuer differs only by a trailing slash"}},
		{name: "issuer unknown is refused before any key lookup", form: assertionForm(id.ClientID,
			signLocal(t, jose.RS256, strange, "k", claims("https://evil.example/", paymentsSubject, defAud, 0, 0, h, now))),
			wantStatus: 401, wantError: "invalid_client", wantCode: 700211},
		{name: "credential issuer is a disabled cluster", form: assertionForm(offID.ClientID,
			r.signCluster(t, claims(offIssuer, paymentsSubject, defAud, 0, 0, h, now))),
			wantStatus: 400, wantError: "invalid_request", wantCode: 90061, wantDesc: []string{"Request to External OIDC endpoint failed.", "neither an enabled cluster issuer"}},
		{name: "credential issuer is neither hosted nor known", form: assertionForm(remoteID.ClientID,
			signLocal(t, jose.RS256, strange, "k", claims("https://unreachable.example/", paymentsSubject, defAud, 0, 0, h, now))),
			wantStatus: 400, wantError: "invalid_request", wantCode: 90061},
		{name: "signature by another key under the cluster's kid", form: assertionForm(id.ClientID,
			signLocal(t, jose.RS256, strange, kid, claims(r.issURL, paymentsSubject, defAud, 0, 0, h, now))),
			wantStatus: 400, wantError: "invalid_request", wantCode: 50027, wantDesc: []string{"failed signature verification"}},
		{name: "unknown kid", form: assertionForm(id.ClientID,
			signLocal(t, jose.RS256, strange, "unknown-kid", claims(r.issURL, paymentsSubject, defAud, 0, 0, h, now))),
			wantStatus: 400, wantError: "invalid_request", wantCode: 50027, wantDesc: []string{"failed signature verification"}},
		{name: "no kid and no key verifies", form: assertionForm(id.ClientID,
			signLocal(t, jose.RS256, strange, "", claims(r.issURL, paymentsSubject, defAud, 0, 0, h, now))),
			wantStatus: 400, wantError: "invalid_request", wantCode: 50027},
		{name: "lifetime over 25 hours", form: assertionForm(id.ClientID, r.signCluster(t, claims(r.issURL, paymentsSubject, defAud, 0, 0, 25*h+time.Second, now))),
			wantStatus: 400, wantError: "invalid_request", wantCode: 70023,
			wantDesc: []string{"less than or equal to 1.01:00:00. Token issued at 2026-11-29T10:00:00.0000000Z. Token expires on 2026-11-30T11:00:01.0000000Z."}},
		{name: "lifetime over 25 hours without iat is measured from nbf", form: assertionForm(id.ClientID, r.signCluster(t, claims(r.issURL, paymentsSubject, defAud, absent, -h, 25*h, now))),
			wantStatus: 400, wantError: "invalid_request", wantCode: 70023},
		{name: "expired beyond the skew", form: assertionForm(id.ClientID, r.signCluster(t, claims(r.issURL, paymentsSubject, defAud, -2*h, -2*h, -6*time.Minute, now))),
			wantStatus: 401, wantError: "invalid_client", wantCode: 700024,
			wantDesc: []string{"Current time: 2026-11-29T10:00:00.0000000Z, assertion valid from 2026-11-29T08:00:00.0000000Z, expiry time of assertion 2026-11-29T09:54:00.0000000Z."}},
		{name: "not yet valid beyond the skew", form: assertionForm(id.ClientID, r.signCluster(t, claims(r.issURL, paymentsSubject, defAud, 6*time.Minute, 6*time.Minute, h, now))),
			wantStatus: 401, wantError: "invalid_client", wantCode: 700024, wantDesc: []string{"assertion valid from 2026-11-29T10:06:00.0000000Z"}},
		{name: "no exp", form: assertionForm(id.ClientID, r.signCluster(t, claims(r.issURL, paymentsSubject, defAud, 0, 0, absent, now))),
			wantStatus: 401, wantError: "invalid_client", wantCode: 700024, wantDesc: []string{"expiry time of assertion 1970-01-01T00:00:00.0000000Z"}},
		{name: "subject unknown", form: assertionForm(id.ClientID, r.saToken(t, "payments", "worker")),
			wantStatus: 401, wantError: "invalid_client", wantCode: 700213,
			wantDesc: []string{"presented assertion subject 'system:serviceaccount:payments:worker'", "fedcred: closest federated identity credential 'payments-api'"}},
		{name: "subject differs in case", form: assertionForm(id.ClientID, r.signCluster(t, claims(r.issURL, "system:serviceaccount:Payments:api", []string{defAud}, 0, 0, h, now))),
			wantStatus: 401, wantError: "invalid_client", wantCode: 7002138, wantDesc: []string{"case-insensitive comparison", "differs only in case"}},
		{name: "audience is not the credential's", form: assertionForm(id.ClientID, r.saToken(t, "payments", "api", "https://kubernetes.default.svc")),
			wantStatus: 401, wantError: "invalid_client", wantCode: 700212,
			wantDesc: []string{"presented assertion audience 'https://kubernetes.default.svc'", "audience 'https://kubernetes.default.svc' is not the credential's 'api://AzureADTokenExchange'"}},
		{name: "unknown resource", form: with(assertionForm(id.ClientID, good), "scope", "https://unknown.example/.default"),
			wantStatus: 400, wantError: "invalid_resource", wantCode: 500011,
			wantDesc: []string{"The resource principal named https://unknown.example was not found in the tenant named Contoso."}},
		{name: "unknown resource on v1", path: v1Path, form: with(with(secretForm(r.sp.ClientID, spSecret), "scope"), "resource", "https://unknown.example"),
			wantStatus: 400, wantError: "invalid_resource", wantCode: 500011},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			runRefusal(t, r, tt)
		}
	})

	// The parallel cases above have all finished here.
	logs := r.logs.String()
	for _, secret := range []string{good, spSecret, oldSecret, "not-the-secret"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a secret or assertion %.20q...", secret)
		}
	}
	for _, want := range []string{"code=700211", "closest_fic=payments-api", "client_id=" + id.ClientID} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if n := r.extra.lookups("https://evil.example/"); n != 0 {
		t.Errorf("keys of an issuer no credential names were looked up %d times", n)
	}
}

// runRefusal posts form and checks the refusal's shape.
// refusalCase is a request the token endpoint must refuse.
type refusalCase struct {
	name       string
	path       string // defaults to v2Path
	form       url.Values
	edit       func(*http.Request)
	wantStatus int
	wantError  string
	wantCode   int
	wantDesc   []string // substrings of error_description
}

func runRefusal(t *testing.T, r *rig, tt refusalCase) {
	t.Helper()
	t.Run(tt.name, func(t *testing.T) {
		t.Parallel()
		path := tt.path
		if path == "" {
			path = v2Path
		}
		corr := uuidFor(tt.name, "corr")
		resp := r.post(t, path, tt.form, func(q *http.Request) {
			q.Header.Set("client-request-id", corr)
			if tt.edit != nil {
				tt.edit(q)
			}
		})
		if resp.status != tt.wantStatus || resp.str("error") != tt.wantError {
			t.Fatalf("got %d %q, want %d %q\n%s", resp.status, resp.str("error"), tt.wantStatus, tt.wantError, resp.raw)
		}
		if _, ok := resp.body["access_token"]; ok {
			t.Fatalf("refusal carries an access_token: %s", resp.raw)
		}
		codes, _ := resp.body["error_codes"].([]any)
		if len(codes) != 1 || codes[0] != float64(tt.wantCode) {
			t.Errorf("error_codes = %v, want [%d]", resp.body["error_codes"], tt.wantCode)
		}
		desc := resp.str("error_description")
		m := descPattern.FindStringSubmatch(desc)
		if m == nil || m[1] != fmt.Sprint(tt.wantCode) {
			t.Errorf("error_description %q is not Entra-shaped for AADSTS%d", desc, tt.wantCode)
		}
		for _, s := range tt.wantDesc {
			if !strings.Contains(desc, s) {
				t.Errorf("error_description %q lacks %q", desc, s)
			}
		}
		if got := resp.str("correlation_id"); got != corr || !strings.Contains(desc, "Correlation ID: "+corr) {
			t.Errorf("correlation_id = %q, want the client-request-id %q", got, corr)
		}
		if got, want := resp.str("error_uri"), fmt.Sprintf("%s/error?code=%d", r.srv.URL, tt.wantCode); got != want {
			t.Errorf("error_uri = %q, want %q", got, want)
		}
		if got := resp.str("timestamp"); got != "2026-11-29 10:00:00Z" {
			t.Errorf("timestamp = %q", got)
		}
		if resp.str("trace_id") == "" || !strings.Contains(desc, "Trace ID: "+resp.str("trace_id")) {
			t.Errorf("trace_id %q missing or not in description", resp.str("trace_id"))
		}
		if got := resp.header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
			t.Errorf("Content-Type = %q", got)
		}
	})
}

func TestToken_CorrelationIDFallbacks(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	form := secretForm(r.sp.ClientID, "wrong")
	fromQuery := uuidFor("query")
	resp := r.post(t, v2Path+"?client-request-id="+fromQuery, form)
	if got := resp.str("correlation_id"); got != fromQuery {
		t.Errorf("correlation_id = %q, want the query's %q", got, fromQuery)
	}
	fromBody := uuidFor("body")
	resp = r.post(t, v2Path, with(form, "client-request-id", fromBody))
	if got := resp.str("correlation_id"); got != fromBody {
		t.Errorf("correlation_id = %q, want the body's %q", got, fromBody)
	}
	resp = r.post(t, v2Path, form, func(q *http.Request) { q.Header.Set("client-request-id", "not-a-uuid") })
	if got := resp.str("correlation_id"); got == "not-a-uuid" || len(got) != 36 {
		t.Errorf("correlation_id = %q, want a fresh UUID", got)
	}
}

func TestToken_FICChangeTakesEffectAtOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	id := r.identity(t, tenantID, "svc", fic("svc-fic", r.issURL, "system:serviceaccount:default:svc"))
	tok := r.saToken(t, "default", "svc")
	if resp := r.post(t, v2Path, assertionForm(id.ClientID, tok)); resp.status != http.StatusOK {
		t.Fatalf("exchange before delete = %d\n%s", resp.status, resp.raw)
	}
	ctx := context.Background()
	err := r.store.Update(ctx, func(tx store.Tx) error {
		f := fic("svc-fic", r.issURL, "system:serviceaccount:default:svc")
		f.SubscriptionID, f.ResourceGroup, f.IdentityName = id.SubscriptionID, id.ResourceGroup, id.Name
		return store.Delete[store.FederatedCredential](ctx, tx, f.Key())
	})
	if err != nil {
		t.Fatal(err)
	}
	resp := r.post(t, v2Path, assertionForm(id.ClientID, tok))
	if resp.status != http.StatusUnauthorized || resp.body["error_codes"].([]any)[0] != float64(700211) {
		t.Fatalf("exchange after delete = %d, want 401 AADSTS700211\n%s", resp.status, resp.raw)
	}
	if !strings.Contains(resp.str("error_description"), "has no federated identity credentials") {
		t.Errorf("description %q does not say the identity has no credentials", resp.str("error_description"))
	}
	if _, ok := resp.body["access_token"]; ok {
		t.Fatal("access token issued after the FIC was deleted")
	}
}

func TestToken_ES256Assertion(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const iss = "https://token.actions.githubusercontent.com"
	r.extra.add(iss, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "gh1", Algorithm: "ES256", Use: "sig"}}})
	const sub = "repo:octo/app:ref:refs/heads/main"
	id := r.identity(t, tenantID, "gh", fic("gh-main", iss, sub))
	tok := signLocal(t, jose.ES256, key, "gh1", claims(iss, sub, []string{defAud}, 0, 0, 10*time.Minute, r.now))
	if resp := r.post(t, v2Path, assertionForm(id.ClientID, tok)); resp.status != http.StatusOK {
		t.Fatalf("ES256 exchange = %d\n%s", resp.status, resp.raw)
	}
	// A key whose published alg differs from the token's is not used.
	r.extra.add(iss, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "gh1", Algorithm: "ES384", Use: "sig"}}})
	if resp := r.post(t, v2Path, assertionForm(id.ClientID, tok)); resp.status != http.StatusBadRequest || resp.str("error") != "invalid_request" {
		t.Fatalf("exchange with an alg-mismatched key = %d, want 400 (50027)\n%s", resp.status, resp.raw)
	}
}

func TestToken_ClockSkew(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const sub = "system:serviceaccount:default:skew"
	id := r.identity(t, tenantID, "skew", fic("skew", r.issURL, sub))
	tests := []struct {
		name          string
		iat, nbf, exp time.Duration
	}{
		{name: "expired four minutes ago", iat: -time.Hour, nbf: -time.Hour, exp: -4 * time.Minute},
		{name: "valid from four minutes ahead", iat: 4 * time.Minute, nbf: 4 * time.Minute, exp: time.Hour},
		{name: "no nbf", iat: 0, nbf: absent, exp: time.Hour},
		{name: "exactly 25 hours", iat: -time.Hour, nbf: -time.Hour, exp: 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := r.signCluster(t, claims(r.issURL, sub, defAud, tt.iat, tt.nbf, tt.exp, r.now))
			if resp := r.post(t, v2Path, assertionForm(id.ClientID, tok)); resp.status != http.StatusOK {
				t.Fatalf("exchange = %d, want 200\n%s", resp.status, resp.raw)
			}
		})
	}
}

func TestToken_InternalFailuresHideDetail(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	// The other tenant has no key ring: signing fails after a good exchange.
	keyless := r.identity(t, otherTenant, "keyless", fic("k", r.issURL, paymentsSubject))
	resp := r.post(t, "/"+otherTenant+"/oauth2/v2.0/token", assertionForm(keyless.ClientID, r.saToken(t, "payments", "api")))
	checkInternal(t, resp)

	if err := r.store.Close(); err != nil {
		t.Fatal(err)
	}
	resp = r.post(t, v2Path, secretForm(r.sp.ClientID, spSecret))
	checkInternal(t, resp)
	if !strings.Contains(r.logs.String(), "level=ERROR") {
		t.Error("internal failure was not logged at error level")
	}
}

func checkInternal(t *testing.T, resp response) {
	t.Helper()
	if resp.status != http.StatusInternalServerError || resp.str("error") != "temporarily_unavailable" {
		t.Fatalf("got %d %q, want 500 temporarily_unavailable\n%s", resp.status, resp.str("error"), resp.raw)
	}
	if _, ok := resp.body["access_token"]; ok {
		t.Fatal("failure carries an access token")
	}
	desc := resp.str("error_description")
	if !strings.HasPrefix(desc, "AADSTS90033: A transient error has occurred. Please try again. Trace ID: ") {
		t.Errorf("description %q carries detail", desc)
	}
}
