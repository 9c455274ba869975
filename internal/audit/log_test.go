package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/audit"
	"github.com/fedcred/fedcred/internal/store"
)

func TestNew_RequiresStore(t *testing.T) {
	t.Parallel()
	if _, err := audit.New(audit.Config{}); err == nil {
		t.Fatal("New without a store succeeded")
	}
}

func TestLog_QueuedEventsAreWrittenInBatches(t *testing.T) {
	t.Parallel()
	gs := &gatedStore{Store: openStore(t)}
	l, _, _ := newLog(t, gs, nil)
	run(t, l)

	gs.hold()
	l.Enqueue(event(tenantA, t0, store.AuditTokenIssued, "first"))
	gs.waitEntered(t) // the writer holds a batch of one
	for i := range 10 {
		l.Enqueue(event(tenantA, t0.Add(time.Duration(i+1)*time.Millisecond), store.AuditTokenIssued, fmt.Sprintf("c%d", i)))
	}
	gs.release()
	waitFor(t, "11 events written", func() bool { return l.Stats().Written == 11 })

	if n := gs.updates.Load(); n != 2 {
		t.Errorf("store.Update ran %d times for a batch of 1 and a batch of 10, want 2", n)
	}
	got := stored(t, gs)
	if len(got) != 11 {
		t.Fatalf("stored %d events, want 11", len(got))
	}
	for i, e := range got {
		if e.Key() != store.AuditEventPrefix(tenantA)+e.ID || !strings.HasPrefix(e.ID, e.Time.Format(store.AuditTimeFormat)+"-") {
			t.Errorf("event %d: key %q, id %q do not start with its time %v", i, e.Key(), e.ID, e.Time)
		}
		if i > 0 && !got[i-1].Time.Before(e.Time) {
			t.Errorf("event %d at %v listed after one at %v: keys are not time-ordered", i, e.Time, got[i-1].Time)
		}
	}
	if s := l.Stats(); s.Dropped != 0 || s.Failed != 0 || s.Queued != 0 {
		t.Errorf("stats = %+v, want nothing dropped, failed or queued", s)
	}
}

func TestLog_FullQueueDropsWithoutBlocking(t *testing.T) {
	t.Parallel()
	gs := &gatedStore{Store: openStore(t)}
	l, clk, logs := newLog(t, gs, func(c *audit.Config) { c.QueueSize = 4; c.BatchSize = 2 })
	run(t, l)

	gs.hold()
	l.Enqueue(event(tenantA, t0, store.AuditTokenRefused, "held"))
	gs.waitEntered(t) // the store now blocks every write

	const n = 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			l.Enqueue(event(tenantA, t0, store.AuditTokenRefused, fmt.Sprint(i)))
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Enqueue blocked while the store was blocked")
	}
	if s := l.Stats(); s.Dropped != n-4 || s.Queued != 4 {
		t.Fatalf("stats = %+v, want %d dropped and 4 queued", s, n-4)
	}
	if c := strings.Count(logs.String(), "audit queue full"); c != 1 {
		t.Errorf("%d overflow warnings for one burst, want 1 (rate-limited):\n%s", c, logs)
	}
	clk.Advance(audit.DropWarnEvery)
	l.Enqueue(event(tenantA, t0, store.AuditTokenRefused, "later"))
	if c := strings.Count(logs.String(), "audit queue full"); c != 2 {
		t.Errorf("%d overflow warnings after %v, want 2", c, audit.DropWarnEvery)
	}

	gs.release()
	waitFor(t, "the held and queued events written", func() bool { return l.Stats().Written == 5 })
	if got := len(stored(t, gs)); got != 5 {
		t.Errorf("stored %d events, want the 5 that were not dropped", got)
	}
}

func TestLog_RunDrainsTheQueueWhenStopped(t *testing.T) {
	t.Parallel()
	gs := &gatedStore{Store: openStore(t)}
	l, _, _ := newLog(t, gs, nil)
	stop := run(t, l)

	gs.hold()
	l.Enqueue(event(tenantA, t0, store.AuditTokenIssued, "in-flight"))
	gs.waitEntered(t)
	for i := range 20 {
		l.Enqueue(event(tenantA, t0, store.AuditTokenIssued, fmt.Sprint(i)))
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	time.Sleep(20 * time.Millisecond) // Run sees its context end while a write is in flight
	gs.release()
	<-stopped

	if got := len(stored(t, gs)); got != 21 {
		t.Fatalf("after Run returned, %d events stored, want all 21", got)
	}
	if s := l.Stats(); s.Written != 21 || s.Failed != 0 || s.Queued != 0 {
		t.Errorf("stats = %+v, want 21 written", s)
	}
}

func TestLog_DrainIsBounded(t *testing.T) {
	t.Parallel()
	gs := &gatedStore{Store: openStore(t)}
	l, _, logs := newLog(t, gs, func(c *audit.Config) { c.DrainTimeout = 200 * time.Millisecond })
	gs.hold() // never released: the store hangs
	for i := range 3 {
		l.Enqueue(event(tenantA, t0, store.AuditTokenIssued, fmt.Sprint(i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run starts already stopped: it only drains
	start := time.Now()
	l.Run(ctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %v to give up on a hung store, want about the 200ms drain timeout", d)
	}
	if s := l.Stats(); s.Failed != 3 || s.Written != 0 {
		t.Errorf("stats = %+v, want 3 failed", s)
	}
	if !strings.Contains(logs.String(), "not written before shutdown") {
		t.Errorf("lost events not logged:\n%s", logs)
	}
	gs.release()
}

func TestLog_FailedBatchIsRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		failures    int64
		wantWritten uint64
		wantFailed  uint64
	}{
		{name: "one failure then success", failures: 1, wantWritten: 1},
		{name: "two failures then success", failures: 2, wantWritten: 1},
		{name: "failing on every attempt", failures: 3, wantFailed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gs := &gatedStore{Store: openStore(t)}
			gs.fail.Store(tt.failures)
			l, _, logs := newLog(t, gs, nil)
			run(t, l)
			l.Enqueue(event(tenantA, t0, store.AuditTokenIssued, "c"))
			waitFor(t, "the batch written or given up", func() bool {
				s := l.Stats()
				return s.Written+s.Failed == 1
			})
			if s := l.Stats(); s.Written != tt.wantWritten || s.Failed != tt.wantFailed {
				t.Errorf("stats = %+v, want written %d failed %d", s, tt.wantWritten, tt.wantFailed)
			}
			if got := len(stored(t, gs)); uint64(got) != tt.wantWritten {
				t.Errorf("stored %d events, want %d", got, tt.wantWritten)
			}
			if tt.wantFailed > 0 && !strings.Contains(logs.String(), "events not written") {
				t.Errorf("the lost batch was not logged:\n%s", logs)
			}
		})
	}
}

func TestLog_WriteIsSynchronous(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	l, _, _ := newLog(t, st, nil)
	// No writer runs: a synchronous write must not need one.
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a cancelled request context does not stop the write
	e := event(tenantA, time.Time{}, store.AuditResourceWrite, "c")
	if err := l.Write(ctx, e); err != nil {
		t.Fatal(err)
	}
	got := stored(t, st)
	if len(got) != 1 || !got[0].Time.Equal(t0) || got[0].EventKind != store.AuditResourceWrite {
		t.Fatalf("stored %+v, want one resource.write stamped %v", got, t0)
	}
	if s := l.Stats(); s.Written != 1 {
		t.Errorf("stats = %+v, want 1 written", s)
	}
}

func TestLog_WriteFallsBackToTheQueue(t *testing.T) {
	t.Parallel()
	gs := &gatedStore{Store: openStore(t)}
	l, _, _ := newLog(t, gs, func(c *audit.Config) { c.QueueSize = 1 })

	gs.fail.Store(1)
	if err := l.Write(context.Background(), event(tenantA, t0, store.AuditResourceDelete, "c")); err != nil {
		t.Fatalf("Write with a failing store and room in the queue: %v", err)
	}
	if s := l.Stats(); s.Queued != 1 {
		t.Fatalf("stats = %+v, want the event queued", s)
	}
	gs.fail.Store(1)
	err := l.Write(context.Background(), event(tenantA, t0, store.AuditResourceDelete, "c"))
	if !errors.Is(err, audit.ErrDropped) {
		t.Fatalf("Write with a failing store and a full queue = %v, want ErrDropped", err)
	}
	run(t, l)
	waitFor(t, "the queued event written", func() bool { return l.Stats().Written == 1 })
}

func TestLog_EventsAreBoundedAndCleaned(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	l, _, _ := newLog(t, st, nil)
	tests := []struct {
		name  string
		edit  func(*store.AuditEvent)
		check func(store.AuditEvent) string
	}{
		{
			name: "source IP keeps the host of an IPv4 RemoteAddr",
			edit: func(e *store.AuditEvent) { e.SourceIP = "192.0.2.7:51234" },
			check: func(e store.AuditEvent) string {
				return want(e.SourceIP == "192.0.2.7", "sourceIp %q", e.SourceIP)
			},
		},
		{
			name: "source IP keeps the host of an IPv6 RemoteAddr",
			edit: func(e *store.AuditEvent) { e.SourceIP = "[2001:db8::1]:443" },
			check: func(e store.AuditEvent) string {
				return want(e.SourceIP == "2001:db8::1", "sourceIp %q", e.SourceIP)
			},
		},
		{
			name: "user agent is cut to 256 bytes",
			edit: func(e *store.AuditEvent) { e.UserAgent = strings.Repeat("é", 400) },
			check: func(e store.AuditEvent) string {
				return want(len(e.UserAgent) <= 256 && strings.HasSuffix(e.UserAgent, "...") && !strings.Contains(e.UserAgent, "\uFFFD"),
					"userAgent of %d bytes: %q", len(e.UserAgent), e.UserAgent)
			},
		},
		{
			name: "control characters become spaces",
			edit: func(e *store.AuditEvent) { e.ClientID = "evil\nINFO forged line\x1b[31m" },
			check: func(e store.AuditEvent) string {
				return want(e.ClientID == "evil INFO forged line [31m", "clientId %q", e.ClientID)
			},
		},
		{
			name: "invalid UTF-8 is replaced",
			edit: func(e *store.AuditEvent) { e.Target = "api://\xff\xfe" },
			check: func(e store.AuditEvent) string {
				return want(e.Target == "api://\uFFFD", "target %q", e.Target)
			},
		},
		{
			name: "tenant is lower-cased and time is UTC",
			edit: func(e *store.AuditEvent) {
				e.TenantID = strings.ToUpper(tenantA)
				e.Time = t0.In(time.FixedZone("X", 3600))
			},
			check: func(e store.AuditEvent) string {
				return want(e.TenantID == tenantA && e.Time.Location() == time.UTC && e.Time.Equal(t0), "tenant %q time %v", e.TenantID, e.Time)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := event(tenantA, t0, store.AuditTokenIssued, "c")
			e.CorrelationID = tt.name
			tt.edit(&e)
			if err := l.Write(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			var got store.AuditEvent
			for _, s := range stored(t, st) {
				if s.CorrelationID == tt.name {
					got = s
				}
			}
			if got.ID == "" {
				t.Fatal("event not stored")
			}
			if msg := tt.check(got); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// want returns "" when ok, else the formatted complaint.
func want(ok bool, format string, args ...any) string {
	if ok {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

func TestLog_SameNanosecondEventsKeepTheirOrder(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	l, _, _ := newLog(t, st, nil)
	for i := range 50 {
		if err := l.Write(context.Background(), event(tenantA, t0, store.AuditTokenIssued, fmt.Sprintf("c%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	got := stored(t, st)
	ids := map[string]bool{}
	for i, e := range got {
		if ids[e.ID] {
			t.Fatalf("ID %s given twice", e.ID)
		}
		ids[e.ID] = true
		if e.ClientID != fmt.Sprintf("c%02d", i) {
			t.Fatalf("event %d is %s: events of one nanosecond are not in write order", i, e.ClientID)
		}
	}
}

func TestLog_Prune(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	l, clk, _ := newLog(t, st, nil)
	clk.Advance(100 * 24 * time.Hour) // now = t0 + 100 days
	retention := 90 * 24 * time.Hour
	cutoff := clk.Now().Add(-retention)
	var wantKept []string
	for _, tenant := range []string{tenantB, tenantA} { // in key order
		for _, at := range []time.Time{t0, cutoff.Add(-time.Nanosecond), cutoff, cutoff.Add(time.Hour)} {
			e := event(tenant, at, store.AuditTokenIssued, tenant+at.Format(time.RFC3339Nano))
			if err := l.Write(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			if !at.Before(cutoff) {
				wantKept = append(wantKept, e.ClientID)
			}
		}
	}
	// 600 old events of tenant B take more than one prune batch.
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for i := range 600 {
			e := event(tenantB, t0.Add(time.Duration(i)*time.Second), store.AuditTokenRefused, "bulk")
			e.ID = e.Time.Format(store.AuditTimeFormat) + fmt.Sprintf("-%016x", i)
			if err := store.Create(context.Background(), tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Two replicas prune at once; each event is deleted once.
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i := range counts {
		wg.Go(func() {
			n, err := l.Prune(context.Background(), retention)
			if err != nil {
				t.Errorf("Prune: %v", err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	if counts[0]+counts[1] < 604 {
		t.Errorf("prunes reported %v deleted, want 604 between them", counts)
	}
	var kept []string
	for _, e := range stored(t, st) {
		kept = append(kept, e.ClientID)
	}
	if strings.Join(kept, ",") != strings.Join(wantKept, ",") {
		t.Errorf("kept %v, want %v", kept, wantKept)
	}
	if n, err := l.Prune(context.Background(), retention); n != 0 || err != nil {
		t.Errorf("second prune = %d, %v; want nothing left to prune", n, err)
	}
	if n, err := l.Prune(context.Background(), 0); n != 0 || err != nil {
		t.Errorf("prune with no retention = %d, %v; want a no-op", n, err)
	}
}
