package accesstoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// openIDConfiguration is the part of a tenant's OpenID metadata a resource
// needs.
type openIDConfiguration struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// NewTenantValidator returns a Validator for the access tokens a fedcred
// server issues in one tenant for audience. It reads
// <serverURL>/<tenantID>/.well-known/openid-configuration for the issuer and
// the jwks_uri (both must be https), validates against a RemoteKeySet over
// that JWKS (opts configure it; its clock is also the Validator's), and
// fetches the keys once so that a misconfiguration fails here rather than on
// the first request. client carries the trust (the server's CA) and defaults
// to one with DefaultFetchTimeout.
func NewTenantValidator(ctx context.Context, serverURL, tenantID, audience string, client *http.Client, opts ...RemoteOption) (*Validator, error) {
	base := strings.TrimRight(serverURL, "/")
	if err := checkHTTPS(base); err != nil {
		return nil, fmt.Errorf("accesstoken: server url: %w", err)
	}
	if tenantID == "" || strings.ContainsAny(tenantID, "/?#%") || audience == "" {
		return nil, errors.New("accesstoken: tenant id and audience are required")
	}
	o := buildOptions(opts)
	if client == nil {
		client = &http.Client{Timeout: o.timeout}
	}
	fctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	body, _, err := getJSON(fctx, client, base+"/"+url.PathEscape(tenantID)+"/.well-known/openid-configuration", "application/json")
	if err != nil {
		return nil, fmt.Errorf("accesstoken: read tenant metadata: %w", err)
	}
	var doc openIDConfiguration
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("accesstoken: decode tenant metadata: %w", err)
	}
	if err := checkHTTPS(doc.Issuer); err != nil {
		return nil, fmt.Errorf("accesstoken: tenant metadata issuer: %w", err)
	}
	keys, err := NewRemoteKeySet(doc.JWKSURI, client, opts...)
	if err != nil {
		return nil, fmt.Errorf("accesstoken: tenant metadata: %w", err)
	}
	if _, err := keys.Keys(fctx); err != nil {
		return nil, fmt.Errorf("accesstoken: read tenant keys: %w", err)
	}
	return NewValidator(Config{Issuer: doc.Issuer, Audiences: []string{audience}, KeyLookup: keys, Now: o.now})
}
