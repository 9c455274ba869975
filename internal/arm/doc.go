// Package arm serves fedcred's management API in the shape of Azure Resource
// Manager: subscriptions, resource groups, user-assigned managed identities
// with their federated identity credentials, and managed clusters with their
// OIDC issuers, plus the /metadata/endpoints document the az CLI reads when a
// cloud is registered.
//
// Requests pass one pipeline (see Handler.ServeHTTP): authenticate the bearer
// token, require an api-version, match the route, compute the RBAC action and
// scope (accessFor), authorize it (Handler.authorize), check that the
// subscription is visible to the caller's tenant, and run the handler. Errors
// are values (apiError, kubeStatusError) written in one place (writeError) in
// ARM's CloudError shape, or in Kubernetes' Status shape for the
// service-account token endpoint. Unexpected failures are logged and answered
// with a generic InternalServerError.
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
//   - Authorization: a ServicePrincipal may do everything in its tenant's
//     subscriptions; any other principal (a ManagedIdentity) is refused with
//     403 AuthorizationFailed. GET /subscriptions filters by the same rule, as
//     ARM does, so a principal without access sees an empty list rather than
//     a 403. Role-based access control will replace Handler.authorize.
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
//   - Deleting a resource group deletes, in the same transaction, its
//     identities, their credentials and its clusters. Deleting an identity
//     deletes its credentials.
package arm
