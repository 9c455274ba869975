package vault

import (
	"context"
	"errors"
	"fmt"

	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
)

// ResealAll re-seals, with sealer's primary key-encryption key, every secret
// version still sealed with a previous one, and returns how many it
// re-sealed. It is safe to run on several replicas at once.
func ResealAll(ctx context.Context, st store.Store, sealer *keys.Sealer) (int, error) {
	var stale []store.Secret
	err := st.View(ctx, func(tx store.Tx) error {
		all, err := store.List[store.Secret](ctx, tx, "", "", 0)
		for _, s := range all {
			if !sealer.Current(s.SealedValue) {
				stale = append(stale, s)
			}
		}
		return err
	})
	if err != nil || len(stale) == 0 {
		return 0, err
	}
	n := 0
	err = st.Update(ctx, func(tx store.Tx) error {
		n = 0
		for _, old := range stale {
			s, err := store.Get[store.Secret](ctx, tx, old.Key())
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if sealer.Current(s.SealedValue) {
				continue
			}
			if s.SealedValue, err = sealer.Reseal(s.SealedValue, sealAAD(s.VaultName, s.Name, s.Version)); err != nil {
				return fmt.Errorf("re-seal secret %s/%s: %w", s.VaultName, s.Name, err)
			}
			if err := store.Put(ctx, tx, s); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
