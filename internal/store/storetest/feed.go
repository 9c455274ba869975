package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/store"
)

// FeedStore is a backend with a change feed.
type FeedStore interface {
	store.Store
	store.Feed
	PruneChanges(ctx context.Context, olderThan time.Duration) error
}

// RunFeed runs the change-feed part of the suite. newStore must return an
// empty store for each call.
func RunFeed(t *testing.T, newStore func(t *testing.T) FeedStore) {
	t.Run("FeedRecordsWritesInOrder", func(t *testing.T) { t.Parallel(); testFeedOrder(t, newStore(t)) })
	t.Run("FeedSkipsRolledBack", func(t *testing.T) { t.Parallel(); testFeedRollback(t, newStore(t)) })
	t.Run("FeedGaplessUnderConcurrency", func(t *testing.T) { t.Parallel(); testFeedConcurrent(t, newStore(t)) })
	t.Run("FeedSnapshot", func(t *testing.T) { t.Parallel(); testFeedSnapshot(t, newStore(t)) })
	t.Run("FeedPrune", func(t *testing.T) { t.Parallel(); testFeedPrune(t, newStore(t)) })
	t.Run("FeedLeavesOutUnmirroredKinds", func(t *testing.T) { t.Parallel(); testFeedUnmirrored(t, newStore(t)) })
}

// testFeedUnmirrored: audit events are stored and readable in a transaction,
// but neither recorded in the feed nor part of a snapshot.
func testFeedUnmirrored(t *testing.T, s FeedStore) {
	ctx := context.Background()
	ev := store.AuditEvent{TenantID: "t", ID: "2026-11-29T00:00:00.000000000Z-01"}
	update(t, s, func(tx store.Tx) error {
		if err := store.Create(ctx, tx, ev); err != nil {
			return err
		}
		return store.Create(ctx, tx, store.Tenant{ID: "t"})
	})
	update(t, s, func(tx store.Tx) error { return store.Delete[store.AuditEvent](ctx, tx, ev.Key()) })
	update(t, s, func(tx store.Tx) error { return store.Put(ctx, tx, ev) })
	changes, err := s.ChangesSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Kind != store.KindTenant {
		t.Fatalf("feed = %+v, want only the tenant's creation", changes)
	}
	seq, recs, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if seq != changes[0].Seq || len(recs) != 1 || recs[0].Kind != store.KindTenant {
		t.Fatalf("snapshot = seq %d, %+v; want the tenant only at seq %d", seq, recs, changes[0].Seq)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		_, err := store.Get[store.AuditEvent](ctx, tx, ev.Key())
		return err
	})
	if err != nil {
		t.Fatalf("audit event not readable from the backend: %v", err)
	}
}

func testFeedOrder(t *testing.T, s FeedStore) {
	ctx := context.Background()
	id := store.Identity{SubscriptionID: "s", ResourceGroup: "g", Name: "i", ClientID: "c"}
	update(t, s, func(tx store.Tx) error {
		if err := store.Create(ctx, tx, store.Tenant{ID: "t"}); err != nil {
			return err
		}
		return store.Create(ctx, tx, id)
	})
	update(t, s, func(tx store.Tx) error { return store.Delete[store.Tenant](ctx, tx, "t") })
	all, err := s.ChangesSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("%d changes, want 3", len(all))
	}
	want := []struct {
		kind    store.Kind
		key     string
		alt     string
		deleted bool
	}{
		{store.KindTenant, "t", "", false},
		{store.KindIdentity, id.Key(), "c", false},
		{store.KindTenant, "t", "", true},
	}
	for i, w := range want {
		c := all[i]
		if c.Seq != all[0].Seq+int64(i) || c.Kind != w.kind || c.Key != w.key || c.AltKey != w.alt || c.Deleted != w.deleted {
			t.Errorf("change %d = %+v, want %+v", i, c, w)
		}
		if w.deleted != (c.Data == nil) {
			t.Errorf("change %d data presence wrong: %q", i, c.Data)
		}
	}
	page, err := s.ChangesSince(ctx, all[0].Seq, 1)
	if err != nil || len(page) != 1 || page[0].Seq != all[1].Seq {
		t.Fatalf("ChangesSince(after first, limit 1) = %+v, %v", page, err)
	}
}

func testFeedRollback(t *testing.T, s FeedStore) {
	ctx := context.Background()
	_ = s.Update(ctx, func(tx store.Tx) error {
		if err := store.Create(ctx, tx, store.Tenant{ID: "x"}); err != nil {
			return err
		}
		return errors.New("abort")
	})
	changes, err := s.ChangesSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 {
		t.Fatalf("a rolled-back write left %d changes", len(changes))
	}
}

func testFeedConcurrent(t *testing.T, s FeedStore) {
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Update(ctx, func(tx store.Tx) error {
				return store.Create(ctx, tx, store.Tenant{ID: fmt.Sprint("t", i)})
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	changes, err := s.ChangesSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != n {
		t.Fatalf("%d changes, want %d", len(changes), n)
	}
	for i := 1; i < len(changes); i++ {
		if changes[i].Seq != changes[i-1].Seq+1 {
			t.Fatalf("gap in sequence: %d then %d", changes[i-1].Seq, changes[i].Seq)
		}
	}
}

func testFeedSnapshot(t *testing.T, s FeedStore) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		for _, o := range objects() {
			if err := store.Create(ctx, tx, o); err != nil {
				return err
			}
		}
		return nil
	})
	seq, recs, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := s.ChangesSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if seq != changes[len(changes)-1].Seq {
		t.Fatalf("snapshot seq %d, want the last change %d", seq, changes[len(changes)-1].Seq)
	}
	mirrored := 0
	for _, o := range objects() {
		if store.Mirrored(o.Kind()) {
			mirrored++
		}
	}
	if len(recs) != mirrored {
		t.Fatalf("snapshot has %d records, want the %d mirrored objects", len(recs), mirrored)
	}
}

func testFeedPrune(t *testing.T, s FeedStore) {
	ctx := context.Background()
	for i := range 3 {
		update(t, s, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: fmt.Sprint(i)}) })
	}
	all, _ := s.ChangesSince(ctx, 0, 0)
	last := all[len(all)-1].Seq
	if err := s.PruneChanges(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ChangesSince(ctx, 0, 0); err != nil || len(got) != 3 {
		t.Fatalf("pruning recent changes removed them: %d, %v", len(got), err)
	}
	if err := s.PruneChanges(ctx, -time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangesSince(ctx, 0, 0); !errors.Is(err, store.ErrFeedTruncated) {
		t.Fatalf("reading pruned changes: err = %v, want ErrFeedTruncated", err)
	}
	if got, err := s.ChangesSince(ctx, last-1, 0); err != nil || len(got) != 1 || got[0].Seq != last {
		t.Fatalf("the newest change must survive pruning: %+v, %v", got, err)
	}
	if got, err := s.ChangesSince(ctx, last, 0); err != nil || len(got) != 0 {
		t.Fatalf("ChangesSince(last) = %+v, %v", got, err)
	}
}
