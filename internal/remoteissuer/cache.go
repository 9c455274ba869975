package remoteissuer

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxParallelRefresh bounds the background refreshes Run has in flight.
const maxParallelRefresh = 8

// minTick is the shortest interval at which Run looks for due refreshes.
const minTick = 10 * time.Millisecond

// Cache holds the verification keys of remote issuers. It is safe for
// concurrent use. Build it with New; run Run in the background to refresh
// issuers in use before their keys expire.
type Cache struct {
	fetch      *fetcher
	allowHTTP  bool
	now        func() time.Time
	log        *slog.Logger
	minRefresh time.Duration
	maxStale   time.Duration
	maxIssuers int
	tick       time.Duration

	mu      sync.Mutex
	entries map[string]*entry // by issuer
	lru     list.List         // of *entry, most recently used first
}

// entry is one issuer's cached state; its fields are guarded by Cache.mu.
type entry struct {
	issuer    string
	elem      *list.Element
	keys      jose.JSONWebKeySet // last good keys; empty when none
	fetched   time.Time          // end of the last successful fetch; zero when none
	expires   time.Time          // fetched + TTL
	attempted time.Time          // start of the last fetch; zero when none
	err       error              // the last fetch's error; nil after a success
	used      time.Time          // last Keys call
	flight    chan struct{}      // closed when the running fetch ends; nil when none runs
}

// New returns a Cache configured by cfg.
func New(cfg Config) (*Cache, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Cache{
		fetch:      newFetcher(cfg),
		allowHTTP:  cfg.AllowHTTP,
		now:        cfg.Now,
		log:        cfg.Logger,
		minRefresh: cfg.MinRefreshInterval,
		maxStale:   cfg.MaxStale,
		maxIssuers: cfg.MaxIssuers,
		tick:       max(min(cfg.MinRefreshInterval, cfg.MinTTL/2), minTick),
		entries:    make(map[string]*entry),
	}, nil
}

// Keys returns the usable verification keys of issuer. kid is the
// assertion's key ID, "" when it has none.
//
// Cached keys whose TTL has not ended are returned at once when kid is ""
// or among them. When kid is not among them the cache refetches before
// answering, unless it fetched less than MinRefreshInterval ago; so a storm
// of unknown kids causes at most one fetch per interval. Keys past their
// TTL are still returned at once while a refetch runs in the background.
// When fetches fail, the last good keys are served until MaxStale after the
// last successful fetch; after that, and when there never were keys, Keys
// returns the last fetch's error, which wraps ErrUnreachable,
// ErrBadDiscovery or ErrBadKeys. A failed fetch is retried no sooner than
// MinRefreshInterval later; meanwhile its error is returned.
//
// Keys returns keys, not a verdict: with an unknown kid and no refetch
// allowed (or a failed one), it returns the cached keys and the caller's
// signature check fails. Only one fetch per issuer runs at a time; callers
// that need its result wait for it or for their ctx. The fetch itself is
// not tied to the caller's ctx, so one caller giving up does not fail the
// others.
//
// Call Keys only for issuers the caller trusts by configuration: it
// fetches from any issuer it is given. The returned slice is the caller's.
func (c *Cache) Keys(ctx context.Context, issuer, kid string) (jose.JSONWebKeySet, error) {
	c.mu.Lock()
	now := c.now()
	e := c.entry(issuer)
	e.used = now
	if c.servable(e, now) && (kid == "" || hasKid(e.keys, kid)) {
		if !now.Before(e.expires) && c.mayFetch(e, now) {
			c.start(context.WithoutCancel(ctx), e, now, nil)
		}
		set := e.copyKeys()
		c.mu.Unlock()
		return set, nil
	}
	flight := e.flight
	if flight == nil && c.mayFetch(e, now) {
		flight = c.start(context.WithoutCancel(ctx), e, now, nil)
	}
	if flight == nil {
		defer c.mu.Unlock()
		return c.answer(e, now)
	}
	c.mu.Unlock()

	select {
	case <-ctx.Done():
		return jose.JSONWebKeySet{}, fmt.Errorf("wait for keys of %s: %w", issuer, context.Cause(ctx))
	case <-flight:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answer(e, c.now())
}

// Run refreshes, shortly before their TTL ends, the issuers used since
// their last fetch, so that Keys rarely serves expired keys. Issuers whose
// last fetch failed are retried every MinRefreshInterval while in use. It
// returns when ctx is done and the refreshes it started have ended.
func (c *Cache) Run(ctx context.Context) {
	t := time.NewTicker(c.tick)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, maxParallelRefresh)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.refreshDue(ctx, &wg, sem)
		}
	}
}

// refreshDue starts the refreshes that are due, as many as sem has room for.
func (c *Cache) refreshDue(ctx context.Context, wg *sync.WaitGroup, sem chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for _, e := range c.entries {
		if !c.mayFetch(e, now) || !e.used.After(e.attempted) {
			continue
		}
		if !e.fetched.IsZero() {
			lead := c.tick + min(e.expires.Sub(e.fetched)/10, time.Minute)
			if now.Before(e.expires.Add(-lead)) {
				continue
			}
		}
		select {
		case sem <- struct{}{}:
		default:
			return // the rest at the next tick
		}
		wg.Add(1)
		c.start(ctx, e, now, func() { <-sem; wg.Done() })
	}
}

// entry returns issuer's entry, creating it and evicting the least recently
// used idle entries beyond maxIssuers. Callers hold c.mu.
func (c *Cache) entry(issuer string) *entry {
	if e, ok := c.entries[issuer]; ok {
		c.lru.MoveToFront(e.elem)
		return e
	}
	e := &entry{issuer: issuer}
	e.elem = c.lru.PushFront(e)
	c.entries[issuer] = e
	for el := c.lru.Back(); len(c.entries) > c.maxIssuers && el != nil; {
		prev := el.Prev()
		if old := el.Value.(*entry); old != e && old.flight == nil {
			c.lru.Remove(el)
			delete(c.entries, old.issuer)
		}
		el = prev
	}
	return e
}

// servable reports whether e's keys may be returned at now: there are some,
// and their TTL has not ended or MaxStale has not passed since the fetch.
func (c *Cache) servable(e *entry, now time.Time) bool {
	return !e.fetched.IsZero() && (now.Before(e.expires) || now.Before(e.fetched.Add(c.maxStale)))
}

// mayFetch reports whether a fetch for e may start at now.
func (c *Cache) mayFetch(e *entry, now time.Time) bool {
	return e.flight == nil && (e.attempted.IsZero() || now.Sub(e.attempted) >= c.minRefresh)
}

// answer returns what e has at now, without fetching. Callers hold c.mu.
func (c *Cache) answer(e *entry, now time.Time) (jose.JSONWebKeySet, error) {
	if c.servable(e, now) {
		return e.copyKeys(), nil
	}
	if e.err != nil {
		return jose.JSONWebKeySet{}, e.err
	}
	return jose.JSONWebKeySet{}, fmt.Errorf("%w: no keys for %s yet", ErrUnreachable, e.issuer)
}

// start begins a fetch for e and returns the channel closed when it ends;
// done, when not nil, is called after that. Callers hold c.mu.
func (c *Cache) start(ctx context.Context, e *entry, now time.Time, done func()) chan struct{} {
	flight := make(chan struct{})
	e.flight, e.attempted = flight, now
	go func() {
		if done != nil {
			defer done()
		}
		c.refresh(ctx, e, flight)
	}()
	return flight
}

// refresh fetches e's keys, records the outcome, logs it, and closes
// flight.
func (c *Cache) refresh(ctx context.Context, e *entry, flight chan struct{}) {
	ks, ttl, err := c.fetch.issuerKeys(ctx, e.issuer, c.allowHTTP)

	// A fetch cut short by Run's shutdown says nothing about the issuer.
	cancelled := err != nil && ctx.Err() != nil

	c.mu.Lock()
	now := c.now()
	before := kids(e.keys)
	switch {
	case err == nil:
		e.keys, e.fetched, e.expires, e.err = ks.usable, now, now.Add(ttl), nil
	case !cancelled:
		e.err = err
		if !c.servable(e, now) {
			e.keys = jose.JSONWebKeySet{}
		}
	}
	stale := err != nil && c.servable(e, now)
	fetched := e.fetched
	e.flight = nil
	c.mu.Unlock()
	defer close(flight) // after logging, so that waiters see the log

	if cancelled {
		c.log.DebugContext(ctx, "remote issuer keys fetch cancelled", "issuer", e.issuer, "err", err)
		return
	}
	if err != nil {
		attrs := []any{"issuer", e.issuer, "err", err}
		if stale {
			attrs = append(attrs, "serving_keys_fetched_at", fetched, "serving_until", fetched.Add(c.maxStale))
		}
		c.log.WarnContext(ctx, "remote issuer keys fetch failed", attrs...)
		return
	}
	if after := kids(ks.usable); !slices.Equal(before, after) {
		c.log.InfoContext(ctx, "remote issuer keys changed", "issuer", e.issuer, "kids", after, "ttl", ttl)
	}
	logKeyWarnings(ctx, c.log, e.issuer, ks)
}

// logKeyWarnings logs what an operator should know about a fetched JWKS.
func logKeyWarnings(ctx context.Context, log *slog.Logger, issuer string, ks keySet) {
	if len(ks.private) > 0 {
		log.WarnContext(ctx, "remote issuer publishes private key material; those keys are not trusted",
			"issuer", issuer, "kids", ks.private)
	}
	if ks.total > maxKeys {
		log.WarnContext(ctx, "remote issuer publishes more keys than are used", "issuer", issuer,
			"keys", ks.total, "used", maxKeys)
	}
}

// issuerKeys fetches issuer's discovery document and JWKS and returns the
// parsed keys and their cache lifetime.
func (f *fetcher) issuerKeys(ctx context.Context, issuer string, allowHTTP bool) (keySet, time.Duration, error) {
	durl, err := discoveryURL(issuer, allowHTTP)
	if err != nil {
		return keySet{}, 0, err
	}
	dd, err := f.get(ctx, durl, mediaJSON, ErrBadDiscovery)
	if err != nil {
		return keySet{}, 0, err
	}
	doc, err := parseDiscovery(dd, issuer, f.guard)
	if err != nil {
		return keySet{}, 0, err
	}
	jd, err := f.get(ctx, doc.JWKSURI, acceptJWKSet, ErrBadKeys)
	if err != nil {
		return keySet{}, 0, err
	}
	ks, err := parseJWKS(jd)
	if err != nil {
		return keySet{}, 0, err
	}
	return ks, f.ttl(dd, jd), nil
}

func (e *entry) copyKeys() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: slices.Clone(e.keys.Keys)}
}

func hasKid(set jose.JSONWebKeySet, kid string) bool {
	return slices.ContainsFunc(set.Keys, func(k jose.JSONWebKey) bool { return k.KeyID == kid })
}

// kids returns the sorted key IDs of set.
func kids(set jose.JSONWebKeySet) []string {
	ids := make([]string, 0, len(set.Keys))
	for _, k := range set.Keys {
		ids = append(ids, k.KeyID)
	}
	slices.Sort(ids)
	return ids
}
