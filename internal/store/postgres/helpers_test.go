package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/store/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// baseURL returns the test database URL from FEDCRED_TEST_POSTGRES_URL. The
// tests skip without it, except on CI, where they fail.
func baseURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("FEDCRED_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("FEDCRED_TEST_POSTGRES_URL is required on CI")
		}
		t.Skip("FEDCRED_TEST_POSTGRES_URL not set")
	}
	return u
}

func randomName(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// withParams returns raw with the given query parameters set.
func withParams(t *testing.T, raw string, params map[string]string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("FEDCRED_TEST_POSTGRES_URL must be a postgres:// URL")
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// testDB is one test's private schema, with an administrative connection
// (its own application_name) for inspecting and manipulating it.
type testDB struct {
	base   string
	schema string
	app    string // application_name of the store's connections
	url    string // connects with app, a small pool, and no schema
	admin  *pgxpool.Pool
}

// newTestDB creates a schema for the test and drops it, with everything in
// it, when the test ends. With create false the schema is only named, and
// dropped if something created it.
func newTestDB(t *testing.T, create bool) *testDB {
	t.Helper()
	base := baseURL(t)
	d := &testDB{
		base:   base,
		schema: randomName(t, "fedcred_test_"),
		app:    randomName(t, "fedcred-test-"),
	}
	d.url = withParams(t, base, map[string]string{"application_name": d.app, "pool_max_conns": "4"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgxpool.New(ctx, withParams(t, base, map[string]string{
		"application_name": d.app + "-admin",
		"pool_max_conns":   "2",
		"search_path":      d.schema,
	}))
	if err != nil {
		t.Fatalf("connect admin: %v", err)
	}
	d.admin = admin
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{d.schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", d.schema, err)
		}
		admin.Close()
	})
	if create {
		if _, err := admin.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{d.schema}.Sanitize()); err != nil {
			t.Fatalf("create schema: %v", err)
		}
	}
	return d
}

// open opens a store on the test's schema and closes it when the test ends
// (before the schema is dropped).
func (d *testDB) open(t *testing.T, opts postgres.Options) *postgres.Store {
	t.Helper()
	if opts.Schema == "" {
		opts.Schema = d.schema
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, d.url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore is the usual start of a test: a fresh schema and a store on it.
func newStore(t *testing.T) (*postgres.Store, *testDB) {
	t.Helper()
	d := newTestDB(t, true)
	return d.open(t, postgres.Options{}), d
}

// terminate ends the store's server connections (those with the test's
// application_name) whose current or last query matches like, waiting until
// they are gone, and returns how many it ended.
func (d *testDB) terminate(t *testing.T, like string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int
	err := d.admin.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE $2) t`, d.app, like).Scan(&n)
	if err != nil {
		t.Fatalf("terminate connections: %v", err)
	}
	return n
}

// queryRow runs a query on the admin connection, in the test's schema.
func (d *testDB) queryRow(t *testing.T, dest []any, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.admin.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// closedPortURL returns the test URL pointed at a local port nothing listens on.
func closedPortURL(t *testing.T, raw string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// newHungServer listens on a local port, accepts connections and never
// answers; it returns the address.
func newHungServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// proxy is a TCP proxy to the test server that can be shut down, taking every
// connection through it down with it, to simulate losing the database.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// newProxy starts a proxy to the host of raw and returns it with raw rewritten
// to go through it.
func newProxy(t *testing.T, raw string) (*proxy, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	u.Host = l.Addr().String()
	return p, u.String()
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			return
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(up, c); up.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, up); c.Close() }()
	}
}

func (p *proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	p.conns = append(p.conns, conns...)
	return true
}

// Close stops accepting and cuts every proxied connection.
func (p *proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.l.Close()
		for _, c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// within fails the test unless ch yields a value within d.
func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s: nothing within %v", what, d)
	}
	panic("unreachable")
}

// nothingFor fails the test if ch yields a value within d.
func nothingFor[T any](t *testing.T, ch <-chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s: got %v", what, v)
	case <-time.After(d):
	}
}

var errBoom = errors.New("boom")
