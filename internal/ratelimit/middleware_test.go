package ratelimit

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const tokenPath = "/2cc9de02-78cf-4805-9209-87ed3eef3f38/oauth2/v2.0/token"

// backend answers 200 unless the request asks for another status, and
// records the body it was given.
type backend struct {
	bodies chan string
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	select {
	case b.bodies <- string(data):
	default:
	}
	status := http.StatusOK
	if r.Header.Get("X-Want-Status") == "401" || strings.Contains(string(data), "client_secret=wrong") {
		status = http.StatusUnauthorized
	}
	w.WriteHeader(status)
}

func newMiddleware(t *testing.T, cfg Config) (http.Handler, *clock, *backend) {
	t.Helper()
	c := newClock()
	cfg.Now = c.now
	cfg.PublicURL = "https://fedcred.example"
	cfg.VaultHost = func(host string) bool { return strings.HasSuffix(host, ".vault.azure.net") }
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{bodies: make(chan string, 1)}
	return m.Wrap(b), c, b
}

func tokenRequest(addr, form string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, tokenPath, strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = addr
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestMiddleware_PerAddressAnswersInEachAPIsShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   string
		host     string
		path     string
		wantCode string // error.code, or the AADSTS code for Entra's shape
	}{
		{name: "token endpoint v2", method: http.MethodPost, path: tokenPath, wantCode: "90055"},
		{name: "token endpoint v1", method: http.MethodPost, path: "/t/oauth2/token", wantCode: "90055"},
		{name: "tenant discovery", method: http.MethodGet, path: "/t/v2.0/.well-known/openid-configuration", wantCode: "90055"},
		{name: "instance discovery", method: http.MethodGet, path: "/common/discovery/instance", wantCode: "90055"},
		{name: "management API", method: http.MethodGet, path: "/subscriptions/s/resourcegroups", wantCode: "TooManyRequests"},
		{name: "management API with odd case and slashes", method: http.MethodGet, path: "//SUBSCRIPTIONS/s", wantCode: "TooManyRequests"},
		{name: "key vault", method: http.MethodGet, path: "/vaults/v1/secrets/s", wantCode: "Throttled"},
		{name: "key vault by host", method: http.MethodGet, host: "v1.vault.azure.net", path: "/secrets/s", wantCode: "Throttled"},
		{name: "graph", method: http.MethodGet, path: "/v1.0/applications", wantCode: "TooManyRequests"},
		{name: "cluster issuer", method: http.MethodGet, path: "/oidc/t/c/openid/v1/jwks", wantCode: "TooManyRequests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, c, _ := newMiddleware(t, Config{PerAddress: Rate{PerSecond: 0.5, Burst: 2}})
			req := func() *http.Request {
				r := httptest.NewRequest(tt.method, tt.path, nil)
				r.RemoteAddr = "192.0.2.7:50000"
				if tt.host != "" {
					r.Host = tt.host
				}
				return r
			}
			for i := range 2 {
				if rec := serve(h, req()); rec.Code != http.StatusOK {
					t.Fatalf("request %d within the burst: %d", i, rec.Code)
				}
			}
			rec := serve(h, req())
			if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" {
				t.Fatalf("over the burst: %d Retry-After %q, want 429 and 2", rec.Code, rec.Header().Get("Retry-After"))
			}
			if got := errorCode(t, rec.Body.Bytes()); got != tt.wantCode {
				t.Errorf("error code %q, want %q; body %s", got, tt.wantCode, rec.Body)
			}
			// Another address is not affected; this one recovers in time.
			other := req()
			other.RemoteAddr = "192.0.2.8:50000"
			if rec := serve(h, other); rec.Code != http.StatusOK {
				t.Errorf("another address: %d", rec.Code)
			}
			c.advance(2 * time.Second)
			if rec := serve(h, req()); rec.Code != http.StatusOK {
				t.Errorf("after Retry-After: %d", rec.Code)
			}
		})
	}
}

// errorCode returns an Entra body's AADSTS code or an ARM-style body's
// error.code.
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var entra struct {
		Error      string `json:"error"`
		ErrorCodes []int  `json:"error_codes"`
	}
	if json.Unmarshal(body, &entra) == nil && entra.Error != "" {
		if entra.Error != "temporarily_unavailable" || len(entra.ErrorCodes) != 1 {
			t.Errorf("Entra body %s", body)
		}
		d := struct {
			Desc string `json:"error_description"`
			URI  string `json:"error_uri"`
		}{}
		_ = json.Unmarshal(body, &d)
		if !strings.HasPrefix(d.Desc, "AADSTS90055: ") || d.URI != "https://fedcred.example/error?code=90055" {
			t.Errorf("Entra body %s", body)
		}
		code, _, _ := strings.Cut(strings.TrimPrefix(d.Desc, "AADSTS"), ":")
		return code
	}
	var arm struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &arm); err != nil || arm.Error.Message == "" {
		t.Fatalf("body %s is neither Entra's nor ARM's error", body)
	}
	return arm.Error.Code
}

func TestMiddleware_HealthChecksAreNeverLimited(t *testing.T) {
	t.Parallel()
	h, _, _ := newMiddleware(t, Config{PerAddress: Rate{PerSecond: 1, Burst: 1}})
	for _, path := range []string{"/healthz", "/readyz", "/healthz", "/readyz"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		if rec := serve(h, r); rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d", path, rec.Code)
		}
	}
}

func TestMiddleware_IPv6AddressesCountByPrefix(t *testing.T) {
	t.Parallel()
	h, _, _ := newMiddleware(t, Config{PerAddress: Rate{PerSecond: 1, Burst: 1}})
	first := httptest.NewRequest(http.MethodGet, "/x", nil)
	first.RemoteAddr = "[2001:db8:1:2::1]:443"
	second := httptest.NewRequest(http.MethodGet, "/x", nil)
	second.RemoteAddr = "[2001:db8:1:2:ffff::9]:443"
	if rec := serve(h, first); rec.Code != http.StatusOK {
		t.Fatalf("first: %d", rec.Code)
	}
	if rec := serve(h, second); rec.Code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64: %d, want 429", rec.Code)
	}
}

func TestAddressKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, remote, want string
		wantOK             bool
	}{
		{name: "IPv4", remote: "192.0.2.1:1234", want: "192.0.2.1", wantOK: true},
		{name: "IPv4-mapped IPv6", remote: "[::ffff:192.0.2.1]:1234", want: "192.0.2.1", wantOK: true},
		{name: "IPv6 by its /64", remote: "[2001:db8::1]:1234", want: "2001:db8::/64", wantOK: true},
		{name: "IPv6 with a zone", remote: "[fe80::1%eth0]:1234", want: "fe80::/64", wantOK: true},
		{name: "not an address", remote: "pipe", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := AddressKey(tt.remote)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("AddressKey(%q) = %q, %v; want %q, %v", tt.remote, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestMiddleware_PerClientChargesOnlyIssuedTokens(t *testing.T) {
	t.Parallel()
	h, c, _ := newMiddleware(t, Config{PerClient: Rate{PerSecond: 1, Burst: 2}})
	const good = "grant_type=client_credentials&client_id=C1&client_secret=right&scope=x%2F.default"
	const bad = "grant_type=client_credentials&client_id=c1&client_secret=wrong&scope=x%2F.default"
	// Refused requests naming the client, from anywhere, cost it nothing:
	// nobody can use up another client's budget.
	for i := range 50 {
		if rec := serve(h, tokenRequest("198.51.100.9:1", bad)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("refused request %d: %d", i, rec.Code)
		}
	}
	for i := range 2 {
		if rec := serve(h, tokenRequest("192.0.2.1:1", good)); rec.Code != http.StatusOK {
			t.Fatalf("issued token %d: %d", i, rec.Code)
		}
	}
	// The client's budget is spent: refused from any address, case aside,
	// in Entra's shape.
	rec := serve(h, tokenRequest("192.0.2.2:1", strings.Replace(good, "C1", "c1", 1)))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("over the client's burst: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if got := errorCode(t, rec.Body.Bytes()); got != "90055" {
		t.Errorf("code %s", got)
	}
	// Nor through another token endpoint.
	for _, path := range []string{"/another-tenant/oauth2/token", "/adfs/oauth2/token"} {
		other := tokenRequest("192.0.2.2:1", good)
		other.URL.Path = path
		if rec := serve(h, other); rec.Code != http.StatusTooManyRequests {
			t.Errorf("the same client through %s: %d, want 429", path, rec.Code)
		}
	}
	// Other clients are not affected.
	if rec := serve(h, tokenRequest("192.0.2.2:1", strings.Replace(good, "C1", "C2", 1))); rec.Code != http.StatusOK {
		t.Errorf("another client: %d", rec.Code)
	}
	c.advance(time.Second)
	if rec := serve(h, tokenRequest("192.0.2.1:1", good)); rec.Code != http.StatusOK {
		t.Errorf("after Retry-After: %d", rec.Code)
	}
}

func TestMiddleware_PerClientReadsBasicAuth(t *testing.T) {
	t.Parallel()
	h, _, _ := newMiddleware(t, Config{PerClient: Rate{PerSecond: 1, Burst: 1}})
	req := func() *http.Request {
		r := tokenRequest("192.0.2.1:1", "grant_type=client_credentials&scope=x%2F.default")
		r.SetBasicAuth(url.QueryEscape("c1"), "secret")
		return r
	}
	if rec := serve(h, req()); rec.Code != http.StatusOK {
		t.Fatalf("first: %d", rec.Code)
	}
	if rec := serve(h, req()); rec.Code != http.StatusTooManyRequests {
		t.Errorf("second from the same Basic client: %d, want 429", rec.Code)
	}
}

func TestMiddleware_TokenServiceSeesTheBodyUnchanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
	}{
		{name: "a form", body: "grant_type=client_credentials&client_id=c1&client_secret=s"},
		{name: "a body over the form bound", body: "client_id=c1&pad=" + strings.Repeat("x", maxFormBytes+100)},
		{name: "not a form", body: "%zz\x00{"},
		{name: "empty", body: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, _, b := newMiddleware(t, Config{PerClient: Rate{PerSecond: 1, Burst: 1}})
			serve(h, tokenRequest("192.0.2.1:1", tt.body))
			if got := <-b.bodies; got != tt.body {
				t.Errorf("the token service read %d bytes, want the %d sent", len(got), len(tt.body))
			}
		})
	}
}

// bearer returns an unsigned token whose claims name tid and appid: the
// middleware only reads them to pick a bucket.
func bearer(tid, appid string) string {
	claims, _ := json.Marshal(map[string]string{"tid": tid, "appid": appid})
	return "Bearer eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(claims) + ".c2ln"
}

func TestMiddleware_PerClientOnAPIsChargesOnlyAcceptedCalls(t *testing.T) {
	t.Parallel()
	h, _, _ := newMiddleware(t, Config{PerClient: Rate{PerSecond: 1, Burst: 2}})
	call := func(path, auth, want string) int {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = "192.0.2.1:1"
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Want-Status", want)
		return serve(h, r).Code
	}
	// Calls the API refused (a forged token naming the client) cost nothing.
	for range 10 {
		if got := call("/subscriptions/s", bearer("t", "app1"), "401"); got != http.StatusUnauthorized {
			t.Fatalf("refused call: %d", got)
		}
	}
	if call("/subscriptions/s", bearer("t", "app1"), "") != http.StatusOK || call("/vaults/v/secrets", bearer("t", "APP1"), "") != http.StatusOK {
		t.Fatal("accepted calls within the burst were throttled")
	}
	if got := call("/v1.0/applications", bearer("t", "app1"), ""); got != http.StatusTooManyRequests {
		t.Errorf("over the burst: %d, want 429", got)
	}
	if got := call("/subscriptions/s", bearer("t", "app2"), ""); got != http.StatusOK {
		t.Errorf("another caller: %d", got)
	}
	// Requests whose caller cannot be told are limited per address only.
	for _, auth := range []string{"", "Basic eA==", "Bearer not-a-jwt", "Bearer a.%%%.c", "Bearer " + strings.Repeat("a", maxBearerBytes+1)} {
		if got := call("/subscriptions/s", auth, ""); got != http.StatusOK {
			t.Errorf("Authorization %.20q: %d", auth, got)
		}
	}
}

func TestNew_RefusesInvalidRates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{PerAddress: Rate{PerSecond: -1}},
		{PerClient: Rate{PerSecond: 1, Burst: -2}},
		{MaxKeys: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for wait, want := range map[time.Duration]string{
		0: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", time.Minute: "60",
	} {
		if got := RetryAfter(wait); got != want {
			t.Errorf("RetryAfter(%v) = %q, want %q", wait, got, want)
		}
	}
}
