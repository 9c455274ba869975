package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
	"github.com/jackc/pgx/v5/pgconn"
)

// wrapErr maps a pgx error onto the store's sentinels while keeping the
// original in the chain: a unique violation wraps store.ErrConflict, and an
// error that means the database cannot be reached or cannot serve wraps
// store.ErrUnavailable. Other errors, and errors already mapped, are returned
// unchanged.
func wrapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrUnavailable):
		return err // already mapped
	case isUniqueViolation(err):
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case isUnavailable(err):
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isUnavailable reports whether err means the server could not be reached,
// the connection was lost, or the server refused work for reasons of its own
// state (shutting down, starting up, out of resources, statement timeout).
// A cancelled context is the caller's doing and is not unavailability; an
// expired deadline is, since the database did not answer in time.
func isUnavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"): // connection exception
			return true
		case strings.HasPrefix(pe.Code, "53"): // insufficient resources, e.g. too many connections
			return true
		}
		switch pe.Code {
		case "57P01", // admin_shutdown (also pg_terminate_backend)
			"57P02", // crash_shutdown
			"57P03", // cannot_connect_now
			"57014": // query_canceled: statement_timeout
			return true
		}
		return false
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) ||
		pgconn.Timeout(err) ||
		errors.As(err, &ce) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &ne)
}
