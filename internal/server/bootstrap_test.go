package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

func TestBootstrap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	d1, err := bootstrap(ctx, st, dir, "https://a:1", "/ca", now)
	if err != nil {
		t.Fatal(err)
	}
	a1, err := readAdmin(filepath.Join(dir, config.AdminFile))
	if err != nil {
		t.Fatal(err)
	}
	if a1.TenantID != d1.Tenant.ID || a1.ClientID != d1.Admin.ClientID || len(a1.ClientSecret) < 40 || a1.Server != "https://a:1" {
		t.Fatalf("admin.json = %+v", a1)
	}
	if !secretMatches(d1.Admin, a1.ClientSecret, now) {
		t.Fatal("stored hash does not match the written secret")
	}

	// A restart keeps everything, and only the server URL is rewritten.
	d2, err := bootstrap(ctx, st, dir, "https://b:2", "/ca", now)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := readAdmin(filepath.Join(dir, config.AdminFile))
	if d2.Tenant.ID != d1.Tenant.ID || d2.Subscription.ID != d1.Subscription.ID || a2.ClientSecret != a1.ClientSecret || a2.Server != "https://b:2" {
		t.Fatalf("restart changed the directory: %+v", a2)
	}

	// A lost admin.json gets a new secret; the old one stops working.
	if err := os.Remove(filepath.Join(dir, config.AdminFile)); err != nil {
		t.Fatal(err)
	}
	d3, err := bootstrap(ctx, st, dir, "https://b:2", "/ca", now)
	if err != nil {
		t.Fatal(err)
	}
	a3, _ := readAdmin(filepath.Join(dir, config.AdminFile))
	if a3.ClientSecret == a1.ClientSecret || a3.ClientID != a1.ClientID {
		t.Fatal("lost admin.json was not replaced by a new secret for the same principal")
	}
	if secretMatches(d3.Admin, a1.ClientSecret, now) || !secretMatches(d3.Admin, a3.ClientSecret, now) {
		t.Fatal("secret rotation on recovery is wrong")
	}
	var sps []store.ServicePrincipal
	_ = st.View(ctx, func(tx store.Tx) error {
		sps, err = store.List[store.ServicePrincipal](ctx, tx, "", "", 0)
		return err
	})
	if len(sps) != 1 {
		t.Fatalf("%d service principals after recovery, want 1", len(sps))
	}
}

func TestResolvePublicURL(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"http://x", "https://", "https://x/path", "https://x?q", "://"} {
		if _, err := resolvePublicURL(bad, nil); err == nil {
			t.Errorf("public URL %q accepted", bad)
		}
	}
	if u, err := resolvePublicURL("https://fedcred.example.com/", nil); err != nil || u != "https://fedcred.example.com" {
		t.Errorf("resolvePublicURL = %q, %v", u, err)
	}
}

func TestBootstrapMakesAdminOwnerOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	var d directory
	for range 2 {
		if d, err = bootstrap(ctx, st, dir, "https://a:1", "/ca", now); err != nil {
			t.Fatal(err)
		}
	}
	var all []store.RoleAssignment
	_ = st.View(ctx, func(tx store.Tx) error {
		all, err = store.List[store.RoleAssignment](ctx, tx, "", "", 0)
		return err
	})
	if len(all) != 1 {
		t.Fatalf("%d role assignments after two starts, want 1", len(all))
	}
	got := rbac.Decide(rbac.Request{PrincipalID: d.Admin.ObjectID, Action: "Microsoft.Authorization/roleAssignments/write",
		Scope: d.Subscription.ResourceID() + "/resourceGroups/rg"}, all)
	if !got.Allowed || got.Role.Name != "Owner" {
		t.Fatalf("admin is not Owner of the subscription: %+v", got)
	}
}
