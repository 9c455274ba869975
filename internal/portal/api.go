package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/fedcred/fedcred/internal/arm"
)

// api-version values the portal sends; the management API accepts any.
const (
	apiVersionResources     = "2022-09-01"
	apiVersionIdentity      = "2023-01-31"
	apiVersionCluster       = "2024-02-01"
	apiVersionAuthorization = "2022-04-01"
)

// maxAnswerBytes bounds what the portal keeps of an in-process answer.
const maxAnswerBytes = 8 << 20

// maxListPages bounds how many nextLinks a list follows.
const maxListPages = 50

// apiError is a refusal of the management API or the token service, as the
// portal shows it: the HTTP status, the error code and message, and the field
// the error names (ARM's target) when there is one.
type apiError struct {
	Status  int
	Code    string
	Message string
	Target  string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// answer is an in-process handler's response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// recorder is the http.ResponseWriter in-process calls write to; it keeps at
// most maxAnswerBytes of the body.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if room := maxAnswerBytes - r.body.Len(); len(b) > room {
		r.body.Write(b[:max(room, 0)])
		r.overflow = true
		return len(b), nil
	}
	return r.body.Write(b)
}

// serve sends one request to target in-process. pathAndQuery is already
// escaped.
func (h *Handler) serve(ctx context.Context, target http.Handler, method, pathAndQuery, contentType string, body []byte) (*answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, h.publicURL+pathAndQuery, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, pathAndQuery, err)
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("User-Agent", "fedcred-portal")
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := &recorder{header: http.Header{}}
	target.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.overflow {
		return nil, fmt.Errorf("answer of %s %s is larger than %d bytes", method, req.URL.Path, maxAnswerBytes)
	}
	return &answer{status: rec.status, header: rec.header, body: rec.body.Bytes()}, nil
}

// call makes a management API request as p: path is the escaped resource
// path, query any parameters besides api-version, in and out JSON bodies
// (nil for none). A refusal is returned as *apiError.
func (h *Handler) call(ctx context.Context, p arm.Principal, method, path, apiVersion string, query url.Values, in, out any) error {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("api-version", apiVersion)
	var body []byte
	contentType := ""
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		contentType = "application/json"
	}
	ans, err := h.serve(h.cfg.WithPrincipal(ctx, p), h.cfg.Management, method, path+"?"+q.Encode(), contentType, body)
	if err != nil {
		return err
	}
	if ans.status < 200 || ans.status > 299 {
		return decodeAPIError(ans.status, ans.body)
	}
	if out != nil && ans.status != http.StatusNoContent && len(ans.body) > 0 {
		if err := json.Unmarshal(ans.body, out); err != nil {
			return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return nil
}

// list reads every page of an ARM collection, following nextLink in-process.
func list[T any](ctx context.Context, h *Handler, p arm.Principal, path, apiVersion string, query url.Values) ([]T, error) {
	all := []T{}
	for range maxListPages {
		var page struct {
			Value    []T    `json:"value"`
			NextLink string `json:"nextLink"`
		}
		if err := h.call(ctx, p, http.MethodGet, path, apiVersion, query, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Value...)
		if page.NextLink == "" {
			return all, nil
		}
		u, err := url.Parse(page.NextLink)
		if err != nil || u.Path == "" {
			return nil, fmt.Errorf("list %s: unusable nextLink", path)
		}
		path, query = u.EscapedPath(), u.Query()
		query.Del("api-version")
	}
	return nil, fmt.Errorf("list %s: more than %d pages", path, maxListPages)
}

// decodeAPIError reads an ARM error body, a Kubernetes Status, or whatever
// else a refusal carries.
func decodeAPIError(status int, body []byte) *apiError {
	e := &apiError{Status: status, Code: http.StatusText(status), Message: "The request failed."}
	var cloud struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Target  string `json:"target"`
		} `json:"error"`
	}
	var kube struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
		Reason  string `json:"reason"`
	}
	switch {
	case json.Unmarshal(body, &cloud) == nil && cloud.Error != nil && cloud.Error.Code != "":
		e.Code, e.Message, e.Target = cloud.Error.Code, cloud.Error.Message, cloud.Error.Target
	case json.Unmarshal(body, &kube) == nil && kube.Kind == "Status":
		e.Code, e.Message = kube.Reason, kube.Message
	}
	return e
}

// asAPIError reports whether err is a refusal of the API.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	ok := errors.As(err, &ae)
	return ae, ok
}

// Paths of the management API, built from unescaped names.

func subscriptionPath(sub string) string { return "/subscriptions/" + url.PathEscape(sub) }

func groupPath(sub, rg string) string {
	return subscriptionPath(sub) + "/resourceGroups/" + url.PathEscape(rg)
}

func identitiesPath(sub string) string {
	return subscriptionPath(sub) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
}

func identityPath(sub, rg, name string) string {
	return groupPath(sub, rg) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + url.PathEscape(name)
}

func credentialsPath(sub, rg, identity string) string {
	return identityPath(sub, rg, identity) + "/federatedIdentityCredentials"
}

func credentialPath(sub, rg, identity, name string) string {
	return credentialsPath(sub, rg, identity) + "/" + url.PathEscape(name)
}

func clustersPath(sub string) string {
	return subscriptionPath(sub) + "/providers/Microsoft.ContainerService/managedClusters"
}

func clusterPath(sub, rg, name string) string {
	return groupPath(sub, rg) + "/providers/Microsoft.ContainerService/managedClusters/" + url.PathEscape(name)
}

// resourceRef is a resource's subscription, group and name, parsed from its
// ARM ID.
type resourceRef struct {
	Sub, RG, Name string
}

// parseResourceID reads /subscriptions/{sub}/resourceGroups/{rg}/providers/
// {ns}/{type}/{name}; ok is false for anything else.
func parseResourceID(id string) (ref resourceRef, ok bool) {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	if len(segs) != 8 || !strings.EqualFold(segs[0], "subscriptions") || !strings.EqualFold(segs[2], "resourceGroups") ||
		!strings.EqualFold(segs[4], "providers") {
		return ref, false
	}
	for _, s := range segs {
		if s == "" {
			return ref, false
		}
	}
	return resourceRef{Sub: segs[1], RG: segs[3], Name: segs[7]}, true
}

// The management API's resources, as far as the portal shows them.

type subscriptionJSON struct {
	SubscriptionID string `json:"subscriptionId"`
	DisplayName    string `json:"displayName"`
	TenantID       string `json:"tenantId"`
}

type resourceGroupJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Location string `json:"location"`
}

type identityJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Location   string `json:"location"`
	Properties struct {
		TenantID    string `json:"tenantId"`
		PrincipalID string `json:"principalId"`
		ClientID    string `json:"clientId"`
	} `json:"properties"`
}

type credentialJSON struct {
	ID         string               `json:"id"`
	Name       string               `json:"name"`
	Properties credentialProperties `json:"properties"`
}

type credentialProperties struct {
	Issuer    string   `json:"issuer"`
	Subject   string   `json:"subject"`
	Audiences []string `json:"audiences"`
}

type clusterJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		KubernetesVersion string `json:"kubernetesVersion"`
		DNSPrefix         string `json:"dnsPrefix"`
		FQDN              string `json:"fqdn"`
		OIDCIssuerProfile struct {
			Enabled   bool   `json:"enabled"`
			IssuerURL string `json:"issuerURL"`
		} `json:"oidcIssuerProfile"`
		SecurityProfile json.RawMessage `json:"securityProfile"`
	} `json:"properties"`
}

// workloadIdentity reports whether the cluster has workload identity on.
func (c clusterJSON) workloadIdentity() bool {
	var sp struct {
		WorkloadIdentity *struct {
			Enabled *bool `json:"enabled"`
		} `json:"workloadIdentity"`
	}
	if json.Unmarshal(c.Properties.SecurityProfile, &sp) != nil || sp.WorkloadIdentity == nil || sp.WorkloadIdentity.Enabled == nil {
		return false
	}
	return *sp.WorkloadIdentity.Enabled
}

type roleAssignmentJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		PrincipalType    string `json:"principalType"`
		Scope            string `json:"scope"`
		Description      string `json:"description"`
	} `json:"properties"`
}

type roleDefinitionJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		RoleName    string `json:"roleName"`
		Description string `json:"description"`
	} `json:"properties"`
}
