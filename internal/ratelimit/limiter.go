// Package ratelimit bounds how fast callers may use the server. A Limiter is
// a set of token buckets, one per key, with bounded memory: buckets that
// have refilled are dropped, and beyond MaxKeys the least recently used one
// is. Middleware applies two limiters to HTTP requests, one keyed by source
// address and one by client, and answers a throttled request with 429, a
// Retry-After header and the error body of the API it was sent to (Entra's
// on the token service, ARM's on the management API, Key Vault's on the
// vaults).
package ratelimit

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys is how many keys a Limiter tracks when Config.MaxKeys is
// zero: about 200 bytes each, so some 13 MiB at most.
const DefaultMaxKeys = 1 << 16

// Rate is a token bucket's refill rate and size.
type Rate struct {
	// PerSecond is how many tokens the bucket gains per second. Zero
	// disables the limit.
	PerSecond float64
	// Burst is the bucket's size: how many requests may come at once after
	// a quiet period. Zero means twice PerSecond, and at least one.
	Burst int
}

// Enabled reports whether r limits anything.
func (r Rate) Enabled() bool { return r.PerSecond > 0 }

// validate rejects rates that cannot be a bucket's.
func (r Rate) validate() error {
	switch {
	case math.IsNaN(r.PerSecond) || math.IsInf(r.PerSecond, 0) || r.PerSecond < 0:
		return fmt.Errorf("rate %v per second must be a finite number, zero or more", r.PerSecond)
	case r.Burst < 0:
		return fmt.Errorf("burst %d must not be negative", r.Burst)
	}
	return nil
}

// burst is the bucket size, with the default applied.
func (r Rate) burst() float64 {
	if r.Burst > 0 {
		return float64(r.Burst)
	}
	return math.Max(1, math.Ceil(2*r.PerSecond))
}

// Limiter is a set of token buckets keyed by string. It is safe for
// concurrent use. A Limiter whose rate is zero allows everything and keeps
// nothing.
type Limiter struct {
	rate    float64
	burst   float64
	maxKeys int
	now     func() time.Time

	mu      sync.Mutex
	lru     *list.List               // of *bucket, the most recently used at the front
	buckets map[string]*list.Element // key → element of lru
}

// bucket is one key's tokens as of at.
type bucket struct {
	key    string
	tokens float64
	at     time.Time
}

// NewLimiter returns a Limiter of rate r tracking at most maxKeys keys
// (DefaultMaxKeys when zero), on the clock now (time.Now when nil).
func NewLimiter(r Rate, maxKeys int, now func() time.Time) (*Limiter, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	if maxKeys < 0 {
		return nil, errors.New("max keys must not be negative")
	}
	if maxKeys == 0 {
		maxKeys = DefaultMaxKeys
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		rate: r.PerSecond, burst: r.burst(), maxKeys: maxKeys, now: now,
		lru: list.New(), buckets: map[string]*list.Element{},
	}, nil
}

// Take spends one of key's tokens. When there is none it spends nothing
// and returns false with how long until there is one.
func (l *Limiter) Take(key string) (bool, time.Duration) {
	if l.rate <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.touch(key)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, l.wait(b)
}

// Wait returns how long until key has a token, zero when it has one now. It
// spends nothing: Charge does, once the request turned out to count.
func (l *Limiter) Wait(key string) time.Duration {
	if l.rate <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.buckets[key]
	if !ok {
		return 0 // an absent bucket is a full one
	}
	b := e.Value.(*bucket)
	l.refill(b, l.now())
	if b.tokens >= 1 {
		return 0
	}
	return l.wait(b)
}

// Charge spends one of key's tokens after the fact. Requests that passed
// Wait together may overdraw the bucket; the debt is capped at one bucket,
// so a key is never locked out for longer than twice the time to refill.
func (l *Limiter) Charge(key string) {
	if l.rate <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.touch(key)
	b.tokens = math.Max(b.tokens-1, -l.burst)
}

// Len returns how many keys the Limiter tracks.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// touch returns key's bucket, refilled to now and moved to the front of
// the LRU list, creating it full when absent, and evicts buckets that are
// idle (full again, so equal to absent ones) or beyond maxKeys from the
// back of the list. l.mu is held.
func (l *Limiter) touch(key string) *bucket {
	now := l.now()
	var b *bucket
	if e, ok := l.buckets[key]; ok {
		b = e.Value.(*bucket)
		l.refill(b, now)
		l.lru.MoveToFront(e)
	} else {
		b = &bucket{key: key, tokens: l.burst, at: now}
		l.buckets[key] = l.lru.PushFront(b)
	}
	for {
		back := l.lru.Back()
		if back == nil || back.Value.(*bucket) == b {
			break
		}
		old := back.Value.(*bucket)
		if len(l.buckets) <= l.maxKeys {
			l.refill(old, now)
			if old.tokens < l.burst {
				break
			}
		}
		l.lru.Remove(back)
		delete(l.buckets, old.key)
	}
	return b
}

// refill adds the tokens b earned since b.at, up to the burst.
func (l *Limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.at = now
	}
}

// wait is how long until b holds one token.
func (l *Limiter) wait(b *bucket) time.Duration {
	return time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))
}
