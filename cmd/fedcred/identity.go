package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
)

func (a *app) newIdentityCommand() *cobra.Command {
	cmd := groupCommand("identity", "Manage user-assigned managed identities and their federated credentials",
		`  fedcred identity create -n id1 -g rg1
  fedcred identity show -n id1 -g rg1 --query clientId -o tsv`)
	a.addClientFlags(cmd)
	cmd.AddCommand(
		a.newIdentityCreateCommand(),
		a.newIdentityShowCommand(),
		a.newIdentityListCommand(),
		a.newIdentityDeleteCommand(),
		a.newFederatedCredentialCommand(),
	)
	return cmd
}

// resourceFlags adds the -n/--name and -g/--resource-group flags of a
// resource, both required.
func resourceFlags(cmd *cobra.Command, what string, name, rg *string) {
	cmd.Flags().StringVarP(name, "name", "n", "", "name of the "+what)
	cmd.Flags().StringVarP(rg, "resource-group", "g", "", "name of the resource group")
	required(cmd, "name", "resource-group")
}

func (a *app) newIdentityCreateCommand() *cobra.Command {
	var name, rg, location string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a user-assigned managed identity",
		Long:  "Create a user-assigned managed identity. Without --location it takes the resource group's.",
		Example: `  fedcred identity create -n id1 -g rg1
  fedcred identity create -n id1 -g rg1 --query clientId -o tsv`,
		Args: cobra.NoArgs,
	}
	resourceFlags(cmd, "identity", &name, &rg)
	cmd.Flags().StringVarP(&location, "location", "l", "", "location (default: the resource group's)")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		if location, err = s.groupLocation(ctx, sub, rg, location); err != nil {
			return err
		}
		id, err := s.client.PutIdentity(ctx, sub, rg, name, client.Identity{Location: location})
		if err != nil {
			return err
		}
		return a.renderResource(id)
	})
	return cmd
}

// groupLocation returns location, or when it is "" the location of the
// resource group, as az does.
func (s *session) groupLocation(ctx context.Context, sub, rg, location string) (string, error) {
	if location != "" {
		return location, nil
	}
	g, err := s.client.GetResourceGroup(ctx, sub, rg)
	if err != nil {
		return "", err
	}
	return g.Location, nil
}

func (a *app) newIdentityShowCommand() *cobra.Command {
	var name, rg string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a user-assigned managed identity",
		Example: `  fedcred identity show -n id1 -g rg1
  fedcred identity show -n id1 -g rg1 --query "{clientId: clientId, principalId: principalId}"`,
		Args: cobra.NoArgs,
	}
	resourceFlags(cmd, "identity", &name, &rg)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		id, err := s.client.GetIdentity(ctx, sub, rg, name)
		if err != nil {
			return err
		}
		return a.renderResource(id)
	})
	return cmd
}

func (a *app) newIdentityListCommand() *cobra.Command {
	var rg string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List user-assigned managed identities of a resource group or the subscription",
		Example: `  fedcred identity list -g rg1 -o table
  fedcred identity list --query "[].{name: name, clientId: clientId}"`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group (default: the whole subscription)")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		ids, err := s.client.ListIdentities(ctx, sub, rg)
		if err != nil {
			return err
		}
		return renderResources(a, ids)
	})
	return cmd
}

func (a *app) newIdentityDeleteCommand() *cobra.Command {
	var name, rg string
	cmd := &cobra.Command{
		Use:     "delete",
		Short:   "Delete a user-assigned managed identity and its federated credentials",
		Example: `  fedcred identity delete -n id1 -g rg1`,
		Args:    cobra.NoArgs,
	}
	resourceFlags(cmd, "identity", &name, &rg)
	addYesFlag(cmd)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		return s.client.DeleteIdentity(ctx, sub, rg, name)
	})
	return cmd
}
