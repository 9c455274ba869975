// Package vault serves a Key Vault–compatible secrets data plane: the
// secrets of the store.Vault resources the management API creates, at
// <PublicURL>/vaults/<name>/secrets/..., in the shapes of Key Vault's REST API
// (7.x and the 2025–2026 api-versions the Azure SDKs send), so azsecrets,
// @azure/keyvault-secrets and azure-keyvault-secrets work against it
// unchanged.
//
// Every request passes one pipeline (Handler.serve): match the route (404 or
// 405 otherwise), require an api-version (any value), find the vault, read the
// bearer token and authenticate it (401 with Key Vault's challenge otherwise),
// answer 404 for a missing vault, require the caller's tenant to be the
// vault's (401 AKV10032 otherwise), authorize the operation's data action
// with the Authorizer (403 ForbiddenByRbac otherwise), and run the operation.
// Errors are values (apiError) written in one place (writeError) in Key
// Vault's {"error":{"code","message","innererror"}} shape; unexpected
// failures are logged and answered with a generic 500, store outages with
// 503.
//
// Conventions and decisions:
//
//   - The unauthenticated challenge names the vault's tenant, or
//     Config.TenantID when no vault has the requested name, so that a caller
//     without a token cannot tell which vault names exist. An authenticated
//     caller gets 404 VaultNotFound for a missing vault.
//   - Secret values are sealed with Config.Sealer, bound to
//     "secret:<vault>/<name>/<version>" (lower-cased), so a sealed value
//     copied onto another record does not open. Values are never logged.
//   - The latest version is the one created last. A new version's creation
//     time is made strictly later than every existing version's, so "latest"
//     stays right when the clock stands still or steps back; responses carry
//     unix seconds, so the adjustment is not visible.
//   - Secret names are case-insensitive and keep the casing of their first
//     version. Secret versions are 32 lower-case hex digits.
//   - Deleting a secret purges it (every version) at once: fedcred keeps no
//     soft-deleted secrets, so recoveryLevel is "Purgeable" with
//     recoverableDays 0, the deleted-secret operations answer 404
//     DeletedSecretNotFound and the deleted-secret list is empty.
//   - exp and nbf are stored and returned but, as in Key Vault, not enforced
//     for secrets; only a disabled secret refuses to give its value.
//   - Lists are paged with maxresults (1 to 25, default 25) and $skiptoken;
//     nextLink is an absolute URL under Config.PublicURL that keeps
//     api-version and maxresults. Secrets come in the order of their
//     lower-cased names, versions in the order of their version IDs.
//   - Request bodies are bounded at 64 KiB and values at 25 KiB (both 400
//     BadParameter, as Key Vault answers); unknown body fields are ignored,
//     as Key Vault ignores them. In a PATCH, an absent or null field is left
//     as it is.
//   - Data actions: reading a value is getSecret, setting one setSecret,
//     lists and the deleted-secret reads readMetadata, PATCH update, DELETE
//     delete, purge and recover their own actions. The scope is the secret
//     (<vault resource ID>/secrets/<name>) for operations on one secret and
//     the vault for lists, so assignments on the vault, its resource group
//     or its subscription apply.
package vault
