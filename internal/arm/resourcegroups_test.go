package arm

import (
	"context"
	"net/http"
	"testing"

	"github.com/fedcred/fedcred/internal/store"
)

func TestResourceGroups_Lifecycle(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)

	var created resourceGroupJSON
	env.call(http.MethodPut, rgPath("Team-RG"), map[string]any{"location": "East US", "tags": map[string]string{"env": "dev"}}).
		wantStatus(t, http.StatusCreated).decode(t, &created)
	want := resourceGroupJSON{
		ID: "/subscriptions/" + testSub + "/resourceGroups/Team-RG", Name: "Team-RG", Type: "Microsoft.Resources/resourceGroups",
		Location: "eastus", Tags: map[string]string{"env": "dev"}, Properties: provisioningState{"Succeeded"},
	}
	if created.ID != want.ID || created.Name != want.Name || created.Type != want.Type || created.Location != want.Location ||
		created.Tags["env"] != "dev" || created.Properties != want.Properties {
		t.Fatalf("created = %+v, want %+v", created, want)
	}

	t.Run("update with the same location", func(t *testing.T) {
		var got resourceGroupJSON
		env.call(http.MethodPut, rgPath("team-rg"), map[string]any{"location": "eastus", "tags": map[string]string{"env": "prod"}}).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Name != "Team-RG" || got.Tags["env"] != "prod" {
			t.Errorf("updated = %+v, want the original name and the new tags", got)
		}
	})
	t.Run("get is case-insensitive and lower-case segment works", func(t *testing.T) {
		var got resourceGroupJSON
		env.call(http.MethodGet, "/subscriptions/"+testSub+"/resourcegroups/TEAM-rg?api-version=2021-04-01", nil).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Location != "eastus" || got.Name != "Team-RG" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("head", func(t *testing.T) {
		r := env.call(http.MethodHead, rgPath("team-rg"), nil).wantStatus(t, http.StatusNoContent)
		if len(r.body) != 0 {
			t.Errorf("HEAD body = %q", r.body)
		}
		env.call(http.MethodHead, rgPath("absent"), nil).wantStatus(t, http.StatusNotFound)
	})
	t.Run("patch tags", func(t *testing.T) {
		var got resourceGroupJSON
		env.call(http.MethodPatch, rgPath("team-rg"), map[string]any{"tags": map[string]string{"owner": "me"}}).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if len(got.Tags) != 1 || got.Tags["owner"] != "me" {
			t.Errorf("tags = %v", got.Tags)
		}
		env.call(http.MethodPatch, rgPath("absent"), map[string]any{"tags": map[string]string{}}).
			wantError(t, http.StatusNotFound, "ResourceGroupNotFound", "Resource group 'absent' could not be found.")
	})
	t.Run("location cannot change", func(t *testing.T) {
		env.call(http.MethodPut, rgPath("team-rg"), map[string]any{"location": "westeurope"}).
			wantError(t, http.StatusConflict, "InvalidResourceGroupLocation",
				"Invalid resource group location 'westeurope'. The Resource group already exists in location 'eastus'.")
	})
	t.Run("list", func(t *testing.T) {
		env.createGroup("another")
		var page listResult[resourceGroupJSON]
		env.call(http.MethodGet, "/subscriptions/"+testSub+"/resourcegroups", nil).wantStatus(t, http.StatusOK).decode(t, &page)
		if len(page.Value) != 2 || page.Value[0].Name != "another" || page.Value[1].Name != "Team-RG" || page.NextLink != "" {
			t.Errorf("list = %+v", page)
		}
	})
	t.Run("delete", func(t *testing.T) {
		env.call(http.MethodDelete, rgPath("team-rg"), nil).wantStatus(t, http.StatusOK)
		env.call(http.MethodGet, rgPath("team-rg"), nil).
			wantError(t, http.StatusNotFound, "ResourceGroupNotFound", "Resource group 'team-rg' could not be found.")
		env.call(http.MethodDelete, rgPath("team-rg"), nil).wantStatus(t, http.StatusNoContent)
	})
}

func TestResourceGroups_Validation(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	tests := []struct {
		name   string
		rg     string
		body   any
		status int
		code   string
	}{
		{name: "location required", rg: "rg", body: map[string]any{}, status: http.StatusBadRequest, code: "LocationRequired"},
		{name: "invalid location", rg: "rg", body: map[string]any{"location": "east-us!"}, status: http.StatusBadRequest, code: "LocationNotAvailableForResourceType"},
		{name: "invalid character", rg: "rg%21", body: map[string]any{"location": "eastus"}, status: http.StatusBadRequest, code: "InvalidResourceGroup"},
		{name: "ends with a period", rg: "rg.", body: map[string]any{"location": "eastus"}, status: http.StatusBadRequest, code: "InvalidResourceGroup"},
		{name: "too long", rg: string(make91()), body: map[string]any{"location": "eastus"}, status: http.StatusBadRequest, code: "InvalidResourceGroup"},
		{name: "too many tags", rg: "rg", body: map[string]any{"location": "eastus", "tags": manyTags(51)}, status: http.StatusBadRequest, code: "InvalidTag"},
		{name: "bad tag name", rg: "rg", body: map[string]any{"location": "eastus", "tags": map[string]string{"a/b": "x"}}, status: http.StatusBadRequest, code: "InvalidTagNameCharacters"},
		{name: "parentheses allowed", rg: "rg(1)", body: map[string]any{"location": "eastus"}, status: http.StatusCreated},
		{name: "unicode letters allowed", rg: "gruppe-%C3%BC", body: map[string]any{"location": "eastus"}, status: http.StatusCreated},
		{name: "fifty tags allowed", rg: "tagged", body: map[string]any{"location": "eastus", "tags": manyTags(50)}, status: http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := env.call(http.MethodPut, rgPath(tt.rg), tt.body)
			if tt.code == "" {
				r.wantStatus(t, tt.status)
				return
			}
			r.wantError(t, tt.status, tt.code, "")
		})
	}
}

func make91() []byte {
	b := make([]byte, 91)
	for i := range b {
		b[i] = 'a'
	}
	return b
}

func manyTags(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m["tag"+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	return m
}

func TestResourceGroups_DeleteCascades(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("doomed")
	env.createGroup("doomed2") // a sibling whose name extends the first must survive
	env.createIdentity("doomed", "id1")
	env.createIdentity("doomed", "id2")
	env.createIdentity("doomed2", "keeper")
	env.mustCreate(credentialPath("doomed", "id1", "fic1"), ficBody(testIssuer, "system:serviceaccount:a:b", testAudience))
	env.mustCreate(credentialPath("doomed", "id2", "fic2"), ficBody(testIssuer, "system:serviceaccount:a:b", testAudience))
	env.mustCreate(credentialPath("doomed2", "keeper", "fic3"), ficBody(testIssuer, "system:serviceaccount:a:b", testAudience))
	env.mustCreate(clusterPath("doomed", "c1"), map[string]any{"location": "eastus"})

	env.call(http.MethodDelete, rgPath("doomed"), nil).wantStatus(t, http.StatusOK)

	ctx := context.Background()
	err := env.store.View(ctx, func(tx store.Tx) error {
		prefix := store.ResourceGroupKey(testSub, "doomed") + "/"
		ids, err := store.List[store.Identity](ctx, tx, prefix, "", 0)
		if err != nil {
			return err
		}
		fics, err := store.List[store.FederatedCredential](ctx, tx, prefix, "", 0)
		if err != nil {
			return err
		}
		clusters, err := store.List[store.Cluster](ctx, tx, prefix, "", 0)
		if err != nil {
			return err
		}
		if len(ids)+len(fics)+len(clusters) != 0 {
			t.Errorf("left behind: %d identities, %d credentials, %d clusters", len(ids), len(fics), len(clusters))
		}
		kept, err := store.List[store.FederatedCredential](ctx, tx, store.ResourceGroupKey(testSub, "doomed2")+"/", "", 0)
		if err != nil {
			return err
		}
		if len(kept) != 1 || kept[0].Name != "fic3" {
			t.Errorf("sibling group's credentials = %+v, want fic3 kept", kept)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	env.call(http.MethodGet, identityPath("doomed2", "keeper"), nil).wantStatus(t, http.StatusOK)

	// Recreating the group finds it empty.
	env.createGroup("doomed")
	var page listResult[identityJSON]
	env.call(http.MethodGet, rgPath("doomed")+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities", nil).
		wantStatus(t, http.StatusOK).decode(t, &page)
	if len(page.Value) != 0 {
		t.Errorf("recreated group lists %d identities", len(page.Value))
	}
}
