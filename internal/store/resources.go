package store

import (
	"strings"
	"time"
)

// Resource type names as ARM spells them.
const (
	RoleAssignmentType = "Microsoft.Authorization/roleAssignments"
	RoleDefinitionType = "Microsoft.Authorization/roleDefinitions"
	VaultType          = "Microsoft.KeyVault/vaults"
)

// RoleAssignment grants a principal a role definition at a scope (a
// subscription, a resource group or a resource) and everything below it.
type RoleAssignment struct {
	// Name is the assignment's GUID, unique in the tenant.
	Name string `json:"name"`
	// Scope is the ARM ID of the scope, as the client spelled it.
	Scope string `json:"scope"`
	// RoleDefinitionID is the full ARM ID of the role definition:
	// /subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}.
	RoleDefinitionID string `json:"roleDefinitionId"`
	// PrincipalID is the object ID of the principal (a managed identity's
	// principalId or a service principal's object ID).
	PrincipalID string `json:"principalId"`
	// PrincipalType is ServicePrincipal, User or Group, as ARM names it
	// (managed identities are ServicePrincipal).
	PrincipalType string    `json:"principalType"`
	TenantID      string    `json:"tenantId"`
	Description   string    `json:"description,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// Kind implements Object.
func (RoleAssignment) Kind() Kind { return KindRoleAssignment }

// Key implements Object: assignments sort under their scope, so a prefix
// lists those at a scope and below it.
func (a RoleAssignment) Key() string { return ScopeKey(a.ResourceID()) }

// AltKey implements Object: the assignment name (GUID) is unique.
func (a RoleAssignment) AltKey() string { return strings.ToLower(a.Name) }

// ResourceID is the assignment's ARM resource ID.
func (a RoleAssignment) ResourceID() string {
	return strings.TrimSuffix(a.Scope, "/") + "/providers/" + RoleAssignmentType + "/" + a.Name
}

// Vault is a Key Vault: a named secret store whose data plane is served at
// /vaults/{name}.
type Vault struct {
	SubscriptionID string            `json:"subscriptionId"`
	ResourceGroup  string            `json:"resourceGroup"`
	Name           string            `json:"name"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	TenantID       string            `json:"tenantId"`
	CreatedAt      time.Time         `json:"createdAt"`
	UpdatedAt      time.Time         `json:"updatedAt"`
}

// Kind implements Object.
func (Vault) Kind() Kind { return KindVault }

// Key implements Object.
func (v Vault) Key() string { return ScopeKey(v.ResourceID()) }

// AltKey implements Object: vault names are globally unique (they are DNS
// names in Azure), so the data plane finds a vault by name.
func (v Vault) AltKey() string { return strings.ToLower(v.Name) }

// ResourceID is the vault's ARM resource ID.
func (v Vault) ResourceID() string {
	return ResourceGroupID(v.SubscriptionID, v.ResourceGroup) + "/providers/" + VaultType + "/" + v.Name
}

// Secret is one version of a Key Vault secret. The value is sealed with the
// key-encryption key; it is never stored in plain text.
type Secret struct {
	VaultName   string            `json:"vaultName"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	SealedValue []byte            `json:"sealedValue"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Enabled     bool              `json:"enabled"`
	NotBefore   *time.Time        `json:"notBefore,omitempty"`
	Expires     *time.Time        `json:"expires,omitempty"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
}

// Kind implements Object.
func (Secret) Kind() Kind { return KindSecret }

// Key implements Object: versions sort under their secret, secrets under
// their vault.
func (s Secret) Key() string { return SecretPrefix(s.VaultName, s.Name) + strings.ToLower(s.Version) }

// AltKey implements Object.
func (Secret) AltKey() string { return "" }

// VaultSecretsPrefix is the key prefix of every secret version in a vault.
func VaultSecretsPrefix(vault string) string { return "vault/" + strings.ToLower(vault) + "/" }

// SecretPrefix is the key prefix of every version of one secret (secret
// names are case-insensitive).
func SecretPrefix(vault, name string) string {
	return VaultSecretsPrefix(vault) + strings.ToLower(name) + "/"
}

// AppRole is a role an application defines for the principals that call it.
type AppRole struct {
	ID                 string   `json:"id"`
	Value              string   `json:"value"`
	DisplayName        string   `json:"displayName"`
	Description        string   `json:"description,omitempty"`
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	IsEnabled          bool     `json:"isEnabled"`
}

// Application is a resource application: a user's own API, named by its
// identifier URIs (such as api://orders), that tokens can be requested for.
type Application struct {
	TenantID string `json:"tenantId"`
	// ObjectID is the application object's ID.
	ObjectID string `json:"objectId"`
	// AppID is the application (client) ID.
	AppID string `json:"appId"`
	// ServicePrincipalID is the object ID of the application's service
	// principal in the tenant, which app role assignments name as resource.
	ServicePrincipalID string    `json:"servicePrincipalId"`
	DisplayName        string    `json:"displayName"`
	IdentifierURIs     []string  `json:"identifierUris"`
	AppRoles           []AppRole `json:"appRoles"`
	CreatedAt          time.Time `json:"createdAt"`
	UpdatedAt          time.Time `json:"updatedAt"`
}

// Kind implements Object.
func (Application) Kind() Kind { return KindApplication }

// Key implements Object.
func (a Application) Key() string { return strings.ToLower(a.TenantID + "/" + a.ObjectID) }

// AltKey implements Object: application IDs are unique.
func (a Application) AltKey() string { return strings.ToLower(a.AppID) }

// AppRoleAssignment grants a principal one app role of a resource
// application; tokens for that resource carry the role's value in "roles".
type AppRoleAssignment struct {
	ID          string `json:"id"`
	TenantID    string `json:"tenantId"`
	PrincipalID string `json:"principalId"`
	// PrincipalType is ServicePrincipal (managed identities included).
	PrincipalType string `json:"principalType"`
	// ResourceID is the resource application's service principal ID.
	ResourceID string    `json:"resourceId"`
	AppRoleID  string    `json:"appRoleId"`
	CreatedAt  time.Time `json:"createdAt"`
}

// Kind implements Object.
func (AppRoleAssignment) Kind() Kind { return KindAppRoleAssignment }

// Key implements Object: assignments sort under their resource, then their
// principal, so the token service finds a principal's roles on a resource
// with one short prefix scan.
func (a AppRoleAssignment) Key() string {
	return AppRoleAssignmentPrincipalPrefix(a.TenantID, a.ResourceID, a.PrincipalID) + strings.ToLower(a.ID)
}

// AltKey implements Object.
func (a AppRoleAssignment) AltKey() string { return strings.ToLower(a.ID) }

// AppRoleAssignmentPrefix is the key prefix of every app role assignment to
// a resource application's service principal.
func AppRoleAssignmentPrefix(tenantID, resourceSPID string) string {
	return strings.ToLower(tenantID + "/" + resourceSPID + "/")
}

// AppRoleAssignmentPrincipalPrefix is the key prefix of the app role
// assignments of one principal to a resource application.
func AppRoleAssignmentPrincipalPrefix(tenantID, resourceSPID, principalID string) string {
	return AppRoleAssignmentPrefix(tenantID, resourceSPID) + strings.ToLower(principalID) + "/"
}
