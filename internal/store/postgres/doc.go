// Package postgres is the PostgreSQL store.Store backend (pgx), for running
// several fedcred replicas on one database.
//
// # Data
//
// All tables live in one schema (Options.Schema; every connection's
// search_path is set to it). objects holds one opaque JSON document per
// (kind, key) with an optional alternate key unique within its kind, as in the
// SQLite backend; key columns use the "C" collation so ordering and prefix
// range scans compare bytes. Migrations are embedded SQL files, applied at
// Open, each in its own transaction, under a session advisory lock so that
// replicas starting together migrate one after another.
//
// # Writes and the change feed
//
// Update runs its closure exactly once, in a READ COMMITTED transaction whose
// first statement takes a transaction-scoped advisory lock derived from the
// schema name. Every writer in every process is therefore serialized: a
// read-modify-write never loses an update, and check-then-write (alternate
// key conflicts) is race-free. Each Insert, Upsert or Delete that changes
// something takes the next number from the one-row feed_state counter and
// appends a row to changes in the same statement; since the counter is only
// advanced under the lock and rolled back with its transaction, sequence
// numbers commit in order and without gaps. A transaction that wrote
// anything sends pg_notify on the schema's channel (fedcred_changes in
// public, fedcred_changes_<schema> elsewhere) with its last sequence number;
// the notification is delivered on commit.
//
// View, ChangesSince and Snapshot read in READ ONLY REPEATABLE READ
// transactions, so each sees one consistent snapshot. PruneChanges deletes a
// contiguous run of old changes, never the newest, and records the highest
// pruned number; ChangesSince from before it returns store.ErrFeedTruncated,
// and the reader resynchronizes from a Snapshot. Listen holds a dedicated
// connection that LISTENs for notifications and reconnects with backoff,
// telling its caller to re-read the feed after every (re)connection.
//
// # Replica registry
//
// For a write to be visible "at once" on every replica, each serving replica
// records in the replicas table the last change it has applied and holds a
// lease, in database time. Heartbeat renews it; AwaitApplied, called by a
// writer after commit, waits until every replica that holds a valid lease
// and is not fenced has applied the write. A replica that does not answer in
// time is fenced (it must stop serving from memory) and the writer then waits
// until that replica's lease has run out, so that when the write returns no
// replica can still be answering from older data. A fenced replica's lease is
// not renewed; it catches up and calls Unfence, which succeeds only if it has
// applied every committed change, checked under the writers' lock. New
// replicas start fenced, and so does a replica whose lease lapsed, since
// writes committed meanwhile did not wait for it.
//
// # Errors
//
// A unique violation wraps store.ErrConflict. Failures to reach the server,
// lost connections, server shutdown and similar wrap store.ErrUnavailable, so
// callers can answer 503. A failed transaction is always rolled back.
package postgres
