package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded schema change, applied once and recorded in
// schema_migrations.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations, ordered by version. Each file
// is named NNNN_description.sql.
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		if !ok || path.Ext(name) != ".sql" {
			return nil, fmt.Errorf("migration %s: name is not NNNN_description.sql", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: bad version %q", name, num)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		data, err := fs.ReadFile(migrationFS, "migrations/"+name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, migration{version: v, name: name, sql: string(data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// migrate creates the schema if needed and applies every embedded migration
// not yet recorded, each in its own transaction. It runs on a dedicated
// connection holding a session advisory lock, so replicas that start together
// migrate one after another; closing the connection releases the lock even if
// unlocking fails.
func (s *Store) migrate(ctx context.Context) (applied int, err error) {
	migs, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	conn, err := pgx.ConnectConfig(ctx, s.connConfig.Copy())
	if err != nil {
		return 0, fmt.Errorf("connect: %w", wrapErr(err))
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, s.migrateLock); err != nil {
		return 0, fmt.Errorf("take migration lock: %w", wrapErr(err))
	}

	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.schema).Scan(&exists); err != nil {
		return 0, fmt.Errorf("look up schema %q: %w", s.schema, wrapErr(err))
	}
	if !exists {
		if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{s.schema}.Sanitize()); err != nil {
			return 0, fmt.Errorf("create schema %q: %w", s.schema, wrapErr(err))
		}
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", wrapErr(err))
	}
	var latest int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&latest); err != nil {
		return 0, fmt.Errorf("read schema version: %w", wrapErr(err))
	}
	if n := len(migs); n > 0 && latest > migs[n-1].version {
		// A newer release migrated this schema; migrations only add, so an
		// older replica keeps working during a rolling upgrade.
		s.log.Warn("database schema is newer than this release", "schema", s.schema,
			"db_version", latest, "known_version", migs[n-1].version)
	}
	for _, m := range migs {
		if m.version <= latest {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("apply migration %s: %w", m.name, wrapErr(err))
		}
		applied++
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, s.migrateLock); err != nil {
		return applied, fmt.Errorf("release migration lock: %w", wrapErr(err))
	}
	return applied, nil
}
