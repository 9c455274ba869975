package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
	"github.com/fedcred/fedcred/internal/config"
)

// accountUser is the signed-in principal as az prints it.
type accountUser struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// account is one subscription of 'fedcred login', shaped like az login's.
type account struct {
	CloudName string      `json:"cloudName"`
	ID        string      `json:"id"`
	IsDefault bool        `json:"isDefault"`
	Name      string      `json:"name"`
	State     string      `json:"state"`
	TenantID  string      `json:"tenantId"`
	User      accountUser `json:"user"`
}

// cloudName is what fedcred calls its "cloud" in az-shaped output.
const cloudName = "fedcred"

func (a *app) newLoginCommand() *cobra.Command {
	var clientID, secret string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to a fedcred server with a service principal and store the profile",
		Long: `Sign in to a fedcred server with a service principal's client ID and secret. The sign-in is
checked by getting a token; then the settings are stored (mode 0600) in profile.json in
$FEDCRED_CONFIG_DIR, by default the fedcred folder of the user's config directory, and later
commands use them. Without --subscription the first subscription is the default.`,
		Example: `  fedcred login --server https://fedcred.example.com --tenant TENANT \
    --client-id CLIENT --client-secret "$SECRET" --ca-file ca.crt`,
		Args: cobra.NoArgs,
	}
	a.addClientFlags(cmd)
	cmd.Flags().StringVar(&clientID, "client-id", "", "client ID of the service principal [FEDCRED_CLIENT_ID]")
	cmd.Flags().StringVar(&secret, "client-secret", "", "client secret of the service principal [FEDCRED_CLIENT_SECRET]")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s := config.Admin{
			Server:         first(a.flags.server, a.getenv(envServer)),
			TenantID:       first(a.flags.tenant, a.getenv(envTenantID)),
			ClientID:       first(clientID, a.getenv(envClientID)),
			ClientSecret:   first(secret, a.getenv(envClientSecret)),
			CAFile:         first(a.flags.caFile, a.getenv(envCAFile)),
			SubscriptionID: first(a.flags.subscription, a.getenv(envSubscription)),
		}
		for _, m := range []struct{ flag, value string }{
			{"--server", s.Server}, {"--tenant", s.TenantID}, {"--client-id", s.ClientID}, {"--client-secret", s.ClientSecret},
		} {
			if m.value == "" {
				return usageErrorf("%s is required", m.flag)
			}
		}
		if s.CAFile != "" {
			abs, err := filepath.Abs(s.CAFile)
			if err != nil {
				return fmt.Errorf("resolve --ca-file: %w", err)
			}
			s.CAFile = abs
		}
		cl, err := a.newClient(conn{Admin: s})
		if err != nil {
			return err
		}
		s.Server = cl.Server()
		if _, err := cl.ClientCredentialsToken(ctx, cl.ManagementScope()); err != nil {
			return err
		}
		subs, err := cl.ListSubscriptions(ctx)
		if err != nil {
			return err
		}
		s.SubscriptionID, err = pickSubscription(subs, s.SubscriptionID)
		if err != nil {
			return err
		}
		path, err := a.profilePath()
		if err != nil {
			return err
		}
		if err := writeProfile(path, s); err != nil {
			return err
		}
		accounts := make([]account, 0, len(subs))
		for _, sub := range subs {
			accounts = append(accounts, account{
				CloudName: cloudName,
				ID:        sub.SubscriptionID,
				IsDefault: sub.SubscriptionID == s.SubscriptionID,
				Name:      sub.DisplayName,
				State:     sub.State,
				TenantID:  first(sub.TenantID, s.TenantID),
				User:      accountUser{Name: s.ClientID, Type: "servicePrincipal"},
			})
		}
		return a.render(accounts)
	})
	return cmd
}

// pickSubscription checks the wanted subscription is visible, or picks the
// first one.
func pickSubscription(subs []client.Subscription, want string) (string, error) {
	if want == "" {
		if len(subs) == 0 {
			return "", nil
		}
		return subs[0].SubscriptionID, nil
	}
	for _, s := range subs {
		if s.SubscriptionID == want {
			return want, nil
		}
	}
	return "", fmt.Errorf("subscription %s is not visible to this service principal", want)
}

func (a *app) newLogoutCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "logout",
		Short:   "Forget the stored profile",
		Example: `  fedcred logout`,
		Args:    cobra.NoArgs,
	}
	a.addClientFlags(cmd)
	cmd.RunE = a.action(func(context.Context) error {
		path, err := a.profilePath()
		if err != nil {
			return err
		}
		if err := os.Remove(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("not logged in: there is no profile at %s", path)
			}
			return fmt.Errorf("remove profile: %w", err)
		}
		return nil
	})
	return cmd
}

// accountInfo is 'fedcred account show': the settings commands use, without
// the secret.
type accountInfo struct {
	ID       string      `json:"id"`
	TenantID string      `json:"tenantId"`
	User     accountUser `json:"user"`
	Server   string      `json:"server"`
	CAFile   string      `json:"caFile"`
	Source   string      `json:"source"`
}

func (a *app) newAccountCommand() *cobra.Command {
	cmd := groupCommand("account", "Show the account commands use", `  fedcred account show`)
	a.addClientFlags(cmd)
	show := &cobra.Command{
		Use:   "show",
		Short: "Show the server, tenant, principal and subscription commands use, and where they come from",
		Example: `  fedcred account show
  fedcred account show --query id -o tsv`,
		Args: cobra.NoArgs,
	}
	show.RunE = a.action(func(context.Context) error {
		c, err := a.resolve()
		if err != nil {
			return err
		}
		return a.render(accountInfo{
			ID:       c.SubscriptionID,
			TenantID: c.TenantID,
			User:     accountUser{Name: c.ClientID, Type: "servicePrincipal"},
			Server:   c.Server,
			CAFile:   c.CAFile,
			Source:   c.Source,
		})
	})
	cmd.AddCommand(show)
	return cmd
}
