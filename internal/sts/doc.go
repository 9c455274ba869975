// Package sts is fedcred's security token service, shaped like the Entra ID
// endpoints Azure clients already speak to:
//
//	POST /{tenant}/oauth2/v2.0/token                  client credentials, scope=<resource>/.default
//	POST /{tenant}/oauth2/token                       the same, v1: resource=<resource>
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	GET  /{tenant}/.well-known/openid-configuration   v1 metadata
//	GET  /{tenant}/discovery/v2.0/keys                the tenant's access-token keys
//	GET  /{tenant}/discovery/keys
//	GET  /common/discovery/instance                   MSAL instance discovery, for this host only
//	GET  /adfs/.well-known/openid-configuration       ADFS-style authority (az 2.45 skips instance
//	POST /adfs/oauth2/token, /adfs/oauth2/v2.0/token  discovery for it); the tenant is the client's
//
// A token request is handled as a pipeline: parse and bound the form; load the
// tenant and the client (a managed identity or a service principal) in one
// store transaction, so a change to a federated identity credential applies
// to the very next request; authenticate the client with a client secret
// (service principals) or a client assertion matched against the identity's
// federated credentials; resolve the resource; mint a v1.0 access token signed
// with the tenant's key ring. Every refusal is an *Error value written as
// Entra's error JSON by one function, with Entra's AADSTS code and text and,
// where fedcred knows more than Entra says, a "fedcred:" sentence naming the
// federated credential that came closest and what differed.
//
// The resource is resolved in this order: the built-in resources
// (BuiltinResources), the server's own URL and the management audiences, then
// the tenant's applications (registered through the Graph API) by identifier
// URI, exactly but ignoring one trailing slash, and then by application ID
// (<appId> or api://<appId>); anything else is 500011. A token for an
// application carries aud as requested and a "roles" claim with the sorted
// values of the enabled app roles (open to Application members) assigned to
// the client's principal on that application, and no "roles" claim when there
// are none. The lookup is served from the in-memory store: one scan of the
// tenant's applications (decoding only those whose JSON contains the URI) and
// one range read of the application's assignments, so a new or deleted
// assignment applies to the very next token.
//
// The order of checks follows Entra (reference §2.4, §2.5): tenant (90002),
// parameters (900144, 70003, 901002, 70011), client (700016), credentials
// present (7000218), then for an assertion: parse (50027), issuer among the
// identity's credentials (700211, before any key lookup), the issuer's keys
// (90061), signature (50027), lifetime (70023), validity window with five
// minutes' skew (700024), subject (700213, 7002138), audience (700212); then
// the resource (500011).
//
// Choices where Entra's behaviour is not known, each made once here:
//   - a client secret presented for a managed identity is refused as a wrong
//     secret (7000215), with a hint that identities authenticate with
//     federated credentials;
//   - an expired secret is 7000222, Entra's code for expired secret keys;
//   - a client_assertion_type other than jwt-bearer is 90011 ("Unexpected
//     client assertion type"), as Entra answered ADAL;
//   - both a secret and an assertion, a repeated parameter, an oversized or
//     unparsable body are 9002313 ("Request is malformed or invalid");
//   - 7000218 is sent as invalid_client (401), as real responses show;
//   - assertions may be signed with RS256, RS384, RS512, PS256, ES256 or
//     ES384; a missing exp is refused as 700024 with an expiry of 1970-01-01;
//     without iat the 25-hour lifetime is measured from nbf, else from now;
//   - unexpected failures (the store is unreachable, a tenant has no active
//     key) are 500 temporarily_unavailable (90033) with no detail.
//
// Access tokens never appear in logs; neither do assertions or secrets. The
// log line of a request names the tenant, client ID, matched or closest
// credential and AADSTS code.
package sts
