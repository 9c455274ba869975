package vault

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

func TestResealAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	oldKEK, newKEK := bytes.Repeat([]byte{3}, keys.KEKSize), bytes.Repeat([]byte{4}, keys.KEKSize)
	old, _ := keys.NewSealer(oldKEK)
	sealed, err := old.Seal([]byte("hunter2"), sealAAD("kv", "Db-Password", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	sec := store.Secret{VaultName: "kv", Name: "Db-Password", Version: "v1", SealedValue: sealed, Enabled: true}
	if err := st.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, sec) }); err != nil {
		t.Fatal(err)
	}
	rotating, _ := keys.NewSealer(newKEK, oldKEK)
	if n, err := ResealAll(ctx, st, rotating); err != nil || n != 1 {
		t.Fatalf("ResealAll = %d, %v; want 1", n, err)
	}
	if n, err := ResealAll(ctx, st, rotating); err != nil || n != 0 {
		t.Fatalf("second ResealAll = %d, %v; want 0", n, err)
	}
	var got store.Secret
	_ = st.View(ctx, func(tx store.Tx) error {
		got, err = store.Get[store.Secret](ctx, tx, sec.Key())
		return err
	})
	onlyNew, _ := keys.NewSealer(newKEK)
	value, err := onlyNew.Open(got.SealedValue, sealAAD("kv", "db-password", "v1"))
	if err != nil || string(value) != "hunter2" {
		t.Fatalf("after re-sealing, the new key alone opens %q, %v", value, err)
	}
}
