package rbac

// RoleDefinition is a role: what its holders may do (Actions, on the
// management plane; DataActions, on resources' data planes), minus what it
// excludes. Patterns are case-insensitive and "*" matches any run of
// characters, as in Azure.
type RoleDefinition struct {
	// ID is the role's GUID, the same as Azure's for built-in roles.
	ID             string
	Name           string
	Description    string
	Actions        []string
	NotActions     []string
	DataActions    []string
	NotDataActions []string
}

// Role GUIDs of the built-in roles (Azure's own).
const (
	OwnerID                      = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	ContributorID                = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	ReaderID                     = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	ManagedIdentityContributorID = "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59"
	ManagedIdentityOperatorID    = "f1a07417-d97a-45cb-824c-7a7467783830"
	KeyVaultAdministratorID      = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
	KeyVaultSecretsOfficerID     = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
	KeyVaultSecretsUserID        = "4633458b-17de-408a-b874-0445c86b69e6"
	KeyVaultReaderID             = "21090545-7ca7-4776-b22c-e363652d74d2"
)

// keyVaultManagementReads are the control-plane reads the Key Vault roles
// carry.
var keyVaultManagementReads = []string{
	"Microsoft.Authorization/*/read",
	"Microsoft.Insights/alertRules/*",
	"Microsoft.Resources/deployments/*",
	"Microsoft.Resources/subscriptions/resourceGroups/read",
	"Microsoft.Support/*",
	"Microsoft.KeyVault/checkNameAvailability/read",
	"Microsoft.KeyVault/deletedVaults/read",
	"Microsoft.KeyVault/locations/*/read",
	"Microsoft.KeyVault/vaults/*/read",
	"Microsoft.KeyVault/operations/read",
}

// BuiltIn returns the built-in role definitions, with Azure's names, GUIDs,
// actions and data actions.
func BuiltIn() []RoleDefinition {
	return []RoleDefinition{
		{
			ID: OwnerID, Name: "Owner",
			Description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
			Actions:     []string{"*"},
		},
		{
			ID: ContributorID, Name: "Contributor",
			Description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
			Actions:     []string{"*"},
			NotActions: []string{
				"Microsoft.Authorization/*/Delete",
				"Microsoft.Authorization/*/Write",
				"Microsoft.Authorization/elevateAccess/Action",
			},
		},
		{
			ID: ReaderID, Name: "Reader",
			Description: "View all resources, but does not allow you to make any changes.",
			Actions:     []string{"*/read"},
		},
		{
			ID: ManagedIdentityContributorID, Name: "Managed Identity Contributor",
			Description: "Create, Read, Update, and Delete User Assigned Identity",
			Actions: []string{
				"Microsoft.ManagedIdentity/userAssignedIdentities/read",
				"Microsoft.ManagedIdentity/userAssignedIdentities/write",
				"Microsoft.ManagedIdentity/userAssignedIdentities/delete",
				"Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
				"Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
				"Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
				"Microsoft.Authorization/*/read",
				"Microsoft.Insights/alertRules/*",
				"Microsoft.Resources/subscriptions/resourceGroups/read",
				"Microsoft.Resources/deployments/*",
				"Microsoft.Support/*",
			},
		},
		{
			ID: ManagedIdentityOperatorID, Name: "Managed Identity Operator",
			Description: "Read and Assign User Assigned Identity",
			Actions: []string{
				"Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
				"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
				"Microsoft.Authorization/*/read",
				"Microsoft.Insights/alertRules/*",
				"Microsoft.Resources/subscriptions/resourceGroups/read",
				"Microsoft.Resources/deployments/*",
				"Microsoft.Support/*",
			},
		},
		{
			ID: KeyVaultAdministratorID, Name: "Key Vault Administrator",
			Description: "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets. Cannot manage key vault resources or manage role assignments.",
			Actions:     keyVaultManagementReads,
			DataActions: []string{"Microsoft.KeyVault/vaults/*"},
		},
		{
			ID: KeyVaultSecretsOfficerID, Name: "Key Vault Secrets Officer",
			Description: "Perform any action on the secrets of a key vault, except manage permissions.",
			Actions:     keyVaultManagementReads,
			DataActions: []string{"Microsoft.KeyVault/vaults/secrets/*"},
		},
		{
			ID: KeyVaultSecretsUserID, Name: "Key Vault Secrets User",
			Description: "Read secret contents.",
			DataActions: []string{
				"Microsoft.KeyVault/vaults/secrets/getSecret/action",
				"Microsoft.KeyVault/vaults/secrets/readMetadata/action",
			},
		},
		{
			ID: KeyVaultReaderID, Name: "Key Vault Reader",
			Description: "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values such as secret contents or key material.",
			Actions:     keyVaultManagementReads,
			DataActions: []string{
				"Microsoft.KeyVault/vaults/*/read",
				"Microsoft.KeyVault/vaults/secrets/readMetadata/action",
			},
		},
	}
}
