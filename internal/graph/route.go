package graph

import (
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// routeKind is what a path addresses.
type routeKind int

const (
	routeApplications routeKind = iota + 1
	routeApplication
	routeServicePrincipals
	routeServicePrincipal
	routeAssignments
	routeAssignment
)

// route is a parsed path below PathPrefix. An entity is addressed either by
// object ID (id) or by application ID (appID).
type route struct {
	kind         routeKind
	id           string
	appID        string
	assignmentID string
}

// Entity set and navigation names, matched case-insensitively as Graph
// does.
const (
	setApplications      = "applications"
	setServicePrincipals = "servicePrincipals"
	navAppRoleAssignedTo = "appRoleAssignedTo"
)

// parseRoute parses p, the path below PathPrefix:
//
//	applications | applications/{id} | applications(appId='{appId}')
//	servicePrincipals | servicePrincipals/{id} | servicePrincipals(appId='{appId}')
//	servicePrincipals/{id}/appRoleAssignedTo[/{assignmentId}]
//	servicePrincipals(appId='{appId}')/appRoleAssignedTo[/{assignmentId}]
func parseRoute(p string) (route, error) {
	segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
	name, key, keyed, err := parseKeySegment(segs[0])
	if err != nil {
		return route{}, err
	}
	var rt route
	var entity, collection routeKind
	switch {
	case strings.EqualFold(name, setApplications):
		entity, collection = routeApplication, routeApplications
	case strings.EqualFold(name, setServicePrincipals):
		entity, collection = routeServicePrincipal, routeServicePrincipals
	default:
		return route{}, errSegment(segs[0])
	}
	rest := segs[1:]
	switch {
	case keyed:
		rt.appID = key
	case len(rest) > 0:
		rt.id, rest = rest[0], rest[1:]
		if rt.id == "" {
			return route{}, errSegment(p)
		}
	default:
		return route{kind: collection}, nil
	}
	rt.kind = entity
	if len(rest) == 0 {
		return rt, nil
	}
	if entity != routeServicePrincipal || !strings.EqualFold(rest[0], navAppRoleAssignedTo) {
		return route{}, errSegment(rest[0])
	}
	switch len(rest) {
	case 1:
		rt.kind = routeAssignments
	case 2:
		if rest[1] == "" {
			return route{}, errSegment(p)
		}
		rt.kind, rt.assignmentID = routeAssignment, rest[1]
	default:
		return route{}, errSegment(rest[2])
	}
	return rt, nil
}

// parseKeySegment splits "name(appId='v')" into name and v; a segment
// without parentheses is just a name. Quotes inside the value are doubled,
// as OData escapes them.
func parseKeySegment(seg string) (name, value string, keyed bool, err error) {
	open := strings.IndexByte(seg, '(')
	if open < 0 {
		return seg, "", false, nil
	}
	if !strings.HasSuffix(seg, ")") {
		return "", "", false, errSegment(seg)
	}
	name, inner := seg[:open], seg[open+1:len(seg)-1]
	k, v, ok := strings.Cut(inner, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(k), "appId") {
		return "", "", false, errSegment(seg)
	}
	v = strings.TrimSpace(v)
	if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
		return "", "", false, errSegment(seg)
	}
	return name, strings.ReplaceAll(v[1:len(v)-1], "''", "'"), true, nil
}

// allows reports whether method is served on the route.
func (rt route) allows(method string) bool {
	switch rt.kind {
	case routeApplications, routeAssignments:
		return method == http.MethodGet || method == http.MethodPost
	case routeApplication:
		return method == http.MethodGet || method == http.MethodPatch || method == http.MethodDelete
	case routeServicePrincipals, routeServicePrincipal:
		return method == http.MethodGet
	case routeAssignment:
		return method == http.MethodGet || method == http.MethodDelete
	}
	return false
}

// isGUID reports whether s is a GUID in its 36-character form.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// checkedID validates an object ID from the path.
func checkedID(id string) (string, error) {
	if !isGUID(id) {
		return "", invalidObjectID(id)
	}
	return strings.ToLower(id), nil
}
