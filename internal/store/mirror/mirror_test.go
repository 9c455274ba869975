package mirror_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/mirror"
	"github.com/fedcred/fedcred/internal/store/sqlite"
	"github.com/fedcred/fedcred/internal/store/storetest"
)

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The mirror is a store.Store like any other: it passes the conformance suite.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		m, err := mirror.New(context.Background(), mirror.Config{Backend: openSQLite(t)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

func tenantExists(t *testing.T, s store.Store, id string) bool {
	t.Helper()
	err := s.View(context.Background(), func(tx store.Tx) error {
		_, err := store.Get[store.Tenant](context.Background(), tx, id)
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestSeesOtherWritersAfterNotify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := openSQLite(t)
	m, err := mirror.New(ctx, mirror.Config{Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	// A write that bypasses the mirror (another replica) is not visible...
	if err := backend.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: "x"}) }); err != nil {
		t.Fatal(err)
	}
	if tenantExists(t, m, "x") {
		t.Fatal("mirror read the database instead of memory")
	}
	// ...until the mirror is told and catches up.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go m.Run(rctx)
	m.Notify(-1)
	deadline := time.Now().Add(5 * time.Second)
	for !tenantExists(t, m, "x") {
		if time.Now().After(deadline) {
			t.Fatal("mirror never applied the notified change")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Deletes apply too, and alternate keys follow their object.
	if err := backend.Update(ctx, func(tx store.Tx) error {
		if err := store.Delete[store.Tenant](ctx, tx, "x"); err != nil {
			return err
		}
		return store.Create(ctx, tx, store.Identity{SubscriptionID: "s", ResourceGroup: "g", Name: "i", ClientID: "c1"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.Update(ctx, func(tx store.Tx) error {
		return store.Put(ctx, tx, store.Identity{SubscriptionID: "s", ResourceGroup: "g", Name: "i", ClientID: "c2"})
	}); err != nil {
		t.Fatal(err)
	}
	if tenantExists(t, m, "x") {
		t.Fatal("deleted object still visible after the mirror's own write caught up")
	}
	err = m.View(ctx, func(tx store.Tx) error {
		if _, err := store.GetByAlt[store.Identity](ctx, tx, "c1"); !errors.Is(err, store.ErrNotFound) {
			return errors.New("stale alternate key still resolves")
		}
		_, err := store.GetByAlt[store.Identity](ctx, tx, "c2")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestResyncAfterTruncatedFeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend := openSQLite(t)
	m, err := mirror.New(ctx, mirror.Config{Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		if err := backend.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: id}) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := backend.PruneChanges(ctx, -time.Hour); err != nil {
		t.Fatal(err)
	}
	// The mirror's next write finds the feed truncated and reloads.
	if err := m.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: "d"}) }); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		if !tenantExists(t, m, id) {
			t.Fatalf("tenant %s missing after resynchronization", id)
		}
	}
}

// fakeCoordinator scripts the coordinator's answers.
type fakeCoordinator struct {
	mu        sync.Mutex
	fenced    bool
	down      bool
	unfenceOK bool
	awaited   []int64
}

func (f *fakeCoordinator) Heartbeat(ctx context.Context, id string, applied int64, lease time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return false, store.ErrUnavailable
	}
	return f.fenced, nil
}

func (f *fakeCoordinator) Unfence(ctx context.Context, id string, applied int64, lease time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return false, store.ErrUnavailable
	}
	if f.unfenceOK {
		f.fenced = false
	}
	return f.unfenceOK, nil
}

func (f *fakeCoordinator) AwaitApplied(ctx context.Context, seq int64, wait, stale time.Duration) ([]string, error) {
	f.mu.Lock()
	f.awaited = append(f.awaited, seq)
	f.mu.Unlock()
	return nil, nil
}

func (f *fakeCoordinator) Deregister(context.Context, string) error { return nil }

func (f *fakeCoordinator) Listen(ctx context.Context, notify func(int64)) error {
	<-ctx.Done()
	return nil
}

func (f *fakeCoordinator) set(fn func(f *fakeCoordinator)) { f.mu.Lock(); fn(f); f.mu.Unlock() }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFencingAndDatabaseLoss(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	coord := &fakeCoordinator{fenced: true}
	m, err := mirror.New(ctx, mirror.Config{
		Backend: openSQLite(t), Coordinator: coord,
		Lease: 150 * time.Millisecond, MaxStale: 400 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.View(ctx, func(store.Tx) error { return nil }); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a replica that has not registered served reads: %v", err)
	}
	go m.Run(ctx)
	time.Sleep(100 * time.Millisecond)
	if m.Serving() {
		t.Fatal("served while the coordinator refused to unfence")
	}
	coord.set(func(f *fakeCoordinator) { f.unfenceOK = true })
	waitFor(t, "the replica serves after unfencing", m.Serving)

	// A write waits for the other replicas.
	if err := m.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: "t"}) }); err != nil {
		t.Fatal(err)
	}
	coord.mu.Lock()
	awaited := append([]int64(nil), coord.awaited...)
	coord.mu.Unlock()
	if len(awaited) != 1 || awaited[0] != m.Seq() {
		t.Fatalf("AwaitApplied calls = %v, want one for seq %d", awaited, m.Seq())
	}

	// Fenced by a writer: stops serving until it unfences again.
	coord.set(func(f *fakeCoordinator) { f.fenced, f.unfenceOK = true, false })
	waitFor(t, "a fenced replica stops serving", func() bool { return !m.Serving() })
	coord.set(func(f *fakeCoordinator) { f.unfenceOK = true })
	waitFor(t, "the replica serves again", m.Serving)

	// Database lost: keeps serving from memory, but only for MaxStale.
	coord.set(func(f *fakeCoordinator) { f.down = true })
	time.Sleep(250 * time.Millisecond) // past the lease
	if !m.Serving() || !tenantExists(t, m, "t") {
		t.Fatal("stopped serving from memory as soon as the database was lost")
	}
	waitFor(t, "serving stops after MaxStale", func() bool { return !m.Serving() })
	coord.set(func(f *fakeCoordinator) { f.down = false })
	waitFor(t, "serving resumes when the database returns", m.Serving)
}

// flakyFeed fails ChangesSince while broken is set.
type flakyFeed struct {
	*sqlite.Store
	mu     sync.Mutex
	broken bool
}

func (f *flakyFeed) ChangesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	f.mu.Lock()
	broken := f.broken
	f.mu.Unlock()
	if broken {
		return nil, store.ErrUnavailable
	}
	return f.Store.ChangesSince(ctx, after, limit)
}

// A write that commits but cannot be applied to memory leaves the mirror
// refusing reads (it would answer without its own write) until it catches up.
func TestUnappliedWriteStopsServing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := &flakyFeed{Store: openSQLite(t)}
	m, err := mirror.New(ctx, mirror.Config{Backend: f})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.broken = true
	f.mu.Unlock()
	err = m.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: "t"}) })
	if err == nil {
		t.Fatal("Update reported success though the write is not in memory")
	}
	if err := m.View(ctx, func(store.Tx) error { return nil }); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("View while missing its own write = %v, want ErrUnavailable", err)
	}
	f.mu.Lock()
	f.broken = false
	f.mu.Unlock()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go m.Run(rctx)
	waitFor(t, "the mirror catches up and serves", m.Serving)
	if !tenantExists(t, m, "t") {
		t.Fatal("the committed write is missing after catching up")
	}
}
