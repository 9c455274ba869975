// Package mirror serves store reads from memory: a Mirror wraps a backend
// that has a change feed, keeps an immutable in-memory copy of every object,
// and answers View from it, so the token hot path never waits on the
// database. Update goes to the backend; before it returns, the mirror has
// applied the write, and, when several replicas share the backend, every live
// replica has applied it too (or has been fenced off and stopped serving).
//
// Replicas learn of changes by notification (Coordinator.Listen), with a
// periodic full resynchronization as a safety net. A replica serves only
// while it holds a lease it renews with the coordinator; a replica that lags
// behind a write is fenced by the writer and refuses reads until it has
// caught up. When the database itself cannot be reached, a replica keeps
// serving from memory for at most MaxStale: no write can be acknowledged
// while the database is down, so memory is still current, except for a
// replica cut off from the database while the others can still write (it is
// fenced, but cannot learn it); MaxStale bounds that case.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/store"
)

var errReadOnly = errors.New("mirror: write in a read-only transaction")

// ErrNotServing is returned by View while the mirror may be stale: it is
// fenced, its lease lapsed, or it has not loaded yet. It wraps
// store.ErrUnavailable.
var ErrNotServing = fmt.Errorf("%w: this replica is catching up", store.ErrUnavailable)

// Backend is a store with a change feed.
type Backend interface {
	store.Store
	store.Feed
}

// Coordinator is how replicas sharing one backend agree (the PostgreSQL
// backend implements it). Without one, the mirror is the only process using
// the backend.
type Coordinator interface {
	Heartbeat(ctx context.Context, id string, applied int64, lease time.Duration) (fenced bool, err error)
	Unfence(ctx context.Context, id string, applied int64, lease time.Duration) (ok bool, err error)
	AwaitApplied(ctx context.Context, seq int64, wait, stale time.Duration) (fenced []string, err error)
	Deregister(ctx context.Context, id string) error
	Listen(ctx context.Context, notify func(seq int64)) error
}

// Config configures a Mirror.
type Config struct {
	Backend     Backend
	Coordinator Coordinator // nil for a single process
	ReplicaID   string      // default: a random UUID
	Lease       time.Duration
	AckWait     time.Duration // how long a write waits for replicas before fencing them
	MaxStale    time.Duration // how long to serve from memory while the database is unreachable
	Resync      time.Duration // full resynchronization period
	Logger      *slog.Logger
}

// Defaults for Config.
const (
	DefaultLease    = 3 * time.Second
	DefaultAckWait  = 2 * time.Second
	DefaultMaxStale = 10 * time.Minute
	DefaultResync   = time.Minute
	feedPage        = 1000
)

// Mirror is a store.Store whose reads come from memory.
type Mirror struct {
	cfg   Config
	log   *slog.Logger
	state atomic.Pointer[state]

	applyMu sync.Mutex // serializes catch-up and resync

	mu          sync.Mutex
	fenced      bool
	leaseUntil  time.Time // local clock; zero before the first lease
	dbDownSince time.Time // zero while the database answers

	wake  chan struct{}
	stale atomic.Bool // a committed write of this replica's could not be applied yet
}

var _ store.Store = (*Mirror)(nil)

// New loads the backend's snapshot and returns a Mirror. With a coordinator,
// the mirror starts fenced and serves only once Run has registered it.
func New(ctx context.Context, cfg Config) (*Mirror, error) {
	if cfg.Backend == nil {
		return nil, errors.New("mirror: backend is required")
	}
	if cfg.ReplicaID == "" {
		cfg.ReplicaID = uuid.NewString()
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.MaxStale < 0 {
		cfg.MaxStale = 0
	}
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Mirror{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), fenced: cfg.Coordinator != nil}
	if err := m.resync(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// ReplicaID is this mirror's replica identifier.
func (m *Mirror) ReplicaID() string { return m.cfg.ReplicaID }

// Seq is the sequence number of the last change applied.
func (m *Mirror) Seq() int64 { return m.state.Load().seq }

// Serving reports whether View answers.
func (m *Mirror) Serving() bool { return m.serving(time.Now()) }

// Fenced reports whether a writer has fenced this replica off for lagging
// behind; it serves again once it has caught up and unfenced itself.
func (m *Mirror) Fenced() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fenced
}

func (m *Mirror) serving(now time.Time) bool {
	if m.stale.Load() {
		return false
	}
	if m.cfg.Coordinator == nil {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fenced {
		return false
	}
	if now.Before(m.leaseUntil) {
		return true
	}
	return !m.dbDownSince.IsZero() && now.Sub(m.dbDownSince) < m.cfg.MaxStale
}

// View runs fn over the in-memory copy.
func (m *Mirror) View(ctx context.Context, fn func(store.Tx) error) error {
	if !m.serving(time.Now()) {
		return ErrNotServing
	}
	return fn(readTx{s: m.state.Load(), backend: m.cfg.Backend})
}

// Update runs fn in a backend transaction, then applies the write to memory
// and waits until every live replica has applied it.
func (m *Mirror) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := m.cfg.Backend.Update(ctx, fn); err != nil {
		return err
	}
	// The write is committed: what follows must run to the end even if the
	// caller gives up, or a lagging replica would escape being fenced.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.AckWait+2*m.cfg.Lease+5*time.Second)
	defer cancel()
	if err := m.catchUp(pctx); err != nil {
		// This replica does not hold its own write: it refuses reads until
		// a catch-up succeeds.
		m.stale.Store(true)
		return fmt.Errorf("apply committed write: %w", err)
	}
	if m.cfg.Coordinator == nil {
		return nil
	}
	seq := m.Seq()
	m.ack(pctx)
	fenced, err := m.cfg.Coordinator.AwaitApplied(pctx, seq, m.cfg.AckWait, m.cfg.MaxStale)
	if err != nil {
		return fmt.Errorf("wait for replicas to apply the write: %w", err)
	}
	if len(fenced) > 0 {
		m.log.Warn("replicas did not apply a write in time and were fenced", "replicas", fenced, "seq", seq)
	}
	return nil
}

// Close closes the backend.
func (m *Mirror) Close() error { return m.cfg.Backend.Close() }

// catchUp applies every change after the mirror's seq.
func (m *Mirror) catchUp(ctx context.Context) error {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	for {
		cur := m.state.Load()
		changes, err := m.cfg.Backend.ChangesSince(ctx, cur.seq, feedPage)
		if errors.Is(err, store.ErrFeedTruncated) {
			return m.resyncLocked(ctx)
		}
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			m.stale.Store(false)
			return nil
		}
		m.state.Store(cur.apply(changes))
		if len(changes) < feedPage {
			m.stale.Store(false)
			return nil
		}
	}
}

func (m *Mirror) resync(ctx context.Context) error {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	return m.resyncLocked(ctx)
}

func (m *Mirror) resyncLocked(ctx context.Context) error {
	seq, recs, err := m.cfg.Backend.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("load snapshot: %w", err)
	}
	if cur := m.state.Load(); cur == nil || cur.seq <= seq {
		m.state.Store(newState(seq, recs))
	} // else a newer state is already applied
	m.stale.Store(false)
	return nil
}

// ack renews the lease reporting what has been applied; it also learns
// whether this replica has been fenced.
func (m *Mirror) ack(ctx context.Context) {
	start := time.Now()
	applied := m.Seq()
	hctx, cancel := context.WithTimeout(ctx, m.cfg.Lease)
	fenced, err := m.cfg.Coordinator.Heartbeat(hctx, m.cfg.ReplicaID, applied, m.cfg.Lease)
	cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil && ctx.Err() != nil {
		return // the caller went away; that says nothing about the database
	}
	if err != nil {
		if m.dbDownSince.IsZero() {
			m.dbDownSince = start
			m.log.Warn("database unreachable; serving from memory", "max_stale", m.cfg.MaxStale, "err", err)
		}
		return
	}
	if !m.dbDownSince.IsZero() {
		m.log.Info("database reachable again", "down_for", time.Since(m.dbDownSince).Round(time.Millisecond))
	}
	m.dbDownSince = time.Time{}
	if fenced && !m.fenced {
		m.log.Warn("this replica was fenced: it fell behind a write; catching up", "applied", applied)
	}
	m.fenced = fenced
	if !fenced {
		// The lease counts from before the request left, so it never
		// outlives the one the database granted.
		m.leaseUntil = start.Add(m.cfg.Lease * 9 / 10)
	}
}

// unfence catches up and asks to serve again; it retries until caught up.
func (m *Mirror) unfence(ctx context.Context) error {
	for {
		if err := m.catchUp(ctx); err != nil {
			return err
		}
		start := time.Now()
		ok, err := m.cfg.Coordinator.Unfence(ctx, m.cfg.ReplicaID, m.Seq(), m.cfg.Lease)
		if err != nil {
			return err
		}
		if ok {
			m.mu.Lock()
			m.fenced = false
			m.leaseUntil = start.Add(m.cfg.Lease * 9 / 10)
			m.mu.Unlock()
			return nil
		}
	}
}

// Notify tells the mirror that changes up to seq were committed elsewhere.
func (m *Mirror) Notify(seq int64) {
	if seq >= 0 && seq <= m.Seq() {
		return
	}
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run keeps the mirror current until ctx is done: it listens for change
// notifications, renews the lease, and resynchronizes periodically. Without a
// coordinator it only resynchronizes.
func (m *Mirror) Run(ctx context.Context) {
	if m.cfg.Coordinator != nil {
		go func() {
			if err := m.cfg.Coordinator.Listen(ctx, m.Notify); err != nil && ctx.Err() == nil {
				m.log.Error("change notifications stopped", "err", err)
			}
		}()
	}
	beat := time.NewTicker(m.cfg.Lease / 3)
	defer beat.Stop()
	resync := time.NewTicker(m.cfg.Resync)
	defer resync.Stop()
	m.tick(ctx)
	for {
		select {
		case <-ctx.Done():
			if m.cfg.Coordinator != nil {
				dctx, cancel := context.WithTimeout(context.Background(), time.Second)
				if err := m.cfg.Coordinator.Deregister(dctx, m.cfg.ReplicaID); err != nil {
					m.log.Warn("deregister replica", "err", err)
				}
				cancel()
			}
			return
		case <-m.wake:
			m.tick(ctx)
		case <-beat.C:
			m.tick(ctx)
		case <-resync.C:
			if err := m.resync(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("periodic resynchronization failed", "err", err)
			}
		}
	}
}

// tick catches up, then renews the lease (acknowledging what was applied),
// and unfences when fenced.
func (m *Mirror) tick(ctx context.Context) {
	if err := m.catchUp(ctx); err != nil && ctx.Err() == nil {
		m.log.Debug("catch up", "err", err)
	}
	if m.cfg.Coordinator == nil {
		return
	}
	m.ack(ctx)
	m.mu.Lock()
	fenced := m.fenced
	m.mu.Unlock()
	if fenced {
		if err := m.unfence(ctx); err != nil && ctx.Err() == nil {
			m.log.Debug("unfence", "err", err)
		}
	}
}
