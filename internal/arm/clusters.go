package arm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/store"
)

// Cluster defaults and rules.
const defaultKubernetesVersion = "1.33.0"

var (
	kubernetesVersionPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2}))?$`)
	dnsPrefixPattern         = regexp.MustCompile(`^[a-zA-Z0-9]$|^[a-zA-Z0-9][a-zA-Z0-9-]{0,52}[a-zA-Z0-9]$`)
	nonDNSChars              = regexp.MustCompile(`[^A-Za-z0-9-]`)
)

// clusterJSON is the part of AKS's managed cluster that clients read; az
// needs servicePrincipalProfile to print a cluster.
type clusterJSON struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties clusterProperties `json:"properties"`
	SystemData systemData        `json:"systemData"`
}

type clusterProperties struct {
	ProvisioningState        string            `json:"provisioningState"`
	PowerState               powerState        `json:"powerState"`
	KubernetesVersion        string            `json:"kubernetesVersion"`
	CurrentKubernetesVersion string            `json:"currentKubernetesVersion"`
	DNSPrefix                string            `json:"dnsPrefix"`
	FQDN                     string            `json:"fqdn"`
	AgentPoolProfiles        []struct{}        `json:"agentPoolProfiles"`
	ServicePrincipalProfile  spProfile         `json:"servicePrincipalProfile"`
	NodeResourceGroup        string            `json:"nodeResourceGroup"`
	OIDCIssuerProfile        oidcIssuerProfile `json:"oidcIssuerProfile"`
	SecurityProfile          securityProfile   `json:"securityProfile"`
}

// securityProfile carries AKS's workload-identity switch. fedcred records it;
// the webhook, not the cluster resource, does the pod mutation.
type securityProfile struct {
	WorkloadIdentity *workloadIdentityProfile `json:"workloadIdentity,omitempty"`
}

type workloadIdentityProfile struct {
	Enabled *bool `json:"enabled"`
}

type powerState struct {
	Code string `json:"code"`
}

type spProfile struct {
	ClientID string `json:"clientId"`
}

type oidcIssuerProfile struct {
	Enabled   bool   `json:"enabled"`
	IssuerURL string `json:"issuerURL,omitempty"`
}

func (h *Handler) renderCluster(c store.Cluster) clusterJSON {
	profile := oidcIssuerProfile{Enabled: c.OIDCIssuerEnabled}
	if c.OIDCIssuerEnabled {
		profile.IssuerURL = h.cfg.Issuers.IssuerURL(c)
	}
	return clusterJSON{
		ID:       c.ResourceID(),
		Name:     c.Name,
		Type:     store.ClusterType,
		Location: c.Location,
		Tags:     copyTags(c.Tags),
		Properties: clusterProperties{
			ProvisioningState:        stateSucceeded,
			PowerState:               powerState{Code: "Running"},
			KubernetesVersion:        c.KubernetesVersion,
			CurrentKubernetesVersion: c.KubernetesVersion,
			DNSPrefix:                c.DNSPrefix,
			FQDN:                     clusterFQDN(c),
			AgentPoolProfiles:        []struct{}{},
			ServicePrincipalProfile:  spProfile{ClientID: "msi"},
			NodeResourceGroup:        fmt.Sprintf("MC_%s_%s_%s", c.ResourceGroup, c.Name, c.Location),
			OIDCIssuerProfile:        profile,
			SecurityProfile:          securityProfile{WorkloadIdentity: &workloadIdentityProfile{Enabled: &c.WorkloadIdentity}},
		},
		SystemData: systemData{CreatedAt: c.CreatedAt, LastModifiedAt: c.UpdatedAt},
	}
}

// clusterFQDN is an AKS-shaped API server name. It is informational: the
// cluster's API (token requests) is served under the cluster's resource ID.
func clusterFQDN(c store.Cluster) string {
	suffix := strings.ReplaceAll(c.UID, "-", "")
	if len(suffix) > 8 {
		suffix = suffix[:8]
	}
	return fmt.Sprintf("%s-%s.hcp.%s.azmk8s.io", strings.ToLower(c.DNSPrefix), suffix, c.Location)
}

// clusterBody is what PUT accepts; everything not listed is ignored.
type clusterBody struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		KubernetesVersion string `json:"kubernetesVersion"`
		DNSPrefix         string `json:"dnsPrefix"`
		OIDCIssuerProfile *struct {
			Enabled *bool `json:"enabled"`
		} `json:"oidcIssuerProfile"`
		SecurityProfile securityProfile `json:"securityProfile"`
	} `json:"properties"`
}

// workloadIdentityEnabled is the requested workload-identity state, nil when
// not given.
func (b clusterBody) workloadIdentityEnabled() *bool {
	if wi := b.Properties.SecurityProfile.WorkloadIdentity; wi != nil {
		return wi.Enabled
	}
	return nil
}

// oidcIssuerEnabled is the requested issuer state, nil when not given.
func (b clusterBody) oidcIssuerEnabled() *bool {
	if b.Properties.OIDCIssuerProfile == nil {
		return nil
	}
	return b.Properties.OIDCIssuerProfile.Enabled
}

// defaultDNSPrefix is az's default: up to 10 characters of the name, 16 of
// the group and 6 of the subscription, joined with '-'.
func defaultDNSPrefix(name, rg, sub string) string {
	n := nonDNSChars.ReplaceAllString(name, "")
	if n == "" || !isASCIILetter(n[0]) {
		n = "a" + n
	}
	n = n[:min(len(n), 10)]
	g := nonDNSChars.ReplaceAllString(rg, "")
	g = g[:min(len(g), 16)]
	s := nonDNSChars.ReplaceAllString(sub, "")
	s = s[:min(len(s), 6)]
	return strings.Trim(n+"-"+g+"-"+s, "-")
}

func isASCIILetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }

// normalizeKubernetesVersion accepts "1.33" or "1.33.2" and returns the
// three-part form.
func normalizeKubernetesVersion(v string) (string, error) {
	if !kubernetesVersionPattern.MatchString(v) {
		return "", &apiError{status: http.StatusBadRequest, code: "InvalidParameter", target: "properties.kubernetesVersion",
			message: fmt.Sprintf("The value '%s' of properties.kubernetesVersion is invalid: it must be a version such as 1.33 or 1.33.0.", clip(v))}
	}
	if strings.Count(v, ".") == 1 {
		v += ".0"
	}
	return v, nil
}

// readCluster reads a cluster in tx, answering ResourceGroupNotFound or
// ResourceNotFound.
func readCluster(ctx context.Context, tx store.Tx, rt route, sub string) (store.Cluster, error) {
	if _, err := readResourceGroup(ctx, tx, sub, rt.rg); err != nil {
		return store.Cluster{}, err
	}
	c, err := store.Get[store.Cluster](ctx, tx, store.ScopeKey(rt.clusterID()))
	if errors.Is(err, store.ErrNotFound) {
		return c, errResourceNotFound(store.ClusterType, rt.name, rt.rg)
	}
	if err != nil {
		return c, fmt.Errorf("read cluster: %w", err)
	}
	return c, nil
}

// viewCluster reads a cluster in its own read-only transaction.
func (h *Handler) viewCluster(ctx context.Context, req *request) (store.Cluster, error) {
	var c store.Cluster
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		c, err = readCluster(ctx, tx, req.rt, req.sub.ID)
		return err
	})
	return c, err
}

func (h *Handler) listClusters(ctx context.Context, req *request) (response, error) {
	prefix := store.ResourceGroupKey(req.sub.ID, req.rt.rg)
	if req.rt.rg != "" {
		prefix += "/"
	}
	pr, err := parsePage(req.query, prefix)
	if err != nil {
		return response{}, err
	}
	var items []store.Cluster
	var next string
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		if req.rt.rg != "" {
			if _, err := readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg); err != nil {
				return err
			}
		}
		var err error
		items, next, err = listPage[store.Cluster](ctx, tx, prefix, pr, nil)
		return err
	})
	if err != nil {
		return response{}, fmt.Errorf("list clusters: %w", err)
	}
	return response{http.StatusOK, pageOf(h, req, pr, items, next, h.renderCluster)}, nil
}

func (h *Handler) getCluster(ctx context.Context, req *request) (response, error) {
	c, err := h.viewCluster(ctx, req)
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, h.renderCluster(c)}, nil
}

// putCluster creates (201) or updates (200) a cluster. On create the cluster
// gets a fresh, immutable UID and, once stored, its signing key ring; if the
// key ring cannot be made the cluster is removed again and the create fails.
// The OIDC issuer can be enabled by an update but never disabled.
func (h *Handler) putCluster(ctx context.Context, req *request) (response, error) {
	if err := validateClusterName(req.rt.name); err != nil {
		return response{}, err
	}
	var body clusterBody
	if err := decodeBody(req.http, &body); err != nil {
		return response{}, err
	}
	location, err := normalizeLocation(body.Location, store.ClusterType)
	if err != nil {
		return response{}, err
	}
	if err := validateTags(body.Tags); err != nil {
		return response{}, err
	}
	version := ""
	if body.Properties.KubernetesVersion != "" {
		if version, err = normalizeKubernetesVersion(body.Properties.KubernetesVersion); err != nil {
			return response{}, err
		}
	}
	if p := body.Properties.DNSPrefix; p != "" && !dnsPrefixPattern.MatchString(p) {
		return response{}, &apiError{status: http.StatusBadRequest, code: "InvalidDNSPrefix", target: "properties.dnsPrefix",
			message: fmt.Sprintf("DNS prefix '%s' is invalid. It must contain between 1 and 54 characters, only letters, numbers and hyphens, and start and end with a letter or number.", clip(p))}
	}
	enable := body.oidcIssuerEnabled()
	wi := body.workloadIdentityEnabled()

	created := false
	var c store.Cluster
	err = h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		g, err := readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg)
		if err != nil {
			return err
		}
		c, err = store.Get[store.Cluster](ctx, tx, store.ScopeKey(req.rt.clusterID()))
		switch {
		case errors.Is(err, store.ErrNotFound):
			now := h.now().UTC()
			created = true
			c = store.Cluster{
				SubscriptionID:    req.sub.ID,
				ResourceGroup:     g.Name,
				Name:              req.rt.name,
				Location:          location,
				Tags:              copyTags(body.Tags),
				TenantID:          req.sub.TenantID,
				UID:               h.newUUID(),
				OIDCIssuerEnabled: enable != nil && *enable,
				WorkloadIdentity:  wi != nil && *wi,
				KubernetesVersion: orDefault(version, defaultKubernetesVersion),
				DNSPrefix:         orDefault(body.Properties.DNSPrefix, defaultDNSPrefix(req.rt.name, g.Name, req.sub.ID)),
				CreatedAt:         now,
				UpdatedAt:         now,
			}
			if err := store.Create(ctx, tx, c); err != nil {
				return fmt.Errorf("create cluster: %w", err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("read cluster: %w", err)
		case c.Location != location:
			return errResourceLocationChanged(c.Name, g.Name, c.Location, location)
		case body.Properties.DNSPrefix != "" && !strings.EqualFold(body.Properties.DNSPrefix, c.DNSPrefix):
			return &apiError{status: http.StatusBadRequest, code: "PropertyChangeNotAllowed", target: "properties.dnsPrefix",
				message: "Changing property 'dnsPrefix' is not allowed."}
		case c.OIDCIssuerEnabled && enable != nil && !*enable:
			return &apiError{status: http.StatusBadRequest, code: "BadRequest", target: "properties.oidcIssuerProfile.enabled",
				message: "OIDC issuer feature cannot be disabled."}
		}
		if enable != nil && *enable {
			c.OIDCIssuerEnabled = true
		}
		if wi != nil {
			c.WorkloadIdentity = *wi
		}
		c.KubernetesVersion = orDefault(version, c.KubernetesVersion)
		c.Tags = copyTags(body.Tags)
		c.UpdatedAt = h.now().UTC()
		return store.Put(ctx, tx, c)
	})
	if err != nil {
		return response{}, err
	}
	if !created {
		return response{http.StatusOK, h.renderCluster(c)}, nil
	}
	if err := h.cfg.Issuers.PrepareKeys(ctx, c); err != nil {
		undoCtx := context.WithoutCancel(ctx)
		undo := h.cfg.Store.Update(undoCtx, func(tx store.Tx) error {
			return store.Delete[store.Cluster](undoCtx, tx, c.Key())
		})
		if undo != nil {
			h.log.ErrorContext(ctx, "remove cluster after failed key preparation", "cluster", c.ResourceID(), "err", undo)
		}
		return response{}, fmt.Errorf("prepare signing keys of cluster %s: %w", c.ResourceID(), err)
	}
	return response{http.StatusCreated, h.renderCluster(c)}, nil
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// deleteCluster deletes a cluster: 200 when it existed, 204 when it did not.
func (h *Handler) deleteCluster(ctx context.Context, req *request) (response, error) {
	status := http.StatusOK
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := readResourceGroup(ctx, tx, req.sub.ID, req.rt.rg); err != nil {
			return err
		}
		c, err := store.Get[store.Cluster](ctx, tx, store.ScopeKey(req.rt.clusterID()))
		if errors.Is(err, store.ErrNotFound) {
			status = http.StatusNoContent
			return nil
		}
		if err != nil {
			return fmt.Errorf("read cluster: %w", err)
		}
		return deleteClusterRecords(ctx, tx, c)
	})
	if err != nil {
		return response{}, err
	}
	return response{status: status}, nil
}

// rotateClusterKeys rotates the cluster's service-account signing keys, as
// az aks oidc-issuer rotate-signing-keys does: 204, or 400 while the issuer
// is off.
func (h *Handler) rotateClusterKeys(ctx context.Context, req *request) (response, error) {
	c, err := h.viewCluster(ctx, req)
	if err != nil {
		return response{}, err
	}
	if !c.OIDCIssuerEnabled {
		return response{}, errIssuerNotEnabled(c.Name)
	}
	if err := h.cfg.Issuers.RotateKeys(ctx, c); err != nil {
		return response{}, fmt.Errorf("rotate signing keys of cluster %s: %w", c.ResourceID(), err)
	}
	return response{status: http.StatusNoContent}, nil
}

func errIssuerNotEnabled(cluster string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "OperationNotAllowed",
		message: fmt.Sprintf("The OIDC issuer is not enabled on managed cluster '%s'. Enable it first with oidcIssuerProfile.enabled=true (az aks update --enable-oidc-issuer).", clip(cluster))}
}

// deleteClusterRecords deletes a cluster, its service-account signing keys
// and the role assignments made on it, in the caller's transaction, so no key
// or grant of a deleted cluster outlives it.
func deleteClusterRecords(ctx context.Context, tx store.Tx, c store.Cluster) error {
	if err := store.Delete[store.Cluster](ctx, tx, c.Key()); err != nil {
		return fmt.Errorf("delete cluster: %w", err)
	}
	ks, err := store.List[store.SigningKey](ctx, tx, store.SigningKeyPrefix(keys.ClusterOwner(c.UID)), "", 0)
	if err != nil {
		return fmt.Errorf("list cluster keys: %w", err)
	}
	for _, k := range ks {
		if err := store.Delete[store.SigningKey](ctx, tx, k.Key()); err != nil {
			return fmt.Errorf("delete cluster key: %w", err)
		}
	}
	_, err = deleteAll[store.RoleAssignment](ctx, tx, c.Key()+"/")
	return err
}
