package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DefaultAzureEnvironment is the cloud whose authority host is injected when
// neither an environment nor an authority host is configured.
const DefaultAzureEnvironment = "AzurePublicCloud"

// AuthorityHostFor returns the AZURE_AUTHORITY_HOST of one of the Azure
// environments azure-workload-identity accepts in AZURE_ENVIRONMENT (go-autorest's
// ActiveDirectoryEndpoint, with its trailing slash). Names match
// case-insensitively, as go-autorest's EnvironmentFromName does; an empty
// name is the public cloud.
func AuthorityHostFor(environment string) (string, error) {
	switch strings.ToUpper(environment) {
	case "", "AZUREPUBLICCLOUD":
		return "https://login.microsoftonline.com/", nil
	case "AZUREUSGOVERNMENTCLOUD":
		return "https://login.microsoftonline.us/", nil
	case "AZURECHINACLOUD":
		return "https://login.chinacloudapi.cn/", nil
	case "AZUREGERMANCLOUD":
		return "https://login.microsoftonline.de/", nil
	}
	return "", fmt.Errorf("unknown azure environment %q: use AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud or AzureGermanCloud", environment)
}

// NormalizeAuthorityHost checks that host is an absolute https URL without
// query, fragment or credentials, and returns it with a trailing slash, the
// form the Azure clouds' authority hosts take (for fedcred:
// "https://fedcred.example.com/").
func NormalizeAuthorityHost(host string) (string, error) {
	u, err := url.Parse(host)
	if err != nil {
		return "", fmt.Errorf("parse authority host: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("authority host %q is not an absolute https URL", host)
	}
	if strings.ContainsAny(host, "?#") || u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("authority host %q must not have a query, fragment or user info", host)
	}
	if !strings.HasSuffix(host, "/") {
		host += "/"
	}
	return host, nil
}

// ResolveAuthorityHost is the AZURE_AUTHORITY_HOST to inject: host
// (normalized by NormalizeAuthorityHost) when set, else the authority host of
// environment (AuthorityHostFor: the public cloud when empty). Setting both
// is an error.
func ResolveAuthorityHost(host, environment string) (string, error) {
	if host != "" && environment != "" {
		return "", errors.New("--authority-host and --azure-environment (AZURE_ENVIRONMENT) exclude each other: give one")
	}
	if host != "" {
		return NormalizeAuthorityHost(host)
	}
	return AuthorityHostFor(environment)
}
