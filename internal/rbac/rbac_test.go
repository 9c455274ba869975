package rbac_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

const (
	sub = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	rg1 = sub + "/resourceGroups/rg1"
	id1 = rg1 + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	kv1 = rg1 + "/providers/Microsoft.KeyVault/vaults/kv1"
)

func assign(principal, scope, roleID string) store.RoleAssignment {
	return store.RoleAssignment{Name: principal + scope, Scope: scope, PrincipalID: principal,
		RoleDefinitionID: sub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	assignments := []store.RoleAssignment{
		assign("owner", sub, rbac.OwnerID),
		assign("contrib", sub, rbac.ContributorID),
		assign("reader", rg1, rbac.ReaderID),
		assign("mic", rg1, rbac.ManagedIdentityContributorID),
		assign("kvuser", kv1, rbac.KeyVaultSecretsUserID),
		assign("kvadmin", rg1, rbac.KeyVaultAdministratorID),
		assign("unknownrole", sub, "00000000-0000-0000-0000-000000000000"),
	}
	tests := []struct {
		name      string
		principal string
		action    string
		data      bool
		scope     string
		want      bool
	}{
		{name: "owner inherits from subscription to a credential", principal: "owner", action: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write", scope: id1 + "/federatedIdentityCredentials/f", want: true},
		{name: "owner may assign roles", principal: "owner", action: "Microsoft.Authorization/roleAssignments/write", scope: rg1, want: true},
		{name: "owner has no data actions", principal: "owner", action: rbac.SecretGet, data: true, scope: kv1, want: false},
		{name: "contributor writes identities", principal: "contrib", action: "Microsoft.ManagedIdentity/userAssignedIdentities/write", scope: id1, want: true},
		{name: "contributor may not assign roles (NotActions)", principal: "contrib", action: "Microsoft.Authorization/roleAssignments/write", scope: rg1, want: false},
		{name: "contributor may not delete assignments (case-insensitive NotActions)", principal: "contrib", action: "microsoft.authorization/roleassignments/delete", scope: rg1, want: false},
		{name: "reader reads below its scope", principal: "reader", action: "Microsoft.ManagedIdentity/userAssignedIdentities/read", scope: id1, want: true},
		{name: "reader may not write", principal: "reader", action: "Microsoft.ManagedIdentity/userAssignedIdentities/write", scope: id1, want: false},
		{name: "reader's scope does not reach the subscription", principal: "reader", action: "Microsoft.Resources/subscriptions/resourceGroups/read", scope: sub, want: false},
		{name: "reader's scope does not reach a sibling with a longer name", principal: "reader", action: "Microsoft.ManagedIdentity/userAssignedIdentities/read", scope: sub + "/resourceGroups/rg10/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x", want: false},
		{name: "managed identity contributor manages credentials", principal: "mic", action: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write", scope: id1 + "/federatedIdentityCredentials/f", want: true},
		{name: "managed identity contributor cannot touch clusters", principal: "mic", action: "Microsoft.ContainerService/managedClusters/write", scope: rg1 + "/providers/Microsoft.ContainerService/managedClusters/c", want: false},
		{name: "managed identity contributor cannot assign roles", principal: "mic", action: "Microsoft.Authorization/roleAssignments/write", scope: rg1, want: false},
		{name: "secrets user reads secret values", principal: "kvuser", action: rbac.SecretGet, data: true, scope: kv1, want: true},
		{name: "secrets user cannot set secrets", principal: "kvuser", action: rbac.SecretSet, data: true, scope: kv1, want: false},
		{name: "data action is not a management action", principal: "kvuser", action: rbac.SecretGet, data: false, scope: kv1, want: false},
		{name: "secrets user's grant is for its vault only", principal: "kvuser", action: rbac.SecretGet, data: true, scope: rg1 + "/providers/Microsoft.KeyVault/vaults/kv2", want: false},
		{name: "key vault administrator sets secrets in every vault of the group", principal: "kvadmin", action: rbac.SecretSet, data: true, scope: rg1 + "/providers/Microsoft.KeyVault/vaults/kv2", want: true},
		{name: "key vault administrator cannot write vaults", principal: "kvadmin", action: "Microsoft.KeyVault/vaults/write", scope: kv1, want: false},
		{name: "unknown role grants nothing", principal: "unknownrole", action: "Microsoft.Resources/subscriptions/resourceGroups/read", scope: rg1, want: false},
		{name: "no assignment, no access", principal: "nobody", action: "Microsoft.Resources/subscriptions/resourceGroups/read", scope: rg1, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rbac.Decide(rbac.Request{PrincipalID: tt.principal, Action: tt.action, Data: tt.data, Scope: tt.scope}, assignments)
			if got.Allowed != tt.want {
				t.Fatalf("Decide = %v, want %v", got.Allowed, tt.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"*", "Microsoft.X/y/read", true},
		{"*/read", "Microsoft.X/y/read", true},
		{"*/read", "Microsoft.X/y/write", false},
		{"Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults/secrets/getSecret/action", true},
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/read", true},
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", false},
		{"Microsoft.Authorization/*/Write", "microsoft.authorization/roleAssignments/write", true},
		{"Microsoft.ManagedIdentity/userAssignedIdentities/read", "Microsoft.ManagedIdentity/userAssignedIdentities/readx", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXcYb", false},
	}
	for _, tt := range tests {
		if got := rbac.Match(tt.pattern, tt.action); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
		}
	}
}

func TestDefinitionLookup(t *testing.T) {
	t.Parallel()
	if d, ok := rbac.Definition(sub + "/providers/Microsoft.Authorization/roleDefinitions/" + rbac.KeyVaultSecretsUserID); !ok || d.Name != "Key Vault Secrets User" {
		t.Fatalf("Definition by ID = %+v, %v", d, ok)
	}
	if d, ok := rbac.DefinitionByName("managed identity contributor"); !ok || d.ID != rbac.ManagedIdentityContributorID {
		t.Fatalf("DefinitionByName = %+v, %v", d, ok)
	}
	if len(rbac.BuiltIn()) != 9 {
		t.Fatalf("%d built-in roles, want 9", len(rbac.BuiltIn()))
	}
}

// seqStore is a store that numbers its changes, as the mirror does.
type seqStore struct {
	store.Store
	seq   atomic.Int64
	lists atomic.Int64
}

func (s *seqStore) Seq() int64 { return s.seq.Load() }

func (s *seqStore) View(ctx context.Context, fn func(store.Tx) error) error {
	s.lists.Add(1)
	return s.Store.View(ctx, fn)
}

func TestIndexedAuthorizerFollowsChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	backend, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	st := &seqStore{Store: backend}
	z := rbac.NewAuthorizer(st)
	req := rbac.Request{PrincipalID: "P1", Action: "Microsoft.ManagedIdentity/userAssignedIdentities/read", Scope: id1}
	decide := func() bool {
		t.Helper()
		d, err := z.Decide(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	if decide() {
		t.Fatal("allowed without an assignment")
	}
	a := assign("p1", rg1, rbac.ReaderID)
	if err := backend.Update(ctx, func(tx store.Tx) error { return store.Create(ctx, tx, a) }); err != nil {
		t.Fatal(err)
	}
	// Same sequence number: the index is reused (and still says no).
	before := st.lists.Load()
	if decide() || st.lists.Load() != before {
		t.Fatal("the index was not reused at an unchanged sequence number")
	}
	// The store changed: the new assignment counts at once.
	st.seq.Add(1)
	if !decide() {
		t.Fatal("an assignment made before the decision was not seen")
	}
	if err := backend.Update(ctx, func(tx store.Tx) error { return store.Delete[store.RoleAssignment](ctx, tx, a.Key()) }); err != nil {
		t.Fatal(err)
	}
	st.seq.Add(1)
	if decide() {
		t.Fatal("a deleted assignment still grants access")
	}
}
