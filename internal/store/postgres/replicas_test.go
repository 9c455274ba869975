package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/postgres"
)

// replicaRow is a row of the registry as the tests inspect it.
type replicaRow struct {
	applied    int64
	fenced     bool
	leaseUntil time.Time
	leaseLeft  time.Duration // lease_until - now() in database time
}

func (d *testDB) replica(t *testing.T, id string) replicaRow {
	t.Helper()
	var r replicaRow
	var leftMicros int64
	d.queryRow(t, []any{&r.applied, &r.fenced, &r.leaseUntil, &leftMicros},
		`SELECT applied_seq, fenced, lease_until, (extract(epoch FROM lease_until - clock_timestamp()) * 1000000)::bigint
		FROM replicas WHERE id = $1`, id)
	r.leaseLeft = time.Duration(leftMicros) * time.Microsecond
	return r
}

// serving registers id and unfences it at the current sequence number.
func serving(t *testing.T, s *postgres.Store, id string, lease time.Duration) int64 {
	t.Helper()
	ctx := context.Background()
	fenced, err := s.Heartbeat(ctx, id, 0, lease)
	if err != nil || !fenced {
		t.Fatalf("first Heartbeat(%s) = fenced %v, %v; want a new replica fenced", id, fenced, err)
	}
	seq, err := s.CurrentSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := s.Unfence(ctx, id, seq, lease)
	if err != nil || !ok {
		t.Fatalf("Unfence(%s, %d) = %v, %v; want ok", id, seq, ok, err)
	}
	return seq
}

// write commits one change and returns its sequence number.
func write(t *testing.T, s *postgres.Store, key string) int64 {
	t.Helper()
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Upsert(ctx, rec(key, "", `{"at":"`+time.Now().String()+`"}`)) }); err != nil {
		t.Fatal(err)
	}
	seq, err := s.CurrentSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

type awaitResult struct {
	ids     []string
	err     error
	elapsed time.Duration
}

func await(s *postgres.Store, ctx context.Context, seq int64, wait time.Duration) <-chan awaitResult {
	ch := make(chan awaitResult, 1)
	go func() {
		start := time.Now()
		ids, err := s.AwaitApplied(ctx, seq, wait, 0)
		ch <- awaitResult{ids: ids, err: err, elapsed: time.Since(start)}
	}()
	return ch
}

func TestAwaitApplied_ReturnsOnceEveryLiveReplicaApplied(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	serving(t, s, "a", time.Minute)
	serving(t, s, "b", time.Minute)
	seq := write(t, s, "k")

	const wait = 30 * time.Second
	res := await(s, ctx, seq, wait)
	nothingFor(t, res, 100*time.Millisecond, "before any replica applied")
	if fenced, err := s.Heartbeat(ctx, "a", seq, time.Minute); err != nil || fenced {
		t.Fatalf("Heartbeat(a) = %v, %v", fenced, err)
	}
	nothingFor(t, res, 100*time.Millisecond, "before replica b applied")
	if fenced, err := s.Heartbeat(ctx, "b", seq, time.Minute); err != nil || fenced {
		t.Fatalf("Heartbeat(b) = %v, %v", fenced, err)
	}
	r := within(t, res, 5*time.Second, "AwaitApplied after both applied")
	if r.err != nil || r.ids != nil {
		t.Fatalf("AwaitApplied = %v, %v; want no fenced replicas", r.ids, r.err)
	}
	if r.elapsed >= wait {
		t.Fatalf("AwaitApplied took %v, the whole wait", r.elapsed)
	}

	// Already applied: immediate.
	r = within(t, await(s, ctx, seq, wait), time.Second, "AwaitApplied of an applied change")
	if r.err != nil || r.ids != nil {
		t.Fatalf("AwaitApplied = %v, %v", r.ids, r.err)
	}
}

func TestAwaitApplied_FencesLaggardAndOutwaitsItsLease(t *testing.T) {
	t.Parallel()
	s, d := newStore(t)
	ctx := context.Background()
	const lease = 2500 * time.Millisecond
	serving(t, s, "fast", lease)
	serving(t, s, "slow", lease)
	seq := write(t, s, "k")
	if _, err := s.Heartbeat(ctx, "fast", seq, lease); err != nil {
		t.Fatal(err)
	}
	slowBefore := d.replica(t, "slow")

	const wait = 200 * time.Millisecond
	r := within(t, await(s, ctx, seq, wait), 10*time.Second, "AwaitApplied with a laggard")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !reflect.DeepEqual(r.ids, []string{"slow"}) {
		t.Fatalf("fenced %v, want [slow]", r.ids)
	}
	if r.elapsed < wait {
		t.Fatalf("AwaitApplied fenced after %v, before the wait of %v", r.elapsed, wait)
	}
	slow := d.replica(t, "slow")
	if !slow.fenced {
		t.Fatal("the laggard is not fenced")
	}
	if slow.leaseLeft > 0 {
		t.Fatalf("AwaitApplied returned %v before the laggard's lease ended (database time)", slow.leaseLeft)
	}
	if !slow.leaseUntil.Equal(slowBefore.leaseUntil) {
		t.Fatalf("fencing moved the lease from %v to %v", slowBefore.leaseUntil, slow.leaseUntil)
	}
	if fast := d.replica(t, "fast"); fast.fenced {
		t.Fatal("the replica that applied the change was fenced")
	}

	// A fenced replica's heartbeat records progress but does not renew.
	fenced, err := s.Heartbeat(ctx, "slow", seq, lease)
	if err != nil || !fenced {
		t.Fatalf("Heartbeat of a fenced replica = %v, %v; want fenced", fenced, err)
	}
	slow = d.replica(t, "slow")
	if !slow.leaseUntil.Equal(slowBefore.leaseUntil) || slow.applied != seq {
		t.Fatalf("after heartbeat: lease %v (was %v), applied %d; want lease unchanged, applied %d",
			slow.leaseUntil, slowBefore.leaseUntil, slow.applied, seq)
	}
	// Writes no longer wait for it.
	seq2 := write(t, s, "k2")
	if _, err := s.Heartbeat(ctx, "fast", seq2, lease); err != nil {
		t.Fatal(err)
	}
	r = within(t, await(s, ctx, seq2, time.Minute), 5*time.Second, "AwaitApplied ignoring the fenced replica")
	if r.err != nil || r.ids != nil {
		t.Fatalf("AwaitApplied = %v, %v", r.ids, r.err)
	}
}

func TestUnfence(t *testing.T) {
	t.Parallel()
	s, d := newStore(t)
	ctx := context.Background()
	if _, err := s.Heartbeat(ctx, "r", 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	write(t, s, "a")
	seq := write(t, s, "b")

	if ok, err := s.Unfence(ctx, "r", seq-1, time.Minute); err != nil || ok {
		t.Fatalf("Unfence while behind = %v, %v; want refused", ok, err)
	}
	if r := d.replica(t, "r"); !r.fenced {
		t.Fatal("refused Unfence unfenced the replica")
	}
	if ok, err := s.Unfence(ctx, "r", seq, time.Minute); err != nil || !ok {
		t.Fatalf("Unfence when caught up = %v, %v; want ok", ok, err)
	}
	r := d.replica(t, "r")
	if r.fenced || r.applied != seq || r.leaseLeft < 50*time.Second {
		t.Fatalf("after Unfence: %+v; want unfenced, applied %d, a minute's lease", r, seq)
	}
	// Renewal extends an unfenced replica's lease.
	if fenced, err := s.Heartbeat(ctx, "r", seq, 2*time.Minute); err != nil || fenced {
		t.Fatalf("Heartbeat = %v, %v", fenced, err)
	}
	if r := d.replica(t, "r"); r.leaseLeft < 110*time.Second {
		t.Fatalf("Heartbeat left %v of lease, want about 2m", r.leaseLeft)
	}

	tests := []struct {
		name    string
		id      string
		lease   time.Duration
		wantErr error
	}{
		{name: "unregistered replica", id: "nobody", lease: time.Minute, wantErr: store.ErrNotFound},
		{name: "empty id", id: "", lease: time.Minute},
		{name: "zero lease", id: "r", lease: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := s.Unfence(ctx, tt.id, seq, tt.lease)
			if ok || err == nil {
				t.Fatalf("Unfence = %v, %v; want an error", ok, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unfence = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	s, d := newStore(t)
	ctx := context.Background()
	serving(t, s, "r", time.Minute)
	if _, err := s.Heartbeat(ctx, "r", 5, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Heartbeat(ctx, "r", 3, time.Minute); err != nil {
		t.Fatal(err)
	}
	if r := d.replica(t, "r"); r.applied != 5 {
		t.Fatalf("applied_seq = %d after heartbeats 5 then 3, want 5", r.applied)
	}

	tests := []struct {
		name  string
		id    string
		lease time.Duration
	}{
		{name: "empty id", id: "", lease: time.Minute},
		{name: "zero lease", id: "r", lease: 0},
		{name: "negative lease", id: "r", lease: -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Heartbeat(ctx, tt.id, 1, tt.lease); err == nil {
				t.Fatal("Heartbeat succeeded")
			}
		})
	}

	if err := s.Deregister(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	var n int
	d.queryRow(t, []any{&n}, `SELECT count(*) FROM replicas`)
	if n != 0 {
		t.Fatalf("%d replicas after Deregister, want 0", n)
	}
	if err := s.Deregister(ctx, "r"); err != nil {
		t.Fatalf("Deregister of an unknown replica: %v", err)
	}
}

func TestAwaitApplied_IgnoresExpiredAndFencedReplicas(t *testing.T) {
	t.Parallel()
	s, d := newStore(t)
	ctx := context.Background()
	const short = 100 * time.Millisecond
	serving(t, s, "expired", short)
	if _, err := s.Heartbeat(ctx, "new", 0, time.Minute); err != nil { // registered, still fenced
		t.Fatal(err)
	}
	// Wait until the database considers the lease over.
	for deadline := time.Now().Add(10 * time.Second); d.replica(t, "expired").leaseLeft > 0; {
		if time.Now().After(deadline) {
			t.Fatal("lease never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	seq := write(t, s, "k")
	r := within(t, await(s, ctx, seq, time.Minute), 5*time.Second, "AwaitApplied with only expired and fenced replicas")
	if r.err != nil || r.ids != nil {
		t.Fatalf("AwaitApplied = %v, %v; want nothing to wait for", r.ids, r.err)
	}
	// The expired replica missed a write: its next heartbeat fences it.
	fenced, err := s.Heartbeat(ctx, "expired", seq-1, time.Minute)
	if err != nil || !fenced {
		t.Fatalf("Heartbeat after the lease lapsed = %v, %v; want fenced", fenced, err)
	}
	if r := d.replica(t, "expired"); r.leaseLeft > 0 {
		t.Fatalf("lapsed replica's lease was renewed (%v left)", r.leaseLeft)
	}
}

func TestAwaitApplied_NoReplicasAndCancellation(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	seq := write(t, s, "k")
	r := within(t, await(s, ctx, seq, time.Minute), time.Second, "AwaitApplied without replicas")
	if r.err != nil || r.ids != nil {
		t.Fatalf("AwaitApplied without replicas = %v, %v", r.ids, r.err)
	}

	serving(t, s, "r", time.Minute)
	seq = write(t, s, "k2")
	cctx, cancel := context.WithCancel(ctx)
	res := await(s, cctx, seq, time.Minute)
	nothingFor(t, res, 50*time.Millisecond, "while the replica is behind")
	cancel()
	r = within(t, res, 5*time.Second, "AwaitApplied after cancellation")
	if !errors.Is(r.err, context.Canceled) || errors.Is(r.err, store.ErrUnavailable) {
		t.Fatalf("AwaitApplied after cancellation = %v, want context.Canceled", r.err)
	}
}

func TestAwaitApplied_WaitsForReplicasServingPastTheirLease(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	serving(t, s, "degraded", 200*time.Millisecond)
	time.Sleep(400 * time.Millisecond) // its lease lapsed: it may be serving from memory without the database
	seq := write(t, s, "k")

	// Without a stale window a lapsed replica is not waited for.
	r := within(t, await(s, ctx, seq, 5*time.Second), 2*time.Second, "AwaitApplied without a stale window")
	if r.err != nil || len(r.ids) != 0 {
		t.Fatalf("AwaitApplied(stale 0) = %v, %v; want nothing fenced", r.ids, r.err)
	}

	// With one, the write waits for it, and fences it when it does not answer.
	start := time.Now()
	ids, err := s.AwaitApplied(ctx, seq, 300*time.Millisecond, time.Minute)
	if err != nil || len(ids) != 1 || ids[0] != "degraded" {
		t.Fatalf("AwaitApplied(stale 1m) = %v, %v; want the lapsed replica fenced", ids, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("returned after %v, before the wait was over", d)
	}
	// It learns it was fenced on its next contact.
	if fenced, err := s.Heartbeat(ctx, "degraded", seq-1, time.Minute); err != nil || !fenced {
		t.Fatalf("Heartbeat after fencing = %v, %v; want fenced", fenced, err)
	}
}
