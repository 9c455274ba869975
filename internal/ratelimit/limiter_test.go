package ratelimit

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a manual clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newLimiter(t *testing.T, r Rate, maxKeys int, c *clock) *Limiter {
	t.Helper()
	l, err := NewLimiter(r, maxKeys, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLimiter_Take(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		rate      Rate
		takes     int           // at once
		advance   time.Duration // then
		thenTakes int
		wantOK    int // of all takes
		wantWait  time.Duration
	}{
		{name: "burst then refused", rate: Rate{PerSecond: 2, Burst: 3}, takes: 5, wantOK: 3, wantWait: 500 * time.Millisecond},
		{name: "default burst is twice the rate", rate: Rate{PerSecond: 2}, takes: 6, wantOK: 4, wantWait: 500 * time.Millisecond},
		{name: "default burst is at least one", rate: Rate{PerSecond: 0.1}, takes: 2, wantOK: 1, wantWait: 10 * time.Second},
		{name: "refills at the rate", rate: Rate{PerSecond: 2, Burst: 3}, takes: 3, advance: time.Second, thenTakes: 3, wantOK: 5, wantWait: 500 * time.Millisecond},
		{name: "refills no more than the burst", rate: Rate{PerSecond: 2, Burst: 3}, takes: 3, advance: time.Hour, thenTakes: 4, wantOK: 6, wantWait: 500 * time.Millisecond},
		{name: "partial refill shortens the wait", rate: Rate{PerSecond: 1, Burst: 1}, takes: 1, advance: 300 * time.Millisecond, thenTakes: 1, wantOK: 1, wantWait: 700 * time.Millisecond},
		{name: "zero rate allows everything", rate: Rate{}, takes: 1000, wantOK: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			l := newLimiter(t, tt.rate, 0, c)
			ok, wait := 0, time.Duration(0)
			take := func(n int) {
				for range n {
					if got, w := l.Take("k"); got {
						ok++
					} else {
						wait = w
					}
				}
			}
			take(tt.takes)
			c.advance(tt.advance)
			take(tt.thenTakes)
			if ok != tt.wantOK || wait != tt.wantWait {
				t.Errorf("%d allowed, last wait %v; want %d, %v", ok, wait, tt.wantOK, tt.wantWait)
			}
		})
	}
}

func TestLimiter_KeysAreIndependent(t *testing.T) {
	t.Parallel()
	l := newLimiter(t, Rate{PerSecond: 1, Burst: 1}, 0, newClock())
	if ok, _ := l.Take("a"); !ok {
		t.Fatal("first take of a refused")
	}
	if ok, _ := l.Take("a"); ok {
		t.Fatal("second take of a allowed")
	}
	if ok, _ := l.Take("b"); !ok {
		t.Fatal("b is throttled by a's use")
	}
}

func TestLimiter_WaitAndCharge(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := newLimiter(t, Rate{PerSecond: 1, Burst: 2}, 0, c)
	for range 10 {
		if w := l.Wait("k"); w != 0 {
			t.Fatalf("Wait spent a token: wait %v", w)
		}
	}
	if l.Len() != 0 {
		t.Errorf("Wait on an unknown key created a bucket: %d keys", l.Len())
	}
	l.Charge("k")
	l.Charge("k")
	if w := l.Wait("k"); w != time.Second {
		t.Errorf("after spending the burst, wait %v, want 1s", w)
	}
	// Concurrent requests that passed Wait overdraw, down to one bucket of
	// debt, never further.
	for range 100 {
		l.Charge("k")
	}
	if w := l.Wait("k"); w != 3*time.Second {
		t.Errorf("after overdrawing, wait %v, want 3s (a bucket of debt)", w)
	}
	c.advance(3 * time.Second)
	if w := l.Wait("k"); w != 0 {
		t.Errorf("after the debt is repaid, wait %v", w)
	}
}

func TestLimiter_EvictsIdleKeys(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := newLimiter(t, Rate{PerSecond: 10, Burst: 10}, 0, c)
	for i := range 1000 {
		l.Take(fmt.Sprint("idle", i))
	}
	if l.Len() != 1000 {
		t.Fatalf("tracks %d keys, want 1000", l.Len())
	}
	// A throttled key stays even though it is the least recently used.
	for range 10 {
		l.Take("busy")
	}
	c.advance(500 * time.Millisecond) // every idle bucket is full again: equal to absent
	l.Take("new")
	if got := l.Len(); got != 2 {
		t.Errorf("after the idle keys refilled, tracks %d keys, want 2 (busy and new)", got)
	}
}

func TestLimiter_BoundsKeys(t *testing.T) {
	t.Parallel()
	c := newClock()
	const maxKeys = 100
	l := newLimiter(t, Rate{PerSecond: 1, Burst: 1}, maxKeys, c)
	for i := range 10 * maxKeys {
		l.Take(fmt.Sprint("flood", i))
		if l.Len() > maxKeys {
			t.Fatalf("tracks %d keys, more than %d", l.Len(), maxKeys)
		}
	}
	// The most recently used keys are the ones kept.
	if ok, _ := l.Take(fmt.Sprint("flood", 10*maxKeys-1)); ok {
		t.Error("the newest key was evicted and its spent token forgotten")
	}
}

func TestLimiter_ConcurrentTakesNeverExceedTheBurst(t *testing.T) {
	t.Parallel()
	l := newLimiter(t, Rate{PerSecond: 1, Burst: 50}, 0, newClock())
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if got, _ := l.Take("k"); got {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != 50 {
		t.Errorf("%d takes allowed on a frozen clock, want the burst of 50", ok.Load())
	}
}

func TestNewLimiter_RefusesInvalidRates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rate    Rate
		maxKeys int
	}{
		{name: "negative rate", rate: Rate{PerSecond: -1}},
		{name: "NaN rate", rate: Rate{PerSecond: math.NaN()}},
		{name: "infinite rate", rate: Rate{PerSecond: math.Inf(1)}},
		{name: "negative burst", rate: Rate{PerSecond: 1, Burst: -1}},
		{name: "negative max keys", rate: Rate{PerSecond: 1}, maxKeys: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewLimiter(tt.rate, tt.maxKeys, nil); err == nil {
				t.Errorf("NewLimiter(%+v, %d) accepted", tt.rate, tt.maxKeys)
			}
		})
	}
}
