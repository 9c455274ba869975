// Package storetest is the conformance suite every store.Store backend must
// pass: CRUD for every persisted type, alternate keys, prefix listing and
// paging, not-found and conflict errors, transactional rollback, concurrent
// read-modify-write without lost updates, and UTC times.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/store"
)

// Run runs the suite. newStore must return an empty store for each call.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("RoundTripEveryType", func(t *testing.T) { t.Parallel(); testRoundTrip(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { t.Parallel(); testNotFound(t, newStore(t)) })
	t.Run("Conflict", func(t *testing.T) { t.Parallel(); testConflict(t, newStore(t)) })
	t.Run("ListPrefixAndPaging", func(t *testing.T) { t.Parallel(); testList(t, newStore(t)) })
	t.Run("Rollback", func(t *testing.T) { t.Parallel(); testRollback(t, newStore(t)) })
	t.Run("ConcurrentReadModifyWrite", func(t *testing.T) { t.Parallel(); testConcurrentUpdates(t, newStore(t)) })
	t.Run("TimesInUTC", func(t *testing.T) { t.Parallel(); testUTC(t, newStore(t)) })
}

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 123456000, time.UTC)

func objects() []store.Object {
	return []store.Object{
		store.Tenant{ID: "11111111-1111-1111-1111-111111111111", DisplayName: "t", CreatedAt: t0},
		store.Subscription{ID: "22222222-2222-2222-2222-222222222222", TenantID: "t", DisplayName: "s", CreatedAt: t0},
		store.ServicePrincipal{ObjectID: "o1", ClientID: "C1", TenantID: "t", Secrets: []store.SecretHash{{ID: "s", SHA256: []byte{1, 2}, CreatedAt: t0}}, CreatedAt: t0},
		store.ResourceGroup{SubscriptionID: "sub", Name: "RG1", Location: "eastus", Tags: map[string]string{"a": "b"}, CreatedAt: t0},
		store.Identity{SubscriptionID: "sub", ResourceGroup: "RG1", Name: "Id1", ClientID: "c2", PrincipalID: "p", TenantID: "t", CreatedAt: t0, UpdatedAt: t0},
		store.FederatedCredential{SubscriptionID: "sub", ResourceGroup: "RG1", IdentityName: "Id1", Name: "f1", Issuer: "https://i/", Subject: "s", Audiences: []string{"a"}, CreatedAt: t0, UpdatedAt: t0},
		store.Cluster{SubscriptionID: "sub", ResourceGroup: "RG1", Name: "c1", UID: "u1", OIDCIssuerEnabled: true, CreatedAt: t0, UpdatedAt: t0},
		store.SigningKey{Owner: "cluster/u1", KID: "k1", Algorithm: "RS256", PublicKeyDER: []byte{3}, SealedPrivateKey: []byte{4}, State: store.KeyActive, CreatedAt: t0, ActivatedAt: t0},
		store.RoleAssignment{Name: "A1", Scope: "/subscriptions/sub/resourceGroups/RG1", RoleDefinitionID: "/subscriptions/sub/providers/Microsoft.Authorization/roleDefinitions/r", PrincipalID: "p", PrincipalType: "ServicePrincipal", TenantID: "t", CreatedAt: t0, UpdatedAt: t0},
		store.Vault{SubscriptionID: "sub", ResourceGroup: "RG1", Name: "Vault1", Location: "eastus", TenantID: "t", CreatedAt: t0, UpdatedAt: t0},
		store.Secret{VaultName: "Vault1", Name: "Db-Password", Version: "abc", SealedValue: []byte{5}, Enabled: true, Expires: &t0, CreatedAt: t0, UpdatedAt: t0},
		store.Application{TenantID: "t", ObjectID: "o2", AppID: "APP", ServicePrincipalID: "sp", IdentifierURIs: []string{"api://orders"}, AppRoles: []store.AppRole{{ID: "r1", Value: "Orders.Read", AllowedMemberTypes: []string{"Application"}, IsEnabled: true}}, CreatedAt: t0, UpdatedAt: t0},
		store.AppRoleAssignment{ID: "x1", TenantID: "t", PrincipalID: "p", PrincipalType: "ServicePrincipal", ResourceID: "sp", AppRoleID: "r1", CreatedAt: t0},
		store.PortalSignInCode{Hash: "AB12", Principal: store.PortalPrincipal{ObjectID: "o1", ClientID: "C1", TenantID: "t", Type: "ServicePrincipal"}, CreatedAt: t0, ExpiresAt: t0.Add(5 * time.Minute)},
		store.PortalSession{Hash: "CD34", Principal: store.PortalPrincipal{ObjectID: "o1", ClientID: "C1", TenantID: "t", Type: "ServicePrincipal"}, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(8 * time.Hour)},
		store.TrustedIssuer{TenantID: "T", SubscriptionID: "sub", Name: "Private1", Issuer: "https://Private.example/", JWKS: []byte(`{"keys":[{"kty":"EC","kid":"k"}]}`), KeysUpdatedAt: t0, KeysPublishedBy: "k", UsedProofs: []store.UsedProof{{JTI: "j", ExpiresAt: t0}}, CreatedAt: t0, UpdatedAt: t0},
		store.AuditEvent{TenantID: "t", ID: "20261129T120000.123456000Z-00000001ab12cd34", Time: t0, EventKind: store.AuditTokenRefused, Actor: store.AuditActor{ObjectID: "p", ClientID: "c2", Type: "ManagedIdentity"}, ClientID: "c2", Target: "https://vault.azure.net", Outcome: store.AuditOutcome{Result: store.AuditDenied, Status: 401, Code: "AADSTS700213"}, FIC: "f1", CorrelationID: "corr", SourceIP: "192.0.2.1", UserAgent: "ua"},
	}
}

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func roundTrip[T store.Object](ctx context.Context, tx store.Tx, want T) error {
	got, err := store.Get[T](ctx, tx, want.Key())
	if err != nil {
		return fmt.Errorf("get %s: %w", want.Kind(), err)
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("get %s = %+v, want %+v", want.Kind(), got, want)
	}
	if want.AltKey() != "" {
		got, err := store.GetByAlt[T](ctx, tx, want.AltKey())
		if err != nil {
			return fmt.Errorf("get %s by alt: %w", want.Kind(), err)
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("get %s by alt = %+v, want %+v", want.Kind(), got, want)
		}
	}
	return nil
}

func check(ctx context.Context, tx store.Tx, obj store.Object) error {
	switch o := obj.(type) {
	case store.Tenant:
		return roundTrip(ctx, tx, o)
	case store.Subscription:
		return roundTrip(ctx, tx, o)
	case store.ServicePrincipal:
		return roundTrip(ctx, tx, o)
	case store.ResourceGroup:
		return roundTrip(ctx, tx, o)
	case store.Identity:
		return roundTrip(ctx, tx, o)
	case store.FederatedCredential:
		return roundTrip(ctx, tx, o)
	case store.Cluster:
		return roundTrip(ctx, tx, o)
	case store.SigningKey:
		return roundTrip(ctx, tx, o)
	case store.RoleAssignment:
		return roundTrip(ctx, tx, o)
	case store.Vault:
		return roundTrip(ctx, tx, o)
	case store.Secret:
		return roundTrip(ctx, tx, o)
	case store.Application:
		return roundTrip(ctx, tx, o)
	case store.AppRoleAssignment:
		return roundTrip(ctx, tx, o)
	case store.PortalSignInCode:
		return roundTrip(ctx, tx, o)
	case store.PortalSession:
		return roundTrip(ctx, tx, o)
	case store.TrustedIssuer:
		return roundTrip(ctx, tx, o)
	case store.AuditEvent:
		return roundTrip(ctx, tx, o)
	}
	return fmt.Errorf("unhandled type %T", obj)
}

func testRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		for _, o := range objects() {
			if err := store.Create(ctx, tx, o); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.View(ctx, func(tx store.Tx) error {
		for _, o := range objects() {
			if err := check(ctx, tx, o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Replace and delete each.
	update(t, s, func(tx store.Tx) error {
		id := store.Identity{SubscriptionID: "sub", ResourceGroup: "RG1", Name: "Id1", ClientID: "c3", CreatedAt: t0, UpdatedAt: t0}
		if err := store.Put(ctx, tx, id); err != nil {
			return err
		}
		return check(ctx, tx, id)
	})
	update(t, s, func(tx store.Tx) error {
		if _, err := store.GetByAlt[store.Identity](ctx, tx, "c2"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("old alternate key still resolves: %v", err)
		}
		return store.Delete[store.Identity](ctx, tx, store.ScopeKey(store.IdentityID("sub", "rg1", "id1")))
	})
	err = s.View(ctx, func(tx store.Tx) error {
		_, err := store.Get[store.Identity](ctx, tx, store.ScopeKey(store.IdentityID("sub", "RG1", "Id1")))
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("after delete: err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := context.Background()
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := store.Get[store.Tenant](ctx, tx, "missing"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get: %v", err)
		}
		if _, err := store.GetByAlt[store.Identity](ctx, tx, "missing"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("GetByAlt: %v", err)
		}
		if _, err := store.GetByAlt[store.Identity](ctx, tx, ""); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("GetByAlt empty: %v", err)
		}
		if err := store.Delete[store.Cluster](ctx, tx, "missing"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Delete: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testConflict(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := store.Identity{SubscriptionID: "s", ResourceGroup: "g", Name: "a", ClientID: "same"}
	update(t, s, func(tx store.Tx) error { return store.Create(ctx, tx, a) })
	err := s.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, a) })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate key: err = %v, want ErrConflict", err)
	}
	b := store.Identity{SubscriptionID: "s", ResourceGroup: "g", Name: "b", ClientID: "SAME"}
	err = s.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, b) })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate alternate key: err = %v, want ErrConflict", err)
	}
	err = s.Update(ctx, func(tx store.Tx) error { return store.Put(ctx, tx, b) })
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("put with taken alternate key: err = %v, want ErrConflict", err)
	}
	// The same alternate key in another kind is no conflict.
	update(t, s, func(tx store.Tx) error {
		return store.Create(ctx, tx, store.ServicePrincipal{TenantID: "t", ObjectID: "o", ClientID: "same"})
	})
}

func testList(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		for i := range 25 {
			for _, id := range []string{"id1", "id2", "id10"} {
				f := store.FederatedCredential{SubscriptionID: "sub", ResourceGroup: "rg", IdentityName: id, Name: fmt.Sprintf("f%02d", i)}
				if err := store.Create(ctx, tx, f); err != nil {
					return err
				}
			}
		}
		return nil
	})
	prefix := store.ScopeKey(store.IdentityID("sub", "rg", "id1")) + "/"
	var got []string
	after := ""
	pages := 0
	for {
		var page []store.FederatedCredential
		err := s.View(ctx, func(tx store.Tx) error {
			var err error
			page, err = store.List[store.FederatedCredential](ctx, tx, prefix, after, 10)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, f := range page {
			if f.IdentityName != "id1" {
				t.Fatalf("prefix %q listed credential of %s", prefix, f.IdentityName)
			}
			got = append(got, f.Name)
		}
		if len(page) < 10 {
			break
		}
		after = page[len(page)-1].Key()
	}
	if len(got) != 25 || pages != 3 {
		t.Fatalf("listed %d in %d pages, want 25 in 3", len(got), pages)
	}
	for i, n := range got {
		if n != fmt.Sprintf("f%02d", i) {
			t.Fatalf("item %d = %s: not in key order", i, n)
		}
	}
	var all []store.FederatedCredential
	err := s.View(ctx, func(tx store.Tx) error {
		var err error
		all, err = store.List[store.FederatedCredential](ctx, tx, "", "", 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 75 {
		t.Fatalf("unbounded list of kind = %d, want 75", len(all))
	}
}

func testRollback(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := store.Create(ctx, tx, store.Tenant{ID: "x"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the closure's error", err)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		_, err := store.Get[store.Tenant](ctx, tx, "x")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("write of a failed transaction is visible: %v", err)
	}
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := context.Background()
	key := store.Tenant{ID: "counter"}.Key()
	update(t, s, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: "counter", DisplayName: ""}) })
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				errs <- s.Update(ctx, func(tx store.Tx) error {
					tn, err := store.Get[store.Tenant](ctx, tx, key)
					if err != nil {
						return err
					}
					tn.DisplayName += "x"
					return store.Put(ctx, tx, tn)
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent update: %v", err)
		}
	}
	var tn store.Tenant
	err := s.View(ctx, func(tx store.Tx) error {
		var err error
		tn, err = store.Get[store.Tenant](ctx, tx, key)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tn.DisplayName) != workers*each {
		t.Fatalf("after %d increments the counter is %d: updates were lost", workers*each, len(tn.DisplayName))
	}
}

func testUTC(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error { return store.Create(ctx, tx, store.Tenant{ID: "u", CreatedAt: t0}) })
	var tn store.Tenant
	err := s.View(ctx, func(tx store.Tx) error {
		var err error
		tn, err = store.Get[store.Tenant](ctx, tx, "u")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if tn.CreatedAt.Location() != time.UTC || !tn.CreatedAt.Equal(t0) {
		t.Fatalf("CreatedAt = %v (%v), want %v in UTC", tn.CreatedAt, tn.CreatedAt.Location(), t0)
	}
}
