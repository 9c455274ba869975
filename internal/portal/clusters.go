package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Paths below a cluster issuer, as kube-apiserver serves them.
const (
	discoveryPath = ".well-known/openid-configuration"
	jwksPath      = "openid/v1/jwks"
)

// clusterView is a cluster as the pages show it.
type clusterView struct {
	ID, Sub, RG, Name, Location      string
	KubernetesVersion, FQDN          string
	IssuerEnabled, WorkloadIdentity  bool
	IssuerURL                        string
	URL, EnableURL, RotateURL, Check string
}

func viewCluster(c clusterJSON) clusterView {
	ref, _ := parseResourceID(c.ID)
	u := clusterURL(ref.Sub, ref.RG, c.Name)
	return clusterView{
		ID: c.ID, Sub: ref.Sub, RG: ref.RG, Name: c.Name, Location: c.Location,
		KubernetesVersion: c.Properties.KubernetesVersion, FQDN: c.Properties.FQDN,
		IssuerEnabled: c.Properties.OIDCIssuerProfile.Enabled, IssuerURL: c.Properties.OIDCIssuerProfile.IssuerURL,
		WorkloadIdentity: c.workloadIdentity(),
		URL:              u, EnableURL: u + "/enable-issuer", RotateURL: u + "/rotate-keys", Check: u + "/issuer",
	}
}

// clusterURL is the portal page of a cluster.
func clusterURL(sub, rg, name string) string {
	return "/portal/subscriptions/" + url.PathEscape(sub) + "/resourceGroups/" + url.PathEscape(rg) +
		"/clusters/" + url.PathEscape(name)
}

func clusterCrumbs(cv clusterView, last string) []crumb {
	c := []crumb{
		{Label: "Kubernetes clusters", URL: "/portal/clusters?" + url.Values{"subscription": {cv.Sub}}.Encode()},
		{Label: cv.Name, URL: cv.URL},
	}
	if last != "" {
		return append(c, crumb{Label: last})
	}
	c[1].URL = ""
	return c
}

// clustersData is the clusters list.
type clustersData struct {
	base
	subscriptionChoice
	Rows []clusterView
}

// listClusters answers GET /portal/clusters.
func (h *Handler) listClusters(v *visit) error {
	choice, err := h.pickSubscription(v, v.r.URL.Query().Get("subscription"))
	if err != nil {
		return err
	}
	d := &clustersData{base: base{Title: "Kubernetes clusters", Nav: "clusters", Crumbs: []crumb{{Label: "Kubernetes clusters"}}},
		subscriptionChoice: choice}
	if choice.Subscription != "" {
		clusters, err := list[clusterJSON](v.r.Context(), h, v.p, clustersPath(choice.Subscription), apiVersionCluster, nil)
		if err != nil {
			return err
		}
		for _, c := range clusters {
			d.Rows = append(d.Rows, viewCluster(c))
		}
		sort.Slice(d.Rows, func(i, j int) bool { return strings.ToLower(d.Rows[i].Name) < strings.ToLower(d.Rows[j].Name) })
	}
	return v.show(h, http.StatusOK, "clusters", d)
}

// readCluster reads the cluster the path names.
func (h *Handler) readCluster(v *visit) (clusterJSON, error) {
	var c clusterJSON
	sub, rg, name := v.r.PathValue("sub"), v.r.PathValue("rg"), v.r.PathValue("name")
	err := h.call(v.r.Context(), v.p, http.MethodGet, clusterPath(sub, rg, name), apiVersionCluster, nil, nil, &c)
	return c, err
}

// clusterData is a cluster's detail page.
type clusterData struct {
	base
	Cluster clusterView
}

// clusterDetail answers GET .../clusters/{name}.
func (h *Handler) clusterDetail(v *visit) error {
	c, err := h.readCluster(v)
	if err != nil {
		return err
	}
	cv := viewCluster(c)
	d := &clusterData{base: base{Title: cv.Name, Nav: "clusters", Crumbs: clusterCrumbs(cv, "")}, Cluster: cv}
	q := v.r.URL.Query()
	switch {
	case q.Get("enabled") != "":
		d.Flash = "The OIDC issuer is enabled."
	case q.Get("rotated") != "":
		d.Flash = "The service-account signing keys were rotated: the next key now signs, and the previous one stays published."
	}
	return v.show(h, http.StatusOK, "cluster", d)
}

// enableIssuer answers POST .../clusters/{name}/enable-issuer: it puts the
// cluster back with its OIDC issuer enabled.
func (h *Handler) enableIssuer(v *visit) error {
	c, err := h.readCluster(v)
	if err != nil {
		return err
	}
	props := map[string]any{
		"kubernetesVersion": c.Properties.KubernetesVersion,
		"dnsPrefix":         c.Properties.DNSPrefix,
		"oidcIssuerProfile": map[string]bool{"enabled": true},
	}
	if len(c.Properties.SecurityProfile) > 0 {
		props["securityProfile"] = c.Properties.SecurityProfile
	}
	body := map[string]any{"location": c.Location, "tags": c.Tags, "properties": props}
	ref, _ := parseResourceID(c.ID)
	if err := h.call(v.r.Context(), v.p, http.MethodPut, clusterPath(ref.Sub, ref.RG, c.Name), apiVersionCluster, nil, body, nil); err != nil {
		return err
	}
	http.Redirect(v.w, v.r, clusterURL(ref.Sub, ref.RG, c.Name)+"?enabled=1", http.StatusSeeOther)
	return nil
}

// rotateKeys answers POST .../clusters/{name}/rotate-keys.
func (h *Handler) rotateKeys(v *visit) error {
	sub, rg, name := v.r.PathValue("sub"), v.r.PathValue("rg"), v.r.PathValue("name")
	path := clusterPath(sub, rg, name) + "/rotateServiceAccountSigningKeys"
	if err := h.call(v.r.Context(), v.p, http.MethodPost, path, apiVersionCluster, nil, nil, nil); err != nil {
		return err
	}
	http.Redirect(v.w, v.r, clusterURL(sub, rg, name)+"?rotated=1", http.StatusSeeOther)
	return nil
}

// fetched is one document the issuer check read.
type fetched struct {
	ID, Title, URL     string
	Status             int
	ContentType, Cache string
	Body               string
	Err                string
}

// check is one verdict of the issuer check.
type check struct {
	What   string
	Passed bool
	Detail string
}

// issuerData is the "Check issuer" page.
type issuerData struct {
	base
	Cluster   clusterView
	Discovery *fetched
	JWKS      *fetched
	Checks    []check
	NotOn     bool
}

// Documents are the documents fetched, in order.
func (d *issuerData) Documents() []*fetched {
	var out []*fetched
	for _, f := range []*fetched{d.Discovery, d.JWKS} {
		if f != nil {
			out = append(out, f)
		}
	}
	return out
}

// checkIssuer answers GET .../clusters/{name}/issuer: it fetches the
// cluster's discovery document and JWKS from the issuer endpoints, as a
// relying party would, and says whether they are consistent.
func (h *Handler) checkIssuer(v *visit) error {
	c, err := h.readCluster(v)
	if err != nil {
		return err
	}
	cv := viewCluster(c)
	d := &issuerData{base: base{Title: "Check issuer · " + cv.Name, Nav: "clusters", Crumbs: clusterCrumbs(cv, "Check issuer")},
		Cluster: cv}
	if !cv.IssuerEnabled || cv.IssuerURL == "" {
		d.NotOn = true
		return v.show(h, http.StatusOK, "issuer", d)
	}
	ctx := v.r.Context()
	d.Discovery = h.fetchHosted(ctx, "discovery", "Discovery document", cv.IssuerURL+discoveryPath)
	d.Checks = append(d.Checks, check{What: "The discovery document is served", Passed: d.Discovery.Status == http.StatusOK,
		Detail: statusDetail(d.Discovery)})
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if d.Discovery.Status != http.StatusOK || json.Unmarshal([]byte(d.Discovery.Body), &doc) != nil {
		return v.show(h, http.StatusOK, "issuer", d)
	}
	d.Checks = append(d.Checks,
		check{What: "Its issuer is the cluster's issuer URL, exactly", Passed: doc.Issuer == cv.IssuerURL,
			Detail: fmt.Sprintf("issuer %q", doc.Issuer)},
		check{What: "Its jwks_uri lies under the issuer", Passed: strings.HasPrefix(doc.JWKSURI, cv.IssuerURL),
			Detail: fmt.Sprintf("jwks_uri %q", doc.JWKSURI)},
	)
	d.JWKS = h.fetchHosted(ctx, "jwks", "JSON Web Key Set", doc.JWKSURI)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Alg string `json:"alg"`
			Use string `json:"use"`
		} `json:"keys"`
	}
	ok := d.JWKS.Status == http.StatusOK && json.Unmarshal([]byte(d.JWKS.Body), &set) == nil
	d.Checks = append(d.Checks, check{What: "The JWKS is served", Passed: ok, Detail: statusDetail(d.JWKS)})
	if ok {
		signing := 0
		for _, k := range set.Keys {
			if k.Kid != "" && k.Use != "enc" {
				signing++
			}
		}
		d.Checks = append(d.Checks, check{What: "The JWKS publishes signing keys with key IDs", Passed: signing > 0,
			Detail: fmt.Sprintf("%d key(s), %d usable for signatures", len(set.Keys), signing)})
	}
	return v.show(h, http.StatusOK, "issuer", d)
}

func statusDetail(f *fetched) string {
	if f.Err != "" {
		return f.Err
	}
	return fmt.Sprintf("HTTP %d, %s", f.Status, f.ContentType)
}

// fetchHosted GETs a document of an issuer this server hosts, in-process.
// URLs outside the server's public URL are not fetched.
func (h *Handler) fetchHosted(ctx context.Context, id, title, u string) *fetched {
	f := &fetched{ID: id, Title: title, URL: u}
	path, ok := strings.CutPrefix(u, h.publicURL)
	if !ok || !strings.HasPrefix(path, "/oidc/") {
		f.Err = "not fetched: the URL is not an issuer this server hosts"
		return f
	}
	ans, err := h.serve(ctx, h.cfg.Issuers, http.MethodGet, path, "", nil)
	if err != nil {
		h.log.WarnContext(ctx, "fetch hosted issuer document", "err", err)
		f.Err = "not fetched: the document could not be read"
		return f
	}
	f.Status, f.ContentType, f.Cache = ans.status, ans.header.Get("Content-Type"), ans.header.Get("Cache-Control")
	var pretty bytes.Buffer
	if json.Indent(&pretty, ans.body, "", "  ") == nil {
		f.Body = pretty.String()
	} else {
		f.Body = string(ans.body)
	}
	return f
}
