package audit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/audit"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

const (
	tenantA = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tenantB = "11111111-2222-4333-8444-555555555555"
)

var t0 = time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)

// openStore opens a real SQLite store in a temporary directory.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gatedStore is a real store whose Updates can be held at a gate, made to
// fail, and counted.
type gatedStore struct {
	store.Store
	updates atomic.Int64
	fail    atomic.Int64 // the next this many Updates fail
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	entered chan struct{} // receives once per Update held at the gate
}

var errInjected = errors.New("injected store failure")

// hold makes the next Updates wait until release.
func (g *gatedStore) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
	g.entered = make(chan struct{}, 100)
}

func (g *gatedStore) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

// waitEntered waits until an Update is held at the gate.
func (g *gatedStore) waitEntered(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	entered := g.entered
	g.mu.Unlock()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no Update reached the gate")
	}
}

func (g *gatedStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	g.updates.Add(1)
	g.mu.Lock()
	gate, entered := g.gate, g.entered
	g.mu.Unlock()
	if gate != nil {
		entered <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if g.fail.Load() > 0 {
		g.fail.Add(-1)
		return errInjected
	}
	return g.Store.Update(ctx, fn)
}

// newLog builds a Log over st with a settable clock and a captured logger.
func newLog(t *testing.T, st store.Store, edit func(*audit.Config)) (*audit.Log, *clock, *syncBuffer) {
	t.Helper()
	c := &clock{now: t0}
	logs := &syncBuffer{}
	cfg := audit.Config{Store: st, Now: c.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if edit != nil {
		edit(&cfg)
	}
	l, err := audit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, c, logs
}

// run starts l's writer and returns a function that stops it and waits.
func run(t *testing.T, l *audit.Log) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stored lists every audit event in st, in key order.
func stored(t *testing.T, st store.Store) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	err := st.View(context.Background(), func(tx store.Tx) error {
		var err error
		out, err = store.List[store.AuditEvent](context.Background(), tx, "", "", 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// event is a token event of tenant at time at.
func event(tenant string, at time.Time, kind, client string) store.AuditEvent {
	return store.AuditEvent{TenantID: tenant, Time: at, EventKind: kind, ClientID: client,
		Outcome: store.AuditOutcome{Result: store.AuditSuccess, Status: 200}}
}
