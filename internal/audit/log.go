package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fedcred/fedcred/internal/store"
)

// Defaults for Config.
const (
	DefaultQueueSize    = 8192
	DefaultBatchSize    = 256
	DefaultWriteTimeout = 10 * time.Second
	DefaultDrainTimeout = 5 * time.Second
	// DefaultRetention is how long events are kept when the server is not
	// told otherwise.
	DefaultRetention = 90 * 24 * time.Hour
	// DropWarnEvery bounds how often a full queue is logged.
	DropWarnEvery = 10 * time.Second
)

// batchAttempts is how often a batch is tried before it counts as failed,
// and retryBackoff the wait before the first retry (doubled after).
const (
	batchAttempts = 3
	retryBackoff  = 200 * time.Millisecond
	pruneBatch    = 500
)

// ErrDropped is returned by Write when an event could be neither written nor
// queued.
var ErrDropped = errors.New("audit event dropped")

// Config configures a Log.
type Config struct {
	// Store receives the events. Required.
	Store store.Store
	// Now stamps events that have no time and drives retention; defaults
	// to time.Now.
	Now func() time.Time
	// Logger receives write failures and queue overflows; nil discards.
	Logger *slog.Logger
	// QueueSize bounds the events waiting for the background writer
	// (default DefaultQueueSize).
	QueueSize int
	// BatchSize bounds the events written in one store.Update (default
	// DefaultBatchSize).
	BatchSize int
	// WriteTimeout bounds one batch or one synchronous write (default
	// DefaultWriteTimeout).
	WriteTimeout time.Duration
	// DrainTimeout bounds how long Run keeps writing queued events after
	// its context ends (default DefaultDrainTimeout).
	DrainTimeout time.Duration
}

// Stats are the Log's counters since it was created.
type Stats struct {
	// Queued is how many events wait for the background writer now.
	Queued int
	// Written is how many events were stored.
	Written uint64
	// Dropped is how many events were lost because the queue was full.
	Dropped uint64
	// Failed is how many events were lost because the store refused them.
	Failed uint64
}

// Log is the append-only audit log. It is safe for concurrent use.
type Log struct {
	store        store.Store
	now          func() time.Time
	log          *slog.Logger
	queue        chan store.AuditEvent
	batchSize    int
	writeTimeout time.Duration
	drainTimeout time.Duration

	seq      atomic.Uint32
	written  atomic.Uint64
	dropped  atomic.Uint64
	failed   atomic.Uint64
	lastWarn atomic.Int64 // unix nanoseconds of the last overflow warning
}

// New checks cfg and returns a Log. Run must be running for queued events
// to be written.
func New(cfg Config) (*Log, error) {
	if cfg.Store == nil {
		return nil, errors.New("audit: store is required")
	}
	l := &Log{
		store:        cfg.Store,
		now:          cfg.Now,
		log:          cfg.Logger,
		batchSize:    cfg.BatchSize,
		writeTimeout: cfg.WriteTimeout,
		drainTimeout: cfg.DrainTimeout,
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	size := cfg.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	l.queue = make(chan store.AuditEvent, size)
	if l.batchSize <= 0 {
		l.batchSize = DefaultBatchSize
	}
	if l.writeTimeout <= 0 {
		l.writeTimeout = DefaultWriteTimeout
	}
	if l.drainTimeout <= 0 {
		l.drainTimeout = DefaultDrainTimeout
	}
	return l, nil
}

// Stats returns the counters.
func (l *Log) Stats() Stats {
	return Stats{
		Queued:  len(l.queue),
		Written: l.written.Load(),
		Dropped: l.dropped.Load(),
		Failed:  l.failed.Load(),
	}
}

// Enqueue queues e for the background writer and returns at once. When the
// queue is full e is dropped and counted; Enqueue never blocks. An event
// without a time is stamped now.
func (l *Log) Enqueue(e store.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	select {
	case l.queue <- e:
	default:
		n := l.dropped.Add(1)
		l.warnDropped(n)
	}
}

// warnDropped logs a full queue at most every DropWarnEvery.
func (l *Log) warnDropped(total uint64) {
	now := l.now().UnixNano()
	last := l.lastWarn.Load()
	if last != 0 && now-last < int64(DropWarnEvery) {
		return
	}
	if !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn("audit queue full: events dropped", "dropped_total", total, "queue_size", cap(l.queue))
}

// Write stores e before it returns: for events that must not wait in (or be
// dropped from) the queue, such as management changes. The write outlives a
// cancelled ctx, bounded by Config.WriteTimeout. When the store fails, e is
// queued for the background writer instead; Write returns an error only when
// e was dropped.
func (l *Log) Write(ctx context.Context, e store.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	batch := []store.AuditEvent{l.prepare(e)}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.writeTimeout)
	err := l.store.Update(wctx, func(tx store.Tx) error { return createAll(wctx, tx, batch) })
	cancel()
	if err == nil {
		l.written.Add(1)
		return nil
	}
	l.log.Warn("audit: write event; queued for retry", "kind", e.EventKind, "err", err)
	select {
	case l.queue <- e:
		return nil
	default:
		n := l.dropped.Add(1)
		l.warnDropped(n)
		return fmt.Errorf("%w: write: %v; queue full", ErrDropped, err)
	}
}

// Run writes queued events in batches until ctx ends, then drains what is
// still queued for at most Config.DrainTimeout. It returns when done: at
// most WriteTimeout (a write in flight) plus DrainTimeout after ctx ends.
func (l *Log) Run(ctx context.Context) {
	batch := make([]store.AuditEvent, 0, l.batchSize)
	for {
		select {
		case <-ctx.Done():
			l.drain(nil)
			return
		case e := <-l.queue:
			batch = l.fill(append(batch[:0], e))
			if ctx.Err() != nil {
				l.drain(batch)
				return
			}
			// An attempt in flight is finished even when ctx ends
			// meanwhile (within the write timeout); a batch still to be
			// retried then is drained.
			if !l.writeBatch(ctx, context.WithoutCancel(ctx), batch) {
				l.drain(batch)
				return
			}
		}
	}
}

// fill adds queued events to batch, without waiting, up to the batch size.
func (l *Log) fill(batch []store.AuditEvent) []store.AuditEvent {
	for len(batch) < l.batchSize {
		select {
		case e := <-l.queue:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// drain writes pending, then everything queued, bounded by the drain
// timeout; what is left is counted as failed.
func (l *Log) drain(pending []store.AuditEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), l.drainTimeout)
	defer cancel()
	batch := append(make([]store.AuditEvent, 0, l.batchSize), pending...)
	for ctx.Err() == nil {
		if len(batch) == 0 {
			batch = l.fill(batch)
		}
		if len(batch) == 0 {
			return
		}
		if !l.writeBatch(ctx, ctx, batch) {
			break
		}
		batch = batch[:0]
	}
	if n := len(batch) + len(l.queue); n > 0 {
		l.failed.Add(uint64(n))
		l.log.Error("audit: queued events not written before shutdown", "events", n)
	}
}

// writeBatch stores batch in one transaction, retrying with backoff; what
// cannot be stored after the last attempt is counted as failed. Each
// attempt runs in a child of parent bounded by the write timeout. It
// returns false, counting nothing, when ctx ended before the batch was
// stored or given up.
func (l *Log) writeBatch(ctx, parent context.Context, batch []store.AuditEvent) bool {
	for i := range batch {
		batch[i] = l.prepare(batch[i])
	}
	var err error
	wait := retryBackoff
	for attempt := 1; ; attempt++ {
		wctx, cancel := context.WithTimeout(parent, l.writeTimeout)
		err = l.store.Update(wctx, func(tx store.Tx) error { return createAll(wctx, tx, batch) })
		cancel()
		if err == nil {
			l.written.Add(uint64(len(batch)))
			return true
		}
		if attempt == batchAttempts {
			break
		}
		if !sleep(ctx, wait) {
			return false
		}
		wait *= 2
	}
	l.failed.Add(uint64(len(batch)))
	l.log.Error("audit: events not written", "events", len(batch), "err", err)
	return true
}

// sleep waits d or until ctx ends, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func createAll(ctx context.Context, tx store.Tx, events []store.AuditEvent) error {
	for _, e := range events {
		if err := store.Create(ctx, tx, e); err != nil {
			return fmt.Errorf("create audit event: %w", err)
		}
	}
	return nil
}

// Prune deletes the events older than retention, in batches, and returns
// how many it deleted. Replicas may prune at the same time: an event another
// one deleted first is skipped.
func (l *Log) Prune(ctx context.Context, retention time.Duration) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	cutoff := l.now().Add(-retention)
	deleted := 0
	after := ""
	for ctx.Err() == nil {
		var old []string
		var recs []store.Record
		err := l.store.View(ctx, func(tx store.Tx) error {
			var err error
			recs, err = tx.List(ctx, store.KindAuditEvent, "", after, pruneBatch)
			return err
		})
		if err != nil {
			return deleted, fmt.Errorf("list audit events: %w", err)
		}
		if len(recs) == 0 {
			return deleted, nil
		}
		for _, r := range recs {
			tenant, _, _ := cutTenant(r.Key)
			if r.Key < store.AuditTimeKey(tenant, cutoff) {
				old = append(old, r.Key)
				after = r.Key
				continue
			}
			// Keys sort by time within a tenant: skip the rest of it.
			after = store.AuditEventPrefix(tenant) + "\x7f"
			break
		}
		if len(old) == 0 {
			continue
		}
		err = l.store.Update(ctx, func(tx store.Tx) error {
			for _, k := range old {
				if err := tx.Delete(ctx, store.KindAuditEvent, k); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return deleted, fmt.Errorf("delete audit events: %w", err)
		}
		deleted += len(old)
	}
	return deleted, ctx.Err()
}
