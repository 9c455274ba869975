package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/fedcred/fedcred/internal/audit"
	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/vault"
)

// Maintenance defaults.
const (
	DefaultTenantKeyRotation  = 30 * 24 * time.Hour // tenant access-token keys
	DefaultClusterKeyRotation = 90 * 24 * time.Hour // cluster service-account keys, as AKS does
	maintenanceEvery          = time.Minute
	keepChanges               = 15 * time.Minute
)

// DefaultAuditRetention is how long audit events are kept by default.
const DefaultAuditRetention = audit.DefaultRetention

// pruner is a backend whose change feed can be trimmed.
type pruner interface {
	PruneChanges(ctx context.Context, olderThan time.Duration) error
}

// maintenance rotates signing keys when they are due and trims the change
// feed. Every replica runs it; each step is safe to run concurrently (key
// rotation checks the key's age inside its write transaction, so it happens
// once across replicas).
type maintenance struct {
	store          store.Store
	keys           *keys.Manager
	pruner         pruner
	log            *slog.Logger
	reseal         bool // previous key-encryption keys are configured
	sealer         *keys.Sealer
	tenantKeyAge   time.Duration
	clusterKeyAge  time.Duration
	clusterOptions keys.RingOptions
	// audit records automatic key rotations, and its events older than
	// auditRetention are pruned (never when auditRetention <= 0).
	audit          *audit.Log
	auditRetention time.Duration
}

func (m *maintenance) run(ctx context.Context) {
	t := time.NewTicker(maintenanceEvery)
	defer t.Stop()
	for {
		m.once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *maintenance) once(ctx context.Context) {
	var (
		tenants  []store.Tenant
		clusters []store.Cluster
	)
	err := m.store.View(ctx, func(tx store.Tx) error {
		var err error
		if tenants, err = store.List[store.Tenant](ctx, tx, "", "", 0); err != nil {
			return err
		}
		clusters, err = store.List[store.Cluster](ctx, tx, "", "", 0)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("maintenance: list key owners", "err", err)
		}
		return
	}
	for _, t := range tenants {
		if m.rotate(ctx, keys.TenantOwner(t.ID), tenantRing(t.ID), m.tenantKeyAge) {
			m.auditRotation(ctx, t.ID, "", keys.TenantOwner(t.ID))
		}
	}
	for _, c := range clusters {
		if m.rotate(ctx, keys.ClusterOwner(c.UID), m.clusterOptions, m.clusterKeyAge) {
			m.auditRotation(ctx, c.TenantID, c.SubscriptionID, c.ResourceID())
		}
	}
	if m.reseal {
		if n, err := m.keys.ResealAll(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("maintenance: re-seal signing keys with the current key-encryption key", "err", err)
		} else if n > 0 {
			m.log.Info("signing keys re-sealed with the current key-encryption key", "keys", n)
		}
		if n, err := vault.ResealAll(ctx, m.store, m.sealer); err != nil && ctx.Err() == nil {
			m.log.Warn("maintenance: re-seal secrets with the current key-encryption key", "err", err)
		} else if n > 0 {
			m.log.Info("secrets re-sealed with the current key-encryption key", "secrets", n)
		}
	}
	if m.pruner != nil {
		if err := m.pruner.PruneChanges(ctx, keepChanges); err != nil && ctx.Err() == nil {
			m.log.Warn("maintenance: prune change feed", "err", err)
		}
	}
	m.pruneAudit(ctx)
}

func (m *maintenance) rotate(ctx context.Context, owner string, opts keys.RingOptions, age time.Duration) bool {
	if age <= 0 {
		return false
	}
	rotated, err := m.keys.RotateIfOlder(ctx, owner, opts, age)
	switch {
	case err != nil && ctx.Err() == nil:
		m.log.Warn("maintenance: rotate signing keys", "owner", owner, "err", err)
	case rotated:
		m.log.Info("signing keys rotated", "owner", owner)
	}
	return rotated
}

// auditRotation records an automatic key rotation, made by the server
// itself, of the keys of target.
func (m *maintenance) auditRotation(ctx context.Context, tenantID, subscriptionID, target string) {
	if m.audit == nil {
		return
	}
	err := m.audit.Write(ctx, store.AuditEvent{
		TenantID: tenantID, EventKind: store.AuditKeysRotated,
		Actor:  store.AuditActor{Type: audit.ActorSystem},
		Target: target, SubscriptionID: subscriptionID, Action: "rotateSigningKeys",
		Outcome: store.AuditOutcome{Result: store.AuditSuccess},
	})
	if err != nil {
		m.log.Warn("maintenance: audit key rotation", "target", target, "err", err)
	}
}

// pruneAudit deletes the audit events older than the retention.
func (m *maintenance) pruneAudit(ctx context.Context) {
	if m.audit == nil || m.auditRetention <= 0 {
		return
	}
	n, err := m.audit.Prune(ctx, m.auditRetention)
	switch {
	case err != nil && ctx.Err() == nil:
		m.log.Warn("maintenance: prune audit events", "err", err)
	case n > 0:
		m.log.Info("audit events past retention pruned", "events", n)
	}
}
