package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// API versions and the token scope of Key Vault.
const (
	KeyVaultAPIVersion = "2023-07-01" // the management API's Microsoft.KeyVault/vaults
	SecretsAPIVersion  = "7.6"        // the data plane
	// VaultScope is the scope of data-plane tokens unless a vault's 401
	// challenge names another resource.
	VaultScope = "https://vault.azure.net/.default"
)

const vaultProvider = "/providers/Microsoft.KeyVault/vaults"

// Vault is a key vault (Microsoft.KeyVault/vaults). In a PUT only Location,
// Tags and the writable properties count.
type Vault struct {
	ID         string            `json:"id,omitempty"`
	Name       string            `json:"name,omitempty"`
	Type       string            `json:"type,omitempty"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	SystemData *SystemData       `json:"systemData,omitempty"`
	Properties VaultProperties   `json:"properties"`
}

// VaultProperties are a vault's properties; VaultURI (the data plane's base
// URL, ending in a slash) and ProvisioningState are read-only.
type VaultProperties struct {
	TenantID                  string    `json:"tenantId"`
	SKU                       *VaultSKU `json:"sku,omitempty"`
	EnableRBACAuthorization   *bool     `json:"enableRbacAuthorization,omitempty"`
	EnableSoftDelete          *bool     `json:"enableSoftDelete,omitempty"`
	SoftDeleteRetentionInDays *int      `json:"softDeleteRetentionInDays,omitempty"`
	PublicNetworkAccess       string    `json:"publicNetworkAccess,omitempty"`
	VaultURI                  string    `json:"vaultUri,omitempty"`
	ProvisioningState         string    `json:"provisioningState,omitempty"`
}

// VaultSKU is a vault's pricing tier.
type VaultSKU struct {
	Family string `json:"family"`
	Name   string `json:"name"`
}

// StandardSKU is the SKU az keyvault create gives a vault by default.
func StandardSKU() *VaultSKU { return &VaultSKU{Family: "A", Name: "standard"} }

// vaultBody is what a vault PUT sends.
type vaultBody struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties VaultProperties   `json:"properties"`
}

// writable returns the parts of v a PUT may set.
func (v Vault) writable() vaultBody {
	p := v.Properties
	return vaultBody{Location: v.Location, Tags: v.Tags, Properties: VaultProperties{
		TenantID:                p.TenantID,
		SKU:                     p.SKU,
		EnableRBACAuthorization: p.EnableRBACAuthorization,
	}}
}

func vaultPath(sub, rg, name string) (string, error) {
	base, err := groupPath(sub, rg)
	if err != nil {
		return "", err
	}
	e, err := escape("vault name", name)
	if err != nil {
		return "", err
	}
	return base + vaultProvider + "/" + e[0], nil
}

// PutVault creates or updates a key vault. Read-only fields of v are not
// sent.
func (c *Client) PutVault(ctx context.Context, sub, rg, name string, v Vault) (*Vault, error) {
	p, err := vaultPath(sub, rg, name)
	if err != nil {
		return nil, wrap("put vault", err)
	}
	return put[Vault](ctx, c, "put vault", p, KeyVaultAPIVersion, v.writable())
}

// GetVault gets one key vault.
func (c *Client) GetVault(ctx context.Context, sub, rg, name string) (*Vault, error) {
	p, err := vaultPath(sub, rg, name)
	if err != nil {
		return nil, wrap("get vault", err)
	}
	return get[Vault](ctx, c, "get vault", p, KeyVaultAPIVersion)
}

// DeleteVault deletes a key vault and its secrets.
func (c *Client) DeleteVault(ctx context.Context, sub, rg, name string) error {
	p, err := vaultPath(sub, rg, name)
	if err != nil {
		return wrap("delete vault", err)
	}
	return remove(ctx, c, "delete vault", p, KeyVaultAPIVersion)
}

// ListVaults lists the key vaults of a resource group, or of the whole
// subscription when rg is "".
func (c *Client) ListVaults(ctx context.Context, sub, rg string) ([]Vault, error) {
	var p string
	var err error
	if rg == "" {
		p, err = subscriptionPath(sub)
	} else {
		p, err = groupPath(sub, rg)
	}
	if err != nil {
		return nil, wrap("list vaults", err)
	}
	vaults, err := list[Vault](ctx, c, p+vaultProvider, KeyVaultAPIVersion)
	return vaults, wrap("list vaults", err)
}

// FindVault finds a vault of the subscription by name (vault names are
// unique, as in Azure, where they are DNS names), as az does when no
// resource group is given. A vault that does not exist is a 404 *APIError
// with code ResourceNotFound.
func (c *Client) FindVault(ctx context.Context, sub, name string) (*Vault, error) {
	if strings.TrimSpace(name) == "" {
		return nil, wrap("find vault", fmt.Errorf("vault name is required"))
	}
	vaults, err := c.ListVaults(ctx, sub, "")
	if err != nil {
		return nil, err
	}
	for i := range vaults {
		if strings.EqualFold(vaults[i].Name, name) {
			return &vaults[i], nil
		}
	}
	return nil, &APIError{
		StatusCode: http.StatusNotFound,
		Code:       "ResourceNotFound",
		Message:    fmt.Sprintf("The vault '%s' was not found in subscription '%s'.", name, sub),
	}
}

// VaultURI finds a vault of the subscription by name and returns its
// data-plane URL (properties.vaultUri).
func (c *Client) VaultURI(ctx context.Context, sub, name string) (string, error) {
	v, err := c.FindVault(ctx, sub, name)
	if err != nil {
		return "", err
	}
	if v.Properties.VaultURI == "" {
		return "", fmt.Errorf("find vault %s: the server gave it no vaultUri", name)
	}
	return v.Properties.VaultURI, nil
}

// SecretAttributes are a secret's Key Vault attributes. Times are Unix
// seconds, as on the wire.
type SecretAttributes struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         *int64 `json:"created,omitempty"`
	Updated         *int64 `json:"updated,omitempty"`
	RecoveryLevel   string `json:"recoveryLevel,omitempty"`
	RecoverableDays *int   `json:"recoverableDays,omitempty"`
}

// SecretBundle is a secret version with its value, as Key Vault returns it.
// Its String and GoString methods leave the value out.
type SecretBundle struct {
	Value       string            `json:"value"`
	ID          string            `json:"id"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Attributes  SecretAttributes  `json:"attributes"`
	Kid         string            `json:"kid,omitempty"`
	Managed     *bool             `json:"managed,omitempty"`
}

// String describes the secret without its value.
func (s SecretBundle) String() string { return "secret " + s.ID }

// GoString describes the secret without its value.
func (s SecretBundle) GoString() string { return "client.SecretBundle{" + s.ID + "}" }

// DeletedSecretBundle is what deleting a secret returns: the deleted
// secret and when it will be purged.
type DeletedSecretBundle struct {
	SecretBundle
	RecoveryID         string `json:"recoveryId,omitempty"`
	DeletedDate        *int64 `json:"deletedDate,omitempty"`
	ScheduledPurgeDate *int64 `json:"scheduledPurgeDate,omitempty"`
}

// String describes the deleted secret without its value.
func (s DeletedSecretBundle) String() string { return "deleted secret " + s.ID }

// GoString describes the deleted secret without its value.
func (s DeletedSecretBundle) GoString() string { return "client.DeletedSecretBundle{" + s.ID + "}" }

// SecretItem is a secret in a list: no value.
type SecretItem struct {
	ID          string            `json:"id"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Attributes  SecretAttributes  `json:"attributes"`
	Managed     *bool             `json:"managed,omitempty"`
}

// SecretSetParameters is the body of a secret set: a new version.
type SecretSetParameters struct {
	Value       string            `json:"value"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

// String describes the parameters without the value.
func (p SecretSetParameters) String() string { return "secret set parameters" }

// GoString describes the parameters without the value.
func (p SecretSetParameters) GoString() string { return "client.SecretSetParameters{}" }

// secretURL builds {vaultURI}secrets/{name}[/{version}]?api-version=..., the
// vault's URL moved onto the client's server (the data plane is served there,
// and a token never leaves for another host).
func (c *Client) secretURL(vaultURI string, parts ...string) (string, error) {
	base, err := c.vaultBase(vaultURI)
	if err != nil {
		return "", err
	}
	p := base + "secrets"
	for _, part := range parts {
		p += "/" + url.PathEscape(part)
	}
	return p + "?api-version=" + url.QueryEscape(SecretsAPIVersion), nil
}

// vaultBase checks a vaultUri and returns it on the client's server, ending
// in a slash.
func (c *Client) vaultBase(vaultURI string) (string, error) {
	u, err := url.Parse(vaultURI)
	if err != nil {
		return "", fmt.Errorf("parse vault URI: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("vault URI %q is not an https URL without a query", vaultURI)
	}
	base, err := c.onServer(vaultURI)
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base, nil
}

// SetSecret adds a version to a secret (creating the secret) and returns it.
func (c *Client) SetSecret(ctx context.Context, vaultURI, name string, p SecretSetParameters) (*SecretBundle, error) {
	if strings.TrimSpace(name) == "" {
		return nil, wrap("set secret", fmt.Errorf("secret name is required"))
	}
	u, err := c.secretURL(vaultURI, name)
	if err != nil {
		return nil, wrap("set secret", err)
	}
	var out SecretBundle
	if _, err := c.do(ctx, call{api: vaultAPI, method: http.MethodPut, url: u, body: p, out: &out}); err != nil {
		return nil, wrap("set secret", err)
	}
	return &out, nil
}

// GetSecret gets a secret's latest version, or the version given.
func (c *Client) GetSecret(ctx context.Context, vaultURI, name, version string) (*SecretBundle, error) {
	if strings.TrimSpace(name) == "" {
		return nil, wrap("get secret", fmt.Errorf("secret name is required"))
	}
	parts := []string{name}
	if version != "" {
		parts = append(parts, version)
	}
	u, err := c.secretURL(vaultURI, parts...)
	if err != nil {
		return nil, wrap("get secret", err)
	}
	var out SecretBundle
	if _, err := c.do(ctx, call{api: vaultAPI, method: http.MethodGet, url: u, out: &out}); err != nil {
		return nil, wrap("get secret", err)
	}
	return &out, nil
}

// ListSecrets lists the secrets of a vault (without values), following
// nextLink on the client's server.
func (c *Client) ListSecrets(ctx context.Context, vaultURI string) ([]SecretItem, error) {
	u, err := c.secretURL(vaultURI)
	if err != nil {
		return nil, wrap("list secrets", err)
	}
	items, err := pages[SecretItem](ctx, c, vaultAPI, u)
	return items, wrap("list secrets", err)
}

// DeleteSecret deletes a secret with all its versions.
func (c *Client) DeleteSecret(ctx context.Context, vaultURI, name string) (*DeletedSecretBundle, error) {
	if strings.TrimSpace(name) == "" {
		return nil, wrap("delete secret", fmt.Errorf("secret name is required"))
	}
	u, err := c.secretURL(vaultURI, name)
	if err != nil {
		return nil, wrap("delete secret", err)
	}
	var out DeletedSecretBundle
	if _, err := c.do(ctx, call{api: vaultAPI, method: http.MethodDelete, url: u, out: &out}); err != nil {
		return nil, wrap("delete secret", err)
	}
	return &out, nil
}

// challengeScope reads the scope a Key Vault 401 challenge asks for:
// WWW-Authenticate: Bearer authorization="...", resource="https://vault.azure.net"
// (or scope="https://vault.azure.net/.default"). The resource must be an
// https URL.
func challengeScope(headers []string) (string, bool) {
	for _, h := range headers {
		scheme, params := parseChallenge(h)
		if !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		scope := params["scope"]
		if scope == "" && params["resource"] != "" {
			scope = params["resource"]
			if !strings.HasSuffix(scope, "/.default") {
				scope += "/.default"
			}
		}
		if scope == "" {
			continue
		}
		u, err := url.Parse(strings.TrimSuffix(scope, "/.default"))
		if err != nil || u.Scheme != "https" || u.Host == "" || !strings.HasSuffix(scope, "/.default") {
			continue
		}
		return scope, true
	}
	return "", false
}

// parseChallenge splits one WWW-Authenticate challenge into its scheme and
// its parameters (names lower-cased, values unquoted).
func parseChallenge(h string) (string, map[string]string) {
	h = strings.TrimSpace(h)
	scheme, rest, _ := strings.Cut(h, " ")
	params := map[string]string{}
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return scheme, params
		}
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			return scheme, params
		}
		name = strings.ToLower(strings.TrimSpace(name))
		var value string
		if strings.HasPrefix(after, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				b.WriteByte(after[i])
			}
			value, rest = b.String(), after[min(i+1, len(after)):]
		} else {
			end := strings.IndexAny(after, " \t,")
			if end < 0 {
				end = len(after)
			}
			value, rest = after[:end], after[end:]
		}
		params[name] = value
	}
}
