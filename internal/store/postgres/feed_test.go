package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/postgres"
)

func rec(key, alt, data string) store.Record {
	return store.Record{Kind: "k", Key: key, AltKey: alt, Data: []byte(data)}
}

func TestFeed_RecordsCommittedChangesInOrder(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	steps := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{name: "insert two", fn: func(tx store.Tx) error {
			if err := tx.Insert(ctx, rec("a", "alt-a", `{"v":1}`)); err != nil {
				return err
			}
			return tx.Insert(ctx, rec("b", "", `{"v":1}`))
		}},
		{name: "upsert a changed", fn: func(tx store.Tx) error { return tx.Upsert(ctx, rec("a", "alt-a2", `{"v":2}`)) }},
		{name: "upsert a unchanged", fn: func(tx store.Tx) error { return tx.Upsert(ctx, rec("a", "alt-a2", `{"v":2}`)) }},
		{name: "failed conflicting insert", fn: func(tx store.Tx) error {
			if err := tx.Insert(ctx, rec("a", "", `{}`)); !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("insert of taken key: %v", err)
			}
			return nil
		}},
		{name: "failed delete", fn: func(tx store.Tx) error {
			if err := tx.Delete(ctx, "k", "missing"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("delete of missing key: %v", err)
			}
			return nil
		}},
		{name: "delete a", fn: func(tx store.Tx) error { return tx.Delete(ctx, "k", "a") }},
		{name: "upsert new c", fn: func(tx store.Tx) error { return tx.Upsert(ctx, rec("c", "", `{"v":3}`)) }},
	}
	for _, st := range steps {
		if err := s.Update(ctx, st.fn); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	// A rolled-back transaction leaves no change and no gap.
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Insert(ctx, rec("d", "", `{}`)); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("rolled-back update: %v", err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, rec("e", "", `{}`)) }); err != nil {
		t.Fatal(err)
	}

	want := []store.Change{
		{Seq: 1, Kind: "k", Key: "a", AltKey: "alt-a", Data: []byte(`{"v":1}`)},
		{Seq: 2, Kind: "k", Key: "b", Data: []byte(`{"v":1}`)},
		{Seq: 3, Kind: "k", Key: "a", AltKey: "alt-a2", Data: []byte(`{"v":2}`)},
		{Seq: 4, Kind: "k", Key: "a", AltKey: "alt-a2", Deleted: true},
		{Seq: 5, Kind: "k", Key: "c", Data: []byte(`{"v":3}`)},
		{Seq: 6, Kind: "k", Key: "e", Data: []byte(`{}`)},
	}
	tests := []struct {
		name  string
		after int64
		limit int
		want  []store.Change
	}{
		{name: "everything", after: 0, limit: 0, want: want},
		{name: "after a sequence number", after: 3, limit: 0, want: want[3:]},
		{name: "limited", after: 1, limit: 2, want: want[1:3]},
		{name: "nothing newer", after: 6, limit: 10, want: nil},
		{name: "after the end", after: 99, limit: 0, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ChangesSince(ctx, tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ChangesSince(%d, %d) =\n%+v\nwant\n%+v", tt.after, tt.limit, got, tt.want)
			}
		})
	}

	seq, err := s.CurrentSeq(ctx)
	if err != nil || seq != 6 {
		t.Fatalf("CurrentSeq = %d, %v; want 6", seq, err)
	}
	seq, recs, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantRecs := []store.Record{rec("b", "", `{"v":1}`), rec("c", "", `{"v":3}`), rec("e", "", `{}`)}
	if seq != 6 || !reflect.DeepEqual(recs, wantRecs) {
		t.Fatalf("Snapshot = %d, %+v; want 6, %+v", seq, recs, wantRecs)
	}
}

func TestFeed_ConcurrentWritersGetGaplessTotalOrder(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	const writers, each = 6, 8
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				err := s.Update(ctx, func(tx store.Tx) error {
					return tx.Insert(ctx, rec(fmt.Sprintf("w%d-%d", w, i), "", `{}`))
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	// Read the feed while it grows: what a reader sees is always a gapless
	// prefix.
	var seen []store.Change
	for len(seen) < writers*each {
		after := int64(len(seen))
		got, err := s.ChangesSince(ctx, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range got {
			if c.Seq != after+int64(i)+1 {
				t.Fatalf("after %d the feed returned seq %d at position %d", after, c.Seq, i)
			}
		}
		seen = append(seen, got...)
		if t.Failed() {
			break
		}
	}
	wg.Wait()
	keys := map[string]bool{}
	for _, c := range seen {
		keys[c.Key] = true
	}
	if len(keys) != writers*each {
		t.Fatalf("feed names %d distinct keys, want %d", len(keys), writers*each)
	}
}

func TestFeed_Pruning(t *testing.T) {
	t.Parallel()
	d := newTestDB(t, true)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{now: t0}
	s := d.open(t, postgres.Options{Now: clk.Now})
	ctx := context.Background()
	for i, at := range []time.Time{t0, t0.Add(time.Hour), t0.Add(2 * time.Hour)} {
		clk.Set(at)
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, rec(fmt.Sprint(i), "", `{}`)) }); err != nil {
			t.Fatal(err)
		}
	}
	var committed time.Time
	d.queryRow(t, []any{&committed}, `SELECT committed_at FROM changes WHERE seq = 2`)
	if !committed.Equal(t0.Add(time.Hour)) {
		t.Fatalf("change 2 committed_at = %v, want the store clock's %v", committed, t0.Add(time.Hour))
	}

	// Nothing is old enough yet.
	clk.Set(t0.Add(2 * time.Hour))
	if err := s.PruneChanges(ctx, 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ChangesSince(ctx, 0, 0); err != nil || len(got) != 3 {
		t.Fatalf("after pruning nothing: %d changes, %v; want 3", len(got), err)
	}
	// Changes 1 and 2 are older than 30 minutes.
	if err := s.PruneChanges(ctx, 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, after := range []int64{0, 1} {
		if _, err := s.ChangesSince(ctx, after, 0); !errors.Is(err, store.ErrFeedTruncated) {
			t.Errorf("ChangesSince(%d) after pruning through 2 = %v, want ErrFeedTruncated", after, err)
		}
	}
	got, err := s.ChangesSince(ctx, 2, 0)
	if err != nil || len(got) != 1 || got[0].Seq != 3 {
		t.Fatalf("ChangesSince(2) = %+v, %v; want change 3", got, err)
	}
	// Everything is old now, but the newest change is kept.
	clk.Set(t0.Add(48 * time.Hour))
	if err := s.PruneChanges(ctx, 0); err != nil {
		t.Fatal(err)
	}
	got, err = s.ChangesSince(ctx, 2, 0)
	if err != nil || len(got) != 1 || got[0].Seq != 3 {
		t.Fatalf("after pruning everything ChangesSince(2) = %+v, %v; want the newest change kept", got, err)
	}
	// The counter continues; a snapshot still reflects everything.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, rec("later", "", `{}`)) }); err != nil {
		t.Fatal(err)
	}
	seq, recs, err := s.Snapshot(ctx)
	if err != nil || seq != 4 || len(recs) != 4 {
		t.Fatalf("Snapshot = %d, %d records, %v; want 4, 4", seq, len(recs), err)
	}
}

func TestFeed_EmptyStore(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	got, err := s.ChangesSince(ctx, 0, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("ChangesSince on an empty store = %v, %v", got, err)
	}
	if err := s.PruneChanges(ctx, 0); err != nil {
		t.Fatalf("PruneChanges on an empty store: %v", err)
	}
	seq, recs, err := s.Snapshot(ctx)
	if err != nil || seq != 0 || len(recs) != 0 {
		t.Fatalf("Snapshot of an empty store = %d, %v, %v", seq, recs, err)
	}
}
