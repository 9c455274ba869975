package arm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
)

// accessCase is one request and the status it must get.
type accessCase struct {
	name   string
	method string
	path   string
	body   any
	want   int
}

// runAccess sends each case as token and checks the status; a 403 must be
// AuthorizationFailed.
func runAccess(t *testing.T, env *testEnv, token string, cases []accessCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			r := env.callAs(token, tt.method, tt.path, tt.body)
			if tt.want == http.StatusForbidden {
				r.wantError(t, http.StatusForbidden, "AuthorizationFailed", "")
				return
			}
			r.wantStatus(t, tt.want)
		})
	}
}

func TestRBAC_ManagedIdentityContributorOnAGroup(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	for _, rg := range []string{"home", "team", "other"} {
		env.createGroup(rg)
	}
	worker := env.createIdentity("home", "worker")
	env.createIdentity("other", "bystander")
	token := env.signIn(worker)
	grant := env.grant(worker.Properties.PrincipalID, rgPath("team"), rbac.ManagedIdentityContributorID)

	t.Run("manages identities and credentials in its group", func(t *testing.T) {
		runAccess(t, env, token, []accessCase{
			{name: "create identity", method: http.MethodPut, path: identityPath("team", "made-by-mi"), body: map[string]any{"location": "eastus"}, want: http.StatusCreated},
			{name: "read identity", method: http.MethodGet, path: identityPath("team", "made-by-mi"), want: http.StatusOK},
			{name: "list identities", method: http.MethodGet, path: rgPath("team") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities", want: http.StatusOK},
			{name: "create credential", method: http.MethodPut, path: credentialPath("team", "made-by-mi", "fic1"),
				body: ficBody(testIssuer, "system:serviceaccount:ns:sa", testAudience), want: http.StatusCreated},
			{name: "list credentials", method: http.MethodGet, path: identityPath("team", "made-by-mi") + "/federatedIdentityCredentials", want: http.StatusOK},
			{name: "delete credential", method: http.MethodDelete, path: credentialPath("team", "made-by-mi", "fic1"), want: http.StatusOK},
			{name: "delete identity", method: http.MethodDelete, path: identityPath("team", "made-by-mi"), want: http.StatusOK},
			{name: "read its group", method: http.MethodGet, path: rgPath("team"), want: http.StatusOK},
			{name: "read role assignments of its group", method: http.MethodGet, path: assignmentsPath(rgPath("team")), want: http.StatusOK},
		})
	})
	t.Run("refused outside its group and its role", func(t *testing.T) {
		runAccess(t, env, token, []accessCase{
			{name: "identity in another group", method: http.MethodPut, path: identityPath("other", "intruder"), body: map[string]any{"location": "eastus"}, want: http.StatusForbidden},
			{name: "its own identity in its home group", method: http.MethodGet, path: identityPath("home", "worker"), want: http.StatusForbidden},
			{name: "credential in another group", method: http.MethodPut, path: credentialPath("other", "bystander", "fic1"),
				body: ficBody(testIssuer, "system:serviceaccount:ns:sa", testAudience), want: http.StatusForbidden},
			{name: "identities of the subscription", method: http.MethodGet, path: subPath + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities", want: http.StatusForbidden},
			{name: "cluster in its group", method: http.MethodPut, path: clusterPath("team", "c1"), body: map[string]any{"location": "eastus"}, want: http.StatusForbidden},
			{name: "clusters of its group", method: http.MethodGet, path: rgPath("team") + "/providers/Microsoft.ContainerService/managedClusters", want: http.StatusForbidden},
			{name: "vault in its group", method: http.MethodPut, path: vaultPath("team", "kv-team"), body: map[string]any{"location": "eastus"}, want: http.StatusForbidden},
			{name: "vaults of its group", method: http.MethodGet, path: rgPath("team") + "/providers/Microsoft.KeyVault/vaults", want: http.StatusForbidden},
			{name: "write its group", method: http.MethodPut, path: rgPath("team"), body: map[string]any{"location": "eastus"}, want: http.StatusForbidden},
			{name: "delete its group", method: http.MethodDelete, path: rgPath("team"), want: http.StatusForbidden},
			{name: "grant itself Owner on its group", method: http.MethodPut, path: assignmentsPath(rgPath("team"), "cccccccc-0000-0000-0000-0000000000e1"),
				body: assignmentBody(rbac.OwnerID, worker.Properties.PrincipalID), want: http.StatusForbidden},
			{name: "grant itself Owner on an identity it manages", method: http.MethodPut, path: assignmentsPath(identityPath("team", "x"), "cccccccc-0000-0000-0000-0000000000e2"),
				body: assignmentBody(rbac.OwnerID, worker.Properties.PrincipalID), want: http.StatusForbidden},
			{name: "remove its own assignment", method: http.MethodDelete, path: assignmentsPath(rgPath("team"), grant.Name), want: http.StatusForbidden},
			{name: "role assignments of the subscription", method: http.MethodGet, path: assignmentsPath(subPath), want: http.StatusForbidden},
			{name: "subscription", method: http.MethodGet, path: subPath, want: http.StatusForbidden},
		})
	})
	t.Run("its escalation attempts changed nothing", func(t *testing.T) {
		got := env.assignments(subPath + "/")
		if len(got) != 2 {
			t.Fatalf("assignments = %+v, want the admin's Owner and the worker's grant", got)
		}
		for _, a := range got {
			if a.Name != adminOwnerAssignment && a.Name != grant.Name {
				t.Errorf("unexpected assignment %+v", a)
			}
		}
	})
	t.Run("sees the subscription its group is in, as in Azure", func(t *testing.T) {
		var page listResult[subscriptionJSON]
		env.callAs(token, http.MethodGet, "/subscriptions", nil).wantStatus(t, http.StatusOK).decode(t, &page)
		if len(page.Value) != 1 || page.Value[0].SubscriptionID != testSub {
			t.Errorf("subscriptions = %+v, want only %s", page.Value, testSub)
		}
	})
}

func TestRBAC_ReaderReadsButDoesNotWrite(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("team")
	env.createGroup("other")
	env.createIdentity("team", "existing")
	env.mustCreate(credentialPath("team", "existing", "fic1"), ficBody(testIssuer, "system:serviceaccount:a:b", testAudience))
	env.createIdentity("other", "elsewhere")
	auditor := env.createIdentity("other", "auditor")
	token := env.signIn(auditor)
	env.grant(auditor.Properties.PrincipalID, rgPath("team"), rbac.ReaderID)

	runAccess(t, env, token, []accessCase{
		{name: "get group", method: http.MethodGet, path: rgPath("team"), want: http.StatusOK},
		{name: "get identity", method: http.MethodGet, path: identityPath("team", "existing"), want: http.StatusOK},
		{name: "list identities", method: http.MethodGet, path: rgPath("team") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities", want: http.StatusOK},
		{name: "get credential", method: http.MethodGet, path: credentialPath("team", "existing", "fic1"), want: http.StatusOK},
		{name: "list role assignments", method: http.MethodGet, path: assignmentsPath(rgPath("team")), want: http.StatusOK},
		{name: "list role definitions", method: http.MethodGet, path: rgPath("team") + "/providers/Microsoft.Authorization/roleDefinitions", want: http.StatusOK},
		{name: "put identity", method: http.MethodPut, path: identityPath("team", "existing"), body: map[string]any{"location": "eastus"}, want: http.StatusForbidden},
		{name: "patch identity", method: http.MethodPatch, path: identityPath("team", "existing"), body: map[string]any{"tags": map[string]string{}}, want: http.StatusForbidden},
		{name: "put credential", method: http.MethodPut, path: credentialPath("team", "existing", "fic2"),
			body: ficBody(testIssuer, "system:serviceaccount:c:d", testAudience), want: http.StatusForbidden},
		{name: "delete credential", method: http.MethodDelete, path: credentialPath("team", "existing", "fic1"), want: http.StatusForbidden},
		{name: "delete identity", method: http.MethodDelete, path: identityPath("team", "existing"), want: http.StatusForbidden},
		{name: "read another group", method: http.MethodGet, path: identityPath("other", "elsewhere"), want: http.StatusForbidden},
	})
	env.call(http.MethodGet, credentialPath("team", "existing", "fic1"), nil).wantStatus(t, http.StatusOK)
}

func TestRBAC_ContributorCannotAssignRoles(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	builder := env.createIdentity("rg", "builder")
	token := env.signIn(builder)
	env.grant(builder.Properties.PrincipalID, subPath, rbac.ContributorID)

	runAccess(t, env, token, []accessCase{
		{name: "create group", method: http.MethodPut, path: rgPath("made"), body: map[string]any{"location": "eastus"}, want: http.StatusCreated},
		{name: "create identity", method: http.MethodPut, path: identityPath("made", "id1"), body: map[string]any{"location": "eastus"}, want: http.StatusCreated},
		{name: "create vault", method: http.MethodPut, path: vaultPath("made", "kv-contrib"), body: map[string]any{"location": "eastus"}, want: http.StatusCreated},
		{name: "read role assignments", method: http.MethodGet, path: assignmentsPath(subPath), want: http.StatusOK},
		{name: "assign a role", method: http.MethodPut, path: assignmentsPath(rgPath("made"), "cccccccc-0000-0000-0000-0000000000c1"),
			body: assignmentBody(rbac.ReaderID, builder.Properties.PrincipalID), want: http.StatusForbidden},
		{name: "assign itself Owner", method: http.MethodPut, path: assignmentsPath(subPath, "cccccccc-0000-0000-0000-0000000000c2"),
			body: assignmentBody(rbac.OwnerID, builder.Properties.PrincipalID), want: http.StatusForbidden},
		{name: "delete the admin's assignment", method: http.MethodDelete, path: assignmentsPath(subPath, adminOwnerAssignment), want: http.StatusForbidden},
		{name: "delete its group", method: http.MethodDelete, path: rgPath("made"), want: http.StatusOK},
	})
	if got := env.assignments(subPath + "/"); len(got) != 2 {
		t.Errorf("assignments = %+v, want only the two seeded", got)
	}
}

func TestRBAC_NoAssignmentIsRefusedEverywhere(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.createIdentity("rg", "id1")
	env.mustCreate(vaultPath("rg", "kv-none"), map[string]any{"location": "eastus"})
	cases := []accessCase{
		{name: "subscription", method: http.MethodGet, path: subPath, want: http.StatusForbidden},
		{name: "groups", method: http.MethodGet, path: subPath + "/resourceGroups", want: http.StatusForbidden},
		{name: "group write", method: http.MethodPut, path: rgPath("rg2"), body: map[string]any{"location": "eastus"}, want: http.StatusForbidden},
		{name: "group head", method: http.MethodHead, path: rgPath("rg"), want: http.StatusForbidden},
		{name: "identity", method: http.MethodGet, path: identityPath("rg", "id1"), want: http.StatusForbidden},
		{name: "vault", method: http.MethodGet, path: vaultPath("rg", "kv-none"), want: http.StatusForbidden},
		{name: "role definitions", method: http.MethodGet, path: subPath + "/providers/Microsoft.Authorization/roleDefinitions", want: http.StatusForbidden},
		{name: "role assignments", method: http.MethodGet, path: assignmentsPath(subPath), want: http.StatusForbidden},
		{name: "role assignment write", method: http.MethodPut, path: assignmentsPath(subPath, "cccccccc-0000-0000-0000-0000000000d1"),
			body: assignmentBody(rbac.OwnerID, noRoleObjectID), want: http.StatusForbidden},
	}
	for _, who := range []struct {
		name  string
		token string
	}{
		{name: "service principal", token: noRoleToken},
		{name: "managed identity", token: identityToken},
	} {
		t.Run(who.name, func(t *testing.T) {
			for _, c := range cases {
				r := env.callAs(who.token, c.method, c.path, c.body)
				if c.method == http.MethodHead {
					r.wantStatus(t, http.StatusForbidden)
					continue
				}
				r.wantError(t, http.StatusForbidden, "AuthorizationFailed", "")
			}
		})
	}
	env.call(http.MethodGet, rgPath("rg2"), nil).wantError(t, http.StatusNotFound, "ResourceGroupNotFound", "")
}

func TestRBAC_AssignmentsTakeEffectAtOnce(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	worker := env.createIdentity("rg", "worker")
	token := env.signIn(worker)
	listPath := rgPath("rg") + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
	const name = "cccccccc-0000-0000-0000-0000000000f1"

	env.callAs(token, http.MethodGet, listPath, nil).wantError(t, http.StatusForbidden, "AuthorizationFailed", "")
	env.mustCreate(assignmentsPath(rgPath("rg"), name), assignmentBody(rbac.ReaderID, worker.Properties.PrincipalID))
	env.callAs(token, http.MethodGet, listPath, nil).wantStatus(t, http.StatusOK)
	env.call(http.MethodDelete, assignmentsPath(rgPath("rg"), name), nil).wantStatus(t, http.StatusOK)
	env.callAs(token, http.MethodGet, listPath, nil).wantError(t, http.StatusForbidden, "AuthorizationFailed", "")
}

func TestRBAC_SubscriptionListFollowsRoles(t *testing.T) {
	t.Parallel()
	const thirdSub = "55555555-5555-5555-5555-555555555555"
	env := newTestEnv(t)
	ctx := context.Background()
	err := env.store.Update(ctx, func(tx store.Tx) error {
		return store.Create(ctx, tx, store.Subscription{ID: thirdSub, TenantID: testTenant, DisplayName: "Third", CreatedAt: testNow})
	})
	if err != nil {
		t.Fatal(err)
	}
	env.createGroup("rg")
	groupReader := env.createIdentity("rg", "group-reader")
	env.grant(groupReader.Properties.PrincipalID, rgPath("rg"), rbac.ReaderID)
	nobody := env.createIdentity("rg", "nobody")
	subReader := env.createIdentity("rg", "sub-reader")
	env.grant(subReader.Properties.PrincipalID, "/subscriptions/"+thirdSub, rbac.ReaderID)
	env.grant(subReader.Properties.PrincipalID, subPath, rbac.ReaderID)
	env.grant(subReader.Properties.PrincipalID, "/subscriptions/"+otherSub, rbac.ReaderID) // another tenant's: never listed

	tests := []struct {
		name  string
		token string
		top   string
		want  []string
	}{
		{name: "owner of one subscription sees that one", token: adminToken, want: []string{testSub}},
		// As in Azure: a role anywhere in a subscription lists it, so
		// `az login` finds the subscription of an identity scoped to a group.
		{name: "reader of a group sees the group's subscription", token: env.signIn(groupReader), want: []string{testSub}},
		{name: "no role anywhere sees none", token: env.signIn(nobody), want: nil},
		{name: "reader of two subscriptions sees both", token: env.signIn(subReader), want: []string{testSub, thirdSub}},
		{name: "pages hold only readable subscriptions", token: env.signIn(subReader), top: "1", want: []string{testSub, thirdSub}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := "/subscriptions?api-version=2022-12-01"
			if tt.top != "" {
				path += "&$top=" + tt.top
			}
			var got []string
			for pages := 0; path != ""; pages++ {
				if pages > 3 {
					t.Fatal("too many pages")
				}
				var page listResult[subscriptionJSON]
				env.raw(http.MethodGet, path, tt.token, nil).wantStatus(t, http.StatusOK).decode(t, &page)
				if tt.top != "" && len(page.Value) > 1 {
					t.Errorf("page has %d subscriptions, want at most 1", len(page.Value))
				}
				for _, s := range page.Value {
					got = append(got, s.SubscriptionID)
				}
				path = strings.TrimPrefix(page.NextLink, testPublicURL)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("subscriptions = %v, want %v", got, tt.want)
			}
		})
	}
}

// failingAuthorizer cannot decide; it claims an allow to prove the error wins.
type failingAuthorizer struct{ err error }

func (f failingAuthorizer) Decide(context.Context, rbac.Request) (rbac.Decision, error) {
	return rbac.Decision{Allowed: true}, f.err
}

func TestRBAC_AuthorizerFailureIsNeverAnAllow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		err     error
		status  int
		code    string
		message string
	}{
		{name: "store unavailable", err: fmt.Errorf("read role assignments: %w", store.ErrUnavailable),
			status: http.StatusServiceUnavailable, code: "ServiceUnavailable", message: msgUnavailable},
		{name: "other failure", err: errors.New("read role assignments: disk on fire"),
			status: http.StatusInternalServerError, code: "InternalServerError", message: msgInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t, func(c *Config) { c.Authorizer = failingAuthorizer{err: tt.err} })
			for _, c := range []accessCase{
				{name: "subscription list", method: http.MethodGet, path: "/subscriptions"},
				{name: "subscription", method: http.MethodGet, path: subPath},
				{name: "group write", method: http.MethodPut, path: rgPath("rg"), body: map[string]any{"location": "eastus"}},
				{name: "role assignment write", method: http.MethodPut, path: assignmentsPath(subPath, "cccccccc-0000-0000-0000-0000000000a9"),
					body: assignmentBody(rbac.OwnerID, noRoleObjectID)},
			} {
				r := env.call(c.method, c.path, c.body)
				r.wantError(t, tt.status, tt.code, tt.message)
				if strings.Contains(string(r.body), "fire") {
					t.Errorf("%s: internal detail leaked: %s", c.name, r.body)
				}
			}
			ctx := context.Background()
			err := env.store.View(ctx, func(tx store.Tx) error {
				_, err := store.Get[store.ResourceGroup](ctx, tx, store.ResourceGroupKey(testSub, "rg"))
				return err
			})
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("resource group lookup = %v, want not found: nothing may be written", err)
			}
			if got := env.assignments(subPath + "/"); len(got) != 1 {
				t.Errorf("assignments = %+v, want only the seeded one", got)
			}
		})
	}
}
