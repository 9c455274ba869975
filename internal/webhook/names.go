package webhook

// The label and annotations of the azure-workload-identity contract.
const (
	// UseLabel on a pod selects it for mutation when its value is "true".
	UseLabel = "azure.workload.identity/use"
	// ClientIDAnnotation on a service account gives AZURE_CLIENT_ID.
	ClientIDAnnotation = "azure.workload.identity/client-id"
	// TenantIDAnnotation on a service account gives AZURE_TENANT_ID; when
	// present, even empty, it beats the webhook's default tenant.
	TenantIDAnnotation = "azure.workload.identity/tenant-id"
	// TokenExpirationAnnotation, on the pod or else on its service account,
	// sets the projected token's expirationSeconds.
	TokenExpirationAnnotation = "azure.workload.identity/service-account-token-expiration" // #nosec G101 -- an annotation name
	// SkipContainersAnnotation on a pod lists, separated by ';', the
	// containers that get neither the variables nor the mount.
	SkipContainersAnnotation = "azure.workload.identity/skip-containers"
)

// The environment variables injected into containers, in injection order.
const (
	ClientIDEnv           = "AZURE_CLIENT_ID"
	TenantIDEnv           = "AZURE_TENANT_ID"
	FederatedTokenFileEnv = "AZURE_FEDERATED_TOKEN_FILE"
	AuthorityHostEnv      = "AZURE_AUTHORITY_HOST"
)

// Defaults and bounds of the contract.
const (
	// DefaultAudience is the audience of the projected token.
	DefaultAudience = "api://AzureADTokenExchange"
	// DefaultTokenExpiration is the projected token's lifetime in seconds
	// when no annotation sets it.
	DefaultTokenExpiration int64 = 3600
	// MinTokenExpiration and MaxTokenExpiration bound the annotation.
	MinTokenExpiration int64 = 3600
	MaxTokenExpiration int64 = 86400
	// DefaultServiceAccount is the service account of a pod that names none.
	DefaultServiceAccount = "default"
)
