package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// TrustedIssuerAPIVersion is the api-version sent for fedcred's own
// Fedcred/trustedIssuers resources.
const TrustedIssuerAPIVersion = "2025-01-01"

// trustedIssuerProvider is the path of the trusted issuers below a
// subscription.
const trustedIssuerProvider = "/providers/Fedcred/trustedIssuers"

// TrustedIssuer is an issuer fedcred trusts by uploaded keys: a private
// cluster it cannot reach.
type TrustedIssuer struct {
	ID         string                  `json:"id,omitempty"`
	Name       string                  `json:"name,omitempty"`
	Type       string                  `json:"type,omitempty"`
	SystemData *SystemData             `json:"systemData,omitempty"`
	Properties TrustedIssuerProperties `json:"properties"`
}

// TrustedIssuerProperties are a trusted issuer's issuer URL and keys; the
// other fields are read-only.
type TrustedIssuerProperties struct {
	Issuer string `json:"issuer"`
	// JWKS is the uploaded JSON web key set.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// Keys describes each key of JWKS.
	Keys          []TrustedIssuerKey `json:"keys,omitempty"`
	KeysUpdatedAt time.Time          `json:"keysUpdatedAt,omitzero"`
	// KeysPublishedBy is the kid whose proof published the keys, "" when
	// they were uploaded through the management API.
	KeysPublishedBy string `json:"keysPublishedBy,omitempty"`
	// PublishKeysAudience is the aud a publish-keys proof must carry.
	PublishKeysAudience string `json:"publishKeysAudience,omitempty"`
	ProvisioningState   string `json:"provisioningState,omitempty"`
}

// TrustedIssuerKey describes one key of a trusted issuer.
type TrustedIssuerKey struct {
	KID string `json:"kid"`
	Kty string `json:"kty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// trustedIssuerBody is what a PUT sends.
type trustedIssuerBody struct {
	Properties struct {
		Issuer string          `json:"issuer"`
		JWKS   json.RawMessage `json:"jwks"`
	} `json:"properties"`
}

func trustedIssuerPath(sub, name string) (string, error) {
	base, err := subscriptionPath(sub)
	if err != nil {
		return "", err
	}
	e, err := escape("trusted issuer name", name)
	if err != nil {
		return "", err
	}
	return base + trustedIssuerProvider + "/" + e[0], nil
}

// PutTrustedIssuer creates or replaces a trusted issuer: issuer is the
// issuer URL exactly as its tokens carry it, jwks its public keys.
func (c *Client) PutTrustedIssuer(ctx context.Context, sub, name, issuer string, jwks json.RawMessage) (*TrustedIssuer, error) {
	p, err := trustedIssuerPath(sub, name)
	if err != nil {
		return nil, wrap("put trusted issuer", err)
	}
	if !json.Valid(jwks) {
		return nil, errors.New("put trusted issuer: the JWKS is not valid JSON")
	}
	var body trustedIssuerBody
	body.Properties.Issuer, body.Properties.JWKS = issuer, jwks
	return put[TrustedIssuer](ctx, c, "put trusted issuer", p, TrustedIssuerAPIVersion, body)
}

// GetTrustedIssuer gets one trusted issuer.
func (c *Client) GetTrustedIssuer(ctx context.Context, sub, name string) (*TrustedIssuer, error) {
	p, err := trustedIssuerPath(sub, name)
	if err != nil {
		return nil, wrap("get trusted issuer", err)
	}
	return get[TrustedIssuer](ctx, c, "get trusted issuer", p, TrustedIssuerAPIVersion)
}

// ListTrustedIssuers lists the trusted issuers of a subscription.
func (c *Client) ListTrustedIssuers(ctx context.Context, sub string) ([]TrustedIssuer, error) {
	p, err := subscriptionPath(sub)
	if err != nil {
		return nil, wrap("list trusted issuers", err)
	}
	items, err := list[TrustedIssuer](ctx, c, p+trustedIssuerProvider, TrustedIssuerAPIVersion)
	return items, wrap("list trusted issuers", err)
}

// DeleteTrustedIssuer deletes a trusted issuer; its issuer's tokens are no
// longer verified with its keys.
func (c *Client) DeleteTrustedIssuer(ctx context.Context, sub, name string) error {
	p, err := trustedIssuerPath(sub, name)
	if err != nil {
		return wrap("delete trusted issuer", err)
	}
	return remove(ctx, c, "delete trusted issuer", p, TrustedIssuerAPIVersion)
}

// TrustedIssuerAudience is the aud of publish-keys proofs for a trusted
// issuer, assuming the server's public URL is the URL this client uses
// (else read properties.publishKeysAudience).
func (c *Client) TrustedIssuerAudience(sub, name string) (string, error) {
	p, err := trustedIssuerPath(sub, name)
	if err != nil {
		return "", err
	}
	return c.server + p, nil
}

// PublishTrustedIssuerKeys replaces a trusted issuer's keys with jwks,
// authenticated by proof (a publish-keys proof token the issuer signed with
// a key fedcred trusts for it now, see trust.SignProof) instead of the
// client's credentials, which it does not need.
func (c *Client) PublishTrustedIssuerKeys(ctx context.Context, sub, name, proof string, jwks json.RawMessage) (*TrustedIssuer, error) {
	p, err := trustedIssuerPath(sub, name)
	if err != nil {
		return nil, wrap("publish keys", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.resourceURL(p+"/publishKeys", TrustedIssuerAPIVersion), bytes.NewReader(jwks))
	if err != nil {
		return nil, fmt.Errorf("publish keys: build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+proof)
	req.Header.Set("Content-Type", "application/json")
	resp, body, err := c.send(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeAPIError(resp.StatusCode, body)
	}
	var out TrustedIssuer
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("publish keys: decode response: %w", err)
	}
	return &out, nil
}
