package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
)

func (a *app) newFederatedCredentialCommand() *cobra.Command {
	cmd := groupCommand("federated-credential", "Manage the federated identity credentials of a user-assigned identity",
		`  fedcred identity federated-credential create --name fic1 --identity-name id1 -g rg1 \
    --issuer https://127.0.0.1:8443/oidc/TENANT/CLUSTER/ --subject system:serviceaccount:default:app
  fedcred identity federated-credential list --identity-name id1 -g rg1 -o table`)
	cmd.AddCommand(
		a.newFICCreateCommand(),
		a.newFICShowCommand(),
		a.newFICListCommand(),
		a.newFICUpdateCommand(),
		a.newFICDeleteCommand(),
	)
	return cmd
}

// ficRef names one federated credential: --name, --identity-name and -g.
type ficRef struct {
	name, identity, rg string
}

func (r *ficRef) addFlags(cmd *cobra.Command, withName bool) {
	if withName {
		cmd.Flags().StringVarP(&r.name, "name", "n", "", "name of the federated credential")
		required(cmd, "name")
	}
	cmd.Flags().StringVar(&r.identity, "identity-name", "", "name of the user-assigned identity")
	cmd.Flags().StringVarP(&r.rg, "resource-group", "g", "", "name of the resource group")
	required(cmd, "identity-name", "resource-group")
}

func (a *app) newFICCreateCommand() *cobra.Command {
	var (
		ref   ficRef
		props client.FederatedCredentialProperties
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a federated credential: trust tokens of an issuer for a subject",
		Example: `  # Trust the service account default/app of cluster c1
  fedcred identity federated-credential create --name fic1 --identity-name id1 -g rg1 \
    --issuer "$(fedcred aks show -n c1 -g rg1 --query oidcIssuerProfile.issuerUrl -o tsv)" \
    --subject system:serviceaccount:default:app`,
		Args: cobra.NoArgs,
	}
	ref.addFlags(cmd, true)
	cmd.Flags().StringVar(&props.Issuer, "issuer", "", "issuer URL of the tokens to trust, exactly as in their iss claim")
	cmd.Flags().StringVar(&props.Subject, "subject", "", "subject of the tokens to trust, e.g. system:serviceaccount:NAMESPACE:NAME")
	cmd.Flags().StringSliceVar(&props.Audiences, "audiences", []string{client.DefaultAudience}, "audience the tokens must carry (repeatable)")
	required(cmd, "issuer", "subject")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		fic, err := s.client.PutFederatedCredential(ctx, sub, ref.rg, ref.identity, ref.name, props)
		if err != nil {
			return err
		}
		return a.renderResource(fic)
	})
	return cmd
}

func (a *app) newFICUpdateCommand() *cobra.Command {
	var (
		ref   ficRef
		props client.FederatedCredentialProperties
	)
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Change the issuer, subject or audiences of a federated credential",
		Example: `  fedcred identity federated-credential update --name fic1 --identity-name id1 -g rg1 \
    --subject system:serviceaccount:prod:app`,
		Args: cobra.NoArgs,
	}
	ref.addFlags(cmd, true)
	cmd.Flags().StringVar(&props.Issuer, "issuer", "", "new issuer URL")
	cmd.Flags().StringVar(&props.Subject, "subject", "", "new subject")
	cmd.Flags().StringSliceVar(&props.Audiences, "audiences", nil, "new audiences (repeatable)")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		cur, err := s.client.GetFederatedCredential(ctx, sub, ref.rg, ref.identity, ref.name)
		if err != nil {
			return err
		}
		next := cur.Properties
		if cmd.Flags().Changed("issuer") {
			next.Issuer = props.Issuer
		}
		if cmd.Flags().Changed("subject") {
			next.Subject = props.Subject
		}
		if cmd.Flags().Changed("audiences") {
			next.Audiences = props.Audiences
		}
		fic, err := s.client.PutFederatedCredential(ctx, sub, ref.rg, ref.identity, ref.name, next)
		if err != nil {
			return err
		}
		return a.renderResource(fic)
	})
	return cmd
}

func (a *app) newFICShowCommand() *cobra.Command {
	var ref ficRef
	cmd := &cobra.Command{
		Use:     "show",
		Short:   "Show a federated credential",
		Example: `  fedcred identity federated-credential show --name fic1 --identity-name id1 -g rg1`,
		Args:    cobra.NoArgs,
	}
	ref.addFlags(cmd, true)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		fic, err := s.client.GetFederatedCredential(ctx, sub, ref.rg, ref.identity, ref.name)
		if err != nil {
			return err
		}
		return a.renderResource(fic)
	})
	return cmd
}

func (a *app) newFICListCommand() *cobra.Command {
	var ref ficRef
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the federated credentials of an identity",
		Example: `  fedcred identity federated-credential list --identity-name id1 -g rg1 -o table`,
		Args:    cobra.NoArgs,
	}
	ref.addFlags(cmd, false)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		fics, err := s.client.ListFederatedCredentials(ctx, sub, ref.rg, ref.identity)
		if err != nil {
			return err
		}
		return renderResources(a, fics)
	})
	return cmd
}

func (a *app) newFICDeleteCommand() *cobra.Command {
	var ref ficRef
	cmd := &cobra.Command{
		Use:     "delete",
		Short:   "Delete a federated credential",
		Example: `  fedcred identity federated-credential delete --name fic1 --identity-name id1 -g rg1 --yes`,
		Args:    cobra.NoArgs,
	}
	ref.addFlags(cmd, true)
	addYesFlag(cmd)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		return s.client.DeleteFederatedCredential(ctx, sub, ref.rg, ref.identity, ref.name)
	})
	return cmd
}
