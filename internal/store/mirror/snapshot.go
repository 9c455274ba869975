package mirror

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// table is one kind's objects. Tables are immutable once published: a batch
// of changes builds new tables for the kinds it touches.
type table struct {
	byKey map[string]store.Record
	byAlt map[string]string // alt key -> key
	keys  []string          // sorted
}

// state is an immutable, consistent copy of the store at seq.
type state struct {
	seq    int64
	tables map[store.Kind]*table
}

func newState(seq int64, recs []store.Record) *state {
	s := &state{seq: seq, tables: map[store.Kind]*table{}}
	for _, r := range recs {
		if !store.Mirrored(r.Kind) {
			continue
		}
		t := s.tables[r.Kind]
		if t == nil {
			t = &table{byKey: map[string]store.Record{}, byAlt: map[string]string{}}
			s.tables[r.Kind] = t
		}
		t.byKey[r.Key] = r
		if r.AltKey != "" {
			t.byAlt[r.AltKey] = r.Key
		}
	}
	for _, t := range s.tables {
		t.keys = make([]string, 0, len(t.byKey))
		for k := range t.byKey {
			t.keys = append(t.keys, k)
		}
		sort.Strings(t.keys)
	}
	return s
}

// apply returns a new state with changes applied; s is left untouched.
func (s *state) apply(changes []store.Change) *state {
	next := &state{seq: s.seq, tables: make(map[store.Kind]*table, len(s.tables))}
	for k, t := range s.tables {
		next.tables[k] = t
	}
	copied := map[store.Kind]bool{}
	for _, c := range changes {
		if c.Seq <= next.seq {
			continue
		}
		next.seq = c.Seq
		if !store.Mirrored(c.Kind) {
			continue
		}
		t := next.tables[c.Kind]
		if !copied[c.Kind] {
			t = t.clone()
			next.tables[c.Kind] = t
			copied[c.Kind] = true
		}
		old, existed := t.byKey[c.Key]
		if existed && old.AltKey != "" && t.byAlt[old.AltKey] == c.Key {
			delete(t.byAlt, old.AltKey)
		}
		if c.Deleted {
			if existed {
				delete(t.byKey, c.Key)
				i, _ := slices.BinarySearch(t.keys, c.Key)
				t.keys = slices.Delete(t.keys, i, i+1)
			}
			continue
		}
		t.byKey[c.Key] = store.Record{Kind: c.Kind, Key: c.Key, AltKey: c.AltKey, Data: c.Data}
		if c.AltKey != "" {
			t.byAlt[c.AltKey] = c.Key
		}
		if !existed {
			i, _ := slices.BinarySearch(t.keys, c.Key)
			t.keys = slices.Insert(t.keys, i, c.Key)
		}
	}
	return next
}

func (t *table) clone() *table {
	c := &table{byKey: map[string]store.Record{}, byAlt: map[string]string{}}
	if t == nil {
		return c
	}
	for k, v := range t.byKey {
		c.byKey[k] = v
	}
	for k, v := range t.byAlt {
		c.byAlt[k] = v
	}
	c.keys = slices.Clone(t.keys)
	return c
}

// readTx is a store.Tx over a state; writes are refused. Kinds that are not
// mirrored are read from the backend, each call in a transaction of its own.
type readTx struct {
	s       *state
	backend store.Store
}

// direct reads an unmirrored kind from the backend.
func direct[T any](ctx context.Context, r readTx, fn func(store.Tx) (T, error)) (T, error) {
	var out T
	err := r.backend.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

func (r readTx) Get(ctx context.Context, kind store.Kind, key string) ([]byte, error) {
	if !store.Mirrored(kind) {
		return direct(ctx, r, func(tx store.Tx) ([]byte, error) { return tx.Get(ctx, kind, key) })
	}
	if t := r.s.tables[kind]; t != nil {
		if rec, ok := t.byKey[key]; ok {
			return rec.Data, nil
		}
	}
	return nil, store.ErrNotFound
}

func (r readTx) GetByAlt(ctx context.Context, kind store.Kind, alt string) ([]byte, error) {
	if !store.Mirrored(kind) {
		return direct(ctx, r, func(tx store.Tx) ([]byte, error) { return tx.GetByAlt(ctx, kind, alt) })
	}
	if t := r.s.tables[kind]; t != nil && alt != "" {
		if key, ok := t.byAlt[alt]; ok {
			return r.Get(ctx, kind, key)
		}
	}
	return nil, store.ErrNotFound
}

func (r readTx) List(ctx context.Context, kind store.Kind, prefix, after string, limit int) ([]store.Record, error) {
	if !store.Mirrored(kind) {
		return direct(ctx, r, func(tx store.Tx) ([]store.Record, error) { return tx.List(ctx, kind, prefix, after, limit) })
	}
	t := r.s.tables[kind]
	if t == nil {
		return nil, nil
	}
	start := max(prefix, after)
	i, found := slices.BinarySearch(t.keys, start)
	if found && start == after {
		i++
	}
	var out []store.Record
	for ; i < len(t.keys); i++ {
		k := t.keys[i]
		if !strings.HasPrefix(k, prefix) || (limit > 0 && len(out) >= limit) {
			break
		}
		out = append(out, t.byKey[k])
	}
	return out, nil
}

func (readTx) Insert(context.Context, store.Record) error { return errReadOnly }
func (readTx) Upsert(context.Context, store.Record) error { return errReadOnly }
func (readTx) Delete(context.Context, store.Kind, string) error {
	return errReadOnly
}
