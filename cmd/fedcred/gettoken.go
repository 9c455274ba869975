package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
)

// maxFederatedTokenBytes bounds the federated token file.
const maxFederatedTokenBytes = 64 << 10

// expiresOnLayout is how az account get-access-token prints expiresOn.
const expiresOnLayout = "2006-01-02 15:04:05.000000"

// accessToken is get-token's output, shaped like az account get-access-token.
type accessToken struct {
	AccessToken string `json:"accessToken"`
	ExpiresOn   string `json:"expiresOn"`
	ExpiresOnTS int64  `json:"expires_on"`
	TokenType   string `json:"tokenType"`
	Tenant      string `json:"tenant"`
}

func (a *app) newGetTokenCommand() *cobra.Command {
	var clientID, scope, resource, tokenFile, secret string
	cmd := &cobra.Command{
		Use:   "get-token",
		Short: "Get an access token for a client, with a federated token or a client secret",
		Long: `Get an access token from the server's token endpoint with the client credentials grant,
authenticating either with a federated token (such as a service-account token from
'fedcred aks create-token') or with a client secret. The output has the shape of
'az account get-access-token'.`,
		Example: `  # Exchange a service-account token for an access token of the identity
  fedcred aks create-token -n c1 -g rg1 --namespace default --service-account app > token.jwt
  fedcred get-token --client-id "$(fedcred identity show -n id1 -g rg1 --query clientId -o tsv)" \
    --scope api://my-api/.default --federated-token-file token.jwt --query accessToken -o tsv`,
		Args: cobra.NoArgs,
	}
	a.addClientFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&clientID, "client-id", "", "client ID of the identity or application")
	f.StringVar(&scope, "scope", "", "scope of the token, e.g. https://vault.azure.net/.default")
	f.StringVar(&resource, "resource", "", "resource of the token (the scope is RESOURCE/.default)")
	f.StringVar(&tokenFile, "federated-token-file", "", "file holding the federated token (client assertion)")
	f.StringVar(&secret, "client-secret", "", "client secret")
	required(cmd, "client-id")
	cmd.MarkFlagsOneRequired("scope", "resource")
	cmd.MarkFlagsMutuallyExclusive("scope", "resource")
	cmd.MarkFlagsOneRequired("federated-token-file", "client-secret")
	cmd.MarkFlagsMutuallyExclusive("federated-token-file", "client-secret")
	cmd.RunE = a.action(func(ctx context.Context) error {
		if resource != "" {
			scope = strings.TrimRight(resource, "/") + "/.default"
		}
		req := client.TokenRequest{ClientID: clientID, Scope: scope, ClientSecret: secret}
		if tokenFile != "" {
			assertion, err := readFederatedToken(tokenFile)
			if err != nil {
				return err
			}
			req.ClientAssertion = assertion
		}
		c, err := a.resolve()
		if err != nil {
			return err
		}
		if c.TenantID == "" {
			return usageErrorf("no tenant: pass --tenant or set %s", envTenantID)
		}
		req.TenantID = c.TenantID
		cl, err := a.newClient(c)
		if err != nil {
			return err
		}
		tok, err := cl.RequestToken(ctx, req)
		if err != nil {
			return err
		}
		return a.render(accessToken{
			AccessToken: tok.AccessToken,
			ExpiresOn:   tok.ExpiresOn.Format(expiresOnLayout),
			ExpiresOnTS: tok.ExpiresOn.Unix(),
			TokenType:   tok.TokenType,
			Tenant:      c.TenantID,
		})
	})
	return cmd
}

// readFederatedToken reads a token file, which kubelet and
// 'fedcred aks create-token' write with or without a final newline.
func readFederatedToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read federated token: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFederatedTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("read federated token: %w", err)
	}
	if len(data) > maxFederatedTokenBytes {
		return "", fmt.Errorf("read federated token: %s is larger than %d bytes", path, maxFederatedTokenBytes)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", errors.New("read federated token: " + path + " is empty")
	}
	return token, nil
}
