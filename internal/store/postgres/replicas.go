package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/jackc/pgx/v5"
)

// awaitPollInterval is how often AwaitApplied re-reads the registry.
const awaitPollInterval = 2 * time.Millisecond

func checkReplica(id string, lease time.Duration) error {
	if id == "" {
		return errors.New("empty replica id")
	}
	if lease <= 0 {
		return errors.New("lease must be positive")
	}
	return nil
}

// Heartbeat registers replica id or renews its registration, recording that
// it has applied every change through applied (the recorded value never goes
// back). A new replica starts fenced. An unfenced replica's lease is extended
// to lease from now (database time); a fenced one's is not. A replica whose
// lease has lapsed becomes fenced, since writes committed meanwhile did not
// wait for it. Heartbeat returns whether the replica is fenced: a fenced
// replica must not serve from memory until it has caught up and called
// Unfence. The replica should count its lease from before it sent the
// heartbeat, so that its own view of the lease ends no later than the
// database's.
func (s *Store) Heartbeat(ctx context.Context, id string, applied int64, lease time.Duration) (fenced bool, err error) {
	if err := checkReplica(id, lease); err != nil {
		return true, fmt.Errorf("heartbeat: %w", err)
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO replicas AS r (id, applied_seq, lease_until, lease, fenced, started_at, last_seen)
		VALUES ($1, $2, now(), $3 * interval '1 microsecond', true, now(), now())
		ON CONFLICT (id) DO UPDATE SET
			applied_seq = GREATEST(r.applied_seq, excluded.applied_seq),
			last_seen   = now(),
			fenced      = r.fenced OR r.lease_until <= now(),
			lease       = CASE WHEN r.fenced OR r.lease_until <= now() THEN r.lease ELSE excluded.lease END,
			lease_until = CASE WHEN r.fenced OR r.lease_until <= now() THEN r.lease_until ELSE now() + excluded.lease END
		RETURNING fenced`, id, applied, lease.Microseconds()).Scan(&fenced)
	if err != nil {
		return true, fmt.Errorf("heartbeat %s: %w", id, wrapErr(err))
	}
	return fenced, nil
}

// Unfence lets replica id serve again, with a lease of lease from now
// (database time), if it has applied every committed change (applied >= the
// current sequence number). It holds the writers' lock, so no write can
// commit between the check and the unfencing; a write that commits afterwards
// waits for this replica. It returns ok=false when the replica is behind: the
// caller catches up and retries. Unfencing an unregistered replica fails with
// store.ErrNotFound.
func (s *Store) Unfence(ctx context.Context, id string, applied int64, lease time.Duration) (ok bool, err error) {
	if err := checkReplica(id, lease); err != nil {
		return false, fmt.Errorf("unfence: %w", err)
	}
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(pt pgx.Tx) error {
		if _, err := pt.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.writeLock); err != nil {
			return fmt.Errorf("take writer lock: %w", wrapErr(err))
		}
		var current int64
		if err := pt.QueryRow(ctx, `SELECT seq FROM feed_state`).Scan(&current); err != nil {
			return fmt.Errorf("read current seq: %w", wrapErr(err))
		}
		if applied < current {
			return nil
		}
		tag, err := pt.Exec(ctx, `UPDATE replicas SET fenced = false, applied_seq = $2,
			lease = $3 * interval '1 microsecond', lease_until = now() + $3 * interval '1 microsecond', last_seen = now()
			WHERE id = $1`, id, applied, lease.Microseconds())
		if err != nil {
			return wrapErr(err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("replica not registered: %w", store.ErrNotFound)
		}
		ok = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("unfence %s: %w", id, wrapErr(err))
	}
	return ok, nil
}

// AwaitApplied waits until every live replica has applied the change
// numbered seq. A replica is live when it is not fenced and its lease, in
// database time, has not ended more than stale ago: a replica whose lease
// lapsed because it lost the database may still be serving from memory for
// up to stale, so a write waits for it too. If wait passes
// first, it fences the replicas still behind in one statement, then sleeps
// until the latest of their leases has ended (so none of them can still
// believe it may serve), and returns their IDs. It polls every 2ms. Errors
// reaching the database wrap store.ErrUnavailable.
func (s *Store) AwaitApplied(ctx context.Context, seq int64, wait, stale time.Duration) (fencedIDs []string, err error) {
	staleMicros := max(stale, 0).Microseconds()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(awaitPollInterval)
	defer tick.Stop()
	for expired := false; ; {
		var behind bool
		err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM replicas
			WHERE NOT fenced AND lease_until > now() - make_interval(secs => $2::bigint / 1000000.0) AND applied_seq < $1)`,
			seq, staleMicros).Scan(&behind)
		if err != nil {
			return nil, fmt.Errorf("await applied %d: %w", seq, wrapErr(err))
		}
		if !behind {
			return nil, nil
		}
		if expired {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("await applied %d: %w", seq, wrapErr(ctx.Err()))
		case <-deadline.C:
			expired = true // one last look, then fence
		case <-tick.C:
		}
	}
	return s.fenceLaggards(ctx, seq, staleMicros)
}

// fenceLaggards fences the live replicas that have not applied seq and waits
// out the longest of their remaining leases, computed in database time and
// bounded by each replica's lease length.
func (s *Store) fenceLaggards(ctx context.Context, seq, staleMicros int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `UPDATE replicas SET fenced = true
		WHERE NOT fenced AND lease_until > now() - make_interval(secs => $2::bigint / 1000000.0) AND applied_seq < $1
		RETURNING id, (extract(epoch FROM GREATEST(LEAST(lease_until - now(), lease), interval '0')) * 1000000)::bigint`, seq, staleMicros)
	if err != nil {
		return nil, fmt.Errorf("fence replicas behind %d: %w", seq, wrapErr(err))
	}
	var ids []string
	var longest time.Duration
	for rows.Next() {
		var id string
		var remainingMicros int64
		if err := rows.Scan(&id, &remainingMicros); err != nil {
			rows.Close()
			return nil, fmt.Errorf("fence replicas behind %d: %w", seq, err)
		}
		ids = append(ids, id)
		longest = max(longest, time.Duration(remainingMicros)*time.Microsecond)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fence replicas behind %d: %w", seq, wrapErr(err))
	}
	if len(ids) == 0 {
		return nil, nil // they caught up or expired meanwhile
	}
	s.log.Warn("fenced replicas that did not apply a change in time", "seq", seq, "replicas", ids, "lease_wait", longest)
	t := time.NewTimer(longest)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ids, fmt.Errorf("wait out leases of fenced replicas: %w", wrapErr(ctx.Err()))
	case <-t.C:
	}
	return ids, nil
}

// Deregister removes replica id from the registry, on clean shutdown, so that
// writers stop waiting for it. Removing an unknown replica is not an error.
func (s *Store) Deregister(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM replicas WHERE id = $1`, id); err != nil {
		return fmt.Errorf("deregister %s: %w", id, wrapErr(err))
	}
	return nil
}
