package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/postgres"
)

// listen runs s.Listen until the test ends and returns the notifications and
// Listen's result.
func listen(t *testing.T, ctx context.Context, s *postgres.Store) (<-chan int64, <-chan error) {
	t.Helper()
	seqs := make(chan int64, 100)
	done := make(chan error, 1)
	finished := make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(finished)
		done <- s.Listen(ctx, func(seq int64) { seqs <- seq })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("Listen did not return after its context was cancelled")
		}
	})
	return seqs, done
}

func TestListen_NotifiesCommits(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	other, _ := newStore(t) // another schema in the same database
	ctx := context.Background()
	seqs, _ := listen(t, ctx, s)
	if got := within(t, seqs, 10*time.Second, "first connection"); got != -1 {
		t.Fatalf("first notification = %d, want -1 (re-read the feed)", got)
	}
	write := func(s *postgres.Store, fn func(tx store.Tx) error) error { return s.Update(ctx, fn) }

	if err := write(s, func(tx store.Tx) error { return tx.Insert(ctx, rec("a", "", `{}`)) }); err != nil {
		t.Fatal(err)
	}
	if got := within(t, seqs, 10*time.Second, "after a commit"); got != 1 {
		t.Fatalf("notification = %d, want 1", got)
	}
	// Nothing to announce: a transaction that changed nothing, one that
	// rolled back, and a write in another schema.
	if err := write(s, func(tx store.Tx) error { return tx.Upsert(ctx, rec("a", "", `{}`)) }); err != nil {
		t.Fatal(err)
	}
	if err := write(s, func(tx store.Tx) error {
		if err := tx.Insert(ctx, rec("b", "", `{}`)); err != nil {
			return err
		}
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	if err := write(other, func(tx store.Tx) error { return tx.Insert(ctx, rec("x", "", `{}`)) }); err != nil {
		t.Fatal(err)
	}
	// One transaction with three writes is announced once, with its last
	// sequence number.
	if err := write(s, func(tx store.Tx) error {
		for _, k := range []string{"c", "d", "e"} {
			if err := tx.Insert(ctx, rec(k, "", `{}`)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := within(t, seqs, 10*time.Second, "after a three-write commit"); got != 4 {
		t.Fatalf("notification = %d, want 4 (nothing for the no-op, the rollback, or the other schema)", got)
	}
	nothingFor(t, seqs, 100*time.Millisecond, "after the last commit")
}

func TestListen_ReconnectsAfterTermination(t *testing.T) {
	t.Parallel()
	s, d := newStore(t)
	ctx := context.Background()
	seqs, _ := listen(t, ctx, s)
	if got := within(t, seqs, 10*time.Second, "first connection"); got != -1 {
		t.Fatalf("first notification = %d, want -1", got)
	}
	for round := range 2 {
		if n := d.terminate(t, "LISTEN%"); n != 1 {
			t.Fatalf("round %d: terminated %d listener connections, want 1", round, n)
		}
		if got := within(t, seqs, 15*time.Second, "after the connection was terminated"); got != -1 {
			t.Fatalf("round %d: notification after reconnecting = %d, want -1", round, got)
		}
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Upsert(ctx, rec("a", "", fmt.Sprintf(`{"round":%d}`, round))) }); err != nil {
			t.Fatal(err)
		}
		if got := within(t, seqs, 10*time.Second, "commit after reconnecting"); got != int64(round+1) {
			t.Fatalf("round %d: notification = %d, want %d", round, got, round+1)
		}
	}
}

func TestListen_Stops(t *testing.T) {
	t.Parallel()
	t.Run("context cancelled", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		ctx, cancel := context.WithCancel(context.Background())
		seqs, done := listen(t, ctx, s)
		within(t, seqs, 10*time.Second, "first connection")
		cancel()
		if err := within(t, done, 10*time.Second, "Listen returning"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Listen = %v, want context.Canceled", err)
		}
	})
	t.Run("store closed", func(t *testing.T) {
		t.Parallel()
		s, _ := newStore(t)
		seqs, done := listen(t, context.Background(), s)
		within(t, seqs, 10*time.Second, "first connection")
		s.Close()
		if err := within(t, done, 10*time.Second, "Listen returning"); err != nil {
			t.Fatalf("Listen after Close = %v, want nil", err)
		}
	})
	t.Run("server unreachable", func(t *testing.T) {
		t.Parallel()
		d := newTestDB(t, true)
		p, viaProxy := newProxy(t, d.url)
		d.url = viaProxy
		s := d.open(t, postgres.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		seqs, done := listen(t, ctx, s)
		within(t, seqs, 10*time.Second, "first connection")
		p.Close()
		// Listen keeps retrying (no -1 without a connection) until stopped.
		nothingFor(t, seqs, 300*time.Millisecond, "with the server gone")
		select {
		case err := <-done:
			t.Fatalf("Listen returned %v with the server gone; want it to keep retrying", err)
		default:
		}
		cancel()
		if err := within(t, done, 10*time.Second, "Listen returning"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Listen = %v, want context.Canceled", err)
		}
	})
}
