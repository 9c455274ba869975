package arm

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/fedcred/fedcred/internal/store"
)

// identityJSON is ARM's user-assigned identity (reference §1.1).
type identityJSON struct {
	ID         string             `json:"id"`
	Name       string             `json:"name"`
	Type       string             `json:"type"`
	Location   string             `json:"location"`
	Tags       map[string]string  `json:"tags"`
	Properties identityProperties `json:"properties"`
	SystemData systemData         `json:"systemData"`
}

type identityProperties struct {
	TenantID       string `json:"tenantId"`
	PrincipalID    string `json:"principalId"`
	ClientID       string `json:"clientId"`
	IsolationScope string `json:"isolationScope"`
}

func renderIdentity(i store.Identity) identityJSON {
	return identityJSON{
		ID:       i.ResourceID(),
		Name:     i.Name,
		Type:     store.IdentityType,
		Location: i.Location,
		Tags:     copyTags(i.Tags),
		Properties: identityProperties{
			TenantID:       i.TenantID,
			PrincipalID:    i.PrincipalID,
			ClientID:       i.ClientID,
			IsolationScope: "None",
		},
		SystemData: systemData{CreatedAt: i.CreatedAt, LastModifiedAt: i.UpdatedAt},
	}
}

// identityBody is what PUT and PATCH accept; properties are read-only.
type identityBody struct {
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
}

// readIdentity reads an identity in tx, answering ResourceGroupNotFound or
// ResourceNotFound.
func readIdentity(ctx context.Context, tx store.Tx, sub, rg, name string) (store.Identity, error) {
	if _, err := readResourceGroup(ctx, tx, sub, rg); err != nil {
		return store.Identity{}, err
	}
	i, err := store.Get[store.Identity](ctx, tx, store.ScopeKey(store.IdentityID(sub, rg, name)))
	if errors.Is(err, store.ErrNotFound) {
		return i, errResourceNotFound(store.IdentityType, name, rg)
	}
	if err != nil {
		return i, fmt.Errorf("read identity: %w", err)
	}
	return i, nil
}

// listIdentities lists the identities of a resource group or, without one,
// of the subscription.
func (h *Handler) listIdentities(ctx context.Context, req *request) (response, error) {
	prefix := store.ResourceGroupKey(req.sub.ID, req.rt.rg)
	if req.rt.rg != "" {
		prefix += "/"
	}
	pr, err := parsePage(req.query, prefix)
	if err != nil {
		return response{}, err
	}
	var items []store.Identity
	var next string
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		if req.rt.rg != "" {
			if _, err := readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg); err != nil {
				return err
			}
		}
		var err error
		items, next, err = listPage[store.Identity](ctx, tx, prefix, pr, nil)
		return err
	})
	if err != nil {
		return response{}, fmt.Errorf("list identities: %w", err)
	}
	return response{http.StatusOK, pageOf(h, req, pr, items, next, renderIdentity)}, nil
}

func (h *Handler) getIdentity(ctx context.Context, req *request) (response, error) {
	var i store.Identity
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		i, err = readIdentity(ctx, tx, req.sub.ID, req.rt.rg, req.rt.name)
		return err
	})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, renderIdentity(i)}, nil
}

// putIdentity creates (201) or updates (200) an identity. clientId and
// principalId are fresh UUIDs on create and never change.
func (h *Handler) putIdentity(ctx context.Context, req *request) (response, error) {
	if err := validateIdentityName(req.rt.name); err != nil {
		return response{}, err
	}
	var body identityBody
	if err := decodeBody(req.http, &body); err != nil {
		return response{}, err
	}
	location, err := normalizeLocation(body.Location, store.IdentityType)
	if err != nil {
		return response{}, err
	}
	if err := validateTags(body.Tags); err != nil {
		return response{}, err
	}
	status := http.StatusOK
	var i store.Identity
	err = h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		g, err := readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg)
		if err != nil {
			return err
		}
		i, err = store.Get[store.Identity](ctx, tx, store.ScopeKey(req.rt.identityID()))
		switch {
		case errors.Is(err, store.ErrNotFound):
			now := h.now().UTC()
			status = http.StatusCreated
			i = store.Identity{
				SubscriptionID: req.sub.ID,
				ResourceGroup:  g.Name,
				Name:           req.rt.name,
				Location:       location,
				Tags:           copyTags(body.Tags),
				TenantID:       req.sub.TenantID,
				ClientID:       h.newUUID(),
				PrincipalID:    h.newUUID(),
				CreatedAt:      now,
				UpdatedAt:      now,
			}
			if err := store.Create(ctx, tx, i); err != nil {
				return fmt.Errorf("create identity: %w", err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("read identity: %w", err)
		case i.Location != location:
			return errResourceLocationChanged(i.Name, g.Name, i.Location, location)
		}
		i.Tags = copyTags(body.Tags)
		i.UpdatedAt = h.now().UTC()
		return store.Put(ctx, tx, i)
	})
	if err != nil {
		return response{}, err
	}
	return response{status, renderIdentity(i)}, nil
}

// patchIdentity replaces the identity's tags when the body has them.
func (h *Handler) patchIdentity(ctx context.Context, req *request) (response, error) {
	var body identityBody
	if err := decodeBody(req.http, &body); err != nil {
		return response{}, err
	}
	if err := validateTags(body.Tags); err != nil {
		return response{}, err
	}
	var i store.Identity
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		i, err = readIdentity(ctx, tx, req.sub.ID, req.rt.rg, req.rt.name)
		if err != nil {
			return err
		}
		if body.Location != "" {
			location, err := normalizeLocation(body.Location, store.IdentityType)
			if err != nil {
				return err
			}
			if location != i.Location {
				return errResourceLocationChanged(i.Name, req.rt.rg, i.Location, location)
			}
		}
		if body.Tags != nil {
			i.Tags = copyTags(body.Tags)
		}
		i.UpdatedAt = h.now().UTC()
		return store.Put(ctx, tx, i)
	})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, renderIdentity(i)}, nil
}

// deleteIdentity deletes an identity, its federated credentials and the role
// assignments made on it or on them: 200 when it existed, 204 when it did
// not.
func (h *Handler) deleteIdentity(ctx context.Context, req *request) (response, error) {
	status := http.StatusOK
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg); err != nil {
			return err
		}
		key := store.ScopeKey(req.rt.identityID())
		err := store.Delete[store.Identity](ctx, tx, key)
		if errors.Is(err, store.ErrNotFound) {
			status = http.StatusNoContent
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete identity: %w", err)
		}
		if _, err := deleteAll[store.FederatedCredential](ctx, tx, key+"/"); err != nil {
			return err
		}
		_, err = deleteAll[store.RoleAssignment](ctx, tx, key+"/")
		return err
	})
	if err != nil {
		return response{}, err
	}
	return response{status: status}, nil
}
