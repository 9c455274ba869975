package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/jackc/pgx/v5"
)

// ChangesSince returns up to limit committed changes with Seq > after, in
// order; limit <= 0 means no limit. It returns store.ErrFeedTruncated when
// some of those changes have been pruned.
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	var out []store.Change
	err := s.readSnapshot(ctx, func(pt pgx.Tx) error {
		var pruned int64
		if err := pt.QueryRow(ctx, `SELECT pruned_through FROM feed_state`).Scan(&pruned); err != nil {
			return fmt.Errorf("read feed state: %w", wrapErr(err))
		}
		if pruned > after {
			return fmt.Errorf("changes after %d (pruned through %d): %w", after, pruned, store.ErrFeedTruncated)
		}
		var lim *int64 // LIMIT NULL is no limit
		if limit > 0 {
			l := int64(limit)
			lim = &l
		}
		rows, err := pt.Query(ctx, `SELECT seq, kind, key, alt, data, deleted FROM changes
			WHERE seq > $1 ORDER BY seq LIMIT $2`, after, lim)
		if err != nil {
			return fmt.Errorf("read changes: %w", wrapErr(err))
		}
		defer rows.Close()
		for rows.Next() {
			var c store.Change
			var kind string
			if err := rows.Scan(&c.Seq, &kind, &c.Key, &c.AltKey, &c.Data, &c.Deleted); err != nil {
				return fmt.Errorf("read changes: %w", err)
			}
			c.Kind = store.Kind(kind)
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read changes: %w", wrapErr(err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Snapshot returns every stored object, ordered by kind and key, and the
// sequence number of the last change they reflect, read in one REPEATABLE READ
// transaction.
func (s *Store) Snapshot(ctx context.Context) (int64, []store.Record, error) {
	var seq int64
	var recs []store.Record
	err := s.readSnapshot(ctx, func(pt pgx.Tx) error {
		if err := pt.QueryRow(ctx, `SELECT seq FROM feed_state`).Scan(&seq); err != nil {
			return fmt.Errorf("read feed state: %w", wrapErr(err))
		}
		rows, err := pt.Query(ctx, `SELECT kind, key, alt, data FROM objects WHERE kind <> $1 ORDER BY kind, key`, string(store.KindAuditEvent))
		if err != nil {
			return fmt.Errorf("read objects: %w", wrapErr(err))
		}
		defer rows.Close()
		for rows.Next() {
			var r store.Record
			var kind string
			if err := rows.Scan(&kind, &r.Key, &r.AltKey, &r.Data); err != nil {
				return fmt.Errorf("read objects: %w", err)
			}
			r.Kind = store.Kind(kind)
			if store.Mirrored(r.Kind) {
				recs = append(recs, r)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read objects: %w", wrapErr(err))
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("snapshot: %w", err)
	}
	return seq, recs, nil
}

// readSnapshot runs fn in a read-only REPEATABLE READ transaction.
func (s *Store) readSnapshot(ctx context.Context, fn func(pgx.Tx) error) error {
	pt, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin transaction: %w", wrapErr(err))
	}
	defer pt.Rollback(ctx)
	if err := fn(pt); err != nil {
		return err
	}
	if err := pt.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", wrapErr(err))
	}
	return nil
}

// CurrentSeq returns the sequence number of the last committed change (0 when
// nothing was ever written).
func (s *Store) CurrentSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.pool.QueryRow(ctx, `SELECT seq FROM feed_state`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read current seq: %w", wrapErr(err))
	}
	return seq, nil
}

// PruneChanges deletes the changes committed more than olderThan ago (by the
// store's clock; a negative olderThan selects every change), except the
// newest change, which is always kept. It deletes a
// contiguous run from the start of the feed, so readers that ask for pruned
// changes get store.ErrFeedTruncated instead of a gap.
func (s *Store) PruneChanges(ctx context.Context, olderThan time.Duration) error {
	cutoff := s.now().Add(-olderThan).UTC()
	_, err := s.pool.Exec(ctx, `WITH p AS (
		SELECT max(seq) AS through FROM changes
		WHERE committed_at < $1 AND seq < (SELECT seq FROM feed_state)
	), d AS (
		DELETE FROM changes WHERE seq <= (SELECT through FROM p)
	)
	UPDATE feed_state SET pruned_through = GREATEST(pruned_through, (SELECT through FROM p))`, cutoff)
	if err != nil {
		return fmt.Errorf("prune changes: %w", wrapErr(err))
	}
	return nil
}

// Listen backoff between reconnection attempts.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 10 * time.Second
)

// Listen delivers change notifications until ctx is done or the store is
// closed; it then returns ctx's error (nil after Close). On a dedicated
// connection it LISTENs on the schema's change channel and calls notify with
// the last sequence number of each committed writing transaction. After every
// (re)connection it calls notify(-1): notifications sent while disconnected
// are lost, so the caller must re-read the feed from where it is. A dropped
// connection is re-established with capped exponential backoff. notify is
// called from Listen's goroutine, one call at a time, and should not block.
func (s *Store) Listen(ctx context.Context, notify func(seq int64)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	stopped := func() error {
		select {
		case <-s.closed:
			return nil
		default:
			return ctx.Err()
		}
	}
	backoff := listenMinBackoff
	for {
		connected, err := s.listenOnce(ctx, notify)
		if ctx.Err() != nil {
			return stopped()
		}
		if connected {
			backoff = listenMinBackoff
		}
		s.log.Warn("change listener disconnected", "schema", s.schema, "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return stopped()
		case <-t.C:
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// listenOnce connects, LISTENs and delivers notifications until the
// connection fails or ctx is done. connected reports whether LISTEN succeeded.
func (s *Store) listenOnce(ctx context.Context, notify func(int64)) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.connConfig.Copy())
	if err != nil {
		return false, fmt.Errorf("connect: %w", wrapErr(err))
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen: %w", wrapErr(err))
	}
	notify(-1)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("wait for notification: %w", wrapErr(err))
		}
		seq, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil || seq <= 0 {
			seq = -1 // not ours to interpret: make the caller re-read the feed
		}
		notify(seq)
	}
}
