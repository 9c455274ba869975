package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/fedcred/fedcred/internal/issuer"
)

// Resource provider paths.
const (
	identityProvider = "/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
	clusterProvider  = "/providers/Microsoft.ContainerService/managedClusters"
)

// escape checks that every name is non-empty and returns them path-escaped
// in the same order; what names each value is in the error.
func escape(pairs ...string) ([]string, error) {
	out := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		what, v := pairs[i], pairs[i+1]
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("%s is required", what)
		}
		out = append(out, url.PathEscape(v))
	}
	return out, nil
}

func subscriptionPath(sub string) (string, error) {
	e, err := escape("subscription ID", sub)
	if err != nil {
		return "", err
	}
	return "/subscriptions/" + e[0], nil
}

func groupPath(sub, rg string) (string, error) {
	e, err := escape("subscription ID", sub, "resource group name", rg)
	if err != nil {
		return "", err
	}
	return "/subscriptions/" + e[0] + "/resourceGroups/" + e[1], nil
}

func identityPath(sub, rg, name string) (string, error) {
	base, err := groupPath(sub, rg)
	if err != nil {
		return "", err
	}
	e, err := escape("identity name", name)
	if err != nil {
		return "", err
	}
	return base + identityProvider + "/" + e[0], nil
}

func credentialPath(sub, rg, identity, name string) (string, error) {
	base, err := identityPath(sub, rg, identity)
	if err != nil {
		return "", err
	}
	e, err := escape("federated credential name", name)
	if err != nil {
		return "", err
	}
	return base + "/federatedIdentityCredentials/" + e[0], nil
}

func clusterPath(sub, rg, name string) (string, error) {
	base, err := groupPath(sub, rg)
	if err != nil {
		return "", err
	}
	e, err := escape("cluster name", name)
	if err != nil {
		return "", err
	}
	return base + clusterProvider + "/" + e[0], nil
}

// get, put and remove are the single-resource verbs; op names the operation
// in errors that are not the server's.
func get[T any](ctx context.Context, c *Client, op, path, apiVersion string) (*T, error) {
	var out T
	if _, err := c.do(ctx, call{method: http.MethodGet, url: c.resourceURL(path, apiVersion), out: &out}); err != nil {
		return nil, wrap(op, err)
	}
	return &out, nil
}

func put[T any](ctx context.Context, c *Client, op, path, apiVersion string, body any) (*T, error) {
	var out T
	if _, err := c.do(ctx, call{method: http.MethodPut, url: c.resourceURL(path, apiVersion), body: body, out: &out}); err != nil {
		return nil, wrap(op, err)
	}
	return &out, nil
}

func remove(ctx context.Context, c *Client, op, path, apiVersion string) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, url: c.resourceURL(path, apiVersion)})
	return wrap(op, err)
}

// wrap adds context to errors of the client's own making; errors that carry
// the server's answer or a connection failure are returned as they are, so
// they print as az prints them.
func wrap(op string, err error) error {
	switch err.(type) {
	case nil:
		return nil
	case *APIError, *VaultError, *GraphError, *TokenError, *ConnectionError:
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// ListSubscriptions lists the subscriptions the caller can see.
func (c *Client) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	subs, err := list[Subscription](ctx, c, "/subscriptions", SubscriptionsAPIVersion)
	return subs, wrap("list subscriptions", err)
}

// GetSubscription gets one subscription.
func (c *Client) GetSubscription(ctx context.Context, sub string) (*Subscription, error) {
	p, err := subscriptionPath(sub)
	if err != nil {
		return nil, wrap("get subscription", err)
	}
	return get[Subscription](ctx, c, "get subscription", p, SubscriptionsAPIVersion)
}

// PutResourceGroup creates a resource group, or updates its location and
// tags.
func (c *Client) PutResourceGroup(ctx context.Context, sub, name string, rg ResourceGroup) (*ResourceGroup, error) {
	p, err := groupPath(sub, name)
	if err != nil {
		return nil, wrap("put resource group", err)
	}
	body := ResourceGroup{Location: rg.Location, Tags: rg.Tags}
	return put[ResourceGroup](ctx, c, "put resource group", p, ResourceGroupsAPIVersion, body)
}

// GetResourceGroup gets one resource group.
func (c *Client) GetResourceGroup(ctx context.Context, sub, name string) (*ResourceGroup, error) {
	p, err := groupPath(sub, name)
	if err != nil {
		return nil, wrap("get resource group", err)
	}
	return get[ResourceGroup](ctx, c, "get resource group", p, ResourceGroupsAPIVersion)
}

// DeleteResourceGroup deletes a resource group and everything in it.
func (c *Client) DeleteResourceGroup(ctx context.Context, sub, name string) error {
	p, err := groupPath(sub, name)
	if err != nil {
		return wrap("delete resource group", err)
	}
	return remove(ctx, c, "delete resource group", p, ResourceGroupsAPIVersion)
}

// ListResourceGroups lists the resource groups of a subscription.
func (c *Client) ListResourceGroups(ctx context.Context, sub string) ([]ResourceGroup, error) {
	p, err := subscriptionPath(sub)
	if err != nil {
		return nil, wrap("list resource groups", err)
	}
	groups, err := list[ResourceGroup](ctx, c, p+"/resourceGroups", ResourceGroupsAPIVersion)
	return groups, wrap("list resource groups", err)
}

// PutIdentity creates a user-assigned identity, or updates its location and
// tags.
func (c *Client) PutIdentity(ctx context.Context, sub, rg, name string, id Identity) (*Identity, error) {
	p, err := identityPath(sub, rg, name)
	if err != nil {
		return nil, wrap("put identity", err)
	}
	body := Identity{Location: id.Location, Tags: id.Tags}
	return put[Identity](ctx, c, "put identity", p, IdentityAPIVersion, body)
}

// GetIdentity gets one user-assigned identity.
func (c *Client) GetIdentity(ctx context.Context, sub, rg, name string) (*Identity, error) {
	p, err := identityPath(sub, rg, name)
	if err != nil {
		return nil, wrap("get identity", err)
	}
	return get[Identity](ctx, c, "get identity", p, IdentityAPIVersion)
}

// DeleteIdentity deletes a user-assigned identity and its federated
// credentials.
func (c *Client) DeleteIdentity(ctx context.Context, sub, rg, name string) error {
	p, err := identityPath(sub, rg, name)
	if err != nil {
		return wrap("delete identity", err)
	}
	return remove(ctx, c, "delete identity", p, IdentityAPIVersion)
}

// ListIdentities lists the identities of a resource group, or of the whole
// subscription when rg is "".
func (c *Client) ListIdentities(ctx context.Context, sub, rg string) ([]Identity, error) {
	var p string
	var err error
	if rg == "" {
		p, err = subscriptionPath(sub)
	} else {
		p, err = groupPath(sub, rg)
	}
	if err != nil {
		return nil, wrap("list identities", err)
	}
	ids, err := list[Identity](ctx, c, p+identityProvider, IdentityAPIVersion)
	return ids, wrap("list identities", err)
}

// PutFederatedCredential creates or replaces a federated credential of an
// identity.
func (c *Client) PutFederatedCredential(ctx context.Context, sub, rg, identity, name string, props FederatedCredentialProperties) (*FederatedCredential, error) {
	p, err := credentialPath(sub, rg, identity, name)
	if err != nil {
		return nil, wrap("put federated credential", err)
	}
	body := FederatedCredential{Properties: props}
	return put[FederatedCredential](ctx, c, "put federated credential", p, IdentityAPIVersion, body)
}

// GetFederatedCredential gets one federated credential of an identity.
func (c *Client) GetFederatedCredential(ctx context.Context, sub, rg, identity, name string) (*FederatedCredential, error) {
	p, err := credentialPath(sub, rg, identity, name)
	if err != nil {
		return nil, wrap("get federated credential", err)
	}
	return get[FederatedCredential](ctx, c, "get federated credential", p, IdentityAPIVersion)
}

// DeleteFederatedCredential deletes a federated credential of an identity.
func (c *Client) DeleteFederatedCredential(ctx context.Context, sub, rg, identity, name string) error {
	p, err := credentialPath(sub, rg, identity, name)
	if err != nil {
		return wrap("delete federated credential", err)
	}
	return remove(ctx, c, "delete federated credential", p, IdentityAPIVersion)
}

// ListFederatedCredentials lists the federated credentials of an identity.
func (c *Client) ListFederatedCredentials(ctx context.Context, sub, rg, identity string) ([]FederatedCredential, error) {
	p, err := identityPath(sub, rg, identity)
	if err != nil {
		return nil, wrap("list federated credentials", err)
	}
	creds, err := list[FederatedCredential](ctx, c, p+"/federatedIdentityCredentials", IdentityAPIVersion)
	return creds, wrap("list federated credentials", err)
}

// PutCluster creates or replaces a managed cluster. Read-only fields of
// cluster are not sent.
func (c *Client) PutCluster(ctx context.Context, sub, rg, name string, cluster Cluster) (*Cluster, error) {
	p, err := clusterPath(sub, rg, name)
	if err != nil {
		return nil, wrap("put cluster", err)
	}
	return put[Cluster](ctx, c, "put cluster", p, ClusterAPIVersion, cluster.writable())
}

// UpdateCluster gets a cluster, lets change modify it, and puts it back, as
// az aks update does.
func (c *Client) UpdateCluster(ctx context.Context, sub, rg, name string, change func(*Cluster)) (*Cluster, error) {
	cur, err := c.GetCluster(ctx, sub, rg, name)
	if err != nil {
		return nil, err
	}
	next := cur.writable()
	change(&next)
	return c.PutCluster(ctx, sub, rg, name, next)
}

// GetCluster gets one managed cluster.
func (c *Client) GetCluster(ctx context.Context, sub, rg, name string) (*Cluster, error) {
	p, err := clusterPath(sub, rg, name)
	if err != nil {
		return nil, wrap("get cluster", err)
	}
	return get[Cluster](ctx, c, "get cluster", p, ClusterAPIVersion)
}

// DeleteCluster deletes a managed cluster; its issuer stops serving.
func (c *Client) DeleteCluster(ctx context.Context, sub, rg, name string) error {
	p, err := clusterPath(sub, rg, name)
	if err != nil {
		return wrap("delete cluster", err)
	}
	return remove(ctx, c, "delete cluster", p, ClusterAPIVersion)
}

// ListClusters lists the clusters of a resource group, or of the whole
// subscription when rg is "".
func (c *Client) ListClusters(ctx context.Context, sub, rg string) ([]Cluster, error) {
	var p string
	var err error
	if rg == "" {
		p, err = subscriptionPath(sub)
	} else {
		p, err = groupPath(sub, rg)
	}
	if err != nil {
		return nil, wrap("list clusters", err)
	}
	clusters, err := list[Cluster](ctx, c, p+clusterProvider, ClusterAPIVersion)
	return clusters, wrap("list clusters", err)
}

// RotateClusterKeys starts a rotation of the cluster's service-account
// signing keys.
func (c *Client) RotateClusterKeys(ctx context.Context, sub, rg, name string) error {
	p, err := clusterPath(sub, rg, name)
	if err != nil {
		return wrap("rotate cluster keys", err)
	}
	_, err = c.do(ctx, call{method: http.MethodPost, url: c.resourceURL(p+"/rotateServiceAccountSigningKeys", ClusterAPIVersion)})
	return wrap("rotate cluster keys", err)
}

// CreateServiceAccountToken has the cluster's issuer mint a service-account
// token, as the Kubernetes TokenRequest API does. The answer's Status holds
// the token and its expiry.
func (c *Client) CreateServiceAccountToken(ctx context.Context, sub, rg, cluster, namespace, serviceAccount string, spec issuer.TokenRequestSpec) (*issuer.TokenRequest, error) {
	base, err := clusterPath(sub, rg, cluster)
	if err != nil {
		return nil, wrap("create service account token", err)
	}
	e, err := escape("namespace", namespace, "service account name", serviceAccount)
	if err != nil {
		return nil, wrap("create service account token", err)
	}
	p := base + "/api/v1/namespaces/" + e[0] + "/serviceaccounts/" + e[1] + "/token"
	body := issuer.TokenRequest{
		APIVersion: "authentication.k8s.io/v1",
		Kind:       "TokenRequest",
		Spec:       spec,
	}
	var out issuer.TokenRequest
	if _, err := c.do(ctx, call{method: http.MethodPost, url: c.resourceURL(p, ClusterAPIVersion), body: body, out: &out}); err != nil {
		return nil, wrap("create service account token", err)
	}
	if out.Status.Token == "" {
		return nil, fmt.Errorf("create service account token: the answer has no status.token")
	}
	return &out, nil
}
