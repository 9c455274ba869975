package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/postgres"
	"github.com/fedcred/fedcred/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := newStore(t)
		return s
	})
}

func TestFeedConformance(t *testing.T) {
	t.Parallel()
	storetest.RunFeed(t, func(t *testing.T) storetest.FeedStore {
		s, _ := newStore(t)
		return s
	})
}

func TestOpen_ConcurrentMigrationsOnFreshSchema(t *testing.T) {
	t.Parallel()
	d := newTestDB(t, false) // Open creates the schema
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const replicas = 5
	stores := make([]*postgres.Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(ctx, d.url, postgres.Options{Schema: d.schema}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d of %d racing: %v", i, replicas, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	files, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var recorded int
	d.queryRow(t, []any{&recorded}, `SELECT count(*) FROM schema_migrations`)
	if recorded != len(files) {
		t.Fatalf("schema_migrations has %d rows, want one per migration (%d)", recorded, len(files))
	}
	// Every store works on the one schema.
	for i, s := range stores {
		tn := store.Tenant{ID: fmt.Sprintf("t%d", i)}
		if err := s.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, tn) }); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
	// Reopening applies nothing and keeps the data.
	again := d.open(t, postgres.Options{})
	d.queryRow(t, []any{&recorded}, `SELECT count(*) FROM schema_migrations`)
	if recorded != len(files) {
		t.Fatalf("after reopen schema_migrations has %d rows, want %d", recorded, len(files))
	}
	seq, recs, err := again.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if seq != replicas || len(recs) != replicas {
		t.Fatalf("after reopen: seq %d with %d objects, want %d and %d", seq, len(recs), replicas, replicas)
	}
}

func TestOpen_SchemaFromSearchPath(t *testing.T) {
	t.Parallel()
	d := newTestDB(t, false)
	ctx := context.Background()
	s, err := postgres.Open(ctx, withParams(t, d.url, map[string]string{"search_path": d.schema + ",public"}), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: "t"}) }); err != nil {
		t.Fatal(err)
	}
	var n int
	d.queryRow(t, []any{&n}, `SELECT count(*) FROM `+d.schema+`.objects`)
	if n != 1 {
		t.Fatalf("%s.objects has %d rows, want 1", d.schema, n)
	}
}

func TestOpen_Errors(t *testing.T) {
	t.Parallel()
	base := baseURL(t)
	const password = "s3cret-pw"
	u, err := url.Parse(closedPortURL(t, base))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("postgres", password)
	tests := []struct {
		name            string
		url             string
		wantUnavailable bool
	}{
		{name: "closed port", url: u.String(), wantUnavailable: true},
		{name: "unknown host", url: "postgres://postgres:" + password + "@fedcred-no-such-host.invalid:5432/test?connect_timeout=5", wantUnavailable: true},
		{name: "malformed url", url: "postgres://postgres:" + password + "@127.0.0.1:notaport/test", wantUnavailable: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s, err := postgres.Open(ctx, tt.url, postgres.Options{Logger: log})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if got := errors.Is(err, store.ErrUnavailable); got != tt.wantUnavailable {
				t.Errorf("errors.Is(%v, ErrUnavailable) = %v, want %v", err, got, tt.wantUnavailable)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(logs.String(), password) {
				t.Errorf("password leaked: err %q, logs %q", err, logs.String())
			}
		})
	}
}

func TestOpen_LogsWithoutPassword(t *testing.T) {
	t.Parallel()
	d := newTestDB(t, true)
	const password = "s3cret-pw" // trust authentication ignores it
	u, err := url.Parse(d.url)
	if err != nil {
		t.Fatal(err)
	}
	user := "postgres"
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, password)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d.url = u.String()
	d.open(t, postgres.Options{Logger: log})
	if !strings.Contains(logs.String(), "postgres store ready") {
		t.Fatalf("no ready message in logs: %s", logs.String())
	}
	if strings.Contains(logs.String(), password) {
		t.Fatalf("logs contain the password: %s", logs.String())
	}
}

func TestUnavailable_TerminatedConnections(t *testing.T) {
	t.Parallel()
	s, d := newStore(t)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: "a"}) }); err != nil {
		t.Fatal(err)
	}

	t.Run("in an update", func(t *testing.T) {
		err := s.Update(ctx, func(tx store.Tx) error {
			if n := d.terminate(t, "%"); n == 0 {
				t.Error("no connection terminated")
			}
			return store.Create(ctx, tx, store.Tenant{ID: "b"})
		})
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Update = %v, want ErrUnavailable", err)
		}
	})
	t.Run("in a view", func(t *testing.T) {
		err := s.View(ctx, func(tx store.Tx) error {
			if n := d.terminate(t, "%"); n == 0 {
				t.Error("no connection terminated")
			}
			_, err := store.Get[store.Tenant](ctx, tx, "a")
			return err
		})
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("View = %v, want ErrUnavailable", err)
		}
	})
	t.Run("idle pool connections", func(t *testing.T) {
		if _, err := s.CurrentSeq(ctx); err != nil {
			t.Fatal(err)
		}
		if n := d.terminate(t, "%"); n == 0 {
			t.Fatal("no connection terminated")
		}
		// The pool may notice the dead connection (it pings connections
		// idle for over a second); if not, the error must say unavailable.
		if _, err := s.CurrentSeq(ctx); err != nil && !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("CurrentSeq on a terminated connection = %v, want ErrUnavailable", err)
		}
	})
	t.Run("pool recovers", func(t *testing.T) {
		err := s.View(ctx, func(tx store.Tx) error {
			_, err := store.Get[store.Tenant](ctx, tx, "a")
			return err
		})
		if err != nil {
			t.Fatalf("View after reconnect: %v", err)
		}
		var n int
		d.queryRow(t, []any{&n}, `SELECT count(*) FROM objects WHERE key = 'b'`)
		if n != 0 {
			t.Fatal("write of the failed update is visible")
		}
	})
}

func TestUnavailable_DatabaseGone(t *testing.T) {
	t.Parallel()
	d := newTestDB(t, true)
	p, viaProxy := newProxy(t, d.url)
	d.url = viaProxy
	s := d.open(t, postgres.Options{})
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: "a"}) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Heartbeat(ctx, "r1", 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	p.Close()

	tests := []struct {
		name string
		op   func(ctx context.Context) error
	}{
		{name: "View", op: func(ctx context.Context) error {
			return s.View(ctx, func(tx store.Tx) error { _, err := store.Get[store.Tenant](ctx, tx, "a"); return err })
		}},
		{name: "Update", op: func(ctx context.Context) error {
			return s.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: "b"}) })
		}},
		{name: "ChangesSince", op: func(ctx context.Context) error { _, err := s.ChangesSince(ctx, 0, 0); return err }},
		{name: "Snapshot", op: func(ctx context.Context) error { _, _, err := s.Snapshot(ctx); return err }},
		{name: "CurrentSeq", op: func(ctx context.Context) error { _, err := s.CurrentSeq(ctx); return err }},
		{name: "PruneChanges", op: func(ctx context.Context) error { return s.PruneChanges(ctx, time.Hour) }},
		{name: "Heartbeat", op: func(ctx context.Context) error { _, err := s.Heartbeat(ctx, "r1", 1, time.Minute); return err }},
		{name: "Unfence", op: func(ctx context.Context) error { _, err := s.Unfence(ctx, "r1", 1, time.Minute); return err }},
		{name: "AwaitApplied", op: func(ctx context.Context) error { _, err := s.AwaitApplied(ctx, 1, time.Second, 0); return err }},
		{name: "Deregister", op: func(ctx context.Context) error { return s.Deregister(ctx, "r1") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := tt.op(ctx); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("%s with the database gone = %v, want ErrUnavailable", tt.name, err)
			}
		})
	}
}

func TestUnavailable_DeadlineWhileConnecting(t *testing.T) {
	t.Parallel()
	// A server that accepts connections and never answers: connecting hangs
	// until the context's deadline.
	u, err := url.Parse(baseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = newHungServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s, err := postgres.Open(ctx, u.String(), postgres.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open against a server that never answers succeeded")
	}
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open against a server that never answers = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
}

func TestUpdate_ConflictKeepsTransactionUsable(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	a := store.Identity{SubscriptionID: "s", ResourceGroup: "g", Name: "a", ClientID: "c1"}
	if err := s.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, a) }); err != nil {
		t.Fatal(err)
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := store.Create(ctx, tx, a); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("duplicate key: %v, want ErrConflict", err)
		}
		b := store.Identity{SubscriptionID: "s", ResourceGroup: "g", Name: "b", ClientID: "c1"}
		if err := store.Put(ctx, tx, b); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("taken alternate key: %v, want ErrConflict", err)
		}
		b.ClientID = "c2"
		return store.Create(ctx, tx, b)
	})
	if err != nil {
		t.Fatalf("transaction after conflicts: %v", err)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		_, err := store.GetByAlt[store.Identity](ctx, tx, "c2")
		return err
	})
	if err != nil {
		t.Fatalf("write after conflicts was not committed: %v", err)
	}
}

func TestUpdate_RunsClosureOnce(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: "c"}) }); err != nil {
		t.Fatal(err)
	}
	const updates = 20
	var mu sync.Mutex
	calls := 0
	var wg sync.WaitGroup
	for range updates {
		wg.Go(func() {
			err := s.Update(ctx, func(tx store.Tx) error {
				mu.Lock()
				calls++
				mu.Unlock()
				tn, err := store.Get[store.Tenant](ctx, tx, "c")
				if err != nil {
					return err
				}
				tn.DisplayName += "x"
				return store.Put(ctx, tx, tn)
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if calls != updates {
		t.Fatalf("closures ran %d times for %d updates", calls, updates)
	}
}

func TestUpdate_CancelledContextRollsBack(t *testing.T) {
	t.Parallel()
	s, d := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := store.Create(ctx, tx, store.Tenant{ID: "x"}); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Fatal("Update with a context cancelled before commit succeeded")
	}
	if errors.Is(err, store.ErrUnavailable) {
		t.Errorf("cancellation reported as unavailability: %v", err)
	}
	var n int
	d.queryRow(t, []any{&n}, `SELECT count(*) FROM objects`)
	if n != 0 {
		t.Fatal("write of a cancelled update is visible")
	}
}

func TestView_ReadOnlyAndConsistent(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	put := func(name string) {
		t.Helper()
		if err := s.Update(ctx, func(tx store.Tx) error {
			return store.Put(ctx, tx, store.Tenant{ID: "t", DisplayName: name})
		}); err != nil {
			t.Fatal(err)
		}
	}
	put("before")

	err := s.View(ctx, func(tx store.Tx) error {
		return store.Create(ctx, tx, store.Tenant{ID: "w"})
	})
	if err == nil {
		t.Fatal("write in View succeeded")
	}

	err = s.View(ctx, func(tx store.Tx) error {
		first, err := store.Get[store.Tenant](ctx, tx, "t")
		if err != nil {
			return err
		}
		put("after") // commits while the view is open
		second, err := store.Get[store.Tenant](ctx, tx, "t")
		if err != nil {
			return err
		}
		if first.DisplayName != "before" || second.DisplayName != "before" {
			return fmt.Errorf("view saw %q then %q, want one snapshot (%q)", first.DisplayName, second.DisplayName, "before")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestList_ByteOrderAndPrefixes(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	keys := []string{"a/", "a/b", "a/é", "a/\U0010FFFF", "a/\U0010FFFF/x", "a0", "b", "A", "a", "a/\uFFFF", "a/~"}
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, k := range keys {
			if err := tx.Insert(ctx, store.Record{Kind: "k", Key: k, Data: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return tx.Insert(ctx, store.Record{Kind: "other", Key: "a/c", Data: []byte(`{}`)})
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		prefix string
		after  string
		limit  int
		want   []string
	}{
		{name: "all in byte order", want: []string{"A", "a", "a/", "a/b", "a/~", "a/é", "a/\uFFFF", "a/\U0010FFFF", "a/\U0010FFFF/x", "a0", "b"}},
		{name: "prefix", prefix: "a/", want: []string{"a/", "a/b", "a/~", "a/é", "a/\uFFFF", "a/\U0010FFFF", "a/\U0010FFFF/x"}},
		{name: "prefix ending in the largest code point", prefix: "a/\U0010FFFF", want: []string{"a/\U0010FFFF", "a/\U0010FFFF/x"}},
		{name: "prefix after and limit", prefix: "a/", after: "a/b", limit: 2, want: []string{"a/~", "a/é"}},
		{name: "prefix matching nothing", prefix: "a/zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := s.View(ctx, func(tx store.Tx) error {
				recs, err := tx.List(ctx, "k", tt.prefix, tt.after, tt.limit)
				for _, r := range recs {
					got = append(got, r.Key)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Fatalf("List(%q, %q, %d) = %q, want %q", tt.prefix, tt.after, tt.limit, got, tt.want)
			}
		})
	}
}
