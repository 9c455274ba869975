package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
)

// maxAppRolesBytes bounds the --app-roles manifest.
const maxAppRolesBytes = 1 << 20

func (a *app) newAppCommand() *cobra.Command {
	cmd := groupCommand("app", "Manage applications (your own APIs) and their app roles",
		`  fedcred app create --display-name orders-api --identifier-uris api://orders --app-role Orders.Read
  fedcred app role assign --id api://orders --role Orders.Read --assignee CLIENT_ID`)
	a.addClientFlags(cmd)
	role := groupCommand("role", "Assign the app roles of an application",
		`  fedcred app role assign --id api://orders --role Orders.Read --assignee CLIENT_ID
  fedcred app role assignment list --id api://orders -o table`)
	assignment := groupCommand("assignment", "Read the app role assignments of an application",
		`  fedcred app role assignment list --id api://orders`)
	assignment.AddCommand(a.newAppRoleAssignmentListCommand())
	role.AddCommand(a.newAppRoleAssignCommand(), assignment)
	cmd.AddCommand(a.newAppCreateCommand(), a.newAppShowCommand(), a.newAppListCommand(), a.newAppDeleteCommand(), role)
	return cmd
}

func (a *app) newAppCreateCommand() *cobra.Command {
	var (
		name, manifest string
		uris, values   []string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an application: an API that tokens can be requested for",
		Long: `Create an application named by its identifier URIs (a token for it is requested with the scope
URI/.default) with the app roles it defines. --app-role VALUE defines a role that applications
(managed identities, service principals) can be assigned; --app-roles takes az's manifest, a JSON
array of {value, displayName, description, allowedMemberTypes, isEnabled, id}, inline or as @FILE.`,
		Example: `  fedcred app create --display-name orders-api --identifier-uris api://orders \
    --app-role Orders.Read --app-role Orders.Write
  fedcred app create --display-name orders-api --identifier-uris api://orders --app-roles @roles.json --query appId -o tsv`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&name, "display-name", "", "display name of the application")
	cmd.Flags().StringSliceVar(&uris, "identifier-uris", nil, "identifier URIs of the application, e.g. api://orders (repeatable)")
	cmd.Flags().StringArrayVar(&values, "app-role", nil, "define an app role for applications with this value (repeatable)")
	cmd.Flags().StringVar(&manifest, "app-roles", "", "app roles as a JSON array, inline or @FILE")
	required(cmd, "display-name", "identifier-uris")
	cmd.RunE = a.action(func(ctx context.Context) error {
		roles, err := appRoles(values, manifest)
		if err != nil {
			return err
		}
		s, err := a.session()
		if err != nil {
			return err
		}
		out, err := s.client.CreateApplication(ctx, client.Application{DisplayName: name, IdentifierURIs: uris, AppRoles: roles})
		if err != nil {
			return err
		}
		return a.render(out)
	})
	return cmd
}

// manifestRole is one app role of an az manifest: isEnabled may be a
// boolean or a string, and everything but value has a default.
type manifestRole struct {
	ID                 string          `json:"id"`
	Value              string          `json:"value"`
	DisplayName        string          `json:"displayName"`
	Description        string          `json:"description"`
	AllowedMemberTypes []string        `json:"allowedMemberTypes"`
	IsEnabled          json.RawMessage `json:"isEnabled"`
}

// appRoles builds the app roles of --app-role and --app-roles, filling in
// IDs, names and member types, and refusing repeated values or IDs.
func appRoles(values []string, manifest string) ([]client.AppRole, error) {
	var specs []manifestRole
	for _, v := range values {
		specs = append(specs, manifestRole{Value: v})
	}
	if manifest != "" {
		more, err := readManifest(manifest)
		if err != nil {
			return nil, err
		}
		specs = append(specs, more...)
	}
	roles := make([]client.AppRole, 0, len(specs))
	seenValue, seenID := map[string]bool{}, map[string]bool{}
	for _, m := range specs {
		v := strings.TrimSpace(m.Value)
		if v == "" || strings.ContainsAny(v, " \t\r\n") {
			return nil, usageErrorf("app role value %q must be non-empty and without spaces", m.Value)
		}
		if seenValue[strings.ToLower(v)] {
			return nil, usageErrorf("app role value %q is given twice", v)
		}
		seenValue[strings.ToLower(v)] = true
		r := client.AppRole{
			ID:                 m.ID,
			Value:              v,
			DisplayName:        first(m.DisplayName, v),
			Description:        first(m.Description, m.DisplayName, v),
			AllowedMemberTypes: m.AllowedMemberTypes,
			IsEnabled:          true,
		}
		if r.ID == "" {
			r.ID = uuid.NewString()
		} else if !client.IsGUID(r.ID) {
			return nil, usageErrorf("app role %q has id %q, which is not a GUID", v, r.ID)
		}
		if seenID[strings.ToLower(r.ID)] {
			return nil, usageErrorf("app role id %s is given twice", r.ID)
		}
		seenID[strings.ToLower(r.ID)] = true
		if len(r.AllowedMemberTypes) == 0 {
			r.AllowedMemberTypes = []string{client.AllowedMemberApplication}
		}
		if len(m.IsEnabled) > 0 {
			enabled, err := parseLooseBool(m.IsEnabled)
			if err != nil {
				return nil, usageErrorf("app role %q: isEnabled: %v", v, err)
			}
			r.IsEnabled = enabled
		}
		roles = append(roles, r)
	}
	return roles, nil
}

// readManifest reads --app-roles: a JSON array inline, or @FILE.
func readManifest(arg string) ([]manifestRole, error) {
	data := []byte(arg)
	if path, ok := strings.CutPrefix(arg, "@"); ok {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read app roles: %w", err)
		}
		defer f.Close()
		if data, err = io.ReadAll(io.LimitReader(f, maxAppRolesBytes+1)); err != nil {
			return nil, fmt.Errorf("read app roles: %w", err)
		}
		if len(data) > maxAppRolesBytes {
			return nil, fmt.Errorf("read app roles: %s is larger than %d bytes", path, maxAppRolesBytes)
		}
	}
	var roles []manifestRole
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&roles); err != nil {
		return nil, usageErrorf("--app-roles is not a JSON array of app roles: %v", err)
	}
	return roles, nil
}

// parseLooseBool reads true, false, "true" or "false" (az's manifests
// write isEnabled as a string).
func parseLooseBool(raw json.RawMessage) (bool, error) {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(string(raw)), `"`)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("%s is not true or false", raw)
}

// appIDFlag adds --id, required: an application ID, object ID or
// identifier URI.
func appIDFlag(cmd *cobra.Command, id *string) {
	cmd.Flags().StringVar(id, "id", "", "application ID, object ID or identifier URI of the application")
	required(cmd, "id")
}

func (a *app) newAppShowCommand() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show an application",
		Example: `  fedcred app show --id api://orders
  fedcred app show --id APP_ID --query "appRoles[].value" -o tsv`,
		Args: cobra.NoArgs,
	}
	appIDFlag(cmd, &id)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, err := a.session()
		if err != nil {
			return err
		}
		app, err := s.client.FindApplication(ctx, id)
		if err != nil {
			return err
		}
		return a.render(app)
	})
	return cmd
}

func (a *app) newAppListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the applications of the tenant",
		Example: `  fedcred app list -o table
  fedcred app list --query "[].{name: displayName, appId: appId, uri: identifierUris[0]}"`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, err := a.session()
		if err != nil {
			return err
		}
		apps, err := s.client.ListApplications(ctx)
		if err != nil {
			return err
		}
		return a.render(apps)
	})
	return cmd
}

func (a *app) newAppDeleteCommand() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:     "delete",
		Short:   "Delete an application with its service principal and app role assignments",
		Example: `  fedcred app delete --id api://orders`,
		Args:    cobra.NoArgs,
	}
	appIDFlag(cmd, &id)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, err := a.session()
		if err != nil {
			return err
		}
		app, err := s.client.FindApplication(ctx, id)
		if err != nil {
			return err
		}
		return s.client.DeleteApplication(ctx, app.ID)
	})
	return cmd
}

func (a *app) newAppRoleAssignCommand() *cobra.Command {
	var id, role, assignee string
	cmd := &cobra.Command{
		Use:   "assign",
		Short: "Assign an app role of an application to a managed identity or service principal",
		Long: `Assign an app role of an application to a principal: tokens the principal gets for the
application carry the role's value in their roles claim. --assignee is a managed identity's client
ID or principal ID (looked up among the subscription's identities), or any principal's object ID.`,
		Example: `  fedcred app role assign --id api://orders --role Orders.Read \
    --assignee "$(fedcred identity show -n id1 -g rg1 --query clientId -o tsv)"`,
		Args: cobra.NoArgs,
	}
	appIDFlag(cmd, &id)
	cmd.Flags().StringVar(&role, "role", "", "value of the app role")
	cmd.Flags().StringVar(&assignee, "assignee", "", "client ID or principal ID of a managed identity, or a principal's object ID")
	required(cmd, "role", "assignee")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		app, err := s.client.FindApplication(ctx, id)
		if err != nil {
			return err
		}
		roleID := ""
		values := make([]string, 0, len(app.AppRoles))
		for _, r := range app.AppRoles {
			values = append(values, r.Value)
			if r.Value == role {
				roleID = r.ID
			}
		}
		if roleID == "" {
			return fmt.Errorf("application %s defines no app role %q (its roles: %s)", first(app.DisplayName, app.AppID), role, strings.Join(values, ", "))
		}
		sp, err := s.client.GetServicePrincipalByAppID(ctx, app.AppID)
		if err != nil {
			return err
		}
		principal, err := s.client.ResolvePrincipalID(ctx, sub, assignee)
		if err != nil {
			return err
		}
		out, err := s.client.AssignAppRole(ctx, sp.ID, principal, roleID)
		if err != nil {
			return err
		}
		return a.render(out)
	})
	return cmd
}

func (a *app) newAppRoleAssignmentListCommand() *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the app role assignments of an application",
		Example: `  fedcred app role assignment list --id api://orders -o table
  fedcred app role assignment list --id APP_ID --query "[].principalId" -o tsv`,
		Args: cobra.NoArgs,
	}
	appIDFlag(cmd, &id)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, err := a.session()
		if err != nil {
			return err
		}
		app, err := s.client.FindApplication(ctx, id)
		if err != nil {
			return err
		}
		sp, err := s.client.GetServicePrincipalByAppID(ctx, app.AppID)
		if err != nil {
			return err
		}
		items, err := s.client.ListAppRoleAssignedTo(ctx, sp.ID)
		if err != nil {
			return err
		}
		return a.render(items)
	})
	return cmd
}
