package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
)

// defaultLocation is the location of a resource group created without -l.
const defaultLocation = "eastus"

func (a *app) newGroupCommand() *cobra.Command {
	cmd := groupCommand("group", "Manage resource groups",
		`  fedcred group create -n rg1
  fedcred group list -o table`)
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newGroupCreateCommand(), a.newGroupShowCommand(), a.newGroupListCommand(), a.newGroupDeleteCommand())
	return cmd
}

// groupName adds az's two spellings of a resource group's name, -n/--name
// and -g/--resource-group, and returns a function that picks the one given.
func groupName(cmd *cobra.Command) func() (string, error) {
	var name, rg string
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the resource group")
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "name of the resource group (same as --name)")
	cmd.MarkFlagsOneRequired("name", "resource-group")
	return func() (string, error) {
		switch {
		case name != "" && rg != "" && name != rg:
			return "", usageErrorf("--name %q and --resource-group %q name different groups", name, rg)
		case name == "" && rg == "":
			return "", usageErrorf("--name must not be empty")
		}
		return first(name, rg), nil
	}
}

func (a *app) newGroupCreateCommand() *cobra.Command {
	var location string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a resource group, or update its location",
		Example: `  fedcred group create -n rg1
  fedcred group create -n rg1 -l westeurope`,
		Args: cobra.NoArgs,
	}
	name := groupName(cmd)
	cmd.Flags().StringVarP(&location, "location", "l", defaultLocation, "location of the resource group")
	cmd.RunE = a.action(func(ctx context.Context) error {
		n, err := name()
		if err != nil {
			return err
		}
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		rg, err := s.client.PutResourceGroup(ctx, sub, n, client.ResourceGroup{Location: location})
		if err != nil {
			return err
		}
		return a.render(rg)
	})
	return cmd
}

func (a *app) newGroupShowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a resource group",
		Example: `  fedcred group show -n rg1
  fedcred group show -n rg1 --query location -o tsv`,
		Args: cobra.NoArgs,
	}
	name := groupName(cmd)
	cmd.RunE = a.action(func(ctx context.Context) error {
		n, err := name()
		if err != nil {
			return err
		}
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		rg, err := s.client.GetResourceGroup(ctx, sub, n)
		if err != nil {
			return err
		}
		return a.render(rg)
	})
	return cmd
}

func (a *app) newGroupListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the resource groups of the subscription",
		Example: `  fedcred group list -o table
  fedcred group list --query "[].name" -o tsv`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		groups, err := s.client.ListResourceGroups(ctx, sub)
		if err != nil {
			return err
		}
		return a.render(groups)
	})
	return cmd
}

func (a *app) newGroupDeleteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete",
		Short:   "Delete a resource group and everything in it",
		Example: `  fedcred group delete -n rg1 --yes`,
		Args:    cobra.NoArgs,
	}
	name := groupName(cmd)
	addYesFlag(cmd)
	cmd.RunE = a.action(func(ctx context.Context) error {
		n, err := name()
		if err != nil {
			return err
		}
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		return s.client.DeleteResourceGroup(ctx, sub, n)
	})
	return cmd
}

// addYesFlag accepts az's --yes/-y, so scripts written for az run
// unchanged; fedcred never prompts.
func addYesFlag(cmd *cobra.Command) {
	cmd.Flags().BoolP("yes", "y", false, "do not prompt for confirmation (fedcred never prompts; accepted for az compatibility)")
}

// subscriptionSession resolves the settings, builds a client and picks the
// subscription.
func (a *app) subscriptionSession(ctx context.Context) (*session, string, error) {
	s, err := a.session()
	if err != nil {
		return nil, "", err
	}
	sub, err := s.subscription(ctx)
	if err != nil {
		return nil, "", err
	}
	return s, sub, nil
}
