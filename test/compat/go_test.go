package compat

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// armScope is the scope every Azure client asks for the management API.
const armScope = "https://management.core.windows.net//.default"

// goClients are the Go SDK's options for one fedcred: its cloud (authority
// and management endpoint) and an HTTP client trusting fedcred's CA that
// sends everything but loopback through the login proxy, as an unmodified
// program with HTTPS_PROXY would.
type goClients struct {
	cloud     cloud.Configuration
	transport *http.Client
}

func newGoClients(t *testing.T, f *fedcred) goClients {
	t.Helper()
	proxy, err := url.Parse(f.proxy.URL())
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: mustPool(t, f.bundle), MinVersion: tls.VersionTLS12},
		Proxy: func(r *http.Request) (*url.URL, error) {
			if ip := net.ParseIP(r.URL.Hostname()); (ip != nil && ip.IsLoopback()) || r.URL.Hostname() == "localhost" {
				return nil, nil
			}
			return proxy, nil
		},
		ResponseHeaderTimeout: 30 * time.Second,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return goClients{
		cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: f.url + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Audience: "https://management.core.windows.net/", Endpoint: f.url},
			},
		},
		transport: &http.Client{Transport: tr, Timeout: time.Minute},
	}
}

func (g goClients) options() azcore.ClientOptions {
	return azcore.ClientOptions{Cloud: g.cloud, Transport: g.transport}
}

// TestGo drives the Go SDK in this process: azidentity's
// WorkloadIdentityCredential, ClientAssertionCredential and
// ClientSecretCredential, armmsi (identities and federated credentials at
// api-version 2024-11-30, paging over several pages) and azsecrets (by
// path with the challenge check off, and by the vault's own host through the
// login proxy with it on). DefaultAzureCredential reads only the process
// environment, so it runs in a child process in TestEmulateLoginHost.
func TestGo(t *testing.T) {
	t.Parallel()
	f := startFedcred(t)
	w := f.newWorkload(t, "go")
	g := newGoClients(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tenant, clientID := f.admin.TenantID, w.identity.Properties.ClientID

	wi, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: g.options(), ClientID: clientID, TenantID: tenant, TokenFilePath: w.tokenFile,
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := azidentity.NewClientAssertionCredential(tenant, clientID, func(context.Context) (string, error) {
		b, err := os.ReadFile(w.tokenFile)
		return strings.TrimSpace(string(b)), err
	}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: g.options(), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := azidentity.NewClientSecretCredential(tenant, f.admin.ClientID, f.admin.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: g.options(), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	// Without DisableInstanceDiscovery: the discovery goes to
	// login.microsoftonline.com, and the login proxy answers with fedcred.
	viaProxy, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: g.options(), ClientID: clientID, TenantID: tenant, TokenFilePath: w.tokenFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		cred azcore.TokenCredential
	}{
		{name: "WorkloadIdentityCredential", cred: wi},
		{name: "ClientAssertionCredential", cred: assertion},
		{name: "ClientSecretCredential", cred: secret},
		{name: "WorkloadIdentityCredential with instance discovery", cred: viaProxy},
	} {
		for _, scope := range []string{armScope, "https://vault.azure.net/.default"} {
			tok, err := tt.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
			if err != nil || tok.Token == "" || time.Until(tok.ExpiresOn) < 30*time.Minute {
				t.Errorf("%s for %s: token expiring %v, err %v", tt.name, scope, tok.ExpiresOn, err)
			}
		}
	}
	if !f.sawIntercepted("login.microsoftonline.com", "/common/discovery/instance") {
		t.Errorf("azidentity's instance discovery did not reach fedcred through the proxy; proxied: %v", f.intercepted())
	}

	t.Run("armmsi", func(t *testing.T) {
		armOpts := &arm.ClientOptions{ClientOptions: g.options()}
		ids, err := armmsi.NewUserAssignedIdentitiesClient(f.admin.SubscriptionID, wi, armOpts)
		if err != nil {
			t.Fatal(err)
		}
		fics, err := armmsi.NewFederatedIdentityCredentialsClient(f.admin.SubscriptionID, wi, armOpts)
		if err != nil {
			t.Fatal(err)
		}
		created, err := ids.CreateOrUpdate(ctx, w.rg, "go-made", armmsi.Identity{
			Location: new("eastus"), Tags: map[string]*string{"made-by": new("go")}}, nil)
		if err != nil {
			t.Fatalf("create identity: %v", err)
		}
		if created.Properties == nil || created.Properties.ClientID == nil || *created.Tags["made-by"] != "go" {
			t.Errorf("created identity lacks clientId or tags: %+v", created.Identity)
		}
		if _, err := ids.Get(ctx, w.rg, "go-made", nil); err != nil {
			t.Errorf("get identity: %v", err)
		}
		var names []string
		for pager := ids.NewListByResourceGroupPager(w.rg, nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list identities: %v", err)
			}
			for _, id := range page.Value {
				names = append(names, *id.Name)
			}
		}
		if !slices.Contains(names, "go-made") {
			t.Errorf("identities %v lack go-made", names)
		}
		for i, sub := range []string{"made", "x0", "x1", "x2", "x3"} {
			name := "go-fic-" + sub
			_, err := fics.CreateOrUpdate(ctx, w.rg, "go-made", name, armmsi.FederatedIdentityCredential{
				Properties: &armmsi.FederatedIdentityCredentialProperties{
					Issuer: new(w.issuer), Subject: new("system:serviceaccount:go:" + sub), Audiences: []*string{new(defaultAud)}}}, nil)
			if err != nil {
				t.Fatalf("create federated credential %d: %v", i, err)
			}
		}
		got, err := fics.Get(ctx, w.rg, "go-made", "go-fic-made", nil)
		if err != nil || *got.Properties.Subject != "system:serviceaccount:go:made" {
			t.Errorf("get federated credential: %+v, %v", got, err)
		}
		pages, listed := 0, []string{}
		for pager := fics.NewListPager(w.rg, "go-made", &armmsi.FederatedIdentityCredentialsClientListOptions{Top: new(int32(2))}); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list federated credentials: %v", err)
			}
			pages++
			for _, c := range page.Value {
				listed = append(listed, *c.Name)
			}
		}
		if pages != 3 || len(listed) != 5 {
			t.Errorf("listed %v over %d pages, want 5 over 3 pages of 2", listed, pages)
		}
		if _, err := fics.Delete(ctx, w.rg, "go-made", "go-fic-made", nil); err != nil {
			t.Errorf("delete federated credential: %v", err)
		}
		_, err = fics.Get(ctx, w.rg, "go-made", "go-fic-made", nil)
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
			t.Errorf("get deleted federated credential: %v, want a 404 ResponseError", err)
		}
		if _, err := ids.Delete(ctx, w.rg, "go-made", nil); err != nil {
			t.Errorf("delete identity: %v", err)
		}
	})

	t.Run("azsecrets", func(t *testing.T) {
		for _, tt := range []struct {
			name, vaultURL string
			opts           azsecrets.ClientOptions
		}{
			{name: "by path, challenge check off", vaultURL: w.vaultURI,
				opts: azsecrets.ClientOptions{ClientOptions: g.options(), DisableChallengeResourceVerification: true}},
			{name: "by host through the proxy", vaultURL: "https://" + w.vault + ".vault.azure.net/",
				opts: azsecrets.ClientOptions{ClientOptions: g.options()}},
		} {
			c, err := azsecrets.NewClient(tt.vaultURL, wi, &tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.GetSecret(ctx, secretName, "", nil)
			if err != nil || resp.Value == nil || *resp.Value != secretValue {
				t.Errorf("%s: GetSecret = %+v, %v", tt.name, resp.Value, err)
			}
		}
		if !f.sawIntercepted(w.vault+".vault.azure.net", "/secrets/"+secretName) {
			t.Errorf("the vault host was not served through the proxy; proxied: %v", f.intercepted())
		}
	})

	t.Run("wrong federated credential", func(t *testing.T) {
		wrong, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: g.options(), ClientID: clientID, TenantID: tenant, TokenFilePath: w.wrongTokenFile,
			DisableInstanceDiscovery: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = wrong.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{armScope}})
		if err == nil || !strings.Contains(err.Error(), "AADSTS700213") {
			t.Errorf("token for another service account: %v, want AADSTS700213", err)
		}
	})
}
