package accesstoken

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Remote key set bounds and defaults.
const (
	// MaxJWKSBytes bounds a fetched JWKS (and discovery document).
	MaxJWKSBytes = 1 << 20
	// MaxJWKSKeys bounds the keys of a fetched JWKS.
	MaxJWKSKeys = 100
	// DefaultRefreshInterval is the least time between two fetches of a
	// RemoteKeySet that holds keys: a token naming an unknown kid causes at
	// most one fetch per interval, however many such tokens arrive.
	DefaultRefreshInterval = 30 * time.Second
	// DefaultFetchTimeout bounds one fetch.
	DefaultFetchTimeout = 10 * time.Second
	// DefaultCacheAge is how long a JWKS is used before it is refreshed
	// when the response has no Cache-Control max-age.
	DefaultCacheAge = 15 * time.Minute
	// DefaultMinCacheAge and DefaultMaxCacheAge bound the max-age honoured.
	DefaultMinCacheAge = time.Minute
	DefaultMaxCacheAge = 24 * time.Hour
	// minRSABits is the smallest RSA key accepted from a JWKS.
	minRSABits = 2048
	// emptyRetryInterval is the least time between fetches while the set
	// holds no keys yet (capped by the refresh interval), so a server that is
	// down at start is neither hammered nor waited on for long.
	emptyRetryInterval = time.Second
)

// ErrKeysUnavailable is returned (wrapped) when a RemoteKeySet holds no keys
// and cannot fetch them now.
var ErrKeysUnavailable = errors.New("signing keys unavailable")

// RemoteOption configures a RemoteKeySet.
type RemoteOption func(*remoteOptions)

type remoteOptions struct {
	now            func() time.Time
	refresh        time.Duration
	timeout        time.Duration
	minAge, maxAge time.Duration
}

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) RemoteOption {
	return func(o *remoteOptions) { o.now = now }
}

// WithRefreshInterval sets the least time between two fetches (default
// DefaultRefreshInterval).
func WithRefreshInterval(d time.Duration) RemoteOption {
	return func(o *remoteOptions) { o.refresh = d }
}

// WithFetchTimeout bounds one fetch (default DefaultFetchTimeout).
func WithFetchTimeout(d time.Duration) RemoteOption {
	return func(o *remoteOptions) { o.timeout = d }
}

// WithCacheAgeBounds bounds the Cache-Control max-age honoured (defaults
// DefaultMinCacheAge and DefaultMaxCacheAge).
func WithCacheAgeBounds(lower, upper time.Duration) RemoteOption {
	return func(o *remoteOptions) { o.minAge, o.maxAge = lower, upper }
}

func buildOptions(opts []RemoteOption) remoteOptions {
	o := remoteOptions{now: time.Now, refresh: DefaultRefreshInterval, timeout: DefaultFetchTimeout,
		minAge: DefaultMinCacheAge, maxAge: DefaultMaxCacheAge}
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.refresh <= 0 {
		o.refresh = DefaultRefreshInterval
	}
	if o.timeout <= 0 {
		o.timeout = DefaultFetchTimeout
	}
	if o.minAge <= 0 {
		o.minAge = DefaultMinCacheAge
	}
	if o.maxAge < o.minAge {
		o.maxAge = o.minAge
	}
	return o
}

// RemoteKeySet is a JWKS fetched over HTTPS and cached. It is safe for
// concurrent use.
//
//   - The set is used until the response's Cache-Control max-age (bounded)
//     has passed; then the next lookup starts a refresh and, if it knows the
//     key, is answered from the cache without waiting.
//   - A lookup for a kid the set does not hold refreshes it, but fetches are
//     at least the refresh interval apart: tokens with made-up kids cost at
//     most one fetch per interval.
//   - At most one fetch is in flight; lookups that need it wait for it or for
//     their own context, whichever ends first. The fetch itself runs to its
//     own timeout, so one caller giving up does not fail the others.
//   - A failed fetch (server down, bad status, oversized or invalid body)
//     keeps the cached keys in use: an unreachable server does not stop
//     validation of tokens signed with keys already known.
type RemoteKeySet struct {
	url    string
	client *http.Client
	opt    remoteOptions

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetched   bool      // keys came from a successful fetch
	expires   time.Time // when keys should be refreshed
	lastFetch time.Time // when the last fetch started
	lastErr   error     // the last fetch's error, nil after a success
	inflight  fetchCall
}

// fetchCall is one fetch in flight, closed when it has ended (and the cache
// has been updated if it succeeded).
type fetchCall chan struct{}

// NewRemoteKeySet returns a RemoteKeySet for the JWKS at jwksURL, which must
// be an https URL. client defaults to one with DefaultFetchTimeout. Nothing is
// fetched until the first lookup.
func NewRemoteKeySet(jwksURL string, client *http.Client, opts ...RemoteOption) (*RemoteKeySet, error) {
	if err := checkHTTPS(jwksURL); err != nil {
		return nil, fmt.Errorf("accesstoken: jwks url: %w", err)
	}
	o := buildOptions(opts)
	if client == nil {
		client = &http.Client{Timeout: o.timeout}
	}
	return &RemoteKeySet{url: jwksURL, client: client, opt: o}, nil
}

func checkHTTPS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse %q: %w", raw, err)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute https URL", raw)
	}
	return nil
}

// KeySource returns the set as a KeySource.
func (r *RemoteKeySet) KeySource() KeySource { return r.Keys }

// Keys returns the cached keys, fetching them when the set holds none and
// starting a refresh in the background when they are due.
func (r *RemoteKeySet) Keys(ctx context.Context) (jose.JSONWebKeySet, error) {
	for waited := false; ; waited = true {
		r.mu.Lock()
		now := r.opt.now()
		if r.fetched {
			if !now.Before(r.expires) && r.inflight == nil && r.mayFetch(now) {
				r.startLocked(ctx, now)
			}
			keys := jose.JSONWebKeySet{Keys: slices.Clone(r.keys)}
			r.mu.Unlock()
			return keys, nil
		}
		var c fetchCall
		if !waited {
			c = r.joinLocked(ctx, now)
		}
		r.mu.Unlock()
		if c == nil {
			return jose.JSONWebKeySet{}, r.unavailable()
		}
		if err := wait(ctx, c); err != nil {
			return jose.JSONWebKeySet{}, err
		}
	}
}

// LookupKey returns the key with the given kid. A kid the set does not hold
// triggers a refresh (if the last fetch is at least the refresh interval
// ago) and a second look; ErrUnknownKey if it is still not there.
func (r *RemoteKeySet) LookupKey(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	for waited := false; ; waited = true {
		r.mu.Lock()
		now := r.opt.now()
		k, found := findKey(r.keys, kid)
		if found {
			if !now.Before(r.expires) && r.inflight == nil && r.mayFetch(now) {
				r.startLocked(ctx, now) // refresh in the background; the cached key answers now
			}
			r.mu.Unlock()
			return k, nil
		}
		var c fetchCall
		if !waited {
			c = r.joinLocked(ctx, now)
		}
		fetched := r.fetched
		r.mu.Unlock()
		if c == nil {
			if !fetched {
				return jose.JSONWebKey{}, r.unavailable()
			}
			return jose.JSONWebKey{}, ErrUnknownKey
		}
		if err := wait(ctx, c); err != nil {
			return jose.JSONWebKey{}, err
		}
	}
}

// joinLocked returns the fetch in flight, or starts one if fetching is
// allowed now; nil if neither.
func (r *RemoteKeySet) joinLocked(ctx context.Context, now time.Time) fetchCall {
	if r.inflight != nil {
		return r.inflight
	}
	if !r.mayFetch(now) {
		return nil
	}
	return r.startLocked(ctx, now)
}

// mayFetch reports whether a new fetch may start at now.
func (r *RemoteKeySet) mayFetch(now time.Time) bool {
	if r.lastFetch.IsZero() {
		return true
	}
	gap := r.opt.refresh
	if !r.fetched {
		gap = min(gap, emptyRetryInterval)
	}
	return now.Sub(r.lastFetch) >= gap
}

func (r *RemoteKeySet) unavailable() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastErr != nil {
		return fmt.Errorf("%w: %w", ErrKeysUnavailable, r.lastErr)
	}
	return ErrKeysUnavailable
}

// startLocked starts a fetch in its own goroutine, bounded by the fetch
// timeout and detached from ctx's cancellation (other callers may wait on
// it).
func (r *RemoteKeySet) startLocked(ctx context.Context, now time.Time) fetchCall {
	c := make(fetchCall)
	r.inflight = c
	r.lastFetch = now
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opt.timeout)
	go func() {
		defer cancel()
		keys, age, err := r.fetch(fctx)
		r.mu.Lock()
		if err == nil {
			r.keys, r.fetched = keys, true
			r.expires = r.opt.now().Add(age)
		}
		r.lastErr = err
		r.inflight = nil
		r.mu.Unlock()
		close(c)
	}()
	return c
}

// wait waits for c or ctx. A failed fetch is not an error here: the caller
// looks at the cache again and decides.
func wait(ctx context.Context, c fetchCall) error {
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for signing keys: %w", ctx.Err())
	}
}

// fetch GETs the JWKS and returns its usable keys and how long to use them.
func (r *RemoteKeySet) fetch(ctx context.Context) ([]jose.JSONWebKey, time.Duration, error) {
	body, header, err := getJSON(ctx, r.client, r.url, "application/jwk-set+json, application/json")
	if err != nil {
		return nil, 0, err
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, 0, fmt.Errorf("jwks %s: %w", r.url, err)
	}
	return keys, r.cacheAge(header.Get("Cache-Control")), nil
}

// getJSON GETs url and returns its body, refusing a status other than 200,
// a media type other than JSON and a body over MaxJWKSBytes.
func getJSON(ctx context.Context, client *http.Client, u, accept string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("get %s: status %d", u, resp.StatusCode)
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/jwk-set+json") {
		return nil, nil, fmt.Errorf("get %s: content type %q is not JSON", u, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", u, err)
	}
	if len(body) > MaxJWKSBytes {
		return nil, nil, fmt.Errorf("get %s: body larger than %d bytes", u, MaxJWKSBytes)
	}
	return body, resp.Header, nil
}

// parseJWKS decodes a JWKS and keeps its public RSA signing keys. Keys that
// do not parse, private keys and small keys are skipped; a set with no
// usable key is an error, so a broken response never replaces good keys.
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if len(raw.Keys) > MaxJWKSKeys {
		return nil, fmt.Errorf("more than %d keys", MaxJWKSKeys)
	}
	var keys []jose.JSONWebKey
	for _, m := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(m); err != nil || k.KeyID == "" || !k.IsPublic() || !usableKey(k) {
			continue
		}
		if k.Key.(*rsa.PublicKey).N.BitLen() < minRSABits {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable RS256 signing key")
	}
	return keys, nil
}

// cacheAge reads max-age from a Cache-Control header, bounded; no-store and
// no-cache mean the lower bound, no max-age DefaultCacheAge.
func (r *RemoteKeySet) cacheAge(cc string) time.Duration {
	age := DefaultCacheAge
	for _, d := range strings.Split(cc, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		switch {
		case d == "no-store" || d == "no-cache":
			return r.opt.minAge
		case strings.HasPrefix(d, "max-age="):
			if n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64); err == nil && n >= 0 {
				age = time.Duration(min(n, int64(r.opt.maxAge/time.Second)+1)) * time.Second
			}
		}
	}
	return max(r.opt.minAge, min(age, r.opt.maxAge))
}
