package accesstoken_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/pkg/accesstoken"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// jwksServer serves a JWKS whose body, status, media type and caching can
// be changed, and counts fetches. While gate is set, requests wait on it.
type jwksServer struct {
	srv     *httptest.Server
	fetches atomic.Int32

	mu           sync.Mutex
	body         []byte
	status       int
	contentType  string
	cacheControl string
	gate         chan struct{}
}

func newJWKSServer(t *testing.T, keys ...jose.JSONWebKey) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK, contentType: "application/json", cacheControl: "public, max-age=3600"}
	s.setKeys(t, keys...)
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		gate, body, status, ct, cc := s.gate, s.body, s.status, s.contentType, s.cacheControl
		s.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", ct)
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) url() string { return s.srv.URL + "/keys" }

func (s *jwksServer) setKeys(t *testing.T, keys ...jose.JSONWebKey) {
	t.Helper()
	body, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	s.setBody(body)
}

func (s *jwksServer) setBody(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}

func (s *jwksServer) set(f func(s *jwksServer)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// signingKey is an RSA key and its public JWK.
type signingKey struct {
	priv *rsa.PrivateKey
	jwk  jose.JSONWebKey
}

func newSigningKey(t *testing.T, kid string) signingKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{priv: priv, jwk: jose.JSONWebKey{Key: &priv.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}
}

func newRemote(t *testing.T, s *jwksServer, clk *clock, opts ...accesstoken.RemoteOption) *accesstoken.RemoteKeySet {
	t.Helper()
	opts = append([]accesstoken.RemoteOption{accesstoken.WithClock(clk.Now)}, opts...)
	r, err := accesstoken.NewRemoteKeySet(s.url(), s.srv.Client(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitFetches waits until the server has seen want fetches.
func waitFetches(t *testing.T, s *jwksServer, want int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.fetches.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("fetches = %d, want %d", s.fetches.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewRemoteKeySet_RefusesNonHTTPS(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://fedcred.test/keys", "keys", "https://user:pw@fedcred.test/keys", "https:///keys"} {
		if _, err := accesstoken.NewRemoteKeySet(u, nil); err == nil {
			t.Errorf("NewRemoteKeySet(%q) accepted", u)
		}
	}
}

func TestRemoteKeySet_UnknownKidRefreshesOncePerInterval(t *testing.T) {
	t.Parallel()
	k1, k2 := newSigningKey(t, "k1"), newSigningKey(t, "k2")
	s := newJWKSServer(t, k1.jwk)
	clk := newClock()
	r := newRemote(t, s, clk)
	ctx := context.Background()

	if _, err := r.LookupKey(ctx, "k1"); err != nil {
		t.Fatalf("LookupKey(k1) = %v", err)
	}
	if got := s.fetches.Load(); got != 1 {
		t.Fatalf("fetches after first lookup = %d, want 1", got)
	}
	// A kid published after the first fetch: found by a refresh, but only
	// once the refresh interval has passed since that fetch.
	s.setKeys(t, k1.jwk, k2.jwk)
	if _, err := r.LookupKey(ctx, "k2"); !errors.Is(err, accesstoken.ErrUnknownKey) {
		t.Fatalf("LookupKey(k2) inside the interval = %v, want ErrUnknownKey", err)
	}
	if got := s.fetches.Load(); got != 1 {
		t.Fatalf("fetches inside the interval = %d, want 1", got)
	}
	clk.Advance(accesstoken.DefaultRefreshInterval)
	k, err := r.LookupKey(ctx, "k2")
	if err != nil || k.KeyID != "k2" {
		t.Fatalf("LookupKey(k2) after the interval = %v, %v", k.KeyID, err)
	}
	if got := s.fetches.Load(); got != 2 {
		t.Fatalf("fetches after the refresh = %d, want 2", got)
	}

	// An attacker's random kids right after: no fetch at all.
	for i := range 200 {
		if _, err := r.LookupKey(ctx, fmt.Sprintf("random-%d", i)); !errors.Is(err, accesstoken.ErrUnknownKey) {
			t.Fatalf("LookupKey(random) = %v, want ErrUnknownKey", err)
		}
	}
	if got := s.fetches.Load(); got != 2 {
		t.Fatalf("fetches after 200 unknown kids = %d, want 2", got)
	}
	// After another interval, one more fetch for all of them together.
	clk.Advance(accesstoken.DefaultRefreshInterval)
	for i := range 50 {
		_, _ = r.LookupKey(ctx, fmt.Sprintf("again-%d", i))
	}
	if got := s.fetches.Load(); got != 3 {
		t.Fatalf("fetches after the next interval = %d, want 3", got)
	}
	// Known keys keep answering without fetches.
	if _, err := r.LookupKey(ctx, "k1"); err != nil {
		t.Fatalf("LookupKey(k1) = %v", err)
	}
	if got := s.fetches.Load(); got != 3 {
		t.Fatalf("fetches for a known key = %d, want 3", got)
	}
}

func TestRemoteKeySet_SingleFlight(t *testing.T) {
	t.Parallel()
	k1 := newSigningKey(t, "k1")
	s := newJWKSServer(t, k1.jwk)
	gate := make(chan struct{})
	s.set(func(s *jwksServer) { s.gate = gate })
	r := newRemote(t, s, newClock())

	const callers = 64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := r.LookupKey(context.Background(), "k1")
			errs <- err
		})
	}
	// A caller that gives up returns on its own context, while the fetch
	// goes on for the others.
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := r.LookupKey(ctx, "k1")
		gaveUp <- err
	}()
	waitFetches(t, s, 1)
	cancel()
	select {
	case err := <-gaveUp:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller got %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled caller did not return while the fetch was blocked")
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("LookupKey = %v", err)
		}
	}
	if got := s.fetches.Load(); got != 1 {
		t.Fatalf("fetches for %d concurrent callers = %d, want 1", callers, got)
	}
}

func TestRemoteKeySet_RefusesBadResponses(t *testing.T) {
	t.Parallel()
	good := newSigningKey(t, "good")
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	setOf := func(keys ...jose.JSONWebKey) []byte {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	many := make([]jose.JSONWebKey, accesstoken.MaxJWKSKeys+1)
	for i := range many {
		many[i] = good.jwk
		many[i].KeyID = fmt.Sprintf("k%d", i)
	}
	oversized := append(setOf(good.jwk)[:1], []byte(`"pad":"`+strings.Repeat("x", accesstoken.MaxJWKSBytes)+`",`)...)
	oversized = append(oversized, setOf(good.jwk)[1:]...)

	tests := []struct {
		name        string
		status      int
		contentType string
		body        []byte
	}{
		{name: "server error", status: http.StatusInternalServerError, contentType: "application/json", body: setOf(good.jwk)},
		{name: "not found", status: http.StatusNotFound, contentType: "application/json", body: setOf(good.jwk)},
		{name: "html instead of json", status: http.StatusOK, contentType: "text/html", body: setOf(good.jwk)},
		{name: "no content type", status: http.StatusOK, contentType: "", body: setOf(good.jwk)},
		{name: "body over the size cap", status: http.StatusOK, contentType: "application/json", body: oversized},
		{name: "not json", status: http.StatusOK, contentType: "application/json", body: []byte("{keys:")},
		{name: "no keys member", status: http.StatusOK, contentType: "application/json", body: []byte(`{"kty":"RSA"}`)},
		{name: "only an EC key", status: http.StatusOK, contentType: "application/json",
			body: setOf(jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "ec", Algorithm: "ES256", Use: "sig"})},
		{name: "only a private key", status: http.StatusOK, contentType: "application/json",
			body: setOf(jose.JSONWebKey{Key: good.priv, KeyID: "priv", Algorithm: "RS256", Use: "sig"})},
		{name: "only a 1024-bit key", status: http.StatusOK, contentType: "application/json",
			body: setOf(jose.JSONWebKey{Key: &small.PublicKey, KeyID: "small", Algorithm: "RS256", Use: "sig"})},
		{name: "only an encryption key", status: http.StatusOK, contentType: "application/json",
			body: setOf(jose.JSONWebKey{Key: &good.priv.PublicKey, KeyID: "enc", Use: "enc"})},
		{name: "too many keys", status: http.StatusOK, contentType: "application/json", body: setOf(many...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newJWKSServer(t)
			s.set(func(s *jwksServer) { s.status, s.contentType, s.body = tt.status, tt.contentType, tt.body })
			clk := newClock()
			r := newRemote(t, s, clk)
			if _, err := r.Keys(context.Background()); !errors.Is(err, accesstoken.ErrKeysUnavailable) {
				t.Fatalf("Keys = %v, want ErrKeysUnavailable", err)
			}
			if _, err := r.LookupKey(context.Background(), "good"); !errors.Is(err, accesstoken.ErrKeysUnavailable) {
				t.Fatalf("LookupKey right after a failed fetch = %v, want ErrKeysUnavailable", err)
			}
			if got := s.fetches.Load(); got != 1 {
				t.Fatalf("fetches = %d, want 1 (retries are spaced)", got)
			}

			// The same bad answer as a refresh leaves the cached keys in use.
			s.set(func(s *jwksServer) {
				s.status, s.contentType, s.body = http.StatusOK, "application/json", setOf(good.jwk)
			})
			clk.Advance(time.Second)
			if _, err := r.LookupKey(context.Background(), "good"); err != nil {
				t.Fatalf("LookupKey after the server recovered = %v", err)
			}
			s.set(func(s *jwksServer) { s.status, s.contentType, s.body = tt.status, tt.contentType, tt.body })
			clk.Advance(2 * time.Hour) // past max-age and the refresh interval
			if _, err := r.LookupKey(context.Background(), "new-kid"); !errors.Is(err, accesstoken.ErrUnknownKey) {
				t.Fatalf("LookupKey(new-kid) = %v, want ErrUnknownKey", err)
			}
			if _, err := r.LookupKey(context.Background(), "good"); err != nil {
				t.Fatalf("cached key refused after a bad refresh: %v", err)
			}
		})
	}
}

func TestRemoteKeySet_ServerDownKeepsCachedKeys(t *testing.T) {
	t.Parallel()
	k1 := newSigningKey(t, "k1")
	s := newJWKSServer(t, k1.jwk)
	clk := newClock()
	r := newRemote(t, s, clk)
	ctx := context.Background()
	if _, err := r.LookupKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	s.srv.Close()
	for range 3 {
		clk.Advance(25 * time.Hour) // past any max-age and refresh interval
		if k, err := r.LookupKey(ctx, "k1"); err != nil || k.KeyID != "k1" {
			t.Fatalf("LookupKey(k1) with the server down = %q, %v", k.KeyID, err)
		}
		set, err := r.Keys(ctx)
		if err != nil || len(set.Key("k1")) != 1 {
			t.Fatalf("Keys with the server down = %v, %v", set, err)
		}
	}
	if _, err := r.LookupKey(ctx, "k2"); !errors.Is(err, accesstoken.ErrUnknownKey) {
		t.Fatalf("LookupKey(k2) with the server down = %v, want ErrUnknownKey", err)
	}
}

func TestRemoteKeySet_HonoursMaxAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		cacheControl string
		notBefore    time.Duration // no refresh yet at this age
		by           time.Duration // refreshed at this age
	}{
		{name: "max-age inside the bounds", cacheControl: "public, max-age=600", notBefore: 590 * time.Second, by: 600 * time.Second},
		{name: "max-age below the lower bound", cacheControl: "max-age=5", notBefore: 50 * time.Second, by: accesstoken.DefaultMinCacheAge},
		{name: "no-cache means the lower bound", cacheControl: "no-cache", notBefore: 50 * time.Second, by: accesstoken.DefaultMinCacheAge},
		{name: "max-age above the upper bound", cacheControl: "max-age=99999999", notBefore: 23 * time.Hour, by: accesstoken.DefaultMaxCacheAge},
		{name: "no header", cacheControl: "", notBefore: accesstoken.DefaultCacheAge - time.Second, by: accesstoken.DefaultCacheAge},
		{name: "malformed max-age", cacheControl: "max-age=soon", notBefore: accesstoken.DefaultCacheAge - time.Second, by: accesstoken.DefaultCacheAge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k1 := newSigningKey(t, "k1")
			s := newJWKSServer(t, k1.jwk)
			s.set(func(s *jwksServer) { s.cacheControl = tt.cacheControl })
			clk := newClock()
			r := newRemote(t, s, clk, accesstoken.WithRefreshInterval(time.Second))
			ctx := context.Background()
			if _, err := r.LookupKey(ctx, "k1"); err != nil {
				t.Fatal(err)
			}
			clk.Advance(tt.notBefore)
			if _, err := r.LookupKey(ctx, "k1"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond) // a refresh, if wrongly started, would be counted by now
			if got := s.fetches.Load(); got != 1 {
				t.Fatalf("fetches at age %v = %d, want 1", tt.notBefore, got)
			}
			clk.Advance(tt.by - tt.notBefore)
			// The cached key answers at once; the refresh runs behind it.
			if _, err := r.LookupKey(ctx, "k1"); err != nil {
				t.Fatal(err)
			}
			waitFetches(t, s, 2)
		})
	}
}

func TestRemoteKeySet_ValidatorRefreshesForRotatedKey(t *testing.T) {
	t.Parallel()
	k1, k2 := newSigningKey(t, "k1"), newSigningKey(t, "k2")
	s := newJWKSServer(t, k1.jwk)
	clk := newClock()
	r := newRemote(t, s, clk)
	v, err := accesstoken.NewValidator(accesstoken.Config{Issuer: iss, Audiences: []string{"api://orders"}, KeyLookup: r, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"iss": iss, "aud": "api://orders", "sub": "p1", "oid": "p1", "tid": "tid",
		"iat": clk.Now().Unix(), "nbf": clk.Now().Unix(), "exp": clk.Now().Add(time.Hour).Unix(), "roles": []string{"Orders.Read"}}
	ctx := context.Background()
	c, err := v.Validate(ctx, sign(t, k1.priv, jose.RS256, "k1", claims))
	if err != nil {
		t.Fatalf("Validate(k1) = %v", err)
	}
	if !c.HasRole("Orders.Read") || c.HasRole("orders.read") {
		t.Fatalf("roles = %v", c.Roles)
	}
	// The issuer rotates: k2 appears and signs.
	s.setKeys(t, k1.jwk, k2.jwk)
	clk.Advance(accesstoken.DefaultRefreshInterval)
	if _, err := v.Validate(ctx, sign(t, k2.priv, jose.RS256, "k2", claims)); err != nil {
		t.Fatalf("Validate(k2) after rotation = %v", err)
	}
	// A forged token naming k2 but signed by another key.
	forger := newSigningKey(t, "k2")
	var te *accesstoken.TokenError
	if _, err := v.Validate(ctx, sign(t, forger.priv, jose.RS256, "k2", claims)); !errors.As(err, &te) || te.Reason != accesstoken.ReasonSignature {
		t.Fatalf("Validate(forged) = %v, want reason %q", err, accesstoken.ReasonSignature)
	}
	if _, err := v.Validate(ctx, sign(t, forger.priv, jose.RS256, "k9", claims)); !errors.As(err, &te) || te.Reason != accesstoken.ReasonUnknownKey {
		t.Fatalf("Validate(unknown kid) = %v, want reason %q", err, accesstoken.ReasonUnknownKey)
	}
}

func TestNewTenantValidator(t *testing.T) {
	t.Parallel()
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	k1 := newSigningKey(t, "k1")
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k1.jwk}})
	if err != nil {
		t.Fatal(err)
	}
	var issuer string
	metadata := func(w http.ResponseWriter, doc map[string]string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(doc)
	}
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	issuer = srv.URL + "/" + tenant + "/"
	mux.HandleFunc("GET /"+tenant+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		metadata(w, map[string]string{"issuer": issuer, "jwks_uri": srv.URL + "/" + tenant + "/discovery/keys"})
	})
	mux.HandleFunc("GET /"+tenant+"/discovery/keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	mux.HandleFunc("GET /plain-jwks/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		metadata(w, map[string]string{"issuer": issuer, "jwks_uri": "http://insecure.test/keys"})
	})
	mux.HandleFunc("GET /no-issuer/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		metadata(w, map[string]string{"jwks_uri": srv.URL + "/" + tenant + "/discovery/keys"})
	})
	mux.HandleFunc("GET /dead-jwks/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		metadata(w, map[string]string{"issuer": issuer, "jwks_uri": srv.URL + "/nothing-here"})
	})
	mux.HandleFunc("GET /huge/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bytes.Repeat([]byte(" "), accesstoken.MaxJWKSBytes+1))
	})
	ctx := context.Background()

	v, err := accesstoken.NewTenantValidator(ctx, srv.URL+"/", tenant, "api://orders", srv.Client())
	if err != nil {
		t.Fatalf("NewTenantValidator = %v", err)
	}
	now := time.Now()
	claims := map[string]any{"iss": issuer, "aud": "api://orders", "sub": "p1", "oid": "p1", "tid": tenant,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if _, err := v.Validate(ctx, sign(t, k1.priv, jose.RS256, "k1", claims)); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	claims["aud"] = "api://payments"
	if _, err := v.Validate(ctx, sign(t, k1.priv, jose.RS256, "k1", claims)); !errors.Is(err, accesstoken.ErrInvalidToken) {
		t.Fatalf("Validate(other audience) = %v, want ErrInvalidToken", err)
	}

	tests := []struct {
		name      string
		serverURL string
		tenant    string
		audience  string
	}{
		{name: "unknown tenant", serverURL: srv.URL, tenant: "00000000-0000-4000-8000-000000000000", audience: "api://orders"},
		{name: "jwks_uri not https", serverURL: srv.URL, tenant: "plain-jwks", audience: "api://orders"},
		{name: "no issuer", serverURL: srv.URL, tenant: "no-issuer", audience: "api://orders"},
		{name: "jwks unreachable", serverURL: srv.URL, tenant: "dead-jwks", audience: "api://orders"},
		{name: "metadata over the size cap", serverURL: srv.URL, tenant: "huge", audience: "api://orders"},
		{name: "server url not https", serverURL: strings.Replace(srv.URL, "https", "http", 1), tenant: tenant, audience: "api://orders"},
		{name: "tenant with a slash", serverURL: srv.URL, tenant: tenant + "/x", audience: "api://orders"},
		{name: "no audience", serverURL: srv.URL, tenant: tenant, audience: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := accesstoken.NewTenantValidator(ctx, tt.serverURL, tt.tenant, tt.audience, srv.Client()); err == nil {
				t.Fatal("NewTenantValidator succeeded")
			}
		})
	}
}
