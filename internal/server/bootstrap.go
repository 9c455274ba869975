package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
)

// adminName is the display name of the admin service principal.
const adminName = "fedcred-admin"

// directory is the default tenant and subscription the server runs with.
type directory struct {
	Tenant       store.Tenant
	Subscription store.Subscription
	Admin        store.ServicePrincipal
}

// bootstrap makes sure a tenant, a subscription and an admin service
// principal exist, and that admin.json holds working admin credentials. On
// first start it creates all three; if admin.json is lost later, it issues a
// new admin secret (the old one cannot be recovered: only its hash is kept).
func bootstrap(ctx context.Context, s store.Store, dataDir, serverURL, caFile string, now time.Time) (directory, error) {
	var d directory
	adminPath := filepath.Join(dataDir, config.AdminFile)
	existing, readErr := readAdmin(adminPath)
	var secret string
	err := s.Update(ctx, func(tx store.Tx) error {
		tenants, err := store.List[store.Tenant](ctx, tx, "", "", 1)
		if err != nil {
			return err
		}
		if len(tenants) == 0 {
			d.Tenant = store.Tenant{ID: uuid.NewString(), DisplayName: "fedcred", CreatedAt: now}
			d.Subscription = store.Subscription{ID: uuid.NewString(), TenantID: d.Tenant.ID, DisplayName: "fedcred", CreatedAt: now}
			d.Admin = store.ServicePrincipal{ObjectID: uuid.NewString(), ClientID: uuid.NewString(), TenantID: d.Tenant.ID, DisplayName: adminName, CreatedAt: now}
			for _, o := range []store.Object{d.Tenant, d.Subscription} {
				if err := store.Create(ctx, tx, o); err != nil {
					return err
				}
			}
		} else {
			d.Tenant = tenants[0]
			subs, err := store.List[store.Subscription](ctx, tx, "", "", 0)
			if err != nil {
				return err
			}
			for _, sub := range subs {
				if sub.TenantID == d.Tenant.ID {
					d.Subscription = sub
					break
				}
			}
			if d.Subscription.ID == "" {
				return fmt.Errorf("tenant %s has no subscription", d.Tenant.ID)
			}
			sps, err := store.List[store.ServicePrincipal](ctx, tx, store.ServicePrincipal{TenantID: d.Tenant.ID}.Key(), "", 0)
			if err != nil {
				return err
			}
			for _, sp := range sps {
				if sp.DisplayName == adminName {
					d.Admin = sp
				}
			}
			if d.Admin.ClientID == "" {
				d.Admin = store.ServicePrincipal{ObjectID: uuid.NewString(), ClientID: uuid.NewString(), TenantID: d.Tenant.ID, DisplayName: adminName, CreatedAt: now}
			}
		}
		if err := ensureOwner(ctx, tx, d, now); err != nil {
			return err
		}
		if readErr == nil && existing.ClientID == d.Admin.ClientID && secretMatches(d.Admin, existing.ClientSecret, now) {
			secret = existing.ClientSecret
			return nil
		}
		// Issue a new admin secret (first start, or admin.json lost or stale).
		secret, err = newSecret()
		if err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(secret))
		d.Admin.Secrets = []store.SecretHash{{ID: uuid.NewString(), Hint: secret[:3], SHA256: sum[:], CreatedAt: now}}
		return store.Put(ctx, tx, d.Admin)
	})
	if err != nil {
		return d, fmt.Errorf("bootstrap directory: %w", err)
	}
	admin := config.Admin{
		TenantID: d.Tenant.ID, SubscriptionID: d.Subscription.ID,
		ClientID: d.Admin.ClientID, ClientSecret: secret,
		Server: serverURL, CAFile: caFile,
	}
	if readErr == nil && existing == admin {
		return d, nil
	}
	return d, writeAdmin(adminPath, admin)
}

// ensureOwner gives the admin service principal the Owner role on the
// subscription, unless it already has it there.
func ensureOwner(ctx context.Context, tx store.Tx, d directory, now time.Time) error {
	scope := d.Subscription.ResourceID()
	existing, err := store.List[store.RoleAssignment](ctx, tx, store.ScopeKey(scope)+"/providers/", "", 0)
	if err != nil {
		return err
	}
	for _, a := range existing {
		if def, ok := rbac.Definition(a.RoleDefinitionID); ok && def.ID == rbac.OwnerID &&
			strings.EqualFold(a.PrincipalID, d.Admin.ObjectID) && strings.EqualFold(a.Scope, scope) {
			return nil
		}
	}
	return store.Create(ctx, tx, store.RoleAssignment{
		Name: uuid.NewString(), Scope: scope,
		RoleDefinitionID: scope + "/providers/" + store.RoleDefinitionType + "/" + rbac.OwnerID,
		PrincipalID:      d.Admin.ObjectID, PrincipalType: "ServicePrincipal", TenantID: d.Tenant.ID,
		Description: "fedcred administrator", CreatedAt: now, UpdatedAt: now,
	})
}

func secretMatches(sp store.ServicePrincipal, secret string, now time.Time) bool {
	sum := sha256.Sum256([]byte(secret))
	for _, h := range sp.Secrets {
		if string(h.SHA256) == string(sum[:]) && (h.ExpiresAt.IsZero() || now.Before(h.ExpiresAt)) {
			return true
		}
	}
	return false
}

// newSecret returns a 256-bit random client secret.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func readAdmin(path string) (config.Admin, error) {
	var a config.Admin
	data, err := os.ReadFile(path)
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return a, fmt.Errorf("parse %s: %w", path, err)
	}
	return a, nil
}

// writeAdmin writes admin.json atomically with mode 0600.
func writeAdmin(path string, a config.Admin) error {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return fmt.Errorf("encode admin credentials: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write admin credentials: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("write admin credentials: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write admin credentials: %w", err)
	}
	return nil
}
