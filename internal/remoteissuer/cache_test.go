package remoteissuer

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func newCache(t *testing.T, cfg Config) *Cache {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func setKids(set jose.JSONWebKeySet) []string { return kids(set) }

func TestCache_FirstFetch(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	tests := []struct {
		name   string
		prefix string
		form   string
		slash  bool
	}{
		{name: "AKS issuer with a trailing slash", prefix: "/2cc9de02/570269c3-846f-4b9e-b1ec-82c54af45fb6", form: "slash", slash: true},
		{name: "issuer without a trailing slash", prefix: "/actions", form: "noslash", slash: false},
		{name: "host-only issuer with a trailing slash", prefix: "", form: "slash", slash: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d.configure(t, tc.prefix, issuerSetup{Form: tc.form})
			c := newCache(t, d.config(newClock(), nil))
			iss := d.issuer(tc.prefix, tc.slash)

			set, err := c.Keys(t.Context(), iss, "")
			wantErr(t, err, nil)
			st := d.stats(t, tc.prefix)
			if got, want := setKids(set), kidsOf(st.Kids); !slices.Equal(got, want) {
				t.Fatalf("kids = %q, want issuerd's %q", got, want)
			}
			if st.Discovery != 1 || st.JWKS != 1 {
				t.Fatalf("fetches = %d discovery, %d jwks; want 1 each", st.Discovery, st.JWKS)
			}
			k := set.Keys[0]
			if _, ok := k.Key.(*rsa.PublicKey); !ok || k.Use != "sig" || k.Algorithm != "RS256" {
				t.Errorf("key = %T use %q alg %q, want an RS256 signing *rsa.PublicKey", k.Key, k.Use, k.Algorithm)
			}

			// Served from the cache: by kid and without one.
			for _, kid := range []string{k.KeyID, ""} {
				if _, err := c.Keys(t.Context(), iss, kid); err != nil {
					t.Fatalf("Keys(%q): %v", kid, err)
				}
			}
			if st := d.stats(t, tc.prefix); st.Discovery != 1 || st.JWKS != 1 {
				t.Fatalf("cached calls fetched again: %+v", st)
			}
		})
	}
}

func TestCache_Rotation(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	const prefix = "/rotation"
	clock := newClock()
	cfg := d.config(clock, nil)
	cfg.MinRefreshInterval = 30 * time.Second
	c := newCache(t, cfg)
	iss := d.issuer(prefix, true)

	first, err := c.Keys(t.Context(), iss, "")
	wantErr(t, err, nil)
	oldKid := first.Keys[0].KeyID

	newKids := d.rotate(t, prefix, false, "RSA")
	newKid := newKids[0]

	// Within MinRefreshInterval of the last fetch an unknown kid does not
	// refetch: the cached keys come back and the signature check will fail.
	got, err := c.Keys(t.Context(), iss, newKid)
	wantErr(t, err, nil)
	if hasKid(got, newKid) || !hasKid(got, oldKid) {
		t.Fatalf("kids within the refresh interval = %q, want only the old %q", setKids(got), oldKid)
	}
	if st := d.stats(t, prefix); st.JWKS != 1 {
		t.Fatalf("jwks fetches = %d within the refresh interval, want 1", st.JWKS)
	}

	clock.Advance(30 * time.Second)
	got, err = c.Keys(t.Context(), iss, newKid)
	wantErr(t, err, nil)
	if !slices.Equal(setKids(got), []string{newKid}) {
		t.Fatalf("kids after rotation = %q, want only the new %q", setKids(got), newKid)
	}

	// A rotation that keeps the old key and adds an EC key.
	clock.Advance(30 * time.Second)
	both := d.rotate(t, prefix, true, "EC")
	ecKid := both[1]
	got, err = c.Keys(t.Context(), iss, ecKid)
	wantErr(t, err, nil)
	if !slices.Equal(setKids(got), kidsOf(both)) {
		t.Fatalf("kids after overlapping rotation = %q, want %q", setKids(got), kidsOf(both))
	}
	if k := got.Key(ecKid); len(k) != 1 {
		t.Fatalf("no key %q", ecKid)
	} else if _, ok := k[0].Key.(*ecdsa.PublicKey); !ok {
		t.Errorf("key %q is %T, want *ecdsa.PublicKey", ecKid, k[0].Key)
	}
	if st := d.stats(t, prefix); st.JWKS != 3 || st.Discovery != 3 {
		t.Errorf("fetches = %+v, want 3 of each", st)
	}
}

func TestCache_Outage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		breakIt func(t *testing.T, d *issuerd, prefix string)
		fixIt   func(t *testing.T, d *issuerd, prefix string)
		errText string
	}{
		{
			name:    "issuer stops listening",
			breakIt: func(t *testing.T, d *issuerd, _ string) { d.down(t) },
			fixIt:   func(t *testing.T, d *issuerd, _ string) { d.up(t) },
			errText: "connection refused",
		},
		{
			name: "issuer answers 503",
			breakIt: func(t *testing.T, d *issuerd, prefix string) {
				d.configure(t, prefix, issuerSetup{Discovery: docSetup{Status: 503}})
			},
			fixIt:   func(t *testing.T, d *issuerd, prefix string) { d.configure(t, prefix, issuerSetup{}) },
			errText: "status 503",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := startIssuerd(t) // its own: going down affects every issuer of the process
			const prefix = "/outage"
			clock := newClock()
			var log syncBuffer
			cfg := d.config(clock, &log)
			cfg.DefaultTTL = time.Hour
			cfg.MaxStale = 3 * time.Hour
			c := newCache(t, cfg)
			iss := d.issuer(prefix, true)

			good, err := c.Keys(t.Context(), iss, "")
			wantErr(t, err, nil)
			kid := good.Keys[0].KeyID

			tc.breakIt(t, d, prefix)
			clock.Advance(2 * time.Hour) // past the TTL, within MaxStale

			// An unknown kid refetches synchronously; the fetch fails and
			// the last good keys are served.
			got, err := c.Keys(t.Context(), iss, "unknown-kid")
			wantErr(t, err, nil)
			if !slices.Equal(setKids(got), []string{kid}) {
				t.Fatalf("kids during the outage = %q, want the last good %q", setKids(got), kid)
			}
			got, err = c.Keys(t.Context(), iss, kid)
			wantErr(t, err, nil)
			if !slices.Equal(setKids(got), []string{kid}) {
				t.Fatalf("kids during the outage = %q, want the last good %q", setKids(got), kid)
			}
			if l := log.String(); !strings.Contains(l, "remote issuer keys fetch failed") || !strings.Contains(l, "serving_until=") {
				t.Errorf("log lacks the stale-serving warning:\n%s", l)
			}

			clock.Advance(time.Hour + time.Second) // MaxStale after the last success
			_, err = c.Keys(t.Context(), iss, kid)
			wantErr(t, err, ErrUnreachable, tc.errText)

			// Within MinRefreshInterval the failure is answered from memory.
			_, err = c.Keys(t.Context(), iss, kid)
			wantErr(t, err, ErrUnreachable, tc.errText)

			tc.fixIt(t, d, prefix)
			_, err = c.Keys(t.Context(), iss, kid)
			wantErr(t, err, ErrUnreachable, tc.errText)
			clock.Advance(defaultMinRefreshInterval)
			got, err = c.Keys(t.Context(), iss, kid)
			wantErr(t, err, nil)
			if !slices.Equal(setKids(got), []string{kid}) {
				t.Fatalf("kids after recovery = %q, want %q", setKids(got), kid)
			}
		})
	}
}

func TestCache_UnknownKidStorm(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	const prefix = "/storm"
	// A slow JWKS keeps the fetch in flight while the goroutines arrive.
	d.configure(t, prefix, issuerSetup{JWKS: docSetup{DelayMS: 200}})
	clock := newClock()
	cfg := d.config(clock, nil)
	cfg.MinRefreshInterval = 30 * time.Second
	c := newCache(t, cfg)
	iss := d.issuer(prefix, true)
	if _, err := c.Keys(t.Context(), iss, ""); err != nil {
		t.Fatal(err)
	}

	storm := func(round int) {
		t.Helper()
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			wg.Go(func() {
				<-start
				set, err := c.Keys(t.Context(), iss, fmt.Sprintf("random-%d-%d", round, i))
				if err == nil && len(set.Keys) != 1 {
					err = fmt.Errorf("got %d keys, want the 1 cached", len(set.Keys))
				}
				if err != nil {
					errs <- err
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
	}

	rounds := []struct {
		name    string
		advance time.Duration
		want    int // JWKS fetches in total after the round
	}{
		{name: "within the interval of the first fetch", advance: 0, want: 1},
		{name: "one interval later", advance: 30 * time.Second, want: 2},
		{name: "again without time passing", advance: 0, want: 2},
		{name: "just short of the next interval", advance: 29 * time.Second, want: 2},
		{name: "at the next interval", advance: time.Second, want: 3},
	}
	for i, r := range rounds {
		clock.Advance(r.advance)
		storm(i)
		if st := d.stats(t, prefix); st.JWKS != r.want || st.Discovery != r.want {
			t.Fatalf("%s: fetches = %d discovery, %d jwks; want %d each", r.name, st.Discovery, st.JWKS, r.want)
		}
	}
}

func TestCache_WaitersAndCancellation(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	const prefix = "/waiters"
	d.configure(t, prefix, issuerSetup{JWKS: docSetup{DelayMS: 700}})
	c := newCache(t, d.config(newClock(), nil))
	iss := d.issuer(prefix, true)

	// The first caller gives up; the fetch it started still serves the second.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	type result struct {
		set jose.JSONWebKeySet
		err error
	}
	second := make(chan result, 1)
	started := time.Now()
	go func() {
		time.Sleep(20 * time.Millisecond)
		set, err := c.Keys(t.Context(), iss, "")
		second <- result{set, err}
	}()
	_, err := c.Keys(ctx, iss, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first caller: err = %v, want its context's deadline", err)
	}
	if waited := time.Since(started); waited > 500*time.Millisecond {
		t.Errorf("first caller returned after %v, want it to stop at its own deadline", waited)
	}
	r := <-second
	wantErr(t, r.err, nil)
	if len(r.set.Keys) != 1 {
		t.Fatalf("second caller got %d keys, want 1", len(r.set.Keys))
	}
	if st := d.stats(t, prefix); st.JWKS != 1 {
		t.Errorf("jwks fetches = %d, want the one shared fetch", st.JWKS)
	}
}

func TestCache_FetchTimeout(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	const prefix = "/slow"
	d.configure(t, prefix, issuerSetup{Discovery: docSetup{DelayMS: 5000}})
	cfg := d.config(newClock(), nil)
	cfg.FetchTimeout = 200 * time.Millisecond
	c := newCache(t, cfg)

	started := time.Now()
	_, err := c.Keys(t.Context(), d.issuer(prefix, true), "")
	wantErr(t, err, ErrUnreachable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap the fetch deadline", err)
	}
	if took := time.Since(started); took > 3*time.Second {
		t.Errorf("Keys took %v with a 200ms fetch timeout", took)
	}
}

func TestCache_DocumentErrors(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	const limit = 4096
	jwk := func(m map[string]any) string { return fmt.Sprintf(`{"keys":[%s]}`, mustJSON(t, m)) }
	tests := []struct {
		name     string
		setup    func(iss string) issuerSetup
		sentinel error
		texts    []string
	}{
		// Discovery document.
		{name: "discovery is not JSON", setup: func(string) issuerSetup { return issuerSetup{Discovery: docSetup{Body: "{not json"}} },
			sentinel: ErrBadDiscovery, texts: []string{"not a JSON object"}},
		{name: "discovery is a JSON array", setup: func(string) issuerSetup { return issuerSetup{Discovery: docSetup{Body: "[1,2]"}} },
			sentinel: ErrBadDiscovery, texts: []string{"not a JSON object"}},
		{name: "discovery has trailing data", setup: func(iss string) issuerSetup {
			return issuerSetup{Discovery: docSetup{Body: fmt.Sprintf(`{"issuer":%q} {}`, iss)}}
		}, sentinel: ErrBadDiscovery, texts: []string{"not a JSON object"}},
		{name: "discovery larger than the limit, with Content-Length", setup: func(string) issuerSetup { return issuerSetup{Discovery: docSetup{Pad: 2 * limit}} },
			sentinel: ErrBadDiscovery, texts: []string{"larger than the limit of 4096"}},
		{name: "discovery larger than the limit, chunked", setup: func(string) issuerSetup {
			return issuerSetup{Discovery: docSetup{Pad: 2 * limit, Chunked: true}}
		}, sentinel: ErrBadDiscovery, texts: []string{"larger than the limit of 4096"}},
		{name: "discovery as text/html", setup: func(string) issuerSetup { return issuerSetup{Discovery: docSetup{ContentType: "text/html"}} },
			sentinel: ErrBadDiscovery, texts: []string{`content type "text/html" is not JSON`}},
		{name: "discovery without a content type", setup: func(string) issuerSetup { return issuerSetup{Discovery: docSetup{ContentType: "none"}} },
			sentinel: ErrBadDiscovery, texts: []string{"is not JSON"}},
		{name: "discovery as application/json with a charset", setup: func(string) issuerSetup {
			return issuerSetup{Discovery: docSetup{ContentType: "application/json; charset=utf-8"}}
		}},
		{name: "discovery answers 404", setup: func(string) issuerSetup { return issuerSetup{Discovery: docSetup{Status: 404}} },
			sentinel: ErrUnreachable, texts: []string{"status 404"}},
		{name: "discovery answers 500", setup: func(string) issuerSetup { return issuerSetup{Discovery: docSetup{Status: 500}} },
			sentinel: ErrUnreachable, texts: []string{"status 500"}},
		{name: "issuer differs by the trailing slash", setup: func(string) issuerSetup { return issuerSetup{Form: "noslash"} },
			sentinel: ErrBadDiscovery, texts: []string{"issuer mismatch", "only in the trailing slash"}},
		{name: "issuer names another host", setup: func(string) issuerSetup { return issuerSetup{Issuer: "https://attacker.example/"} },
			sentinel: ErrBadDiscovery, texts: []string{"issuer mismatch", `"https://attacker.example/"`}},
		{name: "issuer differs in case", setup: func(iss string) issuerSetup { return issuerSetup{Issuer: strings.ToUpper(iss)} },
			sentinel: ErrBadDiscovery, texts: []string{"issuer mismatch"}},
		{name: "jwks_uri missing", setup: func(iss string) issuerSetup {
			return issuerSetup{Discovery: docSetup{Body: fmt.Sprintf(`{"issuer":%q}`, iss)}}
		}, sentinel: ErrBadDiscovery, texts: []string{"jwks_uri is missing"}},
		{name: "jwks_uri over http", setup: func(string) issuerSetup {
			return issuerSetup{JWKSURI: "http://127.0.0.1:1/openid/v1/jwks"}
		}, sentinel: ErrBadDiscovery, texts: []string{"is not https"}},
		{name: "jwks_uri relative", setup: func(string) issuerSetup { return issuerSetup{JWKSURI: "/openid/v1/jwks"} },
			sentinel: ErrBadDiscovery, texts: []string{"not an absolute URL"}},
		// JWKS.
		{name: "jwks is not JSON", setup: func(string) issuerSetup { return issuerSetup{JWKS: docSetup{Body: "keys"}} },
			sentinel: ErrBadKeys, texts: []string{"not a JSON web key set"}},
		{name: "jwks larger than the limit, with Content-Length", setup: func(string) issuerSetup { return issuerSetup{JWKS: docSetup{Pad: 2 * limit}} },
			sentinel: ErrBadKeys, texts: []string{"larger than the limit of 4096"}},
		{name: "jwks larger than the limit, chunked", setup: func(string) issuerSetup { return issuerSetup{JWKS: docSetup{Pad: 2 * limit, Chunked: true}} },
			sentinel: ErrBadKeys, texts: []string{"larger than the limit of 4096"}},
		{name: "jwks without a keys member", setup: func(string) issuerSetup { return issuerSetup{JWKS: docSetup{Body: `{"kids":[]}`}} },
			sentinel: ErrBadKeys, texts: []string{`no "keys" array`}},
		{name: "jwks with no keys", setup: func(string) issuerSetup { return issuerSetup{JWKS: docSetup{Body: `{"keys":[]}`}} },
			sentinel: ErrBadKeys, texts: []string{"none of the 0 keys is usable"}},
		{name: "jwks with only a symmetric key", setup: func(string) issuerSetup {
			return issuerSetup{JWKS: docSetup{Body: jwk(map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"})}}
		}, sentinel: ErrBadKeys, texts: []string{`kid "hmac": symmetric key`}},
		{name: "jwks as text/plain", setup: func(string) issuerSetup { return issuerSetup{JWKS: docSetup{ContentType: "text/plain"}} },
			sentinel: ErrBadKeys, texts: []string{"is not JSON"}},
		{name: "jwks as application/jwk-set+json with a charset", setup: func(string) issuerSetup {
			return issuerSetup{JWKS: docSetup{ContentType: "application/jwk-set+json; charset=utf-8"}}
		}},
		{name: "jwks answers 404", setup: func(string) issuerSetup { return issuerSetup{JWKS: docSetup{Status: 404}} },
			sentinel: ErrUnreachable, texts: []string{"status 404"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := fmt.Sprintf("/doc-%d", i)
			iss := d.issuer(prefix, true)
			d.configure(t, prefix, tc.setup(iss))
			cfg := d.config(newClock(), nil)
			cfg.MaxDocumentBytes = limit
			c := newCache(t, cfg)
			set, err := c.Keys(t.Context(), iss, "")
			wantErr(t, err, tc.sentinel, tc.texts...)
			if tc.sentinel == nil && len(set.Keys) != 1 {
				t.Fatalf("got %d keys, want 1", len(set.Keys))
			}
		})
	}
}

func TestCache_PrivateKeyMaterial(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	const prefix = "/leaky"
	priv := newRSA(t, 2048)
	good := publicJWK(t, priv.Public(), "good", "RS256")
	leaked := privateJWK(t, priv, "leaked")
	d.configure(t, prefix, issuerSetup{JWKS: docSetup{Body: fmt.Sprintf(`{"keys":[%s,%s]}`, mustJSON(t, leaked), mustJSON(t, good))}})
	var log syncBuffer
	c := newCache(t, d.config(newClock(), &log))

	set, err := c.Keys(t.Context(), d.issuer(prefix, true), "")
	wantErr(t, err, nil)
	if got := setKids(set); !slices.Equal(got, []string{"good"}) {
		t.Fatalf("kids = %q, want only the public key's", got)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Errorf("key %q carries private material", k.KeyID)
		}
	}
	l := log.String()
	if !strings.Contains(l, "private key material") || !strings.Contains(l, "leaked") {
		t.Errorf("log lacks the private-key warning naming the kid:\n%s", l)
	}
	if d := leaked["d"].(string); strings.Contains(l, d[:16]) {
		t.Error("log contains private key material")
	}
}

func TestCache_TTL(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	tests := []struct {
		name         string
		discoveryCC  string
		jwksCC       string
		wantLifetime time.Duration
	}{
		{name: "jwks max-age", jwksCC: "public, max-age=120", wantLifetime: 2 * time.Minute},
		{name: "max-age below MinTTL", jwksCC: "max-age=5", wantLifetime: time.Minute},
		{name: "max-age above MaxTTL", jwksCC: "max-age=99999999999", wantLifetime: 24 * time.Hour},
		{name: "no Cache-Control", wantLifetime: time.Hour},
		{name: "no-store", jwksCC: "no-store", wantLifetime: time.Minute},
		{name: "the shorter of both documents", discoveryCC: "max-age=300", jwksCC: "max-age=180", wantLifetime: 3 * time.Minute},
		{name: "discovery max-age alone", discoveryCC: "max-age=240", wantLifetime: 4 * time.Minute},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := fmt.Sprintf("/ttl-%d", i)
			d.configure(t, prefix, issuerSetup{Discovery: docSetup{CacheControl: tc.discoveryCC}, JWKS: docSetup{CacheControl: tc.jwksCC}})
			clock := newClock()
			cfg := d.config(clock, nil)
			cfg.DefaultTTL, cfg.MinTTL, cfg.MaxTTL = time.Hour, time.Minute, 24*time.Hour
			cfg.MaxStale = 48 * time.Hour
			c := newCache(t, cfg)
			iss := d.issuer(prefix, true)
			if _, err := c.Keys(t.Context(), iss, ""); err != nil {
				t.Fatal(err)
			}

			clock.Advance(tc.wantLifetime - time.Second)
			if _, err := c.Keys(t.Context(), iss, ""); err != nil {
				t.Fatal(err)
			}
			if st := d.stats(t, prefix); st.JWKS != 1 {
				t.Fatalf("refetched %d times before the lifetime of %v ended", st.JWKS-1, tc.wantLifetime)
			}

			// At expiry the cached keys are still returned and a refetch runs
			// in the background.
			clock.Advance(time.Second)
			if _, err := c.Keys(t.Context(), iss, ""); err != nil {
				t.Fatal(err)
			}
			d.waitStats(t, prefix, func(st issuerStats) bool { return st.JWKS == 2 })
		})
	}
}

func TestCache_ExpiredKeysServedWhileRefreshing(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	const prefix = "/swr"
	clock := newClock()
	c := newCache(t, d.config(clock, nil))
	iss := d.issuer(prefix, true)
	first, err := c.Keys(t.Context(), iss, "")
	wantErr(t, err, nil)

	d.configure(t, prefix, issuerSetup{JWKS: docSetup{DelayMS: 1500}})
	newKid := d.rotate(t, prefix, false, "EC")[0]
	clock.Advance(2 * time.Hour) // past the default TTL

	started := time.Now()
	got, err := c.Keys(t.Context(), iss, first.Keys[0].KeyID)
	wantErr(t, err, nil)
	if took := time.Since(started); took > time.Second {
		t.Errorf("Keys with expired keys took %v, want the cached answer at once", took)
	}
	if !hasKid(got, first.Keys[0].KeyID) {
		t.Fatalf("expired answer kids = %q, want the cached %q", setKids(got), first.Keys[0].KeyID)
	}
	d.waitStats(t, prefix, func(st issuerStats) bool { return st.JWKS == 2 })
	// The background fetch lands: wait until the new key is served.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err = c.Keys(t.Context(), iss, "")
		wantErr(t, err, nil)
		if slices.Equal(setKids(got), []string{newKid}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kids = %q, want the refreshed %q", setKids(got), newKid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := d.stats(t, prefix); st.JWKS != 2 {
		t.Errorf("jwks fetches = %d, want 2", st.JWKS)
	}
}

func TestCache_Run(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	const used, idle = "/run-used", "/run-idle"
	for _, p := range []string{used, idle} {
		d.configure(t, p, issuerSetup{Discovery: docSetup{CacheControl: "max-age=1"}, JWKS: docSetup{CacheControl: "max-age=1"}})
	}
	cfg := d.config(nil, nil) // real clock: Run ticks in real time
	cfg.MinTTL = time.Second
	cfg.MinRefreshInterval = 100 * time.Millisecond
	c := newCache(t, cfg)

	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() { defer close(stopped); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-stopped })

	usedIss, idleIss := d.issuer(used, true), d.issuer(idle, true)
	for _, iss := range []string{usedIss, idleIss} {
		if _, err := c.Keys(t.Context(), iss, ""); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := c.Keys(t.Context(), usedIss, ""); err != nil { // used again since its fetch
		t.Fatal(err)
	}
	newKid := d.rotate(t, used, false, "EC")[0]

	// Run refreshes the used issuer before its 1s lifetime ends; nothing
	// else calls Keys meanwhile, so only Run can have fetched.
	d.waitStats(t, used, func(st issuerStats) bool { return st.JWKS >= 2 })
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := c.Keys(t.Context(), usedIss, "")
		wantErr(t, err, nil)
		if slices.Equal(setKids(got), []string{newKid}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kids after the background refresh = %q, want %q", setKids(got), newKid)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The issuer not used since its fetch is left to expire.
	time.Sleep(1500 * time.Millisecond)
	if st := d.stats(t, idle); st.JWKS != 1 {
		t.Errorf("idle issuer fetched %d times, want once", st.JWKS)
	}

	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestCache_MaxIssuers(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	cfg := d.config(newClock(), nil)
	cfg.MaxIssuers = 2
	c := newCache(t, cfg)
	a, b, cc := d.issuer("/lru-a", true), d.issuer("/lru-b", true), d.issuer("/lru-c", true)
	for _, iss := range []string{a, b, a, cc} { // b is least recently used when c arrives
		if _, err := c.Keys(t.Context(), iss, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Keys(t.Context(), a, ""); err != nil {
		t.Fatal(err)
	}
	if st := d.stats(t, "/lru-a"); st.JWKS != 1 {
		t.Errorf("a fetched %d times, want once: it was recently used", st.JWKS)
	}
	if _, err := c.Keys(t.Context(), b, ""); err != nil {
		t.Fatal(err)
	}
	if st := d.stats(t, "/lru-b"); st.JWKS != 2 {
		t.Errorf("b fetched %d times, want twice: it was evicted", st.JWKS)
	}
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	if n != 2 {
		t.Errorf("cache holds %d issuers, want at most 2", n)
	}
}

func TestNew_Config(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "zero config", cfg: Config{}},
		{name: "negative max stale", cfg: Config{MaxStale: -time.Second}, wantErr: "max stale"},
		{name: "negative fetch timeout", cfg: Config{FetchTimeout: -1}, wantErr: "fetch timeout"},
		{name: "min ttl above max ttl", cfg: Config{MinTTL: time.Hour, MaxTTL: time.Minute}, wantErr: "min ttl"},
		{name: "negative document limit", cfg: Config{MaxDocumentBytes: -1}, wantErr: "must not be negative"},
		{name: "invalid allowed network", cfg: Config{AllowedNetworks: []netip.Prefix{{}}}, wantErr: "not a valid prefix"},
		{name: "transport that cannot be guarded", cfg: Config{Client: &http.Client{Transport: roundTripperFunc(nil)}}, wantErr: "cannot be guarded"},
		{name: "client without a transport", cfg: Config{Client: &http.Client{Timeout: time.Minute}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New: err = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

// roundTripperFunc is a RoundTripper the guard cannot wrap.
type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
