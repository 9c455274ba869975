package sts_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// reroute sends requests for login.microsoftonline.com to the rig's server,
// keeping the Host header, the way a hosts-file entry or a CONNECT proxy
// would; it counts what it rerouted.
type reroute struct {
	client *http.Client
	target *url.URL
	hits   chan string
}

func (t reroute) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Host == "login.microsoftonline.com" {
		req = req.Clone(req.Context())
		req.Host = "login.microsoftonline.com"
		req.URL.Scheme, req.URL.Host = t.target.Scheme, t.target.Host
		select {
		case t.hits <- req.URL.Path:
		default:
		}
	}
	return t.client.Do(req)
}

// TestAzidentity drives the unmodified Azure SDK for Go credentials, and so
// MSAL Go, against the STS: OIDC discovery, the token request with MSAL's
// extra fields, and the response parsing.
func TestAzidentity(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	id := r.identity(t, tenantID, "wi", fic("wi", r.issURL, "system:serviceaccount:default:workload"))
	sa := r.saToken(t, "default", "workload")
	tokenFile := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(tokenFile, []byte(sa), 0o600); err != nil {
		t.Fatal(err)
	}
	authority := cloud.Configuration{ActiveDirectoryAuthorityHost: r.srv.URL + "/"}
	direct := azcore.ClientOptions{Cloud: authority, Transport: r.srv.Client()}
	target, err := url.Parse(r.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	hits := make(chan string, 8)
	rerouted := azcore.ClientOptions{Cloud: authority, Transport: reroute{client: r.srv.Client(), target: target, hits: hits}}
	set := r.tenantKeys(t)

	tests := []struct {
		name     string
		cred     func() (azcore.TokenCredential, error)
		scope    string
		wantApp  string
		wantAud  string
		wantHits bool // instance discovery went to login.microsoftonline.com
	}{
		{
			name: "workload identity credential from a token file",
			cred: func() (azcore.TokenCredential, error) {
				return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
					ClientOptions: direct, ClientID: id.ClientID, TenantID: tenantID, TokenFilePath: tokenFile, DisableInstanceDiscovery: true})
			},
			scope: "https://management.core.windows.net//.default", wantApp: id.ClientID, wantAud: "https://management.core.windows.net/",
		},
		{
			name: "client assertion credential with instance discovery",
			cred: func() (azcore.TokenCredential, error) {
				return azidentity.NewClientAssertionCredential(tenantID, id.ClientID,
					func(context.Context) (string, error) { return sa, nil },
					&azidentity.ClientAssertionCredentialOptions{ClientOptions: rerouted})
			},
			scope: "https://vault.azure.net/.default", wantApp: id.ClientID, wantAud: "https://vault.azure.net", wantHits: true,
		},
		{
			name: "client secret credential",
			cred: func() (azcore.TokenCredential, error) {
				return azidentity.NewClientSecretCredential(tenantID, r.sp.ClientID, spSecret,
					&azidentity.ClientSecretCredentialOptions{ClientOptions: direct, DisableInstanceDiscovery: true})
			},
			scope: "https://management.azure.com/.default", wantApp: r.sp.ClientID, wantAud: "https://management.azure.com",
		},
	}
	// Sequential: the rerouting transport's hit channel is shared.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := tt.cred()
			if err != nil {
				t.Fatal(err)
			}
			tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{tt.scope}})
			if err != nil {
				t.Fatalf("GetToken: %v", err)
			}
			c := verifyAccessToken(t, tok.Token, set)
			if c.AppID != tt.wantApp || c.Audience != tt.wantAud {
				t.Errorf("token appid/aud = %s/%s, want %s/%s", c.AppID, c.Audience, tt.wantApp, tt.wantAud)
			}
			if !tok.ExpiresOn.After(r.now) {
				t.Errorf("ExpiresOn %v is not after now", tok.ExpiresOn)
			}
			var got []string
			for len(hits) > 0 {
				got = append(got, <-hits)
			}
			if tt.wantHits != (len(got) > 0) {
				t.Errorf("requests to login.microsoftonline.com = %v, want some: %v", got, tt.wantHits)
			}
			for _, p := range got {
				if p != "/common/discovery/instance" {
					t.Errorf("unexpected request to login.microsoftonline.com: %s", p)
				}
			}
		})
	}

	t.Run("refusal surfaces the AADSTS code", func(t *testing.T) {
		cred, err := azidentity.NewClientAssertionCredential(tenantID, id.ClientID,
			func(context.Context) (string, error) { return r.saToken(t, "default", "intruder"), nil },
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: direct, DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
		var authErr *azidentity.AuthenticationFailedError
		if !errors.As(err, &authErr) || !strings.Contains(err.Error(), "AADSTS700213") {
			t.Fatalf("GetToken error = %v, want an AuthenticationFailedError naming AADSTS700213", err)
		}
	})
}
