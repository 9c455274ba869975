package arm

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/issuer"
)

func clusterBodyJSON(location string, oidc *bool, props map[string]any) map[string]any {
	p := map[string]any{}
	for k, v := range props {
		p[k] = v
	}
	if oidc != nil {
		p["oidcIssuerProfile"] = map[string]any{"enabled": *oidc}
	}
	return map[string]any{"location": location, "properties": p}
}

func ptr[T any](v T) *T { return &v }

func TestClusters_CreateDefaults(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("my-rg")

	var c clusterJSON
	env.call(http.MethodPut, clusterPath("my-rg", "aks1"), clusterBodyJSON("eastus", nil, nil)).
		wantStatus(t, http.StatusCreated).decode(t, &c)
	p := c.Properties
	if c.ID != clusterPath("my-rg", "aks1") || c.Name != "aks1" || c.Type != "Microsoft.ContainerService/managedClusters" || c.Location != "eastus" {
		t.Errorf("cluster = %+v", c)
	}
	if p.ProvisioningState != "Succeeded" || p.KubernetesVersion != "1.33.0" || p.DNSPrefix != "aks1-my-rg-222222" ||
		p.ServicePrincipalProfile.ClientID != "msi" || p.AgentPoolProfiles == nil || p.PowerState.Code != "Running" {
		t.Errorf("properties = %+v", p)
	}
	if !strings.HasPrefix(p.FQDN, "aks1-my-rg-222222-") || !strings.HasSuffix(p.FQDN, ".hcp.eastus.azmk8s.io") {
		t.Errorf("fqdn = %q", p.FQDN)
	}
	if p.OIDCIssuerProfile.Enabled || p.OIDCIssuerProfile.IssuerURL != "" {
		t.Errorf("oidcIssuerProfile = %+v, want disabled without a URL", p.OIDCIssuerProfile)
	}
	prepared, _, _ := env.issuers.calls()
	if len(prepared) != 1 {
		t.Fatalf("PrepareKeys called %d times, want 1", len(prepared))
	}
	if _, err := uuid.Parse(prepared[0]); err != nil {
		t.Errorf("cluster UID %q is not a UUID", prepared[0])
	}
	t.Run("issuer URL shows once enabled, UID kept", func(t *testing.T) {
		var got clusterJSON
		env.call(http.MethodPut, clusterPath("my-rg", "aks1"), clusterBodyJSON("eastus", ptr(true), nil)).
			wantStatus(t, http.StatusOK).decode(t, &got)
		want := testPublicURL + "/oidc/" + testTenant + "/" + prepared[0] + "/"
		if !got.Properties.OIDCIssuerProfile.Enabled || got.Properties.OIDCIssuerProfile.IssuerURL != want {
			t.Errorf("oidcIssuerProfile = %+v, want enabled with %s", got.Properties.OIDCIssuerProfile, want)
		}
		if again, _, _ := env.issuers.calls(); len(again) != 1 {
			t.Errorf("PrepareKeys called again on update")
		}
	})
	t.Run("issuer URL is in the raw json as issuerURL (the AKS wire name)", func(t *testing.T) {
		r := env.call(http.MethodGet, clusterPath("my-rg", "aks1"), nil).wantStatus(t, http.StatusOK)
		if !strings.Contains(string(r.body), `"issuerURL":"`+testPublicURL+`/oidc/`) {
			t.Errorf("body = %s", r.body)
		}
	})
}

func TestClusters_IssuerCannotBeDisabled(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.mustCreate(clusterPath("rg", "c1"), clusterBodyJSON("eastus", ptr(true), map[string]any{"kubernetesVersion": "1.31"}))

	tests := []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{name: "disable is refused", body: clusterBodyJSON("eastus", ptr(false), nil), status: http.StatusBadRequest, code: "BadRequest"},
		{name: "omitting the profile keeps it on", body: clusterBodyJSON("eastus", nil, nil), status: http.StatusOK},
		{name: "enabling again is fine", body: clusterBodyJSON("eastus", ptr(true), nil), status: http.StatusOK},
		{name: "dns prefix cannot change", body: clusterBodyJSON("eastus", nil, map[string]any{"dnsPrefix": "other"}), status: http.StatusBadRequest, code: "PropertyChangeNotAllowed"},
		{name: "location cannot change", body: clusterBodyJSON("westus", nil, nil), status: http.StatusConflict, code: "InvalidResourceLocation"},
		{name: "invalid version", body: clusterBodyJSON("eastus", nil, map[string]any{"kubernetesVersion": "latest"}), status: http.StatusBadRequest, code: "InvalidParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.call(http.MethodPut, clusterPath("rg", "c1"), tt.body)
			if tt.code == "" {
				r.wantStatus(t, tt.status)
			} else {
				r.wantError(t, tt.status, tt.code, "")
			}
			var got clusterJSON
			env.call(http.MethodGet, clusterPath("rg", "c1"), nil).wantStatus(t, http.StatusOK).decode(t, &got)
			if !got.Properties.OIDCIssuerProfile.Enabled || got.Properties.KubernetesVersion != "1.31.0" {
				t.Errorf("after %s: %+v", tt.name, got.Properties)
			}
		})
	}
	t.Run("message", func(t *testing.T) {
		env.call(http.MethodPut, clusterPath("rg", "c1"), clusterBodyJSON("eastus", ptr(false), nil)).
			wantError(t, http.StatusBadRequest, "BadRequest", "OIDC issuer feature cannot be disabled.")
	})
}

func TestClusters_Errors(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{name: "missing group", method: http.MethodPut, path: clusterPath("nogroup", "c1"), body: clusterBodyJSON("eastus", nil, nil), status: 404, code: "ResourceGroupNotFound"},
		{name: "missing cluster", method: http.MethodGet, path: clusterPath("rg", "absent"), status: 404, code: "ResourceNotFound"},
		{name: "location required", method: http.MethodPut, path: clusterPath("rg", "c1"), body: map[string]any{}, status: 400, code: "LocationRequired"},
		{name: "invalid name", method: http.MethodPut, path: clusterPath("rg", "c1-"), body: clusterBodyJSON("eastus", nil, nil), status: 400, code: "InvalidResourceName"},
		{name: "invalid dns prefix", method: http.MethodPut, path: clusterPath("rg", "c1"), body: clusterBodyJSON("eastus", nil, map[string]any{"dnsPrefix": "-x"}), status: 400, code: "InvalidDNSPrefix"},
		{name: "rotate missing cluster", method: http.MethodPost, path: clusterPath("rg", "absent") + "/rotateServiceAccountSigningKeys", status: 404, code: "ResourceNotFound"},
		{name: "patch not supported", method: http.MethodPatch, path: clusterPath("rg", "c1"), body: map[string]any{}, status: 405, code: "MethodNotAllowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env.call(tt.method, tt.path, tt.body).wantError(t, tt.status, tt.code, "")
		})
	}
}

func TestClusters_PrepareKeysFailureUndoesCreate(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.issuers.failPrepare(errors.New("keyring: disk full"))
	r := env.call(http.MethodPut, clusterPath("rg", "c1"), clusterBodyJSON("eastus", ptr(true), nil))
	r.wantError(t, http.StatusInternalServerError, "InternalServerError", msgInternal)
	if strings.Contains(string(r.body), "disk full") {
		t.Errorf("internal detail leaked: %s", r.body)
	}
	env.call(http.MethodGet, clusterPath("rg", "c1"), nil).wantError(t, http.StatusNotFound, "ResourceNotFound", "")
}

func TestClusters_ListAndDelete(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg1")
	env.createGroup("rg2")
	env.mustCreate(clusterPath("rg1", "b"), clusterBodyJSON("eastus", nil, nil))
	env.mustCreate(clusterPath("rg1", "a"), clusterBodyJSON("eastus", nil, nil))
	env.mustCreate(clusterPath("rg2", "c"), clusterBodyJSON("eastus", nil, nil))

	names := func(path string) string {
		var page listResult[clusterJSON]
		env.call(http.MethodGet, path, nil).wantStatus(t, http.StatusOK).decode(t, &page)
		var out []string
		for _, v := range page.Value {
			out = append(out, v.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names(rgPath("rg1") + "/providers/Microsoft.ContainerService/managedClusters"); got != "a,b" {
		t.Errorf("group list = %s", got)
	}
	if got := names("/subscriptions/" + testSub + "/providers/Microsoft.ContainerService/managedClusters"); got != "a,b,c" {
		t.Errorf("subscription list = %s", got)
	}
	env.call(http.MethodDelete, clusterPath("rg1", "a"), nil).wantStatus(t, http.StatusOK)
	env.call(http.MethodDelete, clusterPath("rg1", "a"), nil).wantStatus(t, http.StatusNoContent)
	if got := names(rgPath("rg1") + "/providers/Microsoft.ContainerService/managedClusters"); got != "b" {
		t.Errorf("group list after delete = %s", got)
	}
}

func TestClusters_RotateKeys(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.mustCreate(clusterPath("rg", "off"), clusterBodyJSON("eastus", nil, nil))
	var on clusterJSON
	env.mustCreate(clusterPath("rg", "on"), clusterBodyJSON("eastus", ptr(true), nil)).decode(t, &on)

	env.call(http.MethodPost, clusterPath("rg", "off")+"/rotateServiceAccountSigningKeys", nil).
		wantError(t, http.StatusBadRequest, "OperationNotAllowed", "")
	env.call(http.MethodPost, clusterPath("rg", "on")+"/rotateServiceAccountSigningKeys", nil).wantStatus(t, http.StatusNoContent)
	env.call(http.MethodGet, clusterPath("rg", "on")+"/rotateServiceAccountSigningKeys", nil).
		wantError(t, http.StatusMethodNotAllowed, "MethodNotAllowed", "")

	_, rotated, _ := env.issuers.calls()
	if len(rotated) != 1 || !strings.Contains(on.Properties.OIDCIssuerProfile.IssuerURL, rotated[0]) {
		t.Errorf("rotated = %v, want the enabled cluster's UID (issuer %s)", rotated, on.Properties.OIDCIssuerProfile.IssuerURL)
	}
}

func TestClusters_ServiceAccountToken(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	var c clusterJSON
	env.mustCreate(clusterPath("rg", "c1"), clusterBodyJSON("eastus", ptr(true), nil)).decode(t, &c)
	env.mustCreate(clusterPath("rg", "off"), clusterBodyJSON("eastus", nil, nil))
	issuerURL := c.Properties.OIDCIssuerProfile.IssuerURL
	tokenPath := func(cluster, ns, sa string) string {
		return clusterPath("rg", cluster) + "/api/v1/namespaces/" + ns + "/serviceaccounts/" + sa + "/token"
	}

	t.Run("default audience is the issuer", func(t *testing.T) {
		var got issuer.TokenRequest
		env.call(http.MethodPost, tokenPath("c1", "default", "workload"), map[string]any{
			"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": map[string]any{},
		}).wantStatus(t, http.StatusCreated).decode(t, &got)
		if got.Kind != "TokenRequest" || got.APIVersion != "authentication.k8s.io/v1" ||
			got.Metadata.Name != "workload" || got.Metadata.Namespace != "default" {
			t.Errorf("token request = %+v", got)
		}
		if len(got.Spec.Audiences) != 1 || got.Spec.Audiences[0] != issuerURL {
			t.Errorf("audiences = %v, want [%s]", got.Spec.Audiences, issuerURL)
		}
		if got.Status.Token != "minted.default.workload" || got.Status.ExpirationTimestamp != testNow.Add(time.Hour).Format(time.RFC3339) {
			t.Errorf("status = %+v", got.Status)
		}
		if got.Spec.ExpirationSeconds == nil || *got.Spec.ExpirationSeconds != 3600 {
			t.Errorf("expirationSeconds = %v, want 3600", got.Spec.ExpirationSeconds)
		}
	})
	t.Run("requested audience and lifetime", func(t *testing.T) {
		var got issuer.TokenRequest
		env.call(http.MethodPost, tokenPath("c1", "team-a", "api.sa"), map[string]any{
			"spec": map[string]any{"audiences": []string{testAudience}, "expirationSeconds": 7200},
		}).wantStatus(t, http.StatusCreated).decode(t, &got)
		if got.Spec.Audiences[0] != testAudience || got.Status.ExpirationTimestamp != testNow.Add(2*time.Hour).Format(time.RFC3339) {
			t.Errorf("token request = %+v", got)
		}
		_, _, minted := env.issuers.calls()
		last := minted[len(minted)-1]
		if last.namespace != "team-a" || last.account != "api.sa" || last.spec.Audiences[0] != testAudience ||
			!strings.Contains(issuerURL, last.uid) {
			t.Errorf("MintToken got %+v", last)
		}
	})
	t.Run("empty body", func(t *testing.T) {
		env.raw(http.MethodPost, tokenPath("c1", "default", "sa")+"?api-version=1", adminToken, nil).wantStatus(t, http.StatusCreated)
	})

	tests := []struct {
		name    string
		path    string
		body    string
		status  int
		reason  string
		message string
	}{
		{name: "too short", path: tokenPath("c1", "ns", "sa"), body: `{"spec":{"expirationSeconds":599}}`, status: 422, reason: "Invalid",
			message: `TokenRequest.authentication.k8s.io "sa" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes`},
		{name: "too long", path: tokenPath("c1", "ns", "sa"), body: `{"spec":{"expirationSeconds":4294967296}}`, status: 422, reason: "Invalid"},
		{name: "bad bound object kind", path: tokenPath("c1", "ns", "sa"), body: `{"spec":{"boundObjectRef":{"kind":"Deployment","name":"x"}}}`, status: 422, reason: "Invalid"},
		{name: "eleven audiences", path: tokenPath("c1", "ns", "sa"), body: `{"spec":{"audiences":["1","2","3","4","5","6","7","8","9","10","11"]}}`, status: 422, reason: "Invalid"},
		{name: "empty audience", path: tokenPath("c1", "ns", "sa"), body: `{"spec":{"audiences":[""]}}`, status: 422, reason: "Invalid"},
		{name: "invalid namespace", path: tokenPath("c1", "Bad_NS", "sa"), body: `{}`, status: 422, reason: "Invalid"},
		{name: "invalid service account", path: tokenPath("c1", "ns", "SA!"), body: `{}`, status: 422, reason: "Invalid"},
		{name: "malformed body", path: tokenPath("c1", "ns", "sa"), body: `{"spec":`, status: 400, reason: "BadRequest"},
		{name: "wrong kind", path: tokenPath("c1", "ns", "sa"), body: `{"kind":"Pod","apiVersion":"v1"}`, status: 400, reason: "BadRequest"},
		{name: "oversized", path: tokenPath("c1", "ns", "sa"), body: `{"spec":{"audiences":["` + strings.Repeat("a", maxBodyBytes) + `"]}}`, status: 413, reason: "RequestEntityTooLarge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.raw(http.MethodPost, tt.path+"?api-version=1", adminToken, strings.NewReader(tt.body)).wantStatus(t, tt.status)
			var st kubeStatus
			r.decode(t, &st)
			if st.Kind != "Status" || st.APIVersion != "v1" || st.Status != "Failure" || st.Reason != tt.reason || st.Code != tt.status {
				t.Errorf("status = %+v", st)
			}
			if tt.message != "" && st.Message != tt.message {
				t.Errorf("message = %q\nwant      %q", st.Message, tt.message)
			}
		})
	}
	t.Run("no tokens were minted by refused requests", func(t *testing.T) {
		_, _, minted := env.issuers.calls()
		if len(minted) != 3 {
			t.Errorf("MintToken called %d times, want 3", len(minted))
		}
	})
	t.Run("issuer disabled", func(t *testing.T) {
		env.call(http.MethodPost, tokenPath("off", "ns", "sa"), map[string]any{}).wantError(t, http.StatusBadRequest, "OperationNotAllowed", "")
	})
	t.Run("missing cluster", func(t *testing.T) {
		env.call(http.MethodPost, tokenPath("absent", "ns", "sa"), map[string]any{}).wantError(t, http.StatusNotFound, "ResourceNotFound", "")
	})
}

func TestClusters_WorkloadIdentityFlag(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	wi := func(on bool) map[string]any {
		return map[string]any{"securityProfile": map[string]any{"workloadIdentity": map[string]any{"enabled": on}}}
	}
	var c clusterJSON
	env.call(http.MethodPut, clusterPath("rg", "c"), clusterBodyJSON("eastus", nil, wi(true))).
		wantStatus(t, http.StatusCreated).decode(t, &c)
	if w := c.Properties.SecurityProfile.WorkloadIdentity; w == nil || w.Enabled == nil || !*w.Enabled {
		t.Fatalf("securityProfile = %+v, want workload identity enabled", c.Properties.SecurityProfile)
	}
	// An update that does not mention it keeps it; one that turns it off does.
	env.call(http.MethodPut, clusterPath("rg", "c"), clusterBodyJSON("eastus", nil, nil)).
		wantStatus(t, http.StatusOK).decode(t, &c)
	if !*c.Properties.SecurityProfile.WorkloadIdentity.Enabled {
		t.Fatal("an update without securityProfile turned workload identity off")
	}
	env.call(http.MethodPut, clusterPath("rg", "c"), clusterBodyJSON("eastus", nil, wi(false))).
		wantStatus(t, http.StatusOK).decode(t, &c)
	if *c.Properties.SecurityProfile.WorkloadIdentity.Enabled {
		t.Fatal("workload identity could not be turned off")
	}
}
