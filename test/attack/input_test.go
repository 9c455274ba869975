package attack

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// tokenInputAttack is a malformed or oversized token request.
type tokenInputAttack struct {
	name   string
	form   string
	edit   func(*http.Request)
	status int
	oauth  string
	code   int
	hint   string
}

// armInputAttack is a malformed or oversized management call.
type armInputAttack struct {
	name   string
	method string
	path   string // under the subscription
	body   string
	status int
	code   string
}

func testHostileInput(t *testing.T, e *env) {
	valid := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {e.admin.ClientID},
		"client_secret": {"not-the-secret"}, "scope": {vaultScope},
	}.Encode()
	tokenAttacks := []tokenInputAttack{
		{name: "oversized form body", form: valid + "&pad=" + strings.Repeat("A", 100<<10),
			status: 400, oauth: "invalid_request", code: 9002313, hint: "larger than 65536 bytes"},
		{name: "10001 form fields", form: valid + strings.Repeat("&f=1", 10001),
			status: 400, oauth: "invalid_request", code: 9002313, hint: "not a valid form"},
		{name: "client_secret of a megabyte", form: valid + "&client_secret=" + strings.Repeat("s", 1<<20),
			status: 400, oauth: "invalid_request", code: 9002313, hint: "larger than 65536 bytes"},
		{name: "client_assertion over its bound", form: url.Values{
			"grant_type": {"client_credentials"}, "client_id": {e.admin.ClientID}, "scope": {vaultScope},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {strings.Repeat("e", 40<<10)},
		}.Encode(), status: 400, oauth: "invalid_request", code: 50027, hint: "longer than 16384 bytes"},
		{name: "parameter repeated", form: valid + "&client_id=" + e.admin.ClientID,
			status: 400, oauth: "invalid_request", code: 9002313, hint: "given more than once"},
		{name: "invalid percent-encoding", form: "grant_type=%zz&" + valid,
			status: 400, oauth: "invalid_request", code: 9002313, hint: "not a valid form"},
		{name: "JSON instead of a form", form: `{"grant_type":"client_credentials","client_id":"x"}`,
			edit:   func(r *http.Request) { r.Header.Set("Content-Type", "application/json") },
			status: 400, oauth: "invalid_request", code: 900144},
		{name: "NUL and invalid UTF-8 in client_id", form: "grant_type=client_credentials&scope=" + url.QueryEscape(vaultScope) + "&client_secret=x&client_id=%00%FF%FE",
			status: 400, oauth: "unauthorized_client", code: 700016},
		{name: "HTTP Basic credentials not form-urlencoded", form: "grant_type=client_credentials&scope=" + url.QueryEscape(vaultScope),
			edit:   func(r *http.Request) { r.SetBasicAuth("%zz", "x") },
			status: 400, oauth: "invalid_request", code: 9002313, hint: "not form-urlencoded"},
		{name: "wrong secret of the right client", form: valid, status: 401, oauth: "invalid_client", code: 7000215},
	}
	for _, a := range tokenAttacks {
		t.Run("token endpoint: "+a.name, func(t *testing.T) {
			t.Parallel()
			wantRefused(t, e.postToken(t, a.form, a.edit), a.status, a.oauth, a.code, a.hint)
		})
	}

	armAttacks := []armInputAttack{
		{name: "oversized JSON body", method: "PUT", path: "/resourcegroups/big?api-version=2021-04-01",
			body: `{"location":"eastus","tags":{"a":"` + strings.Repeat("x", 100<<10) + `"}}`, status: 413, code: "RequestEntityTooLarge"},
		{name: "deeply nested JSON", method: "PUT", path: "/resourcegroups/deep?api-version=2021-04-01",
			body: `{"location":"eastus","tags":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, status: 400, code: "InvalidRequestContent"},
		{name: "truncated JSON", method: "PUT", path: "/resourcegroups/cut?api-version=2021-04-01",
			body: `{"location":`, status: 400, code: "InvalidRequestContent"},
		{name: "thousands of tags", method: "PUT", path: "/resourcegroups/tags?api-version=2021-04-01",
			body: `{"location":"eastus","tags":{` + manyTags(5000) + `}}`, status: 400, code: "InvalidTag"},
		{name: "resource group name with NUL and invalid UTF-8", method: "PUT", path: "/resourcegroups/%00%FF?api-version=2021-04-01",
			body: `{"location":"eastus"}`, status: 400, code: "InvalidResourceGroup"},
		{name: "identity name of 300 characters", method: "PUT",
			path: "/resourceGroups/rg-attack/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + strings.Repeat("n", 300) + apiVersion,
			body: `{"location":"eastus"}`, status: 400, code: "InvalidResourceName"},
		{name: "federated credential with a control character in the subject", method: "PUT",
			path:   "/resourceGroups/rg-attack/providers/Microsoft.ManagedIdentity/userAssignedIdentities/victim/federatedIdentityCredentials/ctl" + apiVersion,
			body:   `{"properties":{"issuer":"https://issuer.example/","subject":"system:serviceaccount:a:b\u0000","audiences":["api://AzureADTokenExchange"]}}`,
			status: 400, code: "BadRequest"},
		{name: "federated credential with a 601-character subject", method: "PUT",
			path:   "/resourceGroups/rg-attack/providers/Microsoft.ManagedIdentity/userAssignedIdentities/victim/federatedIdentityCredentials/long" + apiVersion,
			body:   `{"properties":{"issuer":"https://issuer.example/","subject":"` + strings.Repeat("s", 601) + `","audiences":["api://AzureADTokenExchange"]}}`,
			status: 400, code: "BadRequest"},
		{name: "federated credential with a plain-http issuer", method: "PUT",
			path:   "/resourceGroups/rg-attack/providers/Microsoft.ManagedIdentity/userAssignedIdentities/victim/federatedIdentityCredentials/plain" + apiVersion,
			body:   `{"properties":{"issuer":"http://169.254.169.254/","subject":"s","audiences":["api://AzureADTokenExchange"]}}`,
			status: 400, code: "BadRequest"},
	}
	for _, a := range armAttacks {
		t.Run("management API: "+a.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(a.method, e.subURL+a.path, strings.NewReader(a.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+e.adminToken(t))
			req.Header.Set("Content-Type", "application/json")
			wantARMError(t, e.do(t, req), a.status, a.code)
		})
	}

	// Requests the HTTP layer refuses before any handler: 431, never 5xx.
	headerAttacks := []struct {
		name string
		edit func(*http.Request)
	}{
		{name: "one 100 KiB header", edit: func(r *http.Request) { r.Header.Set("X-Pad", strings.Repeat("h", 100<<10)) }},
		{name: "3000 headers", edit: func(r *http.Request) {
			for i := range 3000 {
				r.Header.Set(fmt.Sprintf("X-H-%d", i), strings.Repeat("v", 30))
			}
		}},
		{name: "100 KiB Authorization header", edit: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+strings.Repeat("a.", 50<<10)) }},
	}
	for _, a := range headerAttacks {
		t.Run("giant headers: "+a.name, func(t *testing.T) {
			t.Parallel()
			res := e.postToken(t, valid, a.edit)
			if res.status != http.StatusRequestHeaderFieldsTooLarge || res.accessToken != "" {
				t.Fatalf("answer %d %.200s, want 431", res.status, res.body)
			}
		})
	}
	t.Run("giant headers: 100 KiB query string", func(t *testing.T) {
		t.Parallel()
		status, body := rawRequest(t, e, "GET /subscriptions?api-version="+strings.Repeat("q", 100<<10)+" HTTP/1.1\r\nHost: localhost\r\n\r\n")
		if status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("answer %d %.200s, want 431", status, body)
		}
	})

	// Odd requests of every kind: the answer is a 4xx or a success, never
	// a 5xx, and never shows the server's insides.
	tid := e.admin.TenantID
	odd := []struct{ name, line string }{
		{"encoded traversal", "GET /..%2f..%2fetc%2fpasswd HTTP/1.1"},
		{"NUL in the path", "GET /%00 HTTP/1.1"},
		{"invalid percent-encoding", "GET /%zz HTTP/1.1"},
		{"invalid percent-encoding in a subscription", "GET /subscriptions/%zz?api-version=1 HTTP/1.1"},
		{"traversal out of the subscriptions", "GET /subscriptions/../../etc/passwd HTTP/1.1"},
		{"doubled slashes", "GET //subscriptions//" + e.admin.SubscriptionID + "//resourcegroups?api-version=1 HTTP/1.1"},
		{"5000 path segments", "GET /" + strings.Repeat("a/", 5000) + " HTTP/1.1"},
		{"invalid issuer path", "GET /oidc/%zz/x/openid/v1/jwks HTTP/1.1"},
		{"traversal in an issuer path", "GET /oidc/" + tid + "/../../" + tid + "/openid/v1/jwks HTTP/1.1"},
		{"encoded dots as a vault", "GET /vaults/%2e%2e/secrets/x?api-version=7.4 HTTP/1.1"},
		{"4000-character secret name", "GET /vaults/v/secrets/" + strings.Repeat("s", 4000) + "?api-version=7.4 HTTP/1.1"},
		{"unbalanced Graph filter", "GET /v1.0/applications?$filter=" + url.QueryEscape("appId eq '"+strings.Repeat("'", 3000)) + " HTTP/1.1"},
		{"GET on the token endpoint", "GET /" + tid + "/oauth2/v2.0/token HTTP/1.1"},
		{"invalid instance discovery query", "GET /common/discovery/instance?authorization_endpoint=%zz&api-version=1.1 HTTP/1.1"},
		{"invalid discovery query", "GET /" + tid + "/v2.0/.well-known/openid-configuration?x=%zz HTTP/1.1"},
		{"TRACE", "TRACE / HTTP/1.1"},
		{"PROPFIND on the management API", "PROPFIND /subscriptions?api-version=1 HTTP/1.1"},
		{"unknown method on the portal", "BREW /portal/ HTTP/1.1"},
		{"empty AD FS token request", "POST /adfs/oauth2/token HTTP/1.1"},
		{"DELETE on the health check", "DELETE /healthz HTTP/1.1"},
	}
	authorizations := []string{
		"",
		"Authorization: Bearer " + strings.Repeat(".", 10<<10),
		"Authorization: Bearer a.%%%.c",
		"Authorization: Bearer eyJhbGciOiJub25lIn0.eyJ0aWQiOiIuLi8uLi8ifQ.",
		"Authorization: Bearer eyJhbGciOiJSUzI1NiJ9." + b64([]byte(`{"tid":"`+tid+`","appid":`+strings.Repeat("[", 5000)+`}`)) + ".c2ln",
		"Authorization: Basic " + strings.Repeat("=", 100),
		"Authorization: " + strings.Repeat("Bearer ", 1000),
	}
	for i, o := range odd {
		auth := authorizations[i%len(authorizations)]
		t.Run("never a 5xx: "+o.name, func(t *testing.T) {
			t.Parallel()
			req := o.line + "\r\nHost: localhost\r\nContent-Length: 0\r\n"
			if auth != "" {
				req += auth + "\r\n"
			}
			status, body := rawRequest(t, e, req+"\r\n")
			if status >= 500 || status == 0 {
				t.Errorf("answer %d %.300s", status, body)
			}
			for _, inside := range []string{"goroutine ", "panic", ".go:", "runtime error", "nil pointer"} {
				if strings.Contains(body, inside) {
					t.Errorf("the answer shows the server's insides (%q): %.300s", inside, body)
				}
			}
		})
	}
}

func manyTags(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"t%d":"v"`, i)
	}
	return strings.Join(parts, ",")
}

// rawRequest writes a request as it is, without a client's checks, and
// returns the status and body of the answer (status 0 when the server
// closed the connection without one).
func rawRequest(t *testing.T, e *env, raw string) (int, string) {
	t.Helper()
	pem, err := os.ReadFile(e.admin.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", e.srv.Addr, &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 400 {
		first, _, _ := strings.Cut(raw, "\r\n")
		e.s.recordError(exchange{request: first, status: resp.StatusCode, header: resp.Header, body: body})
	}
	return resp.StatusCode, string(body)
}
