package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestPrefixEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prefix string
		want   string
		wantOK bool
	}{
		{name: "ascii", prefix: "sub/rg/", want: "sub/rg0", wantOK: true},
		{name: "multibyte last rune", prefix: "aé", want: "aê", wantOK: true},
		{name: "before the surrogates", prefix: "a\uD7FF", want: "a\uE000", wantOK: true},
		{name: "largest rune last", prefix: "ab\U0010FFFF", want: "ac", wantOK: true},
		{name: "only largest runes", prefix: "\U0010FFFF\U0010FFFF", wantOK: false},
		{name: "invalid utf-8", prefix: "a\xff", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := prefixEnd(tt.prefix)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("prefixEnd(%q) = %q, %v; want %q, %v", tt.prefix, got, ok, tt.want, tt.wantOK)
			}
			if ok && !(tt.prefix < got && tt.prefix+"\U0010FFFF\U0010FFFF" < got) {
				t.Fatalf("prefixEnd(%q) = %q does not bound the prefix's strings", tt.prefix, got)
			}
		})
	}
}

func TestFirstSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		searchPath string
		want       string
	}{
		{name: "unset", searchPath: "", want: "public"},
		{name: "one", searchPath: "fedcred", want: "fedcred"},
		{name: "unquoted folds to lower case", searchPath: "FedCred", want: "fedcred"},
		{name: "quoted keeps case and quotes", searchPath: `"Fed""Cred", public`, want: `Fed"Cred`},
		{name: "user schema skipped", searchPath: `"$user", app`, want: "app"},
		{name: "only user schema", searchPath: `"$user"`, want: "public"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := firstSchema(tt.searchPath); got != tt.want {
				t.Fatalf("firstSchema(%q) = %q, want %q", tt.searchPath, got, tt.want)
			}
		})
	}
}

func TestChannelName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("s", 63)
	tests := []struct {
		name   string
		schema string
		want   string
	}{
		{name: "public", schema: "public", want: "fedcred_changes"},
		{name: "other schema", schema: "tenant_a", want: "fedcred_changes_tenant_a"},
		{name: "long schema hashed", schema: long, want: fmt.Sprintf("fedcred_changes_%016x", uint64(lockKey("channel", long)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := channelName(tt.schema)
			if got != tt.want || len(got) > maxIdentifier {
				t.Fatalf("channelName(%q) = %q, want %q (at most %d bytes)", tt.schema, got, tt.want, maxIdentifier)
			}
		})
	}
	if lockKey("write", "a") == lockKey("write", "b") || lockKey("write", "a") == lockKey("migrate", "a") {
		t.Fatal("lock keys collide across schemas or purposes")
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		url  string
		want string
	}{
		{name: "no password", url: "postgres://u@h:5432/db?sslmode=disable", want: "postgres://u@h:5432/db?sslmode=disable"},
		{name: "user info password", url: "postgres://u:hunter2@h/db", want: "postgres://u:xxxxx@h/db"},
		{name: "query password", url: "postgresql://h/db?password=hunter2&user=u", want: "postgresql://h/db?password=xxxxx&user=u"},
		{name: "key value string", url: "host=h password=hunter2", want: "(connection string not shown)"},
		{name: "unparseable", url: "postgres://u:hunter2@h:port/db", want: "(connection string not shown)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redactURL(tt.url)
			if got != tt.want || strings.Contains(got, "hunter2") {
				t.Fatalf("redactURL(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

func TestWrapErr(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return fmt.Errorf("query: %w", &pgconn.PgError{Code: code, Message: "m"}) }
	tests := []struct {
		name            string
		err             error
		wantConflict    bool
		wantUnavailable bool
	}{
		{name: "unique violation", err: pg("23505"), wantConflict: true},
		{name: "admin shutdown", err: pg("57P01"), wantUnavailable: true},
		{name: "cannot connect now", err: pg("57P03"), wantUnavailable: true},
		{name: "connection failure", err: pg("08006"), wantUnavailable: true},
		{name: "too many connections", err: pg("53300"), wantUnavailable: true},
		{name: "statement timeout", err: pg("57014"), wantUnavailable: true},
		{name: "syntax error", err: pg("42601")},
		{name: "not null violation", err: pg("23502")},
		{name: "connection closed", err: fmt.Errorf("exec: %w", pgconn.ErrConnClosed), wantUnavailable: true},
		{name: "unexpected eof", err: fmt.Errorf("read: %w", io.ErrUnexpectedEOF), wantUnavailable: true},
		{name: "deadline", err: context.DeadlineExceeded, wantUnavailable: true},
		{name: "cancelled", err: context.Canceled},
		{name: "plain", err: errors.New("other")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wrapErr(tt.err)
			if !errors.Is(got, tt.err) {
				t.Errorf("wrapErr(%v) = %v lost the original error", tt.err, got)
			}
			if c := errors.Is(got, store.ErrConflict); c != tt.wantConflict {
				t.Errorf("wrapErr(%v) is ErrConflict = %v, want %v", tt.err, c, tt.wantConflict)
			}
			if u := errors.Is(got, store.ErrUnavailable); u != tt.wantUnavailable {
				t.Errorf("wrapErr(%v) is ErrUnavailable = %v, want %v", tt.err, u, tt.wantUnavailable)
			}
			if twice := wrapErr(got); twice != got {
				t.Errorf("wrapErr is not idempotent: %v then %v", got, twice)
			}
		})
	}
	if wrapErr(nil) != nil {
		t.Error("wrapErr(nil) != nil")
	}
}
