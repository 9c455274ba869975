package main

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
	"github.com/fedcred/fedcred/internal/output"
)

// principalTypes are the values of --assignee-principal-type, as ARM spells
// them.
func principalTypes() []string {
	return []string{"ServicePrincipal", "User", "Group", "ForeignGroup", "Device"}
}

func (a *app) newRoleCommand() *cobra.Command {
	cmd := groupCommand("role", "Manage role definitions and role assignments",
		`  fedcred role definition list --name "Key Vault Secrets User"
  fedcred role assignment create --role "Key Vault Secrets User" --assignee CLIENT_ID \
    --scope "$(fedcred keyvault show -n kv1 --query id -o tsv)"`)
	a.addClientFlags(cmd)
	def := groupCommand("definition", "Read role definitions",
		`  fedcred role definition list -o table
  fedcred role definition list --name Reader --query "[].permissions[].actions"`)
	def.AddCommand(a.newRoleDefinitionListCommand())
	asg := groupCommand("assignment", "Manage role assignments",
		`  fedcred role assignment create --role Reader --assignee CLIENT_ID -g rg1
  fedcred role assignment list --all -o table`)
	asg.AddCommand(a.newRoleAssignmentCreateCommand(), a.newRoleAssignmentListCommand(), a.newRoleAssignmentDeleteCommand())
	cmd.AddCommand(def, asg)
	return cmd
}

func (a *app) newRoleDefinitionListCommand() *cobra.Command {
	var name, scope string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List role definitions",
		Long: `List the role definitions usable at a scope (the subscription by default), printed the way
az prints them: roleName, roleType, description, permissions and assignableScopes at the top level;
-o table shows Name, Type and Description.`,
		Example: `  fedcred role definition list --query "[].roleName" -o tsv
  fedcred role definition list --name "Key Vault Secrets User"
  fedcred role definition list --name 4633458b-17de-408a-b874-0445c86b69e6 --query "[0].roleName"`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "only the role of this name or GUID")
	cmd.Flags().StringVar(&scope, "scope", "", "scope to list the roles of (default: the subscription)")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		scope = first(scope, client.SubscriptionScope(sub))
		var defs []client.RoleDefinition
		if client.IsGUID(name) {
			all, err := s.client.ListRoleDefinitions(ctx, scope, "")
			if err != nil {
				return err
			}
			for _, d := range all {
				if strings.EqualFold(d.Name, name) {
					defs = append(defs, d)
				}
			}
		} else if defs, err = s.client.ListRoleDefinitions(ctx, scope, name); err != nil {
			return err
		}
		out := make([]map[string]any, 0, len(defs))
		for _, d := range defs {
			m, err := roleDefinitionOutput(d)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return a.renderOrTable(out, func() any {
			rows := make([]map[string]any, 0, len(out))
			for _, m := range out {
				rows = append(rows, map[string]any{"Name": m["roleName"], "Type": m["roleType"], "Description": m["description"]})
			}
			return rows
		})
	})
	return cmd
}

// roleDefinitionOutput flattens a role definition as az prints it:
// properties at the top level, properties.type as roleType, empty lists as
// [].
func roleDefinitionOutput(d client.RoleDefinition) (map[string]any, error) {
	p := &d.Properties
	p.AssignableScopes = nonNil(p.AssignableScopes)
	p.Permissions = append([]client.Permission{}, p.Permissions...)
	for i := range p.Permissions {
		perm := &p.Permissions[i]
		perm.Actions, perm.NotActions = nonNil(perm.Actions), nonNil(perm.NotActions)
		perm.DataActions, perm.NotDataActions = nonNil(perm.DataActions), nonNil(perm.NotDataActions)
	}
	m, err := output.FlattenResource(d)
	if err != nil {
		return nil, err
	}
	m["roleType"] = p.RoleType
	return m, nil
}

// nonNil returns s, or an empty list for nil, so it prints as [].
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// roleAssignmentOutput flattens a role assignment as az prints it, with
// roleDefinitionName when it is known.
func roleAssignmentOutput(ra client.RoleAssignment, roleName string) (map[string]any, error) {
	m, err := output.FlattenResource(ra)
	if err != nil {
		return nil, err
	}
	if roleName != "" {
		m["roleDefinitionName"] = roleName
	}
	return m, nil
}

// roleScopeFlags are --scope and -g/--resource-group, which name the scope
// of role assignments; they exclude each other.
type roleScopeFlags struct {
	scope, rg string
}

func (f *roleScopeFlags) add(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&f.scope, "scope", "", "scope "+what+", a resource ID such as /subscriptions/SUB/resourceGroups/RG (default: the subscription)")
	cmd.Flags().StringVarP(&f.rg, "resource-group", "g", "", "resource group as the scope (same as --scope /subscriptions/SUB/resourceGroups/RG)")
	cmd.MarkFlagsMutuallyExclusive("scope", "resource-group")
}

// resolve returns the scope the flags name in subscription sub.
func (f *roleScopeFlags) resolve(sub string) string {
	switch {
	case f.scope != "":
		return strings.TrimRight(f.scope, "/")
	case f.rg != "":
		return client.SubscriptionScope(sub) + "/resourceGroups/" + f.rg
	}
	return client.SubscriptionScope(sub)
}

// given reports whether either flag was given.
func (f *roleScopeFlags) given() bool { return f.scope != "" || f.rg != "" }

func (a *app) newRoleAssignmentCreateCommand() *cobra.Command {
	var (
		role, assignee, objectID, principalType string
		scope                                   roleScopeFlags
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Assign a role to a managed identity or service principal at a scope",
		Long: `Assign a role to a principal at a scope (the subscription by default) and everything below it.
--role is a role name, GUID or role definition ID. --assignee is a managed identity's client ID
or principal ID (looked up among the subscription's identities), the client ID fedcred signs in
with (its own principal), or any principal's object ID; --assignee-object-id takes an object ID
without the lookup.`,
		Example: `  # Let an identity read the secrets of one vault
  fedcred role assignment create --role "Key Vault Secrets User" \
    --assignee "$(fedcred identity show -n id1 -g rg1 --query clientId -o tsv)" \
    --scope "$(fedcred keyvault show -n kv1 --query id -o tsv)"
  # Let the signed-in admin manage the secrets of a vault
  fedcred role assignment create --role "Key Vault Secrets Officer" --assignee "$(fedcred account show --query user.name -o tsv)" \
    --scope "$(fedcred keyvault show -n kv1 --query id -o tsv)"
  fedcred role assignment create --role Reader --assignee-object-id OBJECT_ID -g rg1`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&role, "role", "", "role name, GUID or role definition ID")
	cmd.Flags().StringVar(&assignee, "assignee", "", "client ID or principal ID of a managed identity, or a principal's object ID")
	cmd.Flags().StringVar(&objectID, "assignee-object-id", "", "object ID of the principal (no lookup)")
	cmd.Flags().StringVar(&principalType, "assignee-principal-type", client.PrincipalTypeServicePrincipal,
		"principal type: "+strings.Join(principalTypes(), ", "))
	scope.add(cmd, "of the assignment")
	required(cmd, "role")
	cmd.MarkFlagsOneRequired("assignee", "assignee-object-id")
	cmd.MarkFlagsMutuallyExclusive("assignee", "assignee-object-id")
	cmd.RunE = a.action(func(ctx context.Context) error {
		pt, err := canonicalPrincipalType(principalType)
		if err != nil {
			return err
		}
		if strings.TrimSpace(assignee) == "" && strings.TrimSpace(objectID) == "" {
			return usageErrorf("--assignee or --assignee-object-id is empty: name the principal to assign the role to")
		}
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		roleID, roleName, err := s.client.ResolveRoleDefinition(ctx, sub, role)
		if err != nil {
			return err
		}
		principal := strings.TrimSpace(objectID)
		if assignee != "" {
			if principal, err = s.client.ResolvePrincipalID(ctx, sub, assignee); err != nil {
				return err
			}
		}
		ra, err := s.client.CreateRoleAssignment(ctx, scope.resolve(sub), client.RoleAssignmentProperties{
			RoleDefinitionID: roleID, PrincipalID: principal, PrincipalType: pt,
		})
		if err != nil {
			return err
		}
		m, err := roleAssignmentOutput(*ra, roleName)
		if err != nil {
			return err
		}
		return a.render(m)
	})
	return cmd
}

// canonicalPrincipalType checks --assignee-principal-type and spells it as
// ARM does.
func canonicalPrincipalType(t string) (string, error) {
	for _, pt := range principalTypes() {
		if strings.EqualFold(pt, t) {
			return pt, nil
		}
	}
	return "", usageErrorf("--assignee-principal-type %q is not one of %s", t, strings.Join(principalTypes(), ", "))
}

// assignmentSearch selects role assignments the way az role assignment
// list and delete do.
type assignmentSearch struct {
	assignee, role string
	scope          roleScopeFlags
	all, inherited bool
}

func (q *assignmentSearch) addFlags(cmd *cobra.Command, withAll bool) {
	cmd.Flags().StringVar(&q.assignee, "assignee", "", "only the assignments of this principal (client ID, principal ID or object ID)")
	cmd.Flags().StringVar(&q.role, "role", "", "only the assignments of this role (name, GUID or role definition ID)")
	q.scope.add(cmd, "of the assignments")
	cmd.Flags().BoolVar(&q.inherited, "include-inherited", false, "include the assignments at the scopes above --scope")
	if withAll {
		cmd.Flags().BoolVar(&q.all, "all", false, "the assignments at every scope of the subscription")
	}
}

// run lists the matching assignments: with all, those of the whole
// subscription; else those exactly at the scope (and above it with
// inherited).
func (q *assignmentSearch) run(ctx context.Context, s *session, sub string) ([]client.RoleAssignment, error) {
	roleGUID := ""
	if q.role != "" {
		id, _, err := s.client.ResolveRoleDefinition(ctx, sub, q.role)
		if err != nil {
			return nil, err
		}
		roleGUID = lastSegment(id)
	}
	principal := ""
	if q.assignee != "" {
		var err error
		if principal, err = s.client.ResolvePrincipalID(ctx, sub, q.assignee); err != nil {
			return nil, err
		}
	}
	var (
		found []client.RoleAssignment
		err   error
		scope string
	)
	if q.all {
		filter := ""
		if principal != "" {
			filter = client.PrincipalFilter(principal)
		}
		found, err = s.client.ListRoleAssignments(ctx, client.SubscriptionScope(sub), filter)
	} else {
		scope = q.scope.resolve(sub)
		found, err = s.client.ListRoleAssignments(ctx, scope, client.AtScopeFilter)
	}
	if err != nil {
		return nil, err
	}
	out := []client.RoleAssignment{}
	for _, ra := range found {
		p := ra.Properties
		switch {
		case scope != "" && !sameScope(p.Scope, scope) && !(q.inherited && scopeCovers(p.Scope, scope)):
		case principal != "" && !strings.EqualFold(p.PrincipalID, principal):
		case roleGUID != "" && !strings.EqualFold(lastSegment(p.RoleDefinitionID), roleGUID):
		default:
			out = append(out, ra)
		}
	}
	return out, nil
}

// sameScope compares scopes without regard to case or a trailing slash.
func sameScope(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}

// scopeCovers reports whether scope parent is target or above it.
func scopeCovers(parent, target string) bool {
	p, t := strings.ToLower(strings.TrimRight(parent, "/")), strings.ToLower(strings.TrimRight(target, "/"))
	return p != "" && (p == t || strings.HasPrefix(t, p+"/"))
}

// lastSegment is the part of an ID after its last slash.
func lastSegment(id string) string { return id[strings.LastIndex(id, "/")+1:] }

func (a *app) newRoleAssignmentListCommand() *cobra.Command {
	var q assignmentSearch
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List role assignments",
		Long: `List role assignments, with roleDefinitionName added as az does (-o table shows Principal, Role
and Scope). Without --all, only those made exactly at the scope (the subscription by default;
--include-inherited adds those above it); with --all, those at every scope of the subscription.`,
		Example: `  fedcred role assignment list --all -o table
  fedcred role assignment list --assignee CLIENT_ID --all --query "[].{role: roleDefinitionName, scope: scope}"
  fedcred role assignment list --scope "$(fedcred keyvault show -n kv1 --query id -o tsv)"`,
		Args: cobra.NoArgs,
	}
	q.addFlags(cmd, true)
	cmd.RunE = a.action(func(ctx context.Context) error {
		if q.all && q.scope.given() {
			return usageErrorf("--resource-group and --scope are not used with --all")
		}
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		found, err := q.run(ctx, s, sub)
		if err != nil {
			return err
		}
		names := map[string]string{}
		if len(found) > 0 {
			defs, err := s.client.ListRoleDefinitions(ctx, client.SubscriptionScope(sub), "")
			if err != nil {
				return err
			}
			for _, d := range defs {
				names[strings.ToLower(d.Name)] = d.Properties.RoleName
			}
		}
		out := make([]map[string]any, 0, len(found))
		for _, ra := range found {
			m, err := roleAssignmentOutput(ra, names[strings.ToLower(lastSegment(ra.Properties.RoleDefinitionID))])
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return a.renderOrTable(out, func() any {
			rows := make([]map[string]any, 0, len(out))
			for _, m := range out {
				rows = append(rows, map[string]any{"Principal": m["principalId"], "Role": m["roleDefinitionName"], "Scope": m["scope"]})
			}
			return rows
		})
	})
	return cmd
}

func (a *app) newRoleAssignmentDeleteCommand() *cobra.Command {
	var (
		q   assignmentSearch
		ids []string
	)
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete role assignments",
		Long: `Delete role assignments by ID, or those of an assignee and/or role exactly at a scope (the
subscription by default). Unlike az, fedcred will not delete every assignment of a scope: give
--ids, --assignee or --role.`,
		Example: `  fedcred role assignment delete --ids "$(fedcred role assignment list --all --assignee CLIENT_ID --query [0].id -o tsv)"
  fedcred role assignment delete --assignee CLIENT_ID --role "Key Vault Secrets User" \
    --scope "$(fedcred keyvault show -n kv1 --query id -o tsv)"`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringSliceVar(&ids, "ids", nil, "IDs of the role assignments (repeatable)")
	q.addFlags(cmd, false)
	addYesFlag(cmd)
	cmd.RunE = a.action(func(ctx context.Context) error {
		switch {
		case len(ids) > 0 && (q.assignee != "" || q.role != "" || q.scope.given() || q.inherited):
			return usageErrorf("--ids is used without --assignee, --role, --scope, --resource-group and --include-inherited")
		case len(ids) == 0 && q.assignee == "" && q.role == "":
			return usageErrorf("give --ids, or --assignee and/or --role")
		}
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			found, err := q.run(ctx, s, sub)
			if err != nil {
				return err
			}
			if len(found) == 0 {
				return errors.New("no matched assignments were found to delete")
			}
			for _, ra := range found {
				ids = append(ids, ra.ID)
			}
		}
		for _, id := range ids {
			if err := s.client.DeleteRoleAssignment(ctx, id); err != nil {
				return err
			}
		}
		return nil
	})
	return cmd
}
