package arm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
)

// Role assignment rules.
const (
	principalTypeServicePrincipal = "ServicePrincipal"
	builtInRole                   = "BuiltInRole"
	maxAssignmentDescription      = 2048
	maxFilter                     = 1024
)

var (
	guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// roleDefinitionIDPattern is a role definition's ID, with or without its
	// subscription.
	roleDefinitionIDPattern = regexp.MustCompile(`(?i)^(/subscriptions/[^/]+)?/providers/Microsoft\.Authorization/roleDefinitions/([^/]+)$`)
	// OData terms of the $filter values supported here; quotes inside a
	// value are doubled.
	roleNameFilter   = regexp.MustCompile(`(?i)^\s*roleName\s+eq\s+'((?:[^']|'')*)'\s*$`)
	roleTypeFilter   = regexp.MustCompile(`(?i)^\s*type\s+eq\s+'((?:[^']|'')*)'\s*$`)
	assignmentFilter = regexp.MustCompile(`(?i)^\s*(?:(atScope\(\))|principalId\s+eq\s+'([^']*)'|assignedTo\('([^']*)'\))\s*`)
	filterAnd        = regexp.MustCompile(`(?i)^and\s+`)
)

// roleDefinitionJSON is ARM's role definition.
type roleDefinitionJSON struct {
	ID         string                   `json:"id"`
	Name       string                   `json:"name"`
	Type       string                   `json:"type"`
	Properties roleDefinitionProperties `json:"properties"`
}

type roleDefinitionProperties struct {
	RoleName         string           `json:"roleName"`
	Type             string           `json:"type"`
	Description      string           `json:"description"`
	AssignableScopes []string         `json:"assignableScopes"`
	Permissions      []permissionJSON `json:"permissions"`
}

type permissionJSON struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

// roleDefinitionID is the ID ARM gives a built-in role seen from a
// subscription.
func roleDefinitionID(sub, guid string) string {
	return "/subscriptions/" + sub + "/providers/" + store.RoleDefinitionType + "/" + guid
}

func renderRoleDefinition(sub string, d rbac.RoleDefinition) roleDefinitionJSON {
	return roleDefinitionJSON{
		ID:   roleDefinitionID(sub, d.ID),
		Name: d.ID,
		Type: store.RoleDefinitionType,
		Properties: roleDefinitionProperties{
			RoleName:         d.Name,
			Type:             builtInRole,
			Description:      d.Description,
			AssignableScopes: []string{"/"},
			Permissions: []permissionJSON{{
				Actions:        nonNil(d.Actions),
				NotActions:     nonNil(d.NotActions),
				DataActions:    nonNil(d.DataActions),
				NotDataActions: nonNil(d.NotDataActions),
			}},
		},
	}
}

// nonNil returns a copy of s that encodes as [] when empty.
func nonNil(s []string) []string { return append([]string{}, s...) }

// odataString undoes OData's doubling of quotes in a string literal.
func odataString(s string) string { return strings.ReplaceAll(s, "''", "'") }

// roleDefinitionFilter parses the $filter of a role definition list:
// roleName eq '{name}' or type eq '{type}'.
func roleDefinitionFilter(q map[string][]string) (func(rbac.RoleDefinition) bool, error) {
	f := queryValue(q, "$filter")
	switch {
	case f == "":
		return func(rbac.RoleDefinition) bool { return true }, nil
	case len(f) > maxFilter:
		return nil, errInvalidQuery("$filter", f, "it is too long")
	}
	if m := roleNameFilter.FindStringSubmatch(f); m != nil {
		name := odataString(m[1])
		return func(d rbac.RoleDefinition) bool { return strings.EqualFold(d.Name, name) }, nil
	}
	if m := roleTypeFilter.FindStringSubmatch(f); m != nil {
		typ := odataString(m[1])
		return func(rbac.RoleDefinition) bool { return strings.EqualFold(typ, builtInRole) }, nil
	}
	return nil, errInvalidQuery("$filter", f, "the supported filters are roleName eq '{name}' and type eq '{type}'")
}

// listRoleDefinitions lists the built-in roles, which are the same at every
// scope.
func (h *Handler) listRoleDefinitions(ctx context.Context, req *request) (response, error) {
	keep, err := roleDefinitionFilter(req.query)
	if err != nil {
		return response{}, err
	}
	if err := h.viewScope(ctx, req); err != nil {
		return response{}, err
	}
	out := listResult[roleDefinitionJSON]{Value: []roleDefinitionJSON{}}
	for _, d := range rbac.BuiltIn() {
		if keep(d) {
			out.Value = append(out.Value, renderRoleDefinition(req.sub.ID, d))
		}
	}
	return response{http.StatusOK, out}, nil
}

func (h *Handler) getRoleDefinition(ctx context.Context, req *request) (response, error) {
	if err := h.viewScope(ctx, req); err != nil {
		return response{}, err
	}
	d, ok := rbac.Definition(req.rt.item)
	if !ok || !strings.EqualFold(d.ID, req.rt.item) {
		return response{}, errRoleDefinitionNotFound(http.StatusNotFound, req.rt.item)
	}
	return response{http.StatusOK, renderRoleDefinition(req.sub.ID, d)}, nil
}

// resolveScope reads, in tx, what the scope of a Microsoft.Authorization
// route names, answering ARM's 404 when it does not exist, and returns its
// ID in the casing it was created with.
func resolveScope(ctx context.Context, tx store.Tx, sub store.Subscription, rt route) (string, error) {
	s := rt.scope
	if s == nil {
		return "", errors.New("route has no scope")
	}
	switch s.kind {
	case routeSubscription:
		return sub.ResourceID(), nil
	case routeResourceGroup:
		g, err := readResourceGroup(ctx, tx, sub.ID, s.rg)
		return g.ResourceID(), err
	case routeIdentity:
		i, err := readIdentity(ctx, tx, sub.ID, s.rg, s.name)
		return i.ResourceID(), err
	case routeCredential:
		i, err := readParentIdentity(ctx, tx, *s, sub.ID)
		if err != nil {
			return "", err
		}
		f, err := store.Get[store.FederatedCredential](ctx, tx, store.ScopeKey(s.credentialID()))
		if errors.Is(err, store.ErrNotFound) {
			return "", errResourceNotFound(store.FederatedCredentialType, i.Name+"/"+s.child, s.rg)
		}
		if err != nil {
			return "", fmt.Errorf("read federated credential: %w", err)
		}
		return f.ResourceID(), nil
	case routeCluster:
		c, err := readCluster(ctx, tx, *s, sub.ID)
		return c.ResourceID(), err
	case routeVault:
		v, err := readVault(ctx, tx, *s, sub.ID)
		return v.ResourceID(), err
	}
	return "", fmt.Errorf("route kind %d is not a scope", s.kind)
}

// viewScope checks, in its own transaction, that the route's scope exists.
func (h *Handler) viewScope(ctx context.Context, req *request) error {
	return h.cfg.Store.View(ctx, func(tx store.Tx) error {
		_, err := resolveScope(ctx, tx, req.sub, req.rt)
		return err
	})
}

// roleAssignmentJSON is ARM's role assignment.
type roleAssignmentJSON struct {
	ID         string                   `json:"id"`
	Name       string                   `json:"name"`
	Type       string                   `json:"type"`
	Properties roleAssignmentProperties `json:"properties"`
}

type roleAssignmentProperties struct {
	RoleDefinitionID string    `json:"roleDefinitionId"`
	PrincipalID      string    `json:"principalId"`
	PrincipalType    string    `json:"principalType"`
	Scope            string    `json:"scope"`
	Description      *string   `json:"description"`
	CreatedOn        time.Time `json:"createdOn"`
	UpdatedOn        time.Time `json:"updatedOn"`
	// CreatedBy is always null: the store does not record who created an
	// assignment.
	CreatedBy *string `json:"createdBy"`
}

func renderRoleAssignment(a store.RoleAssignment) roleAssignmentJSON {
	var description *string
	if a.Description != "" {
		description = &a.Description
	}
	return roleAssignmentJSON{
		ID:   a.ResourceID(),
		Name: a.Name,
		Type: store.RoleAssignmentType,
		Properties: roleAssignmentProperties{
			RoleDefinitionID: a.RoleDefinitionID,
			PrincipalID:      a.PrincipalID,
			PrincipalType:    a.PrincipalType,
			Scope:            a.Scope,
			Description:      description,
			CreatedOn:        a.CreatedAt,
			UpdatedOn:        a.UpdatedAt,
		},
	}
}

// roleAssignmentBody is what PUT accepts.
type roleAssignmentBody struct {
	Properties *struct {
		RoleDefinitionID string  `json:"roleDefinitionId"`
		PrincipalID      string  `json:"principalId"`
		PrincipalType    string  `json:"principalType"`
		Description      *string `json:"description"`
		Condition        *string `json:"condition"`
	} `json:"properties"`
}

// assignmentKey is the store key of the assignment named name at scope.
func assignmentKey(scope, name string) string {
	return store.RoleAssignment{Scope: scope, Name: name}.Key()
}

// assignmentsAtPrefix is the key prefix of the assignments made exactly at
// scope (not below it).
func assignmentsAtPrefix(scope string) string {
	return store.ScopeKey(strings.TrimSuffix(scope, "/") + "/providers/" + store.RoleAssignmentType + "/")
}

func (h *Handler) getRoleAssignment(ctx context.Context, req *request) (response, error) {
	var a store.RoleAssignment
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		scope, err := resolveScope(ctx, tx, req.sub, req.rt)
		if err != nil {
			return err
		}
		a, err = store.Get[store.RoleAssignment](ctx, tx, assignmentKey(scope, req.rt.item))
		if errors.Is(err, store.ErrNotFound) {
			return errRoleAssignmentNotFound(req.rt.item)
		}
		if err != nil {
			return fmt.Errorf("read role assignment: %w", err)
		}
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, renderRoleAssignment(a)}, nil
}

// roleAssignmentSpec is a validated PUT body.
type roleAssignmentSpec struct {
	role          rbac.RoleDefinition
	principalID   string
	principalType string
	description   *string
}

// validateRoleAssignment checks the assignment name and body of a PUT.
func validateRoleAssignment(name string, body roleAssignmentBody) (roleAssignmentSpec, error) {
	if !guidPattern.MatchString(name) {
		return roleAssignmentSpec{}, errInvalidRoleAssignmentID(name)
	}
	p := body.Properties
	switch {
	case p == nil:
		return roleAssignmentSpec{}, errMissingProperty("properties")
	case p.RoleDefinitionID == "":
		return roleAssignmentSpec{}, errMissingProperty("properties.roleDefinitionId")
	case p.PrincipalID == "":
		return roleAssignmentSpec{}, errMissingProperty("properties.principalId")
	case p.Condition != nil && *p.Condition != "":
		e := errBadRequest("Role assignment conditions are not supported; assign the role without a condition.")
		e.target = "properties.condition"
		return roleAssignmentSpec{}, e
	case p.Description != nil && len([]rune(*p.Description)) > maxAssignmentDescription:
		e := errBadRequest("The description is too long: it can be at most %d characters.", maxAssignmentDescription)
		e.target = "properties.description"
		return roleAssignmentSpec{}, e
	}
	m := roleDefinitionIDPattern.FindStringSubmatch(p.RoleDefinitionID)
	if m == nil {
		return roleAssignmentSpec{}, errInvalidRoleDefinitionID(p.RoleDefinitionID)
	}
	role, ok := rbac.Definition(m[2])
	if !ok || !strings.EqualFold(role.ID, m[2]) {
		return roleAssignmentSpec{}, errRoleDefinitionNotFound(http.StatusBadRequest, m[2])
	}
	return roleAssignmentSpec{role: role, principalID: p.PrincipalID, principalType: p.PrincipalType, description: p.Description}, nil
}

// putRoleAssignment creates a role assignment. Like ARM it answers 201 both
// on create and when the assignment already exists with the same role,
// principal and scope (its description is then updated); those three never
// change.
func (h *Handler) putRoleAssignment(ctx context.Context, req *request) (response, error) {
	var body roleAssignmentBody
	if err := decodeBody(req.http, &body); err != nil {
		return response{}, err
	}
	spec, err := validateRoleAssignment(req.rt.item, body)
	if err != nil {
		return response{}, err
	}
	var a store.RoleAssignment
	err = h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		scope, err := resolveScope(ctx, tx, req.sub, req.rt)
		if err != nil {
			return err
		}
		if err := checkPrincipal(ctx, tx, req.sub.TenantID, spec); err != nil {
			return err
		}
		now := h.now().UTC()
		existing, err := store.GetByAlt[store.RoleAssignment](ctx, tx, strings.ToLower(req.rt.item))
		switch {
		case err == nil:
			if !sameGrant(existing, scope, spec) {
				return errRoleAssignmentUpdateNotPermitted()
			}
			a = existing
			if spec.description != nil && *spec.description != a.Description {
				a.Description, a.UpdatedAt = *spec.description, now
			}
			return store.Put(ctx, tx, a)
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("read role assignment: %w", err)
		}
		siblings, err := store.List[store.RoleAssignment](ctx, tx, assignmentsAtPrefix(scope), "", 0)
		if err != nil {
			return fmt.Errorf("list role assignments: %w", err)
		}
		for _, s := range siblings {
			if sameGrant(s, scope, spec) {
				return errRoleAssignmentExists()
			}
		}
		a = store.RoleAssignment{
			Name:             req.rt.item,
			Scope:            scope,
			RoleDefinitionID: roleDefinitionID(req.sub.ID, spec.role.ID),
			PrincipalID:      spec.principalID,
			PrincipalType:    principalTypeServicePrincipal,
			TenantID:         req.sub.TenantID,
			CreatedAt:        now,
			UpdatedAt:        now,
		}
		if spec.description != nil {
			a.Description = *spec.description
		}
		if err := store.Create(ctx, tx, a); err != nil {
			return fmt.Errorf("create role assignment: %w", err)
		}
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusCreated, renderRoleAssignment(a)}, nil
}

// sameGrant reports whether a grants spec's role to spec's principal at
// scope.
func sameGrant(a store.RoleAssignment, scope string, spec roleAssignmentSpec) bool {
	role, ok := rbac.Definition(a.RoleDefinitionID)
	return ok && role.ID == spec.role.ID && strings.EqualFold(a.PrincipalID, spec.principalID) &&
		strings.EqualFold(strings.TrimSuffix(a.Scope, "/"), strings.TrimSuffix(scope, "/"))
}

// checkPrincipal requires spec's principal to be a service principal or a
// managed identity of tenant, and its principalType, if given, to be
// ServicePrincipal (what both are in ARM's terms).
func checkPrincipal(ctx context.Context, tx store.Tx, tenant string, spec roleAssignmentSpec) error {
	found, err := principalExists(ctx, tx, tenant, spec.principalID)
	if err != nil {
		return err
	}
	if !found {
		return errPrincipalNotFound(spec.principalID, tenant)
	}
	if spec.principalType != "" && !strings.EqualFold(spec.principalType, principalTypeServicePrincipal) {
		return errUnmatchedPrincipalType(spec.principalID, principalTypeServicePrincipal, spec.principalType)
	}
	return nil
}

// principalExists looks id up among the tenant's service principals (by
// object ID) and managed identities (by principal ID, over the identities
// of the tenant's subscriptions).
func principalExists(ctx context.Context, tx store.Tx, tenant, id string) (bool, error) {
	_, err := store.Get[store.ServicePrincipal](ctx, tx, store.ServicePrincipal{TenantID: tenant, ObjectID: id}.Key())
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("read service principal: %w", err)
	}
	subs, err := store.List[store.Subscription](ctx, tx, subscriptionsPrefix, "", 0)
	if err != nil {
		return false, fmt.Errorf("list subscriptions: %w", err)
	}
	for _, s := range subs {
		if !strings.EqualFold(s.TenantID, tenant) {
			continue
		}
		ids, err := store.List[store.Identity](ctx, tx, s.Key()+"/", "", 0)
		if err != nil {
			return false, fmt.Errorf("list identities: %w", err)
		}
		for _, i := range ids {
			if strings.EqualFold(i.PrincipalID, id) {
				return true, nil
			}
		}
	}
	return false, nil
}

// deleteRoleAssignment deletes an assignment: 200 with it when it existed,
// 204 when it did not.
func (h *Handler) deleteRoleAssignment(ctx context.Context, req *request) (response, error) {
	var a store.RoleAssignment
	status := http.StatusOK
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		status = http.StatusOK
		scope, err := resolveScope(ctx, tx, req.sub, req.rt)
		if err != nil {
			return err
		}
		a, err = store.Get[store.RoleAssignment](ctx, tx, assignmentKey(scope, req.rt.item))
		if errors.Is(err, store.ErrNotFound) {
			status = http.StatusNoContent
			return nil
		}
		if err != nil {
			return fmt.Errorf("read role assignment: %w", err)
		}
		if err := store.Delete[store.RoleAssignment](ctx, tx, a.Key()); err != nil {
			return fmt.Errorf("delete role assignment: %w", err)
		}
		return nil
	})
	if err != nil {
		return response{}, err
	}
	if status == http.StatusNoContent {
		return response{status: status}, nil
	}
	return response{status, renderRoleAssignment(a)}, nil
}

// assignmentQuery is a parsed role assignment $filter.
type assignmentQuery struct {
	atScope    bool
	principals []string // each must equal the assignment's principal
}

// parseAssignmentFilter parses terms joined by "and": atScope(),
// principalId eq '{id}' and assignedTo('{id}') (which, without groups, is
// the same as principalId eq).
func parseAssignmentFilter(f string) (assignmentQuery, error) {
	var aq assignmentQuery
	if strings.TrimSpace(f) == "" {
		return aq, nil
	}
	if len(f) > maxFilter {
		return aq, errInvalidQuery("$filter", f, "it is too long")
	}
	invalid := errInvalidQuery("$filter", f,
		"the supported filters are atScope(), principalId eq '{id}' and assignedTo('{id}'), joined by 'and'")
	rest := f
	for {
		m := assignmentFilter.FindStringSubmatch(rest)
		if m == nil {
			return aq, invalid
		}
		switch {
		case m[1] != "":
			aq.atScope = true
		case m[2] != "":
			aq.principals = append(aq.principals, m[2])
		case m[3] != "":
			aq.principals = append(aq.principals, m[3])
		default:
			return aq, invalid
		}
		rest = rest[len(m[0]):]
		if rest == "" {
			return aq, nil
		}
		and := filterAnd.FindString(rest)
		if and == "" {
			return aq, invalid
		}
		rest = rest[len(and):]
	}
}

// keeps reports whether a belongs in a list at scope: an assignment at or
// above scope, or below it unless atScope() was asked for.
func (aq assignmentQuery) keeps(a store.RoleAssignment, scope string) bool {
	if !rbac.Covers(a.Scope, scope) && (aq.atScope || !rbac.Covers(scope, a.Scope)) {
		return false
	}
	for _, p := range aq.principals {
		if !strings.EqualFold(a.PrincipalID, p) {
			return false
		}
	}
	return true
}

// listRoleAssignments lists the assignments that apply at the route's scope
// (at it or above it) and, unless $filter has atScope(), those below it.
func (h *Handler) listRoleAssignments(ctx context.Context, req *request) (response, error) {
	aq, err := parseAssignmentFilter(queryValue(req.query, "$filter"))
	if err != nil {
		return response{}, err
	}
	prefix := req.sub.Key() + "/"
	pr, err := parsePage(req.query, prefix)
	if err != nil {
		return response{}, err
	}
	var items []store.RoleAssignment
	var next string
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		scope, err := resolveScope(ctx, tx, req.sub, req.rt)
		if err != nil {
			return err
		}
		keep := func(a store.RoleAssignment) bool { return aq.keeps(a, scope) }
		items, next, err = listPage(ctx, tx, prefix, pr, keep)
		return err
	})
	if err != nil {
		return response{}, fmt.Errorf("list role assignments: %w", err)
	}
	return response{http.StatusOK, pageOf(h, req, pr, items, next, renderRoleAssignment)}, nil
}
