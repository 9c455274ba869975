// Package sqlite is the embedded, default Store backend: one SQLite file
// through the pure-Go modernc.org/sqlite driver (no cgo).
//
// Writers are serialized: the database runs in WAL mode with one writer
// connection whose transactions begin IMMEDIATE, so a read-modify-write
// closure never loses a concurrent update and never fails with SQLITE_BUSY.
// Readers use their own pool and see the last committed state.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/fedcred/fedcred/internal/store"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

// Store is a store.Store on one SQLite database file.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	now    func() time.Time
}

var (
	_ store.Store = (*Store)(nil)
	_ store.Feed  = (*Store)(nil)
)

// migrations are applied in order, each once, recorded in schema_migrations.
var migrations = []string{
	`CREATE TABLE objects (
		kind TEXT NOT NULL,
		key  TEXT NOT NULL,
		alt  TEXT NOT NULL DEFAULT '',
		data BLOB NOT NULL,
		PRIMARY KEY (kind, key)
	) WITHOUT ROWID;
	CREATE UNIQUE INDEX objects_alt ON objects (kind, alt) WHERE alt <> '';`,
	`CREATE TABLE changes (
		seq          INTEGER PRIMARY KEY,
		kind         TEXT NOT NULL,
		key          TEXT NOT NULL,
		alt          TEXT NOT NULL DEFAULT '',
		data         BLOB,
		deleted      INTEGER NOT NULL,
		committed_at INTEGER NOT NULL
	);
	CREATE TABLE feed (
		id             INTEGER PRIMARY KEY CHECK (id = 1),
		seq            INTEGER NOT NULL,
		pruned_through INTEGER NOT NULL
	);
	INSERT INTO feed (id, seq, pruned_through) VALUES (1, 0, 0);`,
}

// Open opens (creating if needed) the database at path and migrates it.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()

	writer, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	if err := migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, err
	}
	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout(10000)")
	rq.Add("_pragma", "query_only(1)")
	reader, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite reader %s: %w", path, err)
	}
	reader.SetMaxOpenConns(4)
	return &Store{writer: writer, reader: reader, now: time.Now}, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for i, stmt := range migrations {
		version := i + 1
		err := func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (?)`, version); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			return fmt.Errorf("apply migration %d: %w", version, err)
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, s.reader, &sql.TxOptions{ReadOnly: true}, fn)
}

// Update runs fn in a read-write transaction, committing if fn returns nil.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, s.writer, nil, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(store.Tx) error) error {
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", wrapErr(err))
	}
	defer sqlTx.Rollback()
	if err := fn(&tx{tx: sqlTx, now: s.now}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", wrapErr(err))
	}
	return nil
}

type tx struct {
	tx  *sql.Tx
	now func() time.Time
}

// record appends a change to the feed in the write's own transaction.
func (t *tx) record(ctx context.Context, kind store.Kind, key, alt string, data []byte, deleted bool) error {
	if !store.Mirrored(kind) {
		return nil
	}
	var seq int64
	if err := t.tx.QueryRowContext(ctx, `UPDATE feed SET seq = seq + 1 WHERE id = 1 RETURNING seq`).Scan(&seq); err != nil {
		return fmt.Errorf("advance change feed: %w", wrapErr(err))
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO changes (seq, kind, key, alt, data, deleted, committed_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		seq, string(kind), key, alt, data, deleted, t.now().UnixNano())
	if err != nil {
		return fmt.Errorf("record change: %w", wrapErr(err))
	}
	return nil
}

func (t *tx) Get(ctx context.Context, kind store.Kind, key string) ([]byte, error) {
	var data []byte
	err := t.tx.QueryRowContext(ctx, `SELECT data FROM objects WHERE kind = ? AND key = ?`, string(kind), key).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %q: %w", kind, key, wrapErr(err))
	}
	return data, nil
}

func (t *tx) GetByAlt(ctx context.Context, kind store.Kind, alt string) ([]byte, error) {
	if alt == "" {
		return nil, store.ErrNotFound
	}
	var data []byte
	err := t.tx.QueryRowContext(ctx, `SELECT data FROM objects WHERE kind = ? AND alt = ?`, string(kind), alt).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %s by %q: %w", kind, alt, wrapErr(err))
	}
	return data, nil
}

func (t *tx) List(ctx context.Context, kind store.Kind, prefix, after string, limit int) ([]store.Record, error) {
	query := `SELECT key, alt, data FROM objects WHERE kind = ? AND key > ?`
	args := []any{string(kind), after}
	if prefix != "" {
		query += ` AND key >= ? AND substr(key, 1, ?) = ?`
		args = append(args, prefix, len(prefix), prefix)
	}
	query += ` ORDER BY key`
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s %q: %w", kind, prefix, wrapErr(err))
	}
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		r := store.Record{Kind: kind}
		if err := rows.Scan(&r.Key, &r.AltKey, &r.Data); err != nil {
			return nil, fmt.Errorf("list %s: %w", kind, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, wrapErr(err))
	}
	return out, nil
}

func (t *tx) Insert(ctx context.Context, r store.Record) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO objects (kind, key, alt, data) VALUES (?, ?, ?, ?)`,
		string(r.Kind), r.Key, r.AltKey, r.Data)
	if err != nil {
		return fmt.Errorf("insert %s %q: %w", r.Kind, r.Key, wrapErr(err))
	}
	return t.record(ctx, r.Kind, r.Key, r.AltKey, r.Data, false)
}

func (t *tx) Upsert(ctx context.Context, r store.Record) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO objects (kind, key, alt, data) VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, key) DO UPDATE SET alt = excluded.alt, data = excluded.data`,
		string(r.Kind), r.Key, r.AltKey, r.Data)
	if err != nil {
		return fmt.Errorf("upsert %s %q: %w", r.Kind, r.Key, wrapErr(err))
	}
	return t.record(ctx, r.Kind, r.Key, r.AltKey, r.Data, false)
}

func (t *tx) Delete(ctx context.Context, kind store.Kind, key string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM objects WHERE kind = ? AND key = ?`, string(kind), key)
	if err != nil {
		return fmt.Errorf("delete %s %q: %w", kind, key, wrapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("delete %s %q: %w", kind, key, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return t.record(ctx, kind, key, "", nil, true)
}

// ChangesSince implements store.Feed.
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]store.Change, error) {
	var out []store.Change
	err := s.View(ctx, func(stx store.Tx) error {
		t := stx.(*tx)
		var pruned int64
		if err := t.tx.QueryRowContext(ctx, `SELECT pruned_through FROM feed WHERE id = 1`).Scan(&pruned); err != nil {
			return fmt.Errorf("read change feed: %w", wrapErr(err))
		}
		if after < pruned {
			return store.ErrFeedTruncated
		}
		q := `SELECT seq, kind, key, alt, data, deleted FROM changes WHERE seq > ? ORDER BY seq`
		args := []any{after}
		if limit > 0 {
			q += ` LIMIT ?`
			args = append(args, limit)
		}
		rows, err := t.tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("read change feed: %w", wrapErr(err))
		}
		defer rows.Close()
		for rows.Next() {
			var c store.Change
			var kind string
			if err := rows.Scan(&c.Seq, &kind, &c.Key, &c.AltKey, &c.Data, &c.Deleted); err != nil {
				return fmt.Errorf("read change feed: %w", err)
			}
			c.Kind = store.Kind(kind)
			out = append(out, c)
		}
		return rows.Err()
	})
	return out, err
}

// Snapshot implements store.Feed.
func (s *Store) Snapshot(ctx context.Context) (int64, []store.Record, error) {
	var (
		seq  int64
		recs []store.Record
	)
	err := s.View(ctx, func(stx store.Tx) error {
		t := stx.(*tx)
		if err := t.tx.QueryRowContext(ctx, `SELECT seq FROM feed WHERE id = 1`).Scan(&seq); err != nil {
			return fmt.Errorf("read feed position: %w", wrapErr(err))
		}
		rows, err := t.tx.QueryContext(ctx, `SELECT kind, key, alt, data FROM objects WHERE kind <> ? ORDER BY kind, key`, string(store.KindAuditEvent))
		if err != nil {
			return fmt.Errorf("snapshot: %w", wrapErr(err))
		}
		defer rows.Close()
		for rows.Next() {
			var r store.Record
			var kind string
			if err := rows.Scan(&kind, &r.Key, &r.AltKey, &r.Data); err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			r.Kind = store.Kind(kind)
			if store.Mirrored(r.Kind) {
				recs = append(recs, r)
			}
		}
		return rows.Err()
	})
	return seq, recs, err
}

// PruneChanges deletes changes older than olderThan, keeping the newest.
func (s *Store) PruneChanges(ctx context.Context, olderThan time.Duration) error {
	cutoff := s.now().Add(-olderThan).UnixNano()
	return s.Update(ctx, func(stx store.Tx) error {
		t := stx.(*tx)
		var through sql.NullInt64
		err := t.tx.QueryRowContext(ctx, `SELECT MAX(seq) FROM changes WHERE committed_at < ? AND seq < (SELECT seq FROM feed WHERE id = 1)`, cutoff).Scan(&through)
		if err != nil || !through.Valid {
			return wrapErr(err)
		}
		if _, err := t.tx.ExecContext(ctx, `DELETE FROM changes WHERE seq <= ?`, through.Int64); err != nil {
			return fmt.Errorf("prune changes: %w", wrapErr(err))
		}
		_, err = t.tx.ExecContext(ctx, `UPDATE feed SET pruned_through = MAX(pruned_through, ?) WHERE id = 1`, through.Int64)
		return wrapErr(err)
	})
}

// wrapErr maps SQLite's constraint violations to store.ErrConflict.
func wrapErr(err error) error {
	var se *sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3lib.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("%w: %s", store.ErrConflict, strings.TrimSpace(se.Error()))
		}
	}
	return err
}
