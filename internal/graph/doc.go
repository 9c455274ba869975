// Package graph serves the subset of Microsoft Graph v1.0 that resource
// applications need, under /v1.0/ on the server:
//
//	POST   /v1.0/applications                       create an application and its service principal
//	GET    /v1.0/applications                       list ($filter, $top, $skiptoken)
//	GET    /v1.0/applications/{id}                  by object ID
//	GET    /v1.0/applications(appId='{appId}')      by application ID
//	PATCH  /v1.0/applications/{id}                  displayName, identifierUris, appRoles (also by appId)
//	DELETE /v1.0/applications/{id}                  the application, its service principal and its assignments
//	GET    /v1.0/servicePrincipals                  list ($filter, $top, $skiptoken)
//	GET    /v1.0/servicePrincipals/{id}             by object ID (also (appId='{appId}'))
//	GET    /v1.0/servicePrincipals/{id}/appRoleAssignedTo
//	POST   /v1.0/servicePrincipals/{id}/appRoleAssignedTo
//	GET    /v1.0/servicePrincipals/{id}/appRoleAssignedTo/{assignmentId}
//	DELETE /v1.0/servicePrincipals/{id}/appRoleAssignedTo/{assignmentId}
//
// An application is a user's own API, named by identifier URIs such as
// api://orders, with app roles such as Orders.Read. Assigning a role to a
// managed identity or a service principal (appRoleAssignedTo on the
// application's service principal) makes the token service put the role's
// value in the "roles" claim of that principal's tokens for the application.
// An application's service principal is not a separate stored object: it is
// the application's ServicePrincipalID, and it cannot sign in.
//
// # Authentication and authorization
//
// Callers present a bearer token the server's token service issued for
// Microsoft Graph (https://graph.microsoft.com, with or without a trailing
// slash) or for the server's own URL; Config.Authenticate checks it. Graph
// has no scopes of its own here: a caller may manage the applications of its
// tenant when role-based access control allows it the action
// "Microsoft.Graph/applications/write" (reads: "Microsoft.Graph/applications/read")
// at the scope of at least one subscription of that tenant. So Owners and
// Contributors of a subscription manage the tenant's applications, and
// Readers read them. Every object is looked up in the caller's tenant only;
// another tenant's objects are not found (404).
//
// # Shapes and choices
//
// Bodies, status codes (POST 201, PATCH and DELETE 204) and errors follow
// Graph: {"error":{"code","message","innerError":{"date","request-id",
// "client-request-id"}}} with Graph's codes (Request_BadRequest,
// Request_ResourceNotFound, Authorization_RequestDenied,
// InvalidAuthenticationToken, ...). Where Graph's behaviour is unknown or
// beyond this subset, fedcred chooses and says so in a "fedcred:" sentence
// of the message:
//   - request bodies may carry only the properties modelled here (and
//     signInAudience "AzureADMyOrg"); others are refused rather than
//     silently dropped;
//   - identifier URIs are absolute api://, https:// or urn: URIs of at most
//     120 characters without wildcards, query or fragment, unique in the
//     tenant ignoring case and one trailing slash (as the token service
//     ignores it); api://<GUID> must name the application's own appId or the
//     tenant; the token service's built-in resources are reserved;
//   - app role values are unique (ignoring case), at most 120 characters of
//     Graph's allowed set, with no spaces and no leading dot; role IDs are
//     GUIDs, generated when absent;
//   - an app role that is assigned may not be removed, nor lose the
//     "Application" member type, until its assignments are deleted;
//   - a duplicate assignment is refused as Graph does (400, "Permission
//     being assigned already exists on the object");
//   - $filter supports eq on appId, id and displayName, startswith on
//     displayName, identifierUris/any(x:x eq '...') and
//     servicePrincipalNames/any(x:x eq '...'), joined by "and"; $select is
//     ignored (whole objects are returned);
//   - counts are bounded: applications per tenant, identifier URIs and
//     roles per application, assignments per application.
package graph
