package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/fedcred/fedcred/internal/store"
)

// sealAAD is the associated data a secret version's value is sealed with,
// binding the blob to its vault, name and version.
func sealAAD(vault, name, version string) []byte {
	return []byte("secret:" + strings.ToLower(vault+"/"+name+"/"+version))
}

// versionKey is the store key of a version of the call's secret.
func versionKey(c *call, version string) string {
	return store.SecretPrefix(c.vault.Name, c.name) + strings.ToLower(version)
}

// latestOf returns the most recently created of versions (not empty).
func latestOf(versions []store.Secret) store.Secret {
	latest := versions[0]
	for _, s := range versions[1:] {
		if s.CreatedAt.After(latest.CreatedAt) || (s.CreatedAt.Equal(latest.CreatedAt) && s.Key() > latest.Key()) {
			latest = s
		}
	}
	return latest
}

// findSecret reads the call's version of its secret, or its latest version
// when the call names none; a missing one is errSecretNotFound.
func findSecret(ctx context.Context, tx store.Tx, c *call) (store.Secret, error) {
	if c.version != "" {
		s, err := store.Get[store.Secret](ctx, tx, versionKey(c, c.version))
		if errors.Is(err, store.ErrNotFound) {
			return store.Secret{}, errSecretNotFound(c.name)
		}
		return s, err
	}
	versions, err := store.List[store.Secret](ctx, tx, store.SecretPrefix(c.vault.Name, c.name), "", 0)
	if err != nil {
		return store.Secret{}, err
	}
	if len(versions) == 0 {
		return store.Secret{}, errSecretNotFound(c.name)
	}
	return latestOf(versions), nil
}

// getSecret answers GET secrets/<name>[/<version>] with the value.
func (h *Handler) getSecret(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	var s store.Secret
	if err := h.store.View(ctx, func(tx store.Tx) error {
		var err error
		s, err = findSecret(ctx, tx, c)
		return err
	}); err != nil {
		return fmt.Errorf("read secret: %w", err)
	}
	if !s.Enabled {
		return errSecretDisabled()
	}
	value, err := h.sealer.Open(s.SealedValue, sealAAD(s.VaultName, s.Name, s.Version))
	if err != nil {
		return fmt.Errorf("open secret %s/%s/%s: %w", s.VaultName, s.Name, s.Version, err)
	}
	b := h.bundleOf(c, s)
	v := string(value)
	b.Value = &v
	h.writeJSON(w, r, http.StatusOK, b)
	return nil
}

// setSecret answers PUT secrets/<name>: a new version becomes the latest.
func (h *Handler) setSecret(w http.ResponseWriter, r *http.Request, c *call) error {
	var p setParams
	if err := decodeBody(r, &p); err != nil {
		return err
	}
	if err := p.validate(); err != nil {
		return err
	}
	version := strings.ToLower(h.newVersion())
	if !versionRE.MatchString(version) {
		return fmt.Errorf("new secret version %q is not 1 to 64 letters and digits", version)
	}
	sealed, err := h.sealer.Seal([]byte(*p.Value), sealAAD(c.vault.Name, c.name, version))
	if err != nil {
		return fmt.Errorf("seal secret value: %w", err)
	}
	now := h.now().UTC()
	s := store.Secret{
		VaultName:   c.vault.Name,
		Name:        c.name,
		Version:     version,
		SealedValue: sealed,
		Tags:        p.Tags,
		Enabled:     true,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if p.ContentType != nil {
		s.ContentType = *p.ContentType
	}
	if a := p.Attributes; a != nil {
		if a.Enabled != nil {
			s.Enabled = *a.Enabled
		}
		s.NotBefore, s.Expires = timePtr(a.NotBefore), timePtr(a.Expires)
	}
	ctx := r.Context()
	var saved store.Secret
	err = h.store.Update(ctx, func(tx store.Tx) error {
		rec := s
		existing, err := store.List[store.Secret](ctx, tx, store.SecretPrefix(c.vault.Name, c.name), "", 0)
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			// The name keeps the casing of the first version, and the new
			// version is the latest even if the clock has not moved.
			first := existing[0]
			for _, e := range existing[1:] {
				if e.CreatedAt.Before(first.CreatedAt) {
					first = e
				}
			}
			rec.Name = first.Name
			if latest := latestOf(existing); !rec.CreatedAt.After(latest.CreatedAt) {
				rec.CreatedAt = latest.CreatedAt.Add(time.Nanosecond)
				rec.UpdatedAt = rec.CreatedAt
			}
		}
		if err := store.Create(ctx, tx, rec); err != nil {
			return err
		}
		saved = rec
		return nil
	})
	if err != nil {
		return fmt.Errorf("store secret version: %w", err)
	}
	b := h.bundleOf(c, saved)
	b.Value = p.Value
	h.writeJSON(w, r, http.StatusOK, b)
	return nil
}

// updateSecret answers PATCH secrets/<name>/<version> (or the latest
// version, without one): it changes the version's metadata, never its value.
func (h *Handler) updateSecret(w http.ResponseWriter, r *http.Request, c *call) error {
	var p updateParams
	if err := decodeBody(r, &p); err != nil {
		return err
	}
	if err := p.validate(); err != nil {
		return err
	}
	ctx := r.Context()
	now := h.now().UTC()
	var saved store.Secret
	err := h.store.Update(ctx, func(tx store.Tx) error {
		s, err := findSecret(ctx, tx, c)
		if err != nil {
			return err
		}
		if p.ContentType != nil {
			s.ContentType = *p.ContentType
		}
		if p.Tags != nil {
			s.Tags = maps.Clone(p.Tags)
		}
		if a := p.Attributes; a != nil {
			if a.Enabled != nil {
				s.Enabled = *a.Enabled
			}
			if a.NotBefore != nil {
				s.NotBefore = timePtr(a.NotBefore)
			}
			if a.Expires != nil {
				s.Expires = timePtr(a.Expires)
			}
		}
		if now.After(s.UpdatedAt) {
			s.UpdatedAt = now
		}
		if err := store.Put(ctx, tx, s); err != nil {
			return err
		}
		saved = s
		return nil
	})
	if err != nil {
		return fmt.Errorf("update secret: %w", err)
	}
	h.writeJSON(w, r, http.StatusOK, h.bundleOf(c, saved))
	return nil
}

// deleteSecret answers DELETE secrets/<name>: every version is purged at
// once, and the answer describes the latest one.
func (h *Handler) deleteSecret(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	var latest store.Secret
	err := h.store.Update(ctx, func(tx store.Tx) error {
		versions, err := store.List[store.Secret](ctx, tx, store.SecretPrefix(c.vault.Name, c.name), "", 0)
		if err != nil {
			return err
		}
		if len(versions) == 0 {
			return errSecretNotFound(c.name)
		}
		for _, s := range versions {
			if err := store.Delete[store.Secret](ctx, tx, s.Key()); err != nil {
				return fmt.Errorf("delete version %s: %w", s.Version, err)
			}
		}
		latest = latestOf(versions)
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete secret: %w", err)
	}
	now := h.now().Unix()
	h.writeJSON(w, r, http.StatusOK, deletedSecretBundle{
		secretBundle:       h.bundleOf(c, latest),
		RecoveryID:         h.vaultURI(c) + "deletedsecrets/" + latest.Name,
		DeletedDate:        now,
		ScheduledPurgeDate: now,
	})
	return nil
}

// deletedSecretNotFound answers the deleted-secret operations on one secret:
// fedcred keeps no deleted secrets.
func (h *Handler) deletedSecretNotFound(_ http.ResponseWriter, _ *http.Request, c *call) error {
	return errDeletedSecretNotFound(c.name)
}
