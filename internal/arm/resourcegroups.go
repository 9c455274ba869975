package arm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fedcred/fedcred/internal/store"
)

// provisioningState is the only state resources here are ever in: every
// write completes before its response.
type provisioningState struct {
	ProvisioningState string `json:"provisioningState"`
}

const stateSucceeded = "Succeeded"

// systemData is ARM's resource metadata.
type systemData struct {
	CreatedAt      time.Time `json:"createdAt"`
	LastModifiedAt time.Time `json:"lastModifiedAt,omitzero"`
}

// resourceGroupJSON is ARM's resource group.
type resourceGroupJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties provisioningState `json:"properties"`
}

func renderResourceGroup(g store.ResourceGroup) resourceGroupJSON {
	return resourceGroupJSON{
		ID:         g.ResourceID(),
		Name:       g.Name,
		Type:       resourceGroupType,
		Location:   g.Location,
		Tags:       copyTags(g.Tags),
		Properties: provisioningState{stateSucceeded},
	}
}

// resourceGroupBody is what PUT and PATCH accept.
type resourceGroupBody struct {
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
}

// readResourceGroup reads a group in tx, answering ResourceGroupNotFound.
func readResourceGroup(ctx context.Context, tx store.Tx, sub, rg string) (store.ResourceGroup, error) {
	g, err := store.Get[store.ResourceGroup](ctx, tx, store.ResourceGroupKey(sub, rg))
	if errors.Is(err, store.ErrNotFound) {
		return g, errResourceGroupNotFound(rg)
	}
	if err != nil {
		return g, fmt.Errorf("read resource group: %w", err)
	}
	return g, nil
}

func (h *Handler) listResourceGroups(ctx context.Context, req *request) (response, error) {
	prefix := store.ResourceGroupKey(req.sub.ID, "")
	pr, err := parsePage(req.query, prefix)
	if err != nil {
		return response{}, err
	}
	var items []store.ResourceGroup
	var next string
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		items, next, err = listPage[store.ResourceGroup](ctx, tx, prefix, pr, nil)
		return err
	})
	if err != nil {
		return response{}, fmt.Errorf("list resource groups: %w", err)
	}
	return response{http.StatusOK, pageOf(h, req, pr, items, next, renderResourceGroup)}, nil
}

// getResourceGroup answers GET (200 with the group) and HEAD (204).
func (h *Handler) getResourceGroup(ctx context.Context, req *request) (response, error) {
	var g store.ResourceGroup
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		g, err = readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg)
		return err
	})
	if err != nil {
		return response{}, err
	}
	if req.http.Method == http.MethodHead {
		return response{status: http.StatusNoContent}, nil
	}
	return response{http.StatusOK, renderResourceGroup(g)}, nil
}

func (h *Handler) putResourceGroup(ctx context.Context, req *request) (response, error) {
	if err := validateResourceGroupName(req.rt.rg); err != nil {
		return response{}, err
	}
	var body resourceGroupBody
	if err := decodeBody(req.http, &body); err != nil {
		return response{}, err
	}
	location, err := normalizeLocation(body.Location, resourceGroupType)
	if err != nil {
		return response{}, err
	}
	if err := validateTags(body.Tags); err != nil {
		return response{}, err
	}
	status := http.StatusOK
	var g store.ResourceGroup
	err = h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		g, err = store.Get[store.ResourceGroup](ctx, tx, store.ResourceGroupKey(req.sub.ID, req.rt.rg))
		switch {
		case errors.Is(err, store.ErrNotFound):
			status = http.StatusCreated
			g = store.ResourceGroup{
				SubscriptionID: req.sub.ID,
				Name:           req.rt.rg,
				Location:       location,
				Tags:           copyTags(body.Tags),
				CreatedAt:      h.now().UTC(),
			}
			return store.Create(ctx, tx, g)
		case err != nil:
			return fmt.Errorf("read resource group: %w", err)
		case g.Location != location:
			return errResourceGroupLocationChanged(g.Location, location)
		}
		g.Tags = copyTags(body.Tags)
		return store.Put(ctx, tx, g)
	})
	if err != nil {
		return response{}, err
	}
	return response{status, renderResourceGroup(g)}, nil
}

// patchResourceGroup replaces the group's tags when the body has them.
func (h *Handler) patchResourceGroup(ctx context.Context, req *request) (response, error) {
	var body resourceGroupBody
	if err := decodeBody(req.http, &body); err != nil {
		return response{}, err
	}
	if err := validateTags(body.Tags); err != nil {
		return response{}, err
	}
	var g store.ResourceGroup
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		g, err = readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg)
		if err != nil {
			return err
		}
		if body.Location != "" {
			location, err := normalizeLocation(body.Location, resourceGroupType)
			if err != nil {
				return err
			}
			if location != g.Location {
				return errResourceGroupLocationChanged(g.Location, location)
			}
		}
		if body.Tags != nil {
			g.Tags = copyTags(body.Tags)
		}
		return store.Put(ctx, tx, g)
	})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, renderResourceGroup(g)}, nil
}

// deleteResourceGroup deletes the group with everything in it, in one
// transaction: its identities and their credentials, its clusters and their
// keys, its vaults and their secrets, and every role assignment at or below
// the group. 200 when it existed, 204 when it did not.
func (h *Handler) deleteResourceGroup(ctx context.Context, req *request) (response, error) {
	key := store.ResourceGroupKey(req.sub.ID, req.rt.rg)
	status := http.StatusOK
	var n struct{ credentials, identities, clusters, vaults, assignments int }
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		err := store.Delete[store.ResourceGroup](ctx, tx, key)
		if errors.Is(err, store.ErrNotFound) {
			status = http.StatusNoContent
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete resource group: %w", err)
		}
		prefix := key + "/"
		// Every assignment at or below the group, counted here; the
		// resources' own cascades below then find none left.
		if n.assignments, err = deleteAll[store.RoleAssignment](ctx, tx, prefix); err != nil {
			return err
		}
		if n.credentials, err = deleteAll[store.FederatedCredential](ctx, tx, prefix); err != nil {
			return err
		}
		if n.identities, err = deleteAll[store.Identity](ctx, tx, prefix); err != nil {
			return err
		}
		clusters, err := store.List[store.Cluster](ctx, tx, prefix, "", 0)
		if err != nil {
			return fmt.Errorf("list clusters for delete: %w", err)
		}
		for _, c := range clusters {
			if err := deleteClusterRecords(ctx, tx, c); err != nil {
				return err
			}
		}
		n.clusters = len(clusters)
		vaults, err := store.List[store.Vault](ctx, tx, prefix, "", 0)
		if err != nil {
			return fmt.Errorf("list vaults for delete: %w", err)
		}
		for _, v := range vaults {
			if err := deleteVaultRecords(ctx, tx, v); err != nil {
				return err
			}
		}
		n.vaults = len(vaults)
		return nil
	})
	if err != nil {
		return response{}, err
	}
	if status == http.StatusOK {
		h.log.InfoContext(ctx, "resource group deleted", "resource_group", req.rt.rg,
			"subscription_id", req.sub.ID, "credentials", n.credentials, "identities", n.identities,
			"clusters", n.clusters, "vaults", n.vaults, "role_assignments", n.assignments)
	}
	return response{status: status}, nil
}

// deleteAll deletes every object of type T under prefix and counts them.
func deleteAll[T store.Object](ctx context.Context, tx store.Tx, prefix string) (int, error) {
	items, err := store.List[T](ctx, tx, prefix, "", 0)
	if err != nil {
		return 0, fmt.Errorf("list for delete: %w", err)
	}
	for _, v := range items {
		if err := store.Delete[T](ctx, tx, v.Key()); err != nil {
			return 0, fmt.Errorf("delete %s: %w", v.Kind(), err)
		}
	}
	return len(items), nil
}
