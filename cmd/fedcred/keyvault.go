package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
	"github.com/fedcred/fedcred/internal/output"
)

func (a *app) newKeyVaultCommand() *cobra.Command {
	cmd := groupCommand("keyvault", "Manage key vaults and their secrets",
		`  fedcred keyvault create -n kv1 -g rg1
  fedcred keyvault secret set --vault-name kv1 -n db-password --file password.txt`)
	a.addClientFlags(cmd)
	cmd.AddCommand(
		a.newKeyVaultCreateCommand(),
		a.newKeyVaultShowCommand(),
		a.newKeyVaultListCommand(),
		a.newKeyVaultDeleteCommand(),
		a.newSecretCommand(),
	)
	return cmd
}

// renderVault prints a vault as az keyvault show does: properties nested,
// resourceGroup added.
func (a *app) renderVault(v *client.Vault) error {
	m, err := output.AddResourceGroup(v)
	if err != nil {
		return err
	}
	return a.render(m)
}

func (a *app) newKeyVaultCreateCommand() *cobra.Command {
	var name, rg, location string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a key vault that authorizes with role assignments",
		Long: `Create a key vault (standard SKU, authorization by role assignments). Without --location it takes
the resource group's. Its data-plane URL is properties.vaultUri; grant access to its secrets with
'fedcred role assignment create --role "Key Vault Secrets User" ...'.`,
		Example: `  fedcred keyvault create -n kv1 -g rg1
  fedcred keyvault create -n kv1 -g rg1 -l westeurope --query properties.vaultUri -o tsv`,
		Args: cobra.NoArgs,
	}
	resourceFlags(cmd, "key vault", &name, &rg)
	cmd.Flags().StringVarP(&location, "location", "l", "", "location (default: the resource group's)")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		if location, err = s.groupLocation(ctx, sub, rg, location); err != nil {
			return err
		}
		rbac := true
		v, err := s.client.PutVault(ctx, sub, rg, name, client.Vault{
			Location: location,
			Properties: client.VaultProperties{
				TenantID:                s.conn.TenantID,
				SKU:                     client.StandardSKU(),
				EnableRBACAuthorization: &rbac,
			},
		})
		if err != nil {
			return err
		}
		return a.renderVault(v)
	})
	return cmd
}

// vaultRef names a vault: -n and, optionally, -g (without it the vault is
// looked for in the whole subscription, as az does).
type vaultRef struct {
	name, rg string
}

func (r *vaultRef) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&r.name, "name", "n", "", "name of the key vault")
	cmd.Flags().StringVarP(&r.rg, "resource-group", "g", "", "resource group of the key vault (default: found by name)")
	required(cmd, "name")
}

// find gets the vault, by its resource group or by name in the
// subscription.
func (r *vaultRef) find(ctx context.Context, s *session, sub string) (*client.Vault, error) {
	if r.rg != "" {
		return s.client.GetVault(ctx, sub, r.rg, r.name)
	}
	return s.client.FindVault(ctx, sub, r.name)
}

func (a *app) newKeyVaultShowCommand() *cobra.Command {
	var ref vaultRef
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a key vault",
		Example: `  fedcred keyvault show -n kv1
  fedcred keyvault show -n kv1 -g rg1 --query properties.vaultUri -o tsv`,
		Args: cobra.NoArgs,
	}
	ref.addFlags(cmd)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		v, err := ref.find(ctx, s, sub)
		if err != nil {
			return err
		}
		return a.renderVault(v)
	})
	return cmd
}

func (a *app) newKeyVaultListCommand() *cobra.Command {
	var rg string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the key vaults of a resource group or the subscription",
		Example: `  fedcred keyvault list -o table
  fedcred keyvault list -g rg1 --query "[].properties.vaultUri" -o tsv`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group (default: the whole subscription)")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		vaults, err := s.client.ListVaults(ctx, sub, rg)
		if err != nil {
			return err
		}
		out, err := output.AddResourceGroups(vaults)
		if err != nil {
			return err
		}
		return a.render(out)
	})
	return cmd
}

func (a *app) newKeyVaultDeleteCommand() *cobra.Command {
	var ref vaultRef
	cmd := &cobra.Command{
		Use:     "delete",
		Short:   "Delete a key vault and its secrets",
		Example: `  fedcred keyvault delete -n kv1 --yes`,
		Args:    cobra.NoArgs,
	}
	ref.addFlags(cmd)
	addYesFlag(cmd)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		rg := ref.rg
		if rg == "" {
			v, err := s.client.FindVault(ctx, sub, ref.name)
			if err != nil {
				return err
			}
			if rg = output.ResourceGroupOf(v.ID); rg == "" {
				return fmt.Errorf("delete vault %s: its ID %q names no resource group", ref.name, v.ID)
			}
		}
		return s.client.DeleteVault(ctx, sub, rg, ref.name)
	})
	return cmd
}
