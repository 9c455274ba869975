package client

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"
)

// AuthorizationAPIVersion is the api-version of role definitions and
// assignments (Microsoft.Authorization).
const AuthorizationAPIVersion = "2022-04-01"

// PrincipalTypeServicePrincipal is the principal type of service principals
// and managed identities.
const PrincipalTypeServicePrincipal = "ServicePrincipal"

const (
	roleDefinitionsProvider = "/providers/Microsoft.Authorization/roleDefinitions"
	roleAssignmentsProvider = "/providers/Microsoft.Authorization/roleAssignments"
)

// RoleDefinition is a role (Microsoft.Authorization/roleDefinitions).
type RoleDefinition struct {
	ID         string                   `json:"id,omitempty"`
	Name       string                   `json:"name,omitempty"`
	Type       string                   `json:"type,omitempty"`
	Properties RoleDefinitionProperties `json:"properties"`
}

// RoleDefinitionProperties are what a role is and allows. RoleType is the
// wire's properties.type (BuiltInRole or CustomRole).
type RoleDefinitionProperties struct {
	RoleName         string       `json:"roleName"`
	RoleType         string       `json:"type,omitempty"`
	Description      string       `json:"description,omitempty"`
	AssignableScopes []string     `json:"assignableScopes"`
	Permissions      []Permission `json:"permissions"`
	CreatedOn        string       `json:"createdOn,omitempty"`
	UpdatedOn        string       `json:"updatedOn,omitempty"`
	CreatedBy        string       `json:"createdBy,omitempty"`
	UpdatedBy        string       `json:"updatedBy,omitempty"`
}

// Permission is one set of allowed and excluded actions of a role.
type Permission struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

// RoleAssignment grants a principal a role at a scope
// (Microsoft.Authorization/roleAssignments).
type RoleAssignment struct {
	ID         string                   `json:"id,omitempty"`
	Name       string                   `json:"name,omitempty"`
	Type       string                   `json:"type,omitempty"`
	Properties RoleAssignmentProperties `json:"properties"`
}

// RoleAssignmentProperties are the assignment's role, principal and scope;
// only RoleDefinitionID, PrincipalID and PrincipalType are written.
type RoleAssignmentProperties struct {
	RoleDefinitionID string `json:"roleDefinitionId"`
	PrincipalID      string `json:"principalId"`
	PrincipalType    string `json:"principalType,omitempty"`
	Scope            string `json:"scope,omitempty"`
	Description      string `json:"description,omitempty"`
	Condition        string `json:"condition,omitempty"`
	ConditionVersion string `json:"conditionVersion,omitempty"`
	CreatedOn        string `json:"createdOn,omitempty"`
	UpdatedOn        string `json:"updatedOn,omitempty"`
	CreatedBy        string `json:"createdBy,omitempty"`
	UpdatedBy        string `json:"updatedBy,omitempty"`
}

// roleAssignmentBody is what a role assignment PUT sends.
type roleAssignmentBody struct {
	Properties struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		PrincipalType    string `json:"principalType"`
	} `json:"properties"`
}

// scopePath checks an ARM scope (a resource ID such as
// /subscriptions/{sub}/resourceGroups/{rg}) and returns it path-escaped,
// segment by segment, without a trailing slash.
func scopePath(scope string) (string, error) {
	s := strings.TrimRight(strings.TrimSpace(scope), "/")
	if !strings.HasPrefix(s, "/") {
		return "", fmt.Errorf("scope %q is not a resource ID: it must start with /", scope)
	}
	segs := strings.Split(s[1:], "/")
	for i, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("scope %q has an empty or relative segment", scope)
		}
		segs[i] = url.PathEscape(seg)
	}
	return "/" + strings.Join(segs, "/"), nil
}

// SubscriptionScope is the scope of a whole subscription.
func SubscriptionScope(sub string) string { return "/subscriptions/" + sub }

// RoleDefinitionID is the full ID of a role definition of a subscription.
func RoleDefinitionID(sub, guid string) string {
	return SubscriptionScope(sub) + roleDefinitionsProvider + "/" + guid
}

// odataQuote quotes a string for an OData $filter: single quotes, with
// quotes inside doubled.
func odataQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// filterQuery is "&$filter=..." escaped as the Azure SDKs escape it (%20 for
// spaces), or "" for no filter.
func filterQuery(filter string) string {
	if filter == "" {
		return ""
	}
	return "&$filter=" + strings.ReplaceAll(url.QueryEscape(filter), "+", "%20")
}

// ListRoleDefinitions lists the role definitions usable at scope; when
// roleName is not "", only those of that name (compared without regard to
// case, as ARM does, also when the server ignores the filter).
func (c *Client) ListRoleDefinitions(ctx context.Context, scope, roleName string) ([]RoleDefinition, error) {
	p, err := scopePath(scope)
	if err != nil {
		return nil, wrap("list role definitions", err)
	}
	filter := ""
	if roleName != "" {
		filter = "roleName eq " + odataQuote(roleName)
	}
	defs, err := pages[RoleDefinition](ctx, c, armAPI, c.resourceURL(p+roleDefinitionsProvider, AuthorizationAPIVersion)+filterQuery(filter))
	if err != nil {
		return nil, wrap("list role definitions", err)
	}
	if roleName == "" {
		return defs, nil
	}
	out := []RoleDefinition{}
	for _, d := range defs {
		if strings.EqualFold(d.Properties.RoleName, roleName) {
			out = append(out, d)
		}
	}
	return out, nil
}

// ResolveRoleDefinition turns a role as az's --role takes it (a role
// definition's full ID, its GUID, or its name) into the full ID of the
// subscription's role definition. The role's name is returned when it was
// looked up.
func (c *Client) ResolveRoleDefinition(ctx context.Context, sub, role string) (id, name string, err error) {
	role = strings.TrimSpace(role)
	switch {
	case role == "":
		return "", "", wrap("resolve role", fmt.Errorf("role is required"))
	case strings.HasPrefix(role, "/"):
		if _, err := scopePath(role); err != nil {
			return "", "", wrap("resolve role", err)
		}
		return role, "", nil
	case IsGUID(role):
		return RoleDefinitionID(sub, strings.ToLower(role)), "", nil
	}
	defs, err := c.ListRoleDefinitions(ctx, SubscriptionScope(sub), role)
	if err != nil {
		return "", "", err
	}
	switch len(defs) {
	case 0:
		return "", "", fmt.Errorf("role '%s' doesn't exist", role)
	case 1:
		guid := defs[0].Name
		if guid == "" {
			guid = lastSegment(defs[0].ID)
		}
		if guid == "" {
			return "", "", fmt.Errorf("resolve role: the server named role '%s' without an ID", role)
		}
		return RoleDefinitionID(sub, guid), defs[0].Properties.RoleName, nil
	}
	return "", "", fmt.Errorf("%d roles are named '%s': pass the role's GUID instead", len(defs), role)
}

// CreateRoleAssignment assigns a role at scope under a new GUID name:
// PUT {scope}/providers/Microsoft.Authorization/roleAssignments/{guid}.
// PrincipalType defaults to ServicePrincipal.
func (c *Client) CreateRoleAssignment(ctx context.Context, scope string, props RoleAssignmentProperties) (*RoleAssignment, error) {
	p, err := scopePath(scope)
	if err != nil {
		return nil, wrap("create role assignment", err)
	}
	if props.RoleDefinitionID == "" || props.PrincipalID == "" {
		return nil, wrap("create role assignment", fmt.Errorf("role definition ID and principal ID are required"))
	}
	var body roleAssignmentBody
	body.Properties.RoleDefinitionID = props.RoleDefinitionID
	body.Properties.PrincipalID = props.PrincipalID
	body.Properties.PrincipalType = orElse(props.PrincipalType, PrincipalTypeServicePrincipal)
	return put[RoleAssignment](ctx, c, "create role assignment", p+roleAssignmentsProvider+"/"+uuid.NewString(), AuthorizationAPIVersion, body)
}

// ListRoleAssignments lists role assignments at scope with an OData filter
// as ARM takes it ("" for none, "atScope()", "principalId eq '...'").
func (c *Client) ListRoleAssignments(ctx context.Context, scope, filter string) ([]RoleAssignment, error) {
	p, err := scopePath(scope)
	if err != nil {
		return nil, wrap("list role assignments", err)
	}
	items, err := pages[RoleAssignment](ctx, c, armAPI, c.resourceURL(p+roleAssignmentsProvider, AuthorizationAPIVersion)+filterQuery(filter))
	return items, wrap("list role assignments", err)
}

// PrincipalFilter is the $filter of the role assignments of one principal.
func PrincipalFilter(principalID string) string { return "principalId eq " + odataQuote(principalID) }

// AtScopeFilter is the $filter of the role assignments at a scope and
// above it.
const AtScopeFilter = "atScope()"

// DeleteRoleAssignment deletes a role assignment by its full ID.
func (c *Client) DeleteRoleAssignment(ctx context.Context, id string) error {
	p, err := scopePath(id)
	if err != nil {
		return wrap("delete role assignment", err)
	}
	parent, name, _ := strings.Cut(strings.ToLower(p), strings.ToLower(roleAssignmentsProvider)+"/")
	if parent == strings.ToLower(p) || name == "" || strings.Contains(name, "/") {
		return wrap("delete role assignment", fmt.Errorf("%q is not a role assignment ID", id))
	}
	return remove(ctx, c, "delete role assignment", p, AuthorizationAPIVersion)
}

// ResolvePrincipalID turns an assignee as az's --assignee takes it into a
// principal (object) ID: the client's own client ID gives the object ID it
// signs in as; a managed identity of the subscription named by its client
// ID or principal ID gives its principal ID; anything else is taken to be a
// principal ID already (such as a service principal's object ID).
func (c *Client) ResolvePrincipalID(ctx context.Context, sub, assignee string) (string, error) {
	assignee = strings.TrimSpace(assignee)
	if assignee == "" {
		return "", wrap("resolve assignee", fmt.Errorf("assignee is required"))
	}
	if c.clientID != "" && strings.EqualFold(assignee, c.clientID) {
		return c.SignedInPrincipalID(ctx)
	}
	ids, err := c.ListIdentities(ctx, sub, "")
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		p := id.Properties
		if p.PrincipalID != "" && (strings.EqualFold(p.ClientID, assignee) || strings.EqualFold(p.PrincipalID, assignee)) {
			return p.PrincipalID, nil
		}
	}
	return assignee, nil
}

// IsGUID reports whether s is a GUID in its usual 36-character form.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// lastSegment is the part of a resource ID after its last slash.
func lastSegment(id string) string {
	return id[strings.LastIndex(id, "/")+1:]
}
