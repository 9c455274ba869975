package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options configures Open. The zero value is valid.
type Options struct {
	// Schema is the PostgreSQL schema holding fedcred's tables. It is created
	// if missing. Empty means the first schema of the URL's search_path
	// parameter, or "public".
	Schema string
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Now stamps changes with their commit time and sets the cutoff of
	// PruneChanges; nil means time.Now. Replica leases use database time.
	Now func() time.Time
}

// Store is a store.Store and store.Feed on a PostgreSQL database.
type Store struct {
	pool        *pgxpool.Pool
	connConfig  *pgx.ConnConfig // for the migration and listener connections
	schema      string
	channel     string // NOTIFY channel of this schema's change feed
	writeLock   int64  // advisory lock key serializing writers of this schema
	migrateLock int64  // advisory lock key serializing migrations of this schema
	log         *slog.Logger
	now         func() time.Time

	closeOnce sync.Once
	closed    chan struct{}
}

var (
	_ store.Store = (*Store)(nil)
	_ store.Feed  = (*Store)(nil)
)

// defaultChannel is the NOTIFY channel of the change feed in schema public.
const defaultChannel = "fedcred_changes"

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string, as pgx accepts), creates the schema if needed, and
// applies the embedded migrations. Pool settings such as pool_max_conns may be
// given in the URL. Errors reaching the server wrap store.ErrUnavailable.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts the password in its parse errors.
		return nil, fmt.Errorf("parse postgres url: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	params := cfg.ConnConfig.RuntimeParams
	schema := opts.Schema
	if schema == "" {
		schema = firstSchema(params["search_path"])
	}
	// Every connection resolves unqualified table names in the schema alone.
	params["search_path"] = pgx.Identifier{schema}.Sanitize()
	if params["application_name"] == "" {
		params["application_name"] = "fedcred"
	}
	s := &Store{
		connConfig:  cfg.ConnConfig.Copy(),
		schema:      schema,
		channel:     channelName(schema),
		writeLock:   lockKey("write", schema),
		migrateLock: lockKey("migrate", schema),
		log:         log,
		now:         now,
		closed:      make(chan struct{}),
	}
	log.Debug("opening postgres store", "url", redactURL(url), "schema", schema)
	applied, err := s.migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate postgres schema %q: %w", schema, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create postgres pool: %w", wrapErr(err))
	}
	s.pool = pool
	log.Info("postgres store ready", "url", redactURL(url), "schema", schema, "migrations_applied", applied)
	return s, nil
}

// Close closes the connection pool and stops every Listen call.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.pool.Close()
	})
	return nil
}

// View runs fn in a read-only REPEATABLE READ transaction: every read in fn
// sees the same snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	pt, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin transaction: %w", wrapErr(err))
	}
	defer pt.Rollback(ctx)
	if err := fn(&tx{tx: pt}); err != nil {
		return err
	}
	if err := pt.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", wrapErr(err))
	}
	return nil
}

// Update runs fn once in a read-write transaction that first takes the
// schema's writer advisory lock, so writers in every process are serialized
// and their changes are numbered in commit order. It commits if fn returns
// nil and rolls back otherwise; a transaction that wrote anything notifies the
// schema's change channel with its last sequence number.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	pt, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite})
	if err != nil {
		return fmt.Errorf("begin transaction: %w", wrapErr(err))
	}
	defer pt.Rollback(ctx)
	if _, err := pt.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, s.writeLock); err != nil {
		return fmt.Errorf("take writer lock: %w", wrapErr(err))
	}
	t := &tx{tx: pt, writable: true, now: s.now}
	if err := fn(t); err != nil {
		return err
	}
	if t.lastSeq > 0 {
		if _, err := pt.Exec(ctx, `SELECT pg_notify($1, $2::bigint::text)`, s.channel, t.lastSeq); err != nil {
			return fmt.Errorf("notify changes: %w", wrapErr(err))
		}
	}
	if err := pt.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", wrapErr(err))
	}
	return nil
}

// tx is a store.Tx over a pgx transaction. In an Update it records a change
// for every write that changes something.
type tx struct {
	tx       pgx.Tx
	writable bool
	now      func() time.Time
	lastSeq  int64 // sequence number of the last change recorded, 0 if none
}

var errReadOnly = errors.New("write in a read-only transaction")

func (t *tx) Get(ctx context.Context, kind store.Kind, key string) ([]byte, error) {
	var data []byte
	err := t.tx.QueryRow(ctx, `SELECT data FROM objects WHERE kind = $1 AND key = $2`, string(kind), key).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := t.tx.QueryRow(ctx, `SELECT data FROM objects WHERE kind = $1 AND alt = $2`, string(kind), alt).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %s by %q: %w", kind, alt, wrapErr(err))
	}
	return data, nil
}

func (t *tx) List(ctx context.Context, kind store.Kind, prefix, after string, limit int) ([]store.Record, error) {
	query := `SELECT key, alt, data FROM objects WHERE kind = $1 AND key > $2`
	args := []any{string(kind), after}
	if prefix != "" {
		// A range on the primary key, which compares bytes ("C" collation).
		args = append(args, prefix)
		query += fmt.Sprintf(` AND key >= $%d`, len(args))
		if end, ok := prefixEnd(prefix); ok {
			args = append(args, end)
			query += fmt.Sprintf(` AND key < $%d`, len(args))
		} else {
			query += fmt.Sprintf(` AND starts_with(key, $%d)`, len(args))
		}
	}
	query += ` ORDER BY key`
	if limit > 0 {
		args = append(args, limit)
		query += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := t.tx.Query(ctx, query, args...)
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
		return nil, fmt.Errorf("list %s %q: %w", kind, prefix, wrapErr(err))
	}
	return out, nil
}

// The write statements change objects in a data-modifying CTE "w" and, in the
// same statement, take the next sequence number and record the change when w
// returned a row. $1 is always the commit time. Conflicts on a key are
// reported without a failed statement, so the transaction stays usable, as in
// the SQLite backend.
const recordChange = `, s AS (
	UPDATE feed_state SET seq = seq + 1 WHERE EXISTS (SELECT 1 FROM w) RETURNING seq
)
INSERT INTO changes (seq, kind, key, alt, data, deleted, committed_at)
SELECT s.seq, w.kind, w.key, w.alt, w.data, w.deleted, $1 FROM w, s
RETURNING seq`

const (
	insertSQL = `WITH w AS (
	INSERT INTO objects (kind, key, alt, data) VALUES ($2, $3, $4, $5)
	ON CONFLICT DO NOTHING
	RETURNING kind, key, alt, data, false AS deleted
)` + recordChange

	upsertSQL = `WITH w AS (
	INSERT INTO objects AS o (kind, key, alt, data) VALUES ($2, $3, $4, $5)
	ON CONFLICT (kind, key) DO UPDATE SET alt = excluded.alt, data = excluded.data
		WHERE o.alt <> excluded.alt OR o.data <> excluded.data
	RETURNING kind, key, alt, data, false AS deleted
)` + recordChange

	deleteSQL = `WITH w AS (
	DELETE FROM objects WHERE kind = $2 AND key = $3
	RETURNING kind, key, alt, NULL::bytea AS data, true AS deleted
)` + recordChange
)

// Writes of kinds that are not mirrored (store.Mirrored) change objects
// without recording a change.
const (
	insertPlainSQL = `INSERT INTO objects (kind, key, alt, data) SELECT $2, $3, $4, $5 WHERE $1::timestamptz IS NOT NULL
	ON CONFLICT DO NOTHING RETURNING 0::bigint`
	upsertPlainSQL = `INSERT INTO objects AS o (kind, key, alt, data) SELECT $2, $3, $4, $5 WHERE $1::timestamptz IS NOT NULL
	ON CONFLICT (kind, key) DO UPDATE SET alt = excluded.alt, data = excluded.data RETURNING 0::bigint`
	deletePlainSQL = `DELETE FROM objects WHERE kind = $2 AND key = $3 AND $1::timestamptz IS NOT NULL RETURNING 0::bigint`
)

// statement picks the recording or the plain form of a write.
func statement(kind store.Kind, recording, plain string) string {
	if store.Mirrored(kind) {
		return recording
	}
	return plain
}

// write runs one of the write statements and reports whether it changed
// something.
func (t *tx) write(ctx context.Context, query string, args ...any) (bool, error) {
	if !t.writable {
		return false, errReadOnly
	}
	var seq int64
	err := t.tx.QueryRow(ctx, query, append([]any{t.now().UTC()}, args...)...).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrapErr(err)
	}
	if seq > 0 {
		t.lastSeq = seq
	}
	return true, nil
}

func (t *tx) Insert(ctx context.Context, r store.Record) error {
	changed, err := t.write(ctx, statement(r.Kind, insertSQL, insertPlainSQL), string(r.Kind), r.Key, r.AltKey, r.Data)
	if err != nil {
		return fmt.Errorf("insert %s %q: %w", r.Kind, r.Key, err)
	}
	if !changed {
		return fmt.Errorf("insert %s %q: %w: key or alternate key taken", r.Kind, r.Key, store.ErrConflict)
	}
	return nil
}

func (t *tx) Upsert(ctx context.Context, r store.Record) error {
	if !t.writable {
		return fmt.Errorf("upsert %s %q: %w", r.Kind, r.Key, errReadOnly)
	}
	if r.AltKey != "" {
		// Race-free: every writer holds the writer lock.
		var taken bool
		err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM objects WHERE kind = $1 AND alt = $2 AND key <> $3)`,
			string(r.Kind), r.AltKey, r.Key).Scan(&taken)
		if err != nil {
			return fmt.Errorf("upsert %s %q: %w", r.Kind, r.Key, wrapErr(err))
		}
		if taken {
			return fmt.Errorf("upsert %s %q: %w: alternate key %q taken", r.Kind, r.Key, store.ErrConflict, r.AltKey)
		}
	}
	if _, err := t.write(ctx, statement(r.Kind, upsertSQL, upsertPlainSQL), string(r.Kind), r.Key, r.AltKey, r.Data); err != nil {
		return fmt.Errorf("upsert %s %q: %w", r.Kind, r.Key, err)
	}
	return nil
}

func (t *tx) Delete(ctx context.Context, kind store.Kind, key string) error {
	changed, err := t.write(ctx, statement(kind, deleteSQL, deletePlainSQL), string(kind), key)
	if err != nil {
		return fmt.Errorf("delete %s %q: %w", kind, key, err)
	}
	if !changed {
		return store.ErrNotFound
	}
	return nil
}

// prefixEnd returns the least string greater than every string that starts
// with prefix, comparing bytes (which for valid UTF-8 is code point order): the
// prefix with its last code point incremented. ok is false when there is none
// or prefix is not valid UTF-8.
func prefixEnd(prefix string) (string, bool) {
	if !utf8.ValidString(prefix) {
		return "", false
	}
	runes := []rune(prefix)
	for i := len(runes) - 1; i >= 0; i-- {
		r := runes[i] + 1
		if r == 0xD800 { // skip the surrogates, which UTF-8 cannot encode
			r = 0xE000
		}
		if r <= utf8.MaxRune {
			runes[i] = r
			return string(runes[:i+1]), true
		}
	}
	return "", false
}

// firstSchema returns the first schema named in a search_path value, or
// "public".
func firstSchema(searchPath string) string {
	for _, part := range strings.Split(searchPath, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "", part == `""`, part == `"$user"`, part == "$user":
			continue
		case len(part) >= 2 && part[0] == '"' && part[len(part)-1] == '"':
			return strings.ReplaceAll(part[1:len(part)-1], `""`, `"`)
		default:
			return strings.ToLower(part)
		}
	}
	return "public"
}

// maxIdentifier is PostgreSQL's limit on identifier (and channel name) bytes.
const maxIdentifier = 63

// channelName is the NOTIFY channel of a schema's change feed:
// fedcred_changes in public, fedcred_changes_<schema> elsewhere (hashed when
// that would be too long), so that deployments sharing a database in separate
// schemas do not wake each other.
func channelName(schema string) string {
	if schema == "public" {
		return defaultChannel
	}
	if c := defaultChannel + "_" + schema; len(c) <= maxIdentifier {
		return c
	}
	return fmt.Sprintf("%s_%016x", defaultChannel, uint64(lockKey("channel", schema)))
}

// lockKey derives a 64-bit advisory lock key for one purpose in one schema.
func lockKey(purpose, schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("fedcred/" + purpose + "/" + schema))
	return int64(h.Sum64())
}

// redactURL returns a connection URL fit for logs: without its password,
// whether given as user info or as a query parameter. Key=value connection
// strings are not logged.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "(connection string not shown)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
