package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/fedcred/fedcred/internal/rbac"
)

// staticCredential hands the SDK a fixed bearer token and records what the
// SDK asked for, which it learns from the challenge.
type staticCredential struct {
	token string
	mu    sync.Mutex
	asked []policy.TokenRequestOptions
}

func (c *staticCredential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, opts)
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *staticCredential) requests() []policy.TokenRequestOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.asked)
}

// lastSegment is the version at the end of a secret ID. (azsecrets' ID.Name
// and ID.Version assume the vault at the root of its host, and so do not
// apply to fedcred's /vaults/<name>/ URIs.)
func lastSegment(id *azsecrets.ID) string {
	if id == nil {
		return ""
	}
	s := string(*id)
	return s[strings.LastIndex(s, "/")+1:]
}

// TestAzureSDK drives the handler with the unmodified azsecrets client: it
// reads the challenge, asks for a token for the Key Vault scope and tenant
// it names, and decodes every answer.
func TestAzureSDK(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	clk := &clock{t: testNow}
	h, err := New(Config{Store: st, Sealer: newSealer(t), Authorizer: rbac.Authorizer{Store: st},
		Authenticate: testAuthenticate, PublicURL: srv.URL, TenantID: testTenant, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(mux)
	transport := srv.Client()
	transport.Timeout = 30 * time.Second
	newClient := func(vault string, cred azcore.TokenCredential) *azsecrets.Client {
		c, err := azsecrets.NewClient(srv.URL+"/vaults/"+vault+"/", cred, &azsecrets.ClientOptions{
			ClientOptions:                        azcore.ClientOptions{Transport: transport},
			DisableChallengeResourceVerification: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	officer := &staticCredential{token: officerToken}
	client := newClient("pets-kv", officer)

	// Set two versions.
	set1, err := client.SetSecret(ctx, "sdk-secret", azsecrets.SetSecretParameters{
		Value: new("first"), ContentType: new("text/plain"), Tags: map[string]*string{"team": new("pets")},
	}, nil)
	if err != nil {
		t.Fatalf("SetSecret: %v", err)
	}
	v1 := lastSegment(set1.ID)
	if *set1.Value != "first" || !hexVersionRE.MatchString(v1) || *set1.ContentType != "text/plain" || *set1.Tags["team"] != "pets" ||
		!*set1.Attributes.Enabled || !set1.Attributes.Created.Equal(testNow) || *set1.Attributes.RecoveryLevel != "Purgeable" {
		t.Errorf("SetSecret = %+v %+v", set1.Secret, *set1.Attributes)
	}
	if got := officer.requests(); len(got) == 0 || !slices.Equal(got[0].Scopes, []string{"https://vault.azure.net/.default"}) || got[0].TenantID != testTenant {
		t.Errorf("token requests after the challenge = %+v, want scope https://vault.azure.net/.default in tenant %s", got, testTenant)
	}
	clk.Advance(time.Minute)
	exp := testNow.Add(24 * time.Hour)
	set2, err := client.SetSecret(ctx, "sdk-secret", azsecrets.SetSecretParameters{
		Value: new("second"), SecretAttributes: &azsecrets.SecretAttributes{Expires: &exp},
	}, nil)
	if err != nil {
		t.Fatalf("SetSecret again: %v", err)
	}
	v2 := lastSegment(set2.ID)
	if !set2.Attributes.Expires.Equal(exp) {
		t.Errorf("expires = %v, want %v", set2.Attributes.Expires, exp)
	}

	// Read the latest and each version.
	for _, tc := range []struct{ version, want string }{{"", "second"}, {v1, "first"}, {v2, "second"}} {
		got, err := client.GetSecret(ctx, "sdk-secret", tc.version, nil)
		if err != nil {
			t.Fatalf("GetSecret(%q): %v", tc.version, err)
		}
		if *got.Value != tc.want {
			t.Errorf("GetSecret(%q) = %q, want %q", tc.version, *got.Value, tc.want)
		}
	}

	// Update a version's metadata.
	upd, err := client.UpdateSecretProperties(ctx, "sdk-secret", v1, azsecrets.UpdateSecretPropertiesParameters{
		ContentType: new("application/json"), SecretAttributes: &azsecrets.SecretAttributes{Enabled: new(false)},
	}, nil)
	if err != nil {
		t.Fatalf("UpdateSecretProperties: %v", err)
	}
	if *upd.ContentType != "application/json" || *upd.Attributes.Enabled || upd.Value != nil {
		t.Errorf("UpdateSecretProperties = %+v", upd.Secret)
	}
	var re *azcore.ResponseError
	if _, err := client.GetSecret(ctx, "sdk-secret", v1, nil); !errors.As(err, &re) ||
		re.StatusCode != http.StatusForbidden || re.ErrorCode != "Forbidden" {
		t.Errorf("GetSecret of a disabled version = %v, want 403 Forbidden", err)
	}

	// List across pages: the SDK asks for none, so pages hold 25.
	want := []string{"sdk-secret"}
	for i := range 27 {
		name := fmt.Sprintf("bulk-%02d", i)
		if _, err := client.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: new("x")}, nil); err != nil {
			t.Fatalf("SetSecret %s: %v", name, err)
		}
		want = append(want, name)
	}
	var got []string
	pages := 0
	for pager := client.NewListSecretPropertiesPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list page %d: %v", pages+1, err)
		}
		pages++
		for _, p := range page.Value {
			got = append(got, lastSegment(p.ID))
			if p.Attributes == nil || p.Attributes.Created == nil {
				t.Errorf("listed %s without attributes", *p.ID)
			}
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if pages != 2 || !slices.Equal(got, want) {
		t.Errorf("listed %d pages of %v, want 2 pages of %v", pages, got, want)
	}
	var versions []string
	for pager := client.NewListSecretPropertiesVersionsPager("sdk-secret", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list versions: %v", err)
		}
		for _, p := range page.Value {
			versions = append(versions, lastSegment(p.ID))
		}
	}
	slices.Sort(versions)
	wantVersions := []string{v1, v2}
	slices.Sort(wantVersions)
	if !slices.Equal(versions, wantVersions) {
		t.Errorf("versions = %v, want %v", versions, wantVersions)
	}

	// Delete: gone at once, nothing to recover.
	del, err := client.DeleteSecret(ctx, "sdk-secret", nil)
	if err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	if del.RecoveryID == nil || *del.RecoveryID != srv.URL+"/vaults/pets-kv/deletedsecrets/sdk-secret" ||
		del.DeletedDate == nil || lastSegment(del.ID) != v2 {
		t.Errorf("DeleteSecret = %+v", del.DeletedSecret)
	}
	if _, err := client.GetSecret(ctx, "sdk-secret", "", nil); !errors.As(err, &re) ||
		re.StatusCode != http.StatusNotFound || re.ErrorCode != "SecretNotFound" {
		t.Errorf("GetSecret after delete = %v, want 404 SecretNotFound", err)
	}
	if _, err := client.GetDeletedSecret(ctx, "sdk-secret", nil); !errors.As(err, &re) ||
		re.StatusCode != http.StatusNotFound || re.ErrorCode != "DeletedSecretNotFound" {
		t.Errorf("GetDeletedSecret = %v, want 404 DeletedSecretNotFound", err)
	}

	// A Secrets User reads but cannot write, through the SDK too.
	user := newClient("pets-kv", &staticCredential{token: userToken})
	if got, err := user.GetSecret(ctx, "bulk-00", "", nil); err != nil || *got.Value != "x" {
		t.Errorf("Secrets User GetSecret = %v, %v", got.Value, err)
	}
	if _, err := user.SetSecret(ctx, "bulk-00", azsecrets.SetSecretParameters{Value: new("y")}, nil); !errors.As(err, &re) ||
		re.StatusCode != http.StatusForbidden || re.ErrorCode != "Forbidden" {
		t.Errorf("Secrets User SetSecret = %v, want 403 Forbidden", err)
	}

	// The challenge of a vault in another tenant sends the SDK there.
	foreign := &staticCredential{token: officerToken}
	if _, err := newClient("foreign-kv", foreign).GetSecret(ctx, "s", "", nil); !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized {
		t.Errorf("GetSecret with a token of the wrong tenant = %v, want 401", err)
	}
	if asked := foreign.requests(); len(asked) == 0 || asked[0].TenantID != otherTenant {
		t.Errorf("token requests for foreign-kv = %+v, want tenant %s", asked, otherTenant)
	}
}
