package server

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/audit"
	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

// TestMaintenance_AuditsRotationsAndPrunes runs one maintenance pass after
// the tenant's and a cluster's keys have aged past their rotation, with
// audit events on both sides of the retention.
func TestMaintenance_AuditsRotationsAndPrunes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	sealer, err := keys.NewSealer(bytes.Repeat([]byte{7}, keys.KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	km, err := keys.NewManager(keys.Config{Store: st, Sealer: sealer, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	const tenant, sub = "72f988bf-86f1-41af-91ab-2d7cd011db47", "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	cluster := store.Cluster{SubscriptionID: sub, ResourceGroup: "rg", Name: "c1", TenantID: tenant, UID: "5f1a2b3c-0000-4000-8000-000000000001"}
	if err := st.Update(ctx, func(tx store.Tx) error {
		if err := store.Create(ctx, tx, store.Tenant{ID: tenant}); err != nil {
			return err
		}
		return store.Create(ctx, tx, cluster)
	}); err != nil {
		t.Fatal(err)
	}
	for owner, opts := range map[string]keys.RingOptions{keys.TenantOwner(tenant): tenantRing(tenant), keys.ClusterOwner(cluster.UID): {}} {
		if err := km.Ensure(ctx, owner, opts); err != nil {
			t.Fatal(err)
		}
	}
	log, err := audit.New(audit.Config{Store: st, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	old := store.AuditEvent{TenantID: tenant, Time: now.Add(-time.Hour), EventKind: store.AuditTokenIssued, ClientID: "old"}
	recent := store.AuditEvent{TenantID: tenant, Time: now.Add(2 * time.Hour), EventKind: store.AuditTokenIssued, ClientID: "recent"}
	for _, e := range []store.AuditEvent{old, recent} {
		if err := log.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	now = now.Add(3 * time.Hour)
	mu.Unlock()

	m := &maintenance{
		store: st, keys: km, log: slog.New(slog.DiscardHandler), sealer: sealer,
		tenantKeyAge: time.Hour, clusterKeyAge: time.Hour,
		audit: log, auditRetention: 2 * time.Hour,
	}
	m.once(ctx)

	var events []store.AuditEvent
	if err := st.View(ctx, func(tx store.Tx) error {
		events, err = store.List[store.AuditEvent](ctx, tx, store.AuditEventPrefix(tenant), "", 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rotated := map[string]store.AuditEvent{}
	var clients []string
	for _, e := range events {
		if e.EventKind == store.AuditKeysRotated {
			rotated[e.Target] = e
		} else {
			clients = append(clients, e.ClientID)
		}
	}
	if len(clients) != 1 || clients[0] != "recent" {
		t.Errorf("token events after the pass = %v, want only the recent one (retention 2h)", clients)
	}
	tenantEv, clusterEv := rotated[keys.TenantOwner(tenant)], rotated[cluster.ResourceID()]
	if len(rotated) != 2 || tenantEv.Actor.Type != audit.ActorSystem || clusterEv.Actor.Type != audit.ActorSystem ||
		clusterEv.SubscriptionID != sub || tenantEv.SubscriptionID != "" || clusterEv.Outcome.Result != store.AuditSuccess ||
		!clusterEv.Time.Equal(clock()) {
		t.Errorf("rotation events = %+v", rotated)
	}

	// A second pass has nothing to rotate or prune.
	m.once(ctx)
	var n int
	if err := st.View(ctx, func(tx store.Tx) error {
		recs, err := tx.List(ctx, store.KindAuditEvent, "", "", 0)
		n = len(recs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(events) {
		t.Errorf("%d events after a second pass, want %d", n, len(events))
	}
}
