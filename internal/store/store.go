// Package store defines fedcred's persisted types and the Store contract every
// storage backend implements.
//
// The contract is deliberately small: a backend stores opaque JSON documents
// keyed by (kind, key), with an optional unique alternate key per kind, and
// runs read-only and read-write closures in transactions. The typed helpers in
// this package (Get, List, Create, Put, Delete) give domain packages a typed
// view of it. Keys of ARM resources are their lower-cased resource IDs, so a
// key prefix selects every child of a scope (all identities of a subscription,
// all federated credentials of an identity) with one range scan.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotFound is returned when the requested object does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when an object is created whose key or alternate key
// is already taken.
var ErrConflict = errors.New("conflict")

// ErrUnavailable is returned when the backend cannot be reached.
var ErrUnavailable = errors.New("store unavailable")

// Kind names a type of persisted object.
type Kind string

// The persisted kinds.
const (
	KindTenant              Kind = "tenant"
	KindSubscription        Kind = "subscription"
	KindServicePrincipal    Kind = "servicePrincipal"
	KindResourceGroup       Kind = "resourceGroup"
	KindIdentity            Kind = "identity"
	KindFederatedCredential Kind = "federatedCredential"
	KindCluster             Kind = "cluster"
	KindSigningKey          Kind = "signingKey"
	KindRoleAssignment      Kind = "roleAssignment"
	KindVault               Kind = "vault"
	KindSecret              Kind = "secret"
	KindApplication         Kind = "application"
	KindAppRoleAssignment   Kind = "appRoleAssignment"
)

// Object is implemented by every persisted type. Methods must work on the zero
// value for Kind, since the typed helpers call it on one.
type Object interface {
	// Kind is the object's kind.
	Kind() Kind
	// Key is the object's primary key within its kind.
	Key() string
	// AltKey is an optional second unique key within the kind ("" for none).
	AltKey() string
}

// Record is one stored document as a backend sees it.
type Record struct {
	Kind   Kind
	Key    string
	AltKey string
	Data   []byte
}

// Tx is a transaction. Its methods must only be called from within the
// closure it was passed to.
type Tx interface {
	// Get returns the document stored under (kind, key), or ErrNotFound.
	Get(ctx context.Context, kind Kind, key string) ([]byte, error)
	// GetByAlt returns the document whose alternate key is alt, or ErrNotFound.
	GetByAlt(ctx context.Context, kind Kind, alt string) ([]byte, error)
	// List returns up to limit documents of kind whose key starts with prefix
	// and sorts strictly after after, in ascending key order. limit <= 0 means
	// no limit.
	List(ctx context.Context, kind Kind, prefix, after string, limit int) ([]Record, error)
	// Insert stores a new document; ErrConflict if the key or the alternate key
	// is taken.
	Insert(ctx context.Context, r Record) error
	// Upsert stores a document, replacing any with the same key; ErrConflict if
	// the alternate key belongs to another document.
	Upsert(ctx context.Context, r Record) error
	// Delete removes a document; ErrNotFound if there was none.
	Delete(ctx context.Context, kind Kind, key string) error
}

// Store is the storage contract. View runs fn in a read-only transaction;
// Update runs fn in a read-write transaction that commits if fn returns nil
// and rolls back otherwise. Update transactions on one store are serializable:
// a read-modify-write in one closure never loses a concurrent update.
type Store interface {
	View(ctx context.Context, fn func(Tx) error) error
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

func kindOf[T Object]() Kind {
	var zero T
	return zero.Kind()
}

// Get reads the object of type T with the given key.
func Get[T Object](ctx context.Context, tx Tx, key string) (T, error) {
	var v T
	data, err := tx.Get(ctx, kindOf[T](), key)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("decode %s %q: %w", kindOf[T](), key, err)
	}
	return v, nil
}

// GetByAlt reads the object of type T with the given alternate key.
func GetByAlt[T Object](ctx context.Context, tx Tx, alt string) (T, error) {
	var v T
	data, err := tx.GetByAlt(ctx, kindOf[T](), alt)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("decode %s by %q: %w", kindOf[T](), alt, err)
	}
	return v, nil
}

// List reads up to limit objects of type T whose key starts with prefix and
// sorts after after.
func List[T Object](ctx context.Context, tx Tx, prefix, after string, limit int) ([]T, error) {
	recs, err := tx.List(ctx, kindOf[T](), prefix, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(recs))
	for _, r := range recs {
		var v T
		if err := json.Unmarshal(r.Data, &v); err != nil {
			return nil, fmt.Errorf("decode %s %q: %w", r.Kind, r.Key, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func record(obj Object) (Record, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return Record{}, fmt.Errorf("encode %s %q: %w", obj.Kind(), obj.Key(), err)
	}
	return Record{Kind: obj.Kind(), Key: obj.Key(), AltKey: obj.AltKey(), Data: data}, nil
}

// Create stores a new object; ErrConflict if its key or alternate key is taken.
func Create(ctx context.Context, tx Tx, obj Object) error {
	r, err := record(obj)
	if err != nil {
		return err
	}
	return tx.Insert(ctx, r)
}

// Put stores an object, replacing any with the same key.
func Put(ctx context.Context, tx Tx, obj Object) error {
	r, err := record(obj)
	if err != nil {
		return err
	}
	return tx.Upsert(ctx, r)
}

// Delete removes the object of type T with the given key.
func Delete[T Object](ctx context.Context, tx Tx, key string) error {
	return tx.Delete(ctx, kindOf[T](), key)
}

// Change is one committed write, in commit order. Backends record a change
// for every Insert, Upsert and Delete in the same transaction as the write,
// so that caches (on this process or on other replicas) can replay them.
type Change struct {
	Seq     int64
	Kind    Kind
	Key     string
	AltKey  string
	Data    []byte // nil when Deleted
	Deleted bool
}

// Feed is the change feed a backend offers to in-memory caches. Sequence
// numbers are assigned at commit in a total order without gaps between
// committed transactions.
type Feed interface {
	// ChangesSince returns up to limit changes with Seq > after, in order. It
	// returns ErrFeedTruncated when changes after `after` have been pruned, so
	// the caller must resynchronize from a Snapshot.
	ChangesSince(ctx context.Context, after int64, limit int) ([]Change, error)
	// Snapshot returns every stored object and the sequence number it
	// reflects, read in one consistent transaction.
	Snapshot(ctx context.Context) (seq int64, records []Record, err error)
}

// Mirrored reports whether objects of kind are kept in in-memory mirrors
// and recorded in the change feed. Audit events are not: they only grow,
// nothing on the token path reads them, and their readers query the
// backend directly.
func Mirrored(kind Kind) bool { return kind != KindAuditEvent }

// ErrFeedTruncated means the requested changes are no longer kept.
var ErrFeedTruncated = errors.New("change feed truncated")
