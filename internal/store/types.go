package store

import (
	"strings"
	"time"
)

// Tenant is a directory: the unit that owns identities, keys and subscriptions.
type Tenant struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Kind implements Object.
func (Tenant) Kind() Kind { return KindTenant }

// Key implements Object.
func (t Tenant) Key() string { return strings.ToLower(t.ID) }

// AltKey implements Object.
func (Tenant) AltKey() string { return "" }

// Subscription is a billing and management scope inside a tenant.
type Subscription struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenantId"`
	DisplayName string    `json:"displayName"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Kind implements Object.
func (Subscription) Kind() Kind { return KindSubscription }

// Key implements Object.
func (s Subscription) Key() string { return SubscriptionKey(s.ID) }

// AltKey implements Object.
func (Subscription) AltKey() string { return "" }

// ResourceID is the subscription's ARM resource ID.
func (s Subscription) ResourceID() string { return "/subscriptions/" + s.ID }

// SecretHash is a client secret as stored: never the secret, only its hash.
type SecretHash struct {
	ID        string    `json:"id"`
	Hint      string    `json:"hint"`
	SHA256    []byte    `json:"sha256"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// ServicePrincipal is an application's identity in a tenant that signs in with
// a client secret (the admin principal is one).
type ServicePrincipal struct {
	ObjectID    string       `json:"objectId"`
	ClientID    string       `json:"clientId"`
	TenantID    string       `json:"tenantId"`
	DisplayName string       `json:"displayName"`
	Secrets     []SecretHash `json:"secrets"`
	CreatedAt   time.Time    `json:"createdAt"`
}

// Kind implements Object.
func (ServicePrincipal) Kind() Kind { return KindServicePrincipal }

// Key implements Object.
func (p ServicePrincipal) Key() string {
	return strings.ToLower(p.TenantID + "/" + p.ObjectID)
}

// AltKey implements Object: client IDs are unique.
func (p ServicePrincipal) AltKey() string { return strings.ToLower(p.ClientID) }

// ResourceGroup is an ARM resource group.
type ResourceGroup struct {
	SubscriptionID string            `json:"subscriptionId"`
	Name           string            `json:"name"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	CreatedAt      time.Time         `json:"createdAt"`
}

// Kind implements Object.
func (ResourceGroup) Kind() Kind { return KindResourceGroup }

// Key implements Object.
func (g ResourceGroup) Key() string { return ResourceGroupKey(g.SubscriptionID, g.Name) }

// AltKey implements Object.
func (ResourceGroup) AltKey() string { return "" }

// ResourceID is the group's ARM resource ID.
func (g ResourceGroup) ResourceID() string {
	return "/subscriptions/" + g.SubscriptionID + "/resourceGroups/" + g.Name
}

// Identity is a user-assigned managed identity.
type Identity struct {
	SubscriptionID string            `json:"subscriptionId"`
	ResourceGroup  string            `json:"resourceGroup"`
	Name           string            `json:"name"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	TenantID       string            `json:"tenantId"`
	ClientID       string            `json:"clientId"`
	PrincipalID    string            `json:"principalId"`
	CreatedAt      time.Time         `json:"createdAt"`
	UpdatedAt      time.Time         `json:"updatedAt"`
}

// Identity resource type and child type names as ARM spells them.
const (
	IdentityType            = "Microsoft.ManagedIdentity/userAssignedIdentities"
	FederatedCredentialType = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
	ClusterType             = "Microsoft.ContainerService/managedClusters"
)

// Kind implements Object.
func (Identity) Kind() Kind { return KindIdentity }

// Key implements Object.
func (i Identity) Key() string { return strings.ToLower(i.ResourceID()) }

// AltKey implements Object: client IDs are unique.
func (i Identity) AltKey() string { return strings.ToLower(i.ClientID) }

// ResourceID is the identity's ARM resource ID.
func (i Identity) ResourceID() string {
	return IdentityID(i.SubscriptionID, i.ResourceGroup, i.Name)
}

// FederatedCredential trusts tokens from Issuer for Subject and Audiences to
// act as the parent identity.
type FederatedCredential struct {
	SubscriptionID string    `json:"subscriptionId"`
	ResourceGroup  string    `json:"resourceGroup"`
	IdentityName   string    `json:"identityName"`
	Name           string    `json:"name"`
	Issuer         string    `json:"issuer"`
	Subject        string    `json:"subject"`
	Audiences      []string  `json:"audiences"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// Kind implements Object.
func (FederatedCredential) Kind() Kind { return KindFederatedCredential }

// Key implements Object.
func (f FederatedCredential) Key() string { return strings.ToLower(f.ResourceID()) }

// AltKey implements Object.
func (FederatedCredential) AltKey() string { return "" }

// IdentityID is the parent identity's ARM resource ID.
func (f FederatedCredential) IdentityID() string {
	return IdentityID(f.SubscriptionID, f.ResourceGroup, f.IdentityName)
}

// ResourceID is the credential's ARM resource ID.
func (f FederatedCredential) ResourceID() string {
	return f.IdentityID() + "/federatedIdentityCredentials/" + f.Name
}

// Cluster is a managed Kubernetes cluster whose OIDC issuer fedcred hosts.
type Cluster struct {
	SubscriptionID    string            `json:"subscriptionId"`
	ResourceGroup     string            `json:"resourceGroup"`
	Name              string            `json:"name"`
	Location          string            `json:"location"`
	Tags              map[string]string `json:"tags,omitempty"`
	TenantID          string            `json:"tenantId"`
	UID               string            `json:"uid"`
	OIDCIssuerEnabled bool              `json:"oidcIssuerEnabled"`
	WorkloadIdentity  bool              `json:"workloadIdentity"`
	KubernetesVersion string            `json:"kubernetesVersion"`
	DNSPrefix         string            `json:"dnsPrefix"`
	CreatedAt         time.Time         `json:"createdAt"`
	UpdatedAt         time.Time         `json:"updatedAt"`
}

// Kind implements Object.
func (Cluster) Kind() Kind { return KindCluster }

// Key implements Object.
func (c Cluster) Key() string { return strings.ToLower(c.ResourceID()) }

// AltKey implements Object: the issuer UID is unique.
func (c Cluster) AltKey() string { return strings.ToLower(c.UID) }

// ResourceID is the cluster's ARM resource ID.
func (c Cluster) ResourceID() string {
	return ResourceGroupID(c.SubscriptionID, c.ResourceGroup) + "/providers/" + ClusterType + "/" + c.Name
}

// KeyState is where a signing key is in its life.
type KeyState string

// Signing key states: a key is published while next, signs while active, and
// stays published while retired until RetireAt.
const (
	KeyNext    KeyState = "next"
	KeyActive  KeyState = "active"
	KeyRetired KeyState = "retired"
)

// SigningKey is one key of a key ring. The private key is sealed with the
// key-encryption key; it is never stored in plain text.
type SigningKey struct {
	Owner            string    `json:"owner"`
	KID              string    `json:"kid"`
	Algorithm        string    `json:"alg"`
	PublicKeyDER     []byte    `json:"publicKey"`
	CertificateDER   []byte    `json:"certificate,omitempty"`
	SealedPrivateKey []byte    `json:"sealedPrivateKey"`
	State            KeyState  `json:"state"`
	CreatedAt        time.Time `json:"createdAt"`
	ActivatedAt      time.Time `json:"activatedAt,omitzero"`
	RetireAt         time.Time `json:"retireAt,omitzero"`
}

// Kind implements Object.
func (SigningKey) Kind() Kind { return KindSigningKey }

// Key implements Object: keys sort under their owner.
func (k SigningKey) Key() string { return SigningKeyPrefix(k.Owner) + k.KID }

// AltKey implements Object.
func (SigningKey) AltKey() string { return "" }

// SigningKeyPrefix is the key prefix of every signing key of owner.
func SigningKeyPrefix(owner string) string { return strings.ToLower(owner) + "/" }

// SubscriptionKey is the store key of a subscription.
func SubscriptionKey(id string) string { return strings.ToLower("/subscriptions/" + id) }

// ResourceGroupID is the ARM resource ID of a resource group.
func ResourceGroupID(sub, rg string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg
}

// ResourceGroupKey is the store key of a resource group.
func ResourceGroupKey(sub, rg string) string { return strings.ToLower(ResourceGroupID(sub, rg)) }

// IdentityID is the ARM resource ID of a user-assigned identity.
func IdentityID(sub, rg, name string) string {
	return ResourceGroupID(sub, rg) + "/providers/" + IdentityType + "/" + name
}

// ScopeKey lower-cases an ARM scope or resource ID for use as a key or key prefix.
func ScopeKey(id string) string { return strings.ToLower(id) }
