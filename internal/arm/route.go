package arm

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// routeKind names what a path addresses.
type routeKind int

const (
	routeNone routeKind = iota
	routeMetadata
	routeSubscriptions
	routeSubscription
	routeResourceGroups
	routeResourceGroup
	routeIdentities // in a subscription (rg == "") or a resource group
	routeIdentity
	routeCredentials
	routeCredential
	routeClusters // in a subscription (rg == "") or a resource group
	routeCluster
	routeClusterRotate
	routeClusterToken
	routeVaults // in a subscription (rg == "") or a resource group
	routeVault
	routeRoleDefinitions // at any scope (route.scope)
	routeRoleDefinition
	routeRoleAssignments
	routeRoleAssignment
	routeTrustedIssuers // in a subscription
	routeTrustedIssuer
	routeTrustedIssuerPublish // served before authentication (see publishKeys)
)

// Provider namespaces, resource types and segments, matched case-insensitively.
const (
	nsManagedIdentity   = "Microsoft.ManagedIdentity"
	nsContainerService  = "Microsoft.ContainerService"
	nsKeyVault          = "Microsoft.KeyVault"
	nsAuthorization     = "Microsoft.Authorization"
	typeIdentities      = "userAssignedIdentities"
	typeCredentials     = "federatedIdentityCredentials"
	typeClusters        = "managedClusters"
	typeVaults          = "vaults"
	typeRoleDefinitions = "roleDefinitions"
	typeRoleAssignments = "roleAssignments"
	segRotate           = "rotateServiceAccountSigningKeys"
	resourceGroupType   = "Microsoft.Resources/resourceGroups"
	maxPathSegments     = 16
	maxPathSegmentBytes = 1024
)

// route is a parsed request path. Names keep the casing the client sent.
type route struct {
	kind routeKind
	// path is the request path, normalized to one leading slash and no
	// trailing slash, still escaped; nextLink reuses it.
	path string

	sub, rg, name, child string // child: a credential's name
	namespace, account   string // service-account token requests

	// scope is, for a Microsoft.Authorization route, the route of the scope
	// it is under: a subscription, a resource group or a resource. rt.sub
	// and rt.rg are copied from it. item is the role definition or
	// assignment name ("" for a collection).
	scope *route
	item  string

	// unknown provider route, for InvalidResourceType
	providerNamespace, providerType string
}

// parseRoute matches an escaped request path. ok is false when the path
// matches nothing; r.providerNamespace is then set if the path named an
// unknown resource type under a provider.
func parseRoute(escapedPath string) (route, bool) {
	trimmed := strings.Trim(escapedPath, "/")
	rt := route{path: "/" + trimmed}
	if trimmed == "" {
		return rt, false
	}
	raw := strings.Split(trimmed, "/")
	if len(raw) > maxPathSegments {
		return rt, false
	}
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" || len(u) > maxPathSegmentBytes {
			return rt, false
		}
		segs[i] = u
	}
	if len(segs) == 2 && strings.EqualFold(segs[0], "metadata") && strings.EqualFold(segs[1], "endpoints") {
		rt.kind = routeMetadata
		return rt, true
	}
	if out, ok, isAuthz := matchAuthorization(rt, segs); isAuthz {
		return out, ok
	}
	return matchSegments(rt, segs)
}

// matchSegments matches the unescaped segments of a path below
// /subscriptions that is not a Microsoft.Authorization route.
func matchSegments(rt route, segs []string) (route, bool) {
	is := strings.EqualFold
	if !is(segs[0], "subscriptions") {
		return rt, false
	}
	switch len(segs) {
	case 1:
		rt.kind = routeSubscriptions
		return rt, true
	case 2:
		rt.kind, rt.sub = routeSubscription, segs[1]
		return rt, true
	}
	rt.sub = segs[1]
	rest := segs[2:]
	if is(rest[0], "resourceGroups") {
		if len(rest) == 1 {
			rt.kind = routeResourceGroups
			return rt, true
		}
		rt.rg = rest[1]
		if len(rest) == 2 {
			rt.kind = routeResourceGroup
			return rt, true
		}
		rest = rest[2:]
	}
	if len(rest) < 3 || !is(rest[0], "providers") {
		return rt, false
	}
	ns, typ, rest := rest[1], rest[2], rest[3:]
	switch {
	case is(ns, nsManagedIdentity) && is(typ, typeIdentities):
		return matchIdentity(rt, rest)
	case is(ns, nsContainerService) && is(typ, typeClusters):
		return matchCluster(rt, rest)
	case is(ns, nsKeyVault) && is(typ, typeVaults):
		return matchVault(rt, rest)
	case is(ns, nsFedcred) && is(typ, typeTrustedIssuers):
		return matchTrustedIssuer(rt, rest)
	}
	rt.providerNamespace, rt.providerType = ns, typ
	return rt, false
}

// matchAuthorization matches {scope}/providers/Microsoft.Authorization/
// roleDefinitions[/{name}] and .../roleAssignments[/{name}], where scope is a
// subscription, a resource group or a resource served here. isAuthz is false
// when the path does not end in such a suffix; ok is then meaningless.
func matchAuthorization(rt route, segs []string) (out route, ok, isAuthz bool) {
	is := strings.EqualFold
	n := len(segs)
	var i int // index of "providers"
	switch {
	case n >= 5 && is(segs[n-3], "providers") && is(segs[n-2], nsAuthorization) && isAuthzType(segs[n-1]):
		i = n - 3
	case n >= 6 && is(segs[n-4], "providers") && is(segs[n-3], nsAuthorization) && isAuthzType(segs[n-2]):
		i = n - 4
		rt.item = segs[n-1]
	default:
		return rt, false, false
	}
	scope, matched := matchSegments(route{path: "/" + strings.Join(segs[:i], "/")}, segs[:i])
	if !matched || !scope.isScope() {
		rt.providerNamespace, rt.providerType = scope.providerNamespace, scope.providerType
		return rt, false, true
	}
	rt.scope, rt.sub, rt.rg = &scope, scope.sub, scope.rg
	collection := rt.item == ""
	switch {
	case is(segs[i+2], typeRoleDefinitions) && collection:
		rt.kind = routeRoleDefinitions
	case is(segs[i+2], typeRoleDefinitions):
		rt.kind = routeRoleDefinition
	case collection:
		rt.kind = routeRoleAssignments
	default:
		rt.kind = routeRoleAssignment
	}
	return rt, true, true
}

func isAuthzType(s string) bool {
	return strings.EqualFold(s, typeRoleDefinitions) || strings.EqualFold(s, typeRoleAssignments)
}

// isScope reports whether rt addresses something role assignments can be
// made at: a subscription, a resource group or one resource.
func (rt route) isScope() bool {
	switch rt.kind {
	case routeSubscription, routeResourceGroup, routeIdentity, routeCredential, routeCluster, routeVault:
		return true
	}
	return false
}

// matchIdentity matches what follows .../providers/Microsoft.ManagedIdentity/userAssignedIdentities.
func matchIdentity(rt route, rest []string) (route, bool) {
	switch {
	case len(rest) == 0:
		rt.kind = routeIdentities
		return rt, true
	case rt.rg == "":
		return rt, false
	case len(rest) == 1:
		rt.kind, rt.name = routeIdentity, rest[0]
		return rt, true
	case !strings.EqualFold(rest[1], typeCredentials):
		return rt, false
	case len(rest) == 2:
		rt.kind, rt.name = routeCredentials, rest[0]
		return rt, true
	case len(rest) == 3:
		rt.kind, rt.name, rt.child = routeCredential, rest[0], rest[2]
		return rt, true
	}
	return rt, false
}

// matchCluster matches what follows .../providers/Microsoft.ContainerService/managedClusters.
func matchCluster(rt route, rest []string) (route, bool) {
	is := strings.EqualFold
	switch {
	case len(rest) == 0:
		rt.kind = routeClusters
		return rt, true
	case rt.rg == "":
		return rt, false
	case len(rest) == 1:
		rt.kind, rt.name = routeCluster, rest[0]
		return rt, true
	case len(rest) == 2 && is(rest[1], segRotate):
		rt.kind, rt.name = routeClusterRotate, rest[0]
		return rt, true
	case len(rest) == 8 && is(rest[1], "api") && is(rest[2], "v1") && is(rest[3], "namespaces") &&
		is(rest[5], "serviceaccounts") && is(rest[7], "token"):
		rt.kind, rt.name, rt.namespace, rt.account = routeClusterToken, rest[0], rest[4], rest[6]
		return rt, true
	}
	return rt, false
}

// matchVault matches what follows .../providers/Microsoft.KeyVault/vaults.
func matchVault(rt route, rest []string) (route, bool) {
	switch {
	case len(rest) == 0:
		rt.kind = routeVaults
		return rt, true
	case rt.rg == "" || len(rest) != 1:
		return rt, false
	}
	rt.kind, rt.name = routeVault, rest[0]
	return rt, true
}

// Scopes, in the canonical spelling, with the names the client sent.

func (rt route) subscriptionID() string  { return "/subscriptions/" + rt.sub }
func (rt route) resourceGroupID() string { return store.ResourceGroupID(rt.sub, rt.rg) }
func (rt route) identityID() string      { return store.IdentityID(rt.sub, rt.rg, rt.name) }
func (rt route) credentialID() string {
	return rt.identityID() + "/" + typeCredentials + "/" + rt.child
}
func (rt route) clusterID() string {
	return rt.resourceGroupID() + "/providers/" + store.ClusterType + "/" + rt.name
}

func (rt route) vaultID() string {
	return rt.resourceGroupID() + "/providers/" + store.VaultType + "/" + rt.name
}

// resourceID is the ID of what a scope route (see isScope) addresses.
func (rt route) resourceID() string {
	switch rt.kind {
	case routeSubscription:
		return rt.subscriptionID()
	case routeResourceGroup:
		return rt.resourceGroupID()
	case routeIdentity:
		return rt.identityID()
	case routeCredential:
		return rt.credentialID()
	case routeCluster:
		return rt.clusterID()
	case routeVault:
		return rt.vaultID()
	}
	return ""
}

// authzScope is the scope of a Microsoft.Authorization route.
func (rt route) authzScope() string {
	if rt.scope == nil {
		return ""
	}
	return rt.scope.resourceID()
}

// listScope is the scope a subscription- or group-wide list runs over.
func (rt route) listScope() string {
	if rt.rg == "" {
		return rt.subscriptionID()
	}
	return rt.resourceGroupID()
}

// accessFor is the RBAC action and scope of method on rt; ok is false when
// rt does not support method. This is the one place actions are named.
func accessFor(method string, rt route) (a access, ok bool) {
	verb := ""
	switch method {
	case http.MethodGet, http.MethodHead:
		verb = "read"
	case http.MethodPut, http.MethodPatch:
		verb = "write"
	case http.MethodDelete:
		verb = "delete"
	case http.MethodPost:
		verb = "action"
	}
	const (
		rgAction       = "Microsoft.Resources/subscriptions/resourceGroups/"
		identityAction = store.IdentityType + "/"
		credAction     = store.FederatedCredentialType + "/"
		clusterAction  = store.ClusterType + "/"
		vaultAction    = store.VaultType + "/"
		defAction      = store.RoleDefinitionType + "/"
		assignAction   = store.RoleAssignmentType + "/"
	)
	switch rt.kind {
	case routeSubscriptions:
		// The list is filtered item by item (see listSubscriptions); the
		// scope here is the collection.
		if method == http.MethodGet {
			return access{"Microsoft.Resources/subscriptions/read", "/subscriptions"}, true
		}
	case routeSubscription:
		if method == http.MethodGet {
			return access{"Microsoft.Resources/subscriptions/read", rt.subscriptionID()}, true
		}
	case routeResourceGroups:
		if method == http.MethodGet {
			return access{rgAction + "read", rt.subscriptionID()}, true
		}
	case routeResourceGroup:
		if verb != "" && verb != "action" {
			return access{rgAction + verb, rt.resourceGroupID()}, true
		}
	case routeIdentities:
		if method == http.MethodGet {
			return access{identityAction + "read", rt.listScope()}, true
		}
	case routeIdentity:
		if verb != "" && verb != "action" && method != http.MethodHead {
			return access{identityAction + verb, rt.identityID()}, true
		}
	case routeCredentials:
		if method == http.MethodGet {
			return access{credAction + "read", rt.identityID()}, true
		}
	case routeCredential:
		switch method {
		case http.MethodGet, http.MethodPut, http.MethodDelete:
			return access{credAction + verb, rt.credentialID()}, true
		}
	case routeClusters:
		if method == http.MethodGet {
			return access{clusterAction + "read", rt.listScope()}, true
		}
	case routeCluster:
		switch method {
		case http.MethodGet, http.MethodPut, http.MethodDelete:
			return access{clusterAction + verb, rt.clusterID()}, true
		}
	case routeClusterRotate:
		if method == http.MethodPost {
			return access{clusterAction + segRotate + "/action", rt.clusterID()}, true
		}
	case routeClusterToken:
		if method == http.MethodPost {
			return access{clusterAction + "serviceAccountTokens/action", rt.clusterID()}, true
		}
	case routeVaults:
		if method == http.MethodGet {
			return access{vaultAction + "read", rt.listScope()}, true
		}
	case routeVault:
		switch method {
		case http.MethodGet, http.MethodPut, http.MethodDelete:
			return access{vaultAction + verb, rt.vaultID()}, true
		}
	case routeRoleDefinitions, routeRoleDefinition:
		if method == http.MethodGet {
			return access{defAction + "read", rt.authzScope()}, true
		}
	case routeRoleAssignments:
		if method == http.MethodGet {
			return access{assignAction + "read", rt.authzScope()}, true
		}
	case routeRoleAssignment:
		switch method {
		case http.MethodGet, http.MethodPut, http.MethodDelete:
			return access{assignAction + verb, rt.authzScope()}, true
		}
	case routeTrustedIssuers:
		if method == http.MethodGet {
			return access{trustedIssuerAction + "read", rt.subscriptionID()}, true
		}
	case routeTrustedIssuer:
		switch method {
		case http.MethodGet, http.MethodPut, http.MethodDelete:
			return access{trustedIssuerAction + verb, rt.trustedIssuerID()}, true
		}
	case routeTrustedIssuerPublish:
		return publishKeysAllowed(method, rt)
	}
	return access{}, false
}

// allowedMethods lists the methods rt supports, for the Allow header.
func allowedMethods(rt route) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost} {
		if _, ok := accessFor(m, rt); ok {
			out = append(out, m)
		}
	}
	return out
}
