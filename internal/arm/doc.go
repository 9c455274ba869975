// Package arm serves fedcred's management API in the shape of Azure Resource
// Manager: subscriptions, resource groups, user-assigned managed identities
// with their federated identity credentials, managed clusters with their OIDC
// issuers, Key Vaults (the control plane; the data plane is served
// elsewhere), and Microsoft.Authorization role definitions and role
// assignments at any scope, plus the /metadata/endpoints document the az CLI
// reads when a cloud is registered.
//
// Requests pass one pipeline (see Handler.ServeHTTP): authenticate the bearer
// token, require an api-version, match the route, compute the RBAC action and
// scope (accessFor), check that the subscription is visible to the caller's
// tenant, authorize the action at the scope (Handler.authorize, through
// Config.Authorizer), and run the handler. Errors are values (apiError,
// kubeStatusError) written in one place (writeError) in ARM's CloudError
// shape, or in Kubernetes' Status shape for the service-account token
// endpoint. Unexpected failures are logged and answered with a generic
// InternalServerError.
//
// Conventions and decisions:
//
//   - Paths match case-insensitively (az sends both /resourcegroups and
//     /resourceGroups), leading and trailing slashes are tolerated, and any
//     api-version value is accepted. Resource names keep the casing they were
//     created with; a PUT with a differently cased name updates the resource.
//   - Tenant isolation: a subscription outside the caller's tenant is
//     answered 404 SubscriptionNotFound, exactly as a subscription that does
//     not exist, so its existence does not leak across tenants. GET
//     /subscriptions lists only the caller's tenant's subscriptions.
//   - Authorization: every caller, service principals included, is decided
//     by role-based access control: a role assigned to the caller at the
//     scope or above it must grant the action (management actions only; data
//     actions are for the data planes). There is no built-in administrator:
//     the server's bootstrap gives its admin service principal an Owner
//     assignment on the subscription. A refusal is 403 AuthorizationFailed
//     naming the caller, action and scope; an authorizer that cannot read the
//     assignments fails the request with 503 (store unavailable) or 500,
//     never an allow. GET /subscriptions lists the caller's tenant's
//     subscriptions on which it may do Microsoft.Resources/subscriptions/read,
//     as ARM does, so a principal without access sees an empty list rather
//     than a 403.
//   - Actions follow Azure's operation names, for example
//     Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write.
//     The two cluster operations are named
//     Microsoft.ContainerService/managedClusters/rotateServiceAccountSigningKeys/action
//     and Microsoft.ContainerService/managedClusters/serviceAccountTokens/action.
//   - Lists are paged with $top (page size, 1 to 1000, default 100) and
//     $skiptoken; nextLink is an absolute URL under Config.PublicURL that
//     keeps api-version and $top. Items come in the order of their lower-cased
//     resource IDs: by name within one resource group or identity, and by
//     resource group, then name, in subscription-wide lists.
//   - Federated identity credentials follow Entra's rules (name pattern, one
//     audience, no wildcards, 600-character limits, unique issuer and subject
//     per identity). Beyond the reference, the issuer must be an absolute
//     https URL with a host and without user info, query or fragment: http
//     issuers are refused, because no client can fetch keys from them over a
//     trusted channel, and an issuer with leading or trailing whitespace is
//     refused, because no token could ever match it. Control characters are
//     refused in every value. claimsMatchingExpression (flexible credentials)
//     is refused rather than silently dropped. The 20-credential cap applies
//     only when Config.EntraLimits is set, and concurrent writes to one
//     identity are serialized by the store, never answered 409.
//   - Role definitions are the built-in roles (package rbac), the same at
//     every scope: GET {scope}/providers/Microsoft.Authorization/
//     roleDefinitions[/{guid}], filtered by $filter=roleName eq '{name}' or
//     type eq '{type}'. Role assignments are PUT, GET and DELETE at
//     {scope}/providers/Microsoft.Authorization/roleAssignments/{guid} and
//     listed at .../roleAssignments, where the scope is a subscription, a
//     resource group or a resource served here (an identity, a federated
//     credential, a cluster or a vault), and must exist (404 otherwise). The
//     actions are Microsoft.Authorization/roleAssignments/read, write and
//     delete at the scope, so no caller can raise its own rights without
//     roleAssignments/write (Owner has it; Contributor and Managed Identity
//     Contributor do not).
//   - A role assignment's principal must be a service principal (by object
//     ID) or a managed identity (by principal ID) of the subscription's
//     tenant (400 PrincipalNotFound otherwise); principalType, if given,
//     must be ServicePrincipal, which both are in ARM's terms. Its scope is
//     stored in the casing the resource was created with. roleDefinitionId
//     may name any subscription or none; it is stored under the scope's
//     subscription. A PUT of an existing assignment answers 201, as ARM does,
//     when role, principal and scope are unchanged (only the description may
//     change), and 409 RoleAssignmentUpdateNotPermitted otherwise; the same
//     grant under another name is 409 RoleAssignmentExists. Conditions (ABAC)
//     are refused. createdBy is null: the store does not record the creator.
//     Lists return the assignments at and above the scope and, unless
//     $filter has atScope(), below it; $filter also takes principalId eq
//     '{id}' and assignedTo('{id}') (the same here, as there are no groups),
//     joined by "and". nextLink keeps $filter.
//   - Key Vaults authorize their data plane with RBAC only:
//     enableRbacAuthorization may be omitted or true, never false, and access
//     policies are ignored as Azure ignores them on such a vault. tenantId defaults to the
//     subscription's and must equal it; the SKU is standard (family A), and
//     soft delete is off (a deleted vault and its secrets are gone at once).
//     Vault names are unique across every subscription and tenant, as DNS
//     names are in Azure (409 VaultAlreadyExists). vaultUri is
//     <PublicURL>/vaults/<name>/.
//   - Trusted issuers (Fedcred/trustedIssuers, fedcred's own provider
//     namespace) hold the keys of issuers fedcred neither hosts nor can
//     reach: /subscriptions/{sub}/providers/Fedcred/trustedIssuers/{name},
//     PUT, GET, LIST and DELETE, with the actions
//     Fedcred/trustedIssuers/read, write and delete (Owner and Contributor
//     have them, Reader reads). The body is {"properties":{"issuer",
//     "jwks"}}: the issuer follows the federated credentials' issuer rules,
//     must not lie under PublicURL, and is unique per tenant (409
//     IssuerAlreadyTrusted); the JWKS is validated strictly by
//     trust.ParseJWKS (400 InvalidJwks, targeting the key). Trusted issuers
//     are not a role assignment scope. POST .../{name}/publishKeys lets the
//     issuer replace its own keys with a proof token signed by a key it is
//     trusted with now; it is served before authentication, outside RBAC,
//     for the reasons given at Handler.publishKeys, and refuses with ARM's
//     token errors (401 InvalidAuthenticationToken,
//     InvalidAuthenticationTokenAudience, ExpiredAuthenticationToken).
//   - Deletes cascade in the same transaction. Deleting a resource group
//     deletes its identities, their credentials, its clusters, its vaults
//     with their secrets, and every role assignment at or below it. Deleting
//     an identity deletes its credentials; deleting an identity, credential,
//     cluster or vault deletes the role assignments at or below it, so a
//     resource recreated under the same name starts ungranted. Assignments
//     made to a deleted identity elsewhere stay (as in Azure) but can never
//     match again: a recreated identity gets a new principal ID.
//   - Audit: with Config.Audit set, every PUT, PATCH, DELETE and POST that
//     succeeds or is refused with 403 is written to the audit log (kind
//     resource.write, resource.delete, resource.action, keys.rotated for
//     rotateServiceAccountSigningKeys, keys.published for a trusted
//     issuer's publishKeys, whose refusals with 401 are recorded too) with
//     the caller, the action, the resource ID, the outcome, the correlation
//     and request IDs, the source IP and the user agent, never a body or a
//     token. The event is written synchronously before the answer, so it is
//     in the log when the caller sees the answer; a refused publishKeys,
//     which anyone can send, is queued instead, as the token service queues
//     its refusals. Unauthenticated calls and other failures are not
//     recorded.
package arm
