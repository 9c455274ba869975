package arm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// Key Vault rules: names are DNS labels, unique across everything.
var vaultNamePattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$`)

const (
	vaultSKUFamily = "A"
	vaultSKUName   = "standard"
)

// vaultJSON is ARM's Key Vault.
type vaultJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties vaultProperties   `json:"properties"`
	SystemData systemData        `json:"systemData"`
}

type vaultProperties struct {
	TenantID                string     `json:"tenantId"`
	SKU                     vaultSKU   `json:"sku"`
	VaultURI                string     `json:"vaultUri"`
	EnableRbacAuthorization bool       `json:"enableRbacAuthorization"`
	EnableSoftDelete        bool       `json:"enableSoftDelete"`
	ProvisioningState       string     `json:"provisioningState"`
	AccessPolicies          []struct{} `json:"accessPolicies"`
}

type vaultSKU struct {
	Family string `json:"family"`
	Name   string `json:"name"`
}

func (h *Handler) renderVault(v store.Vault) vaultJSON {
	return vaultJSON{
		ID:       v.ResourceID(),
		Name:     v.Name,
		Type:     store.VaultType,
		Location: v.Location,
		Tags:     copyTags(v.Tags),
		Properties: vaultProperties{
			TenantID:                v.TenantID,
			SKU:                     vaultSKU{Family: vaultSKUFamily, Name: vaultSKUName},
			VaultURI:                h.publicURL + "/vaults/" + v.Name + "/",
			EnableRbacAuthorization: true,
			ProvisioningState:       stateSucceeded,
			AccessPolicies:          []struct{}{},
		},
		SystemData: systemData{CreatedAt: v.CreatedAt, LastModifiedAt: v.UpdatedAt},
	}
}

// vaultBody is what PUT accepts; everything not listed is ignored, as Azure
// ignores access policies on a vault that authorizes with RBAC.
type vaultBody struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		TenantID                string    `json:"tenantId"`
		SKU                     *vaultSKU `json:"sku"`
		EnableRbacAuthorization *bool     `json:"enableRbacAuthorization"`
	} `json:"properties"`
}

func validateVaultName(name string) error {
	if !vaultNamePattern.MatchString(name) || strings.Contains(name, "--") {
		return errVaultNameNotValid(name)
	}
	return nil
}

// validateVaultProperties checks what fedcred's vaults can be: in the
// subscription's tenant, standard, authorizing with RBAC.
func validateVaultProperties(body vaultBody, sub store.Subscription) error {
	p := body.Properties
	if p.TenantID != "" && !strings.EqualFold(p.TenantID, sub.TenantID) {
		e := errBadRequest("The tenant ID '%s' is not the tenant of subscription '%s': a vault's tenantId must be its subscription's tenant.",
			clip(p.TenantID), sub.ID)
		e.target = "properties.tenantId"
		return e
	}
	if s := p.SKU; s != nil {
		if s.Family != "" && !strings.EqualFold(s.Family, vaultSKUFamily) {
			e := errBadRequest("The SKU family '%s' is not valid: it must be 'A'.", clip(s.Family))
			e.target = "properties.sku.family"
			return e
		}
		if s.Name != "" && !strings.EqualFold(s.Name, vaultSKUName) {
			e := errBadRequest("The SKU name '%s' is not supported: fedcred serves standard vaults only.", clip(s.Name))
			e.target = "properties.sku.name"
			return e
		}
	}
	if r := p.EnableRbacAuthorization; r != nil && !*r {
		e := errBadRequest("Vaults here authorize data-plane access with Azure RBAC only: enableRbacAuthorization cannot be false.")
		e.target = "properties.enableRbacAuthorization"
		return e
	}
	return nil
}

// readVault reads a vault in tx, answering ResourceGroupNotFound or
// ResourceNotFound.
func readVault(ctx context.Context, tx store.Tx, rt route, sub string) (store.Vault, error) {
	if _, err := readResourceGroup(ctx, tx, sub, rt.rg); err != nil {
		return store.Vault{}, err
	}
	v, err := store.Get[store.Vault](ctx, tx, store.ScopeKey(rt.vaultID()))
	if errors.Is(err, store.ErrNotFound) {
		return v, errResourceNotFound(store.VaultType, rt.name, rt.rg)
	}
	if err != nil {
		return v, fmt.Errorf("read vault: %w", err)
	}
	return v, nil
}

// listVaults lists the vaults of a resource group or, without one, of the
// subscription.
func (h *Handler) listVaults(ctx context.Context, req *request) (response, error) {
	prefix := store.ResourceGroupKey(req.sub.ID, req.rt.rg)
	if req.rt.rg != "" {
		prefix += "/"
	}
	pr, err := parsePage(req.query, prefix)
	if err != nil {
		return response{}, err
	}
	var items []store.Vault
	var next string
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		if req.rt.rg != "" {
			if _, err := readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg); err != nil {
				return err
			}
		}
		var err error
		items, next, err = listPage[store.Vault](ctx, tx, prefix, pr, nil)
		return err
	})
	if err != nil {
		return response{}, fmt.Errorf("list vaults: %w", err)
	}
	return response{http.StatusOK, pageOf(h, req, pr, items, next, h.renderVault)}, nil
}

func (h *Handler) getVault(ctx context.Context, req *request) (response, error) {
	var v store.Vault
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		v, err = readVault(ctx, tx, req.rt, req.sub.ID)
		return err
	})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, h.renderVault(v)}, nil
}

// putVault creates (201) or updates (200) a vault. Its name must not be
// taken by any other vault, in any group, subscription or tenant.
func (h *Handler) putVault(ctx context.Context, req *request) (response, error) {
	if err := validateVaultName(req.rt.name); err != nil {
		return response{}, err
	}
	var body vaultBody
	if err := decodeBody(req.http, &body); err != nil {
		return response{}, err
	}
	location, err := normalizeLocation(body.Location, store.VaultType)
	if err != nil {
		return response{}, err
	}
	if err := validateTags(body.Tags); err != nil {
		return response{}, err
	}
	if err := validateVaultProperties(body, req.sub); err != nil {
		return response{}, err
	}
	status := http.StatusOK
	var v store.Vault
	err = h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		status = http.StatusOK
		g, err := readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg)
		if err != nil {
			return err
		}
		v, err = store.Get[store.Vault](ctx, tx, store.ScopeKey(req.rt.vaultID()))
		switch {
		case errors.Is(err, store.ErrNotFound):
			now := h.now().UTC()
			status = http.StatusCreated
			v = store.Vault{
				SubscriptionID: req.sub.ID,
				ResourceGroup:  g.Name,
				Name:           req.rt.name,
				Location:       location,
				Tags:           copyTags(body.Tags),
				TenantID:       req.sub.TenantID,
				CreatedAt:      now,
				UpdatedAt:      now,
			}
			err := store.Create(ctx, tx, v)
			if errors.Is(err, store.ErrConflict) {
				return errVaultAlreadyExists(req.rt.name)
			}
			if err != nil {
				return fmt.Errorf("create vault: %w", err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("read vault: %w", err)
		case v.Location != location:
			return errResourceLocationChanged(v.Name, g.Name, v.Location, location)
		}
		v.Tags = copyTags(body.Tags)
		v.UpdatedAt = h.now().UTC()
		return store.Put(ctx, tx, v)
	})
	if err != nil {
		return response{}, err
	}
	return response{status, h.renderVault(v)}, nil
}

// deleteVault deletes a vault with its secrets and the role assignments
// made on it: 200 when it existed, 204 when it did not.
func (h *Handler) deleteVault(ctx context.Context, req *request) (response, error) {
	status := http.StatusOK
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		status = http.StatusOK
		if _, err := readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg); err != nil {
			return err
		}
		v, err := store.Get[store.Vault](ctx, tx, store.ScopeKey(req.rt.vaultID()))
		if errors.Is(err, store.ErrNotFound) {
			status = http.StatusNoContent
			return nil
		}
		if err != nil {
			return fmt.Errorf("read vault: %w", err)
		}
		return deleteVaultRecords(ctx, tx, v)
	})
	if err != nil {
		return response{}, err
	}
	return response{status: status}, nil
}

// deleteVaultRecords deletes a vault, every version of its secrets and the
// role assignments at or below it, in the caller's transaction, so that a
// vault created later under the same name starts empty and ungranted.
func deleteVaultRecords(ctx context.Context, tx store.Tx, v store.Vault) error {
	if err := store.Delete[store.Vault](ctx, tx, v.Key()); err != nil {
		return fmt.Errorf("delete vault: %w", err)
	}
	if _, err := deleteAll[store.Secret](ctx, tx, store.VaultSecretsPrefix(v.Name)); err != nil {
		return err
	}
	_, err := deleteAll[store.RoleAssignment](ctx, tx, v.Key()+"/")
	return err
}
