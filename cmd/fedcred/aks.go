package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
	"github.com/fedcred/fedcred/internal/issuer"
)

func (a *app) newAKSCommand() *cobra.Command {
	cmd := groupCommand("aks", "Manage clusters and their OIDC issuers",
		`  fedcred aks create -n c1 -g rg1 --enable-oidc-issuer
  fedcred aks show -n c1 -g rg1 --query oidcIssuerProfile.issuerUrl -o tsv`)
	a.addClientFlags(cmd)
	oidc := groupCommand("oidc-issuer", "Manage a cluster's OIDC issuer",
		`  fedcred aks oidc-issuer rotate-signing-keys -n c1 -g rg1`)
	oidc.AddCommand(a.newAKSRotateCommand())
	cmd.AddCommand(
		a.newAKSCreateCommand(),
		a.newAKSShowCommand(),
		a.newAKSListCommand(),
		a.newAKSUpdateCommand(),
		a.newAKSDeleteCommand(),
		a.newAKSCreateTokenCommand(),
		oidc,
	)
	return cmd
}

// workloadIdentityFlag adds --enable-workload-identity, which az's users pass
// with --enable-oidc-issuer; fedcred records it on the cluster.
func workloadIdentityFlag(cmd *cobra.Command, p *bool) {
	cmd.Flags().BoolVar(p, "enable-workload-identity", false, "turn workload identity on (needs the OIDC issuer)")
}

func (a *app) newAKSCreateCommand() *cobra.Command {
	var (
		name, rg, location string
		oidcIssuer, wi     bool
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a cluster",
		Long: `Create a cluster whose service-account tokens fedcred issues. Its OIDC issuer is off unless
--enable-oidc-issuer is given, as on AKS. Without --location it takes the resource group's.`,
		Example: `  fedcred aks create -n c1 -g rg1 --enable-oidc-issuer
  fedcred aks create -n c1 -g rg1 --enable-oidc-issuer --enable-workload-identity --query oidcIssuerProfile.issuerUrl -o tsv`,
		Args: cobra.NoArgs,
	}
	resourceFlags(cmd, "cluster", &name, &rg)
	cmd.Flags().StringVarP(&location, "location", "l", "", "location (default: the resource group's)")
	cmd.Flags().BoolVar(&oidcIssuer, "enable-oidc-issuer", false, "turn the cluster's OIDC issuer on")
	workloadIdentityFlag(cmd, &wi)
	cmd.RunE = a.action(func(ctx context.Context) error {
		if wi && !oidcIssuer {
			return usageErrorf("--enable-workload-identity needs --enable-oidc-issuer")
		}
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		if location, err = s.groupLocation(ctx, sub, rg, location); err != nil {
			return err
		}
		c := client.Cluster{Location: location}
		c.Properties.OIDCIssuerProfile = &client.OIDCIssuerProfile{Enabled: oidcIssuer}
		if wi {
			c.Properties.SecurityProfile = workloadIdentity()
		}
		out, err := s.client.PutCluster(ctx, sub, rg, name, c)
		if err != nil {
			return err
		}
		return a.renderResource(out)
	})
	return cmd
}

func workloadIdentity() *client.SecurityProfile {
	return &client.SecurityProfile{WorkloadIdentity: &client.WorkloadIdentityProfile{Enabled: true}}
}

func (a *app) newAKSUpdateCommand() *cobra.Command {
	var (
		name, rg       string
		oidcIssuer, wi bool
	)
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Turn a cluster's OIDC issuer on",
		Long:  "Turn a cluster's OIDC issuer (and workload identity) on. As on AKS, it cannot be turned off again.",
		Example: `  fedcred aks update -n c1 -g rg1 --enable-oidc-issuer
  fedcred aks update -n c1 -g rg1 --enable-oidc-issuer --enable-workload-identity`,
		Args: cobra.NoArgs,
	}
	resourceFlags(cmd, "cluster", &name, &rg)
	cmd.Flags().BoolVar(&oidcIssuer, "enable-oidc-issuer", false, "turn the cluster's OIDC issuer on")
	workloadIdentityFlag(cmd, &wi)
	cmd.MarkFlagsOneRequired("enable-oidc-issuer", "enable-workload-identity")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		out, err := s.client.UpdateCluster(ctx, sub, rg, name, func(c *client.Cluster) {
			if oidcIssuer {
				c.Properties.OIDCIssuerProfile = &client.OIDCIssuerProfile{Enabled: true}
			}
			if wi {
				c.Properties.SecurityProfile = workloadIdentity()
			}
		})
		if err != nil {
			return err
		}
		return a.renderResource(out)
	})
	return cmd
}

func (a *app) newAKSShowCommand() *cobra.Command {
	var name, rg string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a cluster",
		Example: `  fedcred aks show -n c1 -g rg1
  fedcred aks show -n c1 -g rg1 --query oidcIssuerProfile.issuerUrl -o tsv`,
		Args: cobra.NoArgs,
	}
	resourceFlags(cmd, "cluster", &name, &rg)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		c, err := s.client.GetCluster(ctx, sub, rg, name)
		if err != nil {
			return err
		}
		return a.renderResource(c)
	})
	return cmd
}

func (a *app) newAKSListCommand() *cobra.Command {
	var rg string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the clusters of a resource group or the subscription",
		Example: `  fedcred aks list -o table
  fedcred aks list -g rg1 --query "[].name" -o tsv`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group (default: the whole subscription)")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		clusters, err := s.client.ListClusters(ctx, sub, rg)
		if err != nil {
			return err
		}
		return renderResources(a, clusters)
	})
	return cmd
}

func (a *app) newAKSDeleteCommand() *cobra.Command {
	var name, rg string
	cmd := &cobra.Command{
		Use:     "delete",
		Short:   "Delete a cluster; its OIDC issuer stops serving",
		Example: `  fedcred aks delete -n c1 -g rg1 --yes`,
		Args:    cobra.NoArgs,
	}
	resourceFlags(cmd, "cluster", &name, &rg)
	addYesFlag(cmd)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		return s.client.DeleteCluster(ctx, sub, rg, name)
	})
	return cmd
}

func (a *app) newAKSRotateCommand() *cobra.Command {
	var name, rg string
	cmd := &cobra.Command{
		Use:     "rotate-signing-keys",
		Short:   "Rotate the keys that sign the cluster's service-account tokens",
		Example: `  fedcred aks oidc-issuer rotate-signing-keys -n c1 -g rg1 --yes`,
		Args:    cobra.NoArgs,
	}
	resourceFlags(cmd, "cluster", &name, &rg)
	addYesFlag(cmd)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		return s.client.RotateClusterKeys(ctx, sub, rg, name)
	})
	return cmd
}

func (a *app) newAKSCreateTokenCommand() *cobra.Command {
	var (
		name, rg, namespace, account string
		audiences                    []string
		duration                     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create-token",
		Short: "Issue a service-account token from the cluster's OIDC issuer",
		Long: `Issue a service-account token from the cluster's OIDC issuer, as 'kubectl create token' does
on the cluster. It prints only the token, so it can be redirected to a file; with -o or --query
it prints the TokenRequest status (token and expirationTimestamp) instead.`,
		Example: `  fedcred aks create-token -n c1 -g rg1 --namespace default --service-account app > token.jwt
  fedcred aks create-token -n c1 -g rg1 --namespace default --service-account app --duration 2h -o json`,
		Args: cobra.NoArgs,
	}
	resourceFlags(cmd, "cluster", &name, &rg)
	cmd.Flags().StringVar(&namespace, "namespace", "", "namespace of the service account")
	cmd.Flags().StringVar(&account, "service-account", "", "name of the service account")
	cmd.Flags().StringSliceVar(&audiences, "audience", []string{client.DefaultAudience}, "audience of the token (repeatable)")
	cmd.Flags().DurationVar(&duration, "duration", issuer.DefaultTokenExpiration, "lifetime of the token")
	required(cmd, "namespace", "service-account")
	cmd.RunE = a.action(func(ctx context.Context) error {
		if duration <= 0 || duration%time.Second != 0 {
			return usageErrorf("--duration %s must be a positive whole number of seconds", duration)
		}
		seconds := int64(duration / time.Second)
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		tr, err := s.client.CreateServiceAccountToken(ctx, sub, rg, name, namespace, account,
			issuer.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &seconds})
		if err != nil {
			return err
		}
		if !cmd.Flags().Changed("output") && !cmd.Flags().Changed("query") {
			_, err := fmt.Fprintln(a.stdout, tr.Status.Token)
			return err
		}
		return a.render(tr.Status)
	})
	return cmd
}
