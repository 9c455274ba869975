package client

import "time"

// API versions the client sends. The server accepts these (and others).
const (
	SubscriptionsAPIVersion  = "2022-12-01"
	ResourceGroupsAPIVersion = "2021-04-01"
	IdentityAPIVersion       = "2024-11-30"
	ClusterAPIVersion        = "2025-01-01"
)

// DefaultAudience is the audience of federated tokens for Entra Workload ID.
const DefaultAudience = "api://AzureADTokenExchange"

// Subscription is an ARM subscription.
type Subscription struct {
	ID             string `json:"id,omitempty"`
	SubscriptionID string `json:"subscriptionId"`
	TenantID       string `json:"tenantId,omitempty"`
	DisplayName    string `json:"displayName,omitempty"`
	State          string `json:"state,omitempty"`
}

// SystemData is ARM's record of who created and last changed a resource.
type SystemData struct {
	CreatedBy          string    `json:"createdBy,omitempty"`
	CreatedByType      string    `json:"createdByType,omitempty"`
	CreatedAt          time.Time `json:"createdAt,omitzero"`
	LastModifiedBy     string    `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string    `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     time.Time `json:"lastModifiedAt,omitzero"`
}

// ResourceGroup is an ARM resource group. In a PUT only Location and Tags
// count.
type ResourceGroup struct {
	ID         string                   `json:"id,omitempty"`
	Name       string                   `json:"name,omitempty"`
	Type       string                   `json:"type,omitempty"`
	Location   string                   `json:"location"`
	ManagedBy  *string                  `json:"managedBy,omitempty"`
	Tags       map[string]string        `json:"tags"`
	Properties *ResourceGroupProperties `json:"properties,omitempty"`
}

// ResourceGroupProperties are a resource group's read-only properties.
type ResourceGroupProperties struct {
	ProvisioningState string `json:"provisioningState,omitempty"`
}

// Identity is a user-assigned managed identity. In a PUT only Location and
// Tags count.
type Identity struct {
	ID         string             `json:"id,omitempty"`
	Name       string             `json:"name,omitempty"`
	Type       string             `json:"type,omitempty"`
	Location   string             `json:"location"`
	Tags       map[string]string  `json:"tags"`
	SystemData *SystemData        `json:"systemData,omitempty"`
	Properties IdentityProperties `json:"properties,omitzero"`
}

// IdentityProperties are an identity's read-only properties.
type IdentityProperties struct {
	TenantID       string `json:"tenantId,omitempty"`
	PrincipalID    string `json:"principalId,omitempty"`
	ClientID       string `json:"clientId,omitempty"`
	IsolationScope string `json:"isolationScope,omitempty"`
}

// FederatedCredential is a federated identity credential of an identity:
// tokens from Issuer for Subject and Audiences may act as the identity.
type FederatedCredential struct {
	ID         string                        `json:"id,omitempty"`
	Name       string                        `json:"name,omitempty"`
	Type       string                        `json:"type,omitempty"`
	SystemData *SystemData                   `json:"systemData,omitempty"`
	Properties FederatedCredentialProperties `json:"properties"`
}

// FederatedCredentialProperties are what a federated credential matches.
type FederatedCredentialProperties struct {
	Issuer                   string                    `json:"issuer"`
	Subject                  string                    `json:"subject,omitempty"`
	Audiences                []string                  `json:"audiences"`
	ClaimsMatchingExpression *ClaimsMatchingExpression `json:"claimsMatchingExpression,omitempty"`
}

// ClaimsMatchingExpression is a flexible federated credential's rule, used
// instead of Subject.
type ClaimsMatchingExpression struct {
	Value           string `json:"value"`
	LanguageVersion int    `json:"languageVersion"`
}

// Cluster is a managed Kubernetes cluster (Microsoft.ContainerService/
// managedClusters) whose OIDC issuer fedcred hosts.
type Cluster struct {
	ID         string            `json:"id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Type       string            `json:"type,omitempty"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	SystemData *SystemData       `json:"systemData,omitempty"`
	Properties ClusterProperties `json:"properties"`
}

// ClusterProperties are a cluster's properties. Only KubernetesVersion,
// DNSPrefix, OIDCIssuerProfile.Enabled and SecurityProfile are writable.
type ClusterProperties struct {
	ProvisioningState        string                   `json:"provisioningState,omitempty"`
	PowerState               *PowerState              `json:"powerState,omitempty"`
	KubernetesVersion        string                   `json:"kubernetesVersion,omitempty"`
	CurrentKubernetesVersion string                   `json:"currentKubernetesVersion,omitempty"`
	DNSPrefix                string                   `json:"dnsPrefix,omitempty"`
	FQDN                     string                   `json:"fqdn,omitempty"`
	NodeResourceGroup        string                   `json:"nodeResourceGroup,omitempty"`
	ServicePrincipalProfile  *ServicePrincipalProfile `json:"servicePrincipalProfile,omitempty"`
	OIDCIssuerProfile        *OIDCIssuerProfile       `json:"oidcIssuerProfile,omitempty"`
	SecurityProfile          *SecurityProfile         `json:"securityProfile,omitempty"`
}

// PowerState says whether the cluster runs ("Running").
type PowerState struct {
	Code string `json:"code,omitempty"`
}

// ServicePrincipalProfile is the cluster's own identity ("msi" for managed
// identity clusters).
type ServicePrincipalProfile struct {
	ClientID string `json:"clientId,omitempty"`
}

// OIDCIssuerProfile turns the cluster's OIDC issuer on and says its URL. The
// wire name of IssuerURL is "issuerURL"; it decodes case-insensitively and
// encodes as "issuerUrl", the name az prints and --query scripts use.
type OIDCIssuerProfile struct {
	Enabled   bool   `json:"enabled"`
	IssuerURL string `json:"issuerUrl,omitempty"`
}

// SecurityProfile holds the workload identity switch.
type SecurityProfile struct {
	WorkloadIdentity *WorkloadIdentityProfile `json:"workloadIdentity,omitempty"`
}

// WorkloadIdentityProfile says whether workload identity is on.
type WorkloadIdentityProfile struct {
	Enabled bool `json:"enabled"`
}

// writable returns the parts of c a PUT may set: read-only fields are left
// out, so a GET-modify-PUT sends back only what the caller may change.
func (c Cluster) writable() Cluster {
	out := Cluster{Location: c.Location, Tags: c.Tags}
	p := c.Properties
	out.Properties = ClusterProperties{
		KubernetesVersion: p.KubernetesVersion,
		DNSPrefix:         p.DNSPrefix,
		SecurityProfile:   p.SecurityProfile,
	}
	if p.OIDCIssuerProfile != nil {
		out.Properties.OIDCIssuerProfile = &OIDCIssuerProfile{Enabled: p.OIDCIssuerProfile.Enabled}
	}
	return out
}
