package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Form values of the token endpoint.
const (
	grantClientCredentials = "client_credentials"
	// AssertionTypeJWTBearer is the client_assertion_type of a federated token.
	AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// refreshMargin is how long before expiry a cached token is replaced (at
// most half its lifetime).
const refreshMargin = 5 * time.Minute

// ErrNoCredentials means a management call was made without a tenant,
// client ID and client secret.
var ErrNoCredentials = errors.New("no management credentials: tenant, client ID and client secret are required")

// Token is an access token from the token endpoint. Its String and GoString
// methods leave the token out, so it is safe to print by accident.
type Token struct {
	AccessToken string
	TokenType   string
	ExpiresIn   int64     // lifetime in seconds, as the server said
	ExpiresOn   time.Time // the client's clock at receipt plus ExpiresIn
}

// String describes the token without its value.
func (t Token) String() string {
	return fmt.Sprintf("%s token expiring %s", t.TokenType, t.ExpiresOn.Format(time.RFC3339))
}

// GoString describes the token without its value.
func (t Token) GoString() string { return "client.Token{" + t.String() + "}" }

// TokenRequest asks the token endpoint for a token with the client
// credentials grant, authenticating with either a client secret or a client
// assertion (a federated token such as a service-account token).
type TokenRequest struct {
	TenantID        string // defaults to Options.TenantID
	ClientID        string
	Scope           string // e.g. https://vault.azure.net/.default
	ClientSecret    string
	ClientAssertion string
}

// RequestToken posts a client credentials request to
// {server}/{tenant}/oauth2/v2.0/token. The token is not cached.
func (c *Client) RequestToken(ctx context.Context, r TokenRequest) (*Token, error) {
	tenant := r.TenantID
	if tenant == "" {
		tenant = c.tenantID
	}
	switch {
	case tenant == "":
		return nil, errors.New("request token: tenant is required")
	case r.ClientID == "":
		return nil, errors.New("request token: client ID is required")
	case r.Scope == "":
		return nil, errors.New("request token: scope is required")
	case (r.ClientSecret == "") == (r.ClientAssertion == ""):
		return nil, errors.New("request token: exactly one of client secret and client assertion is required")
	}
	form := url.Values{
		"grant_type": {grantClientCredentials},
		"client_id":  {r.ClientID},
		"scope":      {r.Scope},
	}
	if r.ClientSecret != "" {
		form.Set("client_secret", r.ClientSecret)
	} else {
		form.Set("client_assertion_type", AssertionTypeJWTBearer)
		form.Set("client_assertion", r.ClientAssertion)
	}
	endpoint := c.server + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	issued := c.now()
	resp, body, err := c.send(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeTokenError(resp.StatusCode, body)
	}
	var tr struct {
		AccessToken string  `json:"access_token"`
		TokenType   string  `json:"token_type"`
		ExpiresIn   seconds `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("decode token response: %w", err)
	}
	if tr.AccessToken == "" {
		return nil, errors.New("decode token response: no access_token")
	}
	if tr.ExpiresIn <= 0 {
		return nil, errors.New("decode token response: expires_in is missing or not positive")
	}
	if tr.TokenType == "" {
		tr.TokenType = "Bearer"
	}
	return &Token{
		AccessToken: tr.AccessToken,
		TokenType:   tr.TokenType,
		ExpiresIn:   int64(tr.ExpiresIn),
		ExpiresOn:   issued.Add(time.Duration(tr.ExpiresIn) * time.Second),
	}, nil
}

// ClientCredentialsToken gets a token for scope with the client's own
// credentials (Options.ClientID and ClientSecret). It is not cached.
func (c *Client) ClientCredentialsToken(ctx context.Context, scope string) (*Token, error) {
	if c.tenantID == "" || c.clientID == "" || c.secret == "" {
		return nil, fmt.Errorf("sign in to %s: %w", c.server, ErrNoCredentials)
	}
	return c.RequestToken(ctx, TokenRequest{ClientID: c.clientID, ClientSecret: c.secret, Scope: scope})
}

// SignedInPrincipalID returns the object ID of the principal the client
// signs in as: the oid claim of its management token (a token the server
// issued over TLS, so its payload is read without checking the signature).
func (c *Client) SignedInPrincipalID(ctx context.Context) (string, error) {
	tok, _, err := c.managementToken(ctx)
	if err != nil {
		return "", err
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errors.New("read signed-in principal: the management token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", fmt.Errorf("read signed-in principal: %w", err)
	}
	var claims struct {
		OID string `json:"oid"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("read signed-in principal: %w", err)
	}
	if claims.OID == "" {
		return "", errors.New("read signed-in principal: the management token has no oid claim")
	}
	return claims.OID, nil
}

// managementToken returns a token for the management API, from the cache
// when it is not near expiry. cached tells which.
func (c *Client) managementToken(ctx context.Context) (tok string, cached bool, err error) {
	return c.scopedToken(ctx, c.ManagementScope())
}

// scopedToken returns a token for scope obtained with the client's own
// credentials, from the cache when it is not near expiry. cached tells
// which.
func (c *Client) scopedToken(ctx context.Context, scope string) (tok string, cached bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.tokens[scope]; t != nil && c.now().Before(refreshAt(t)) {
		return t.AccessToken, true, nil
	}
	t, err := c.ClientCredentialsToken(ctx, scope)
	if err != nil {
		return "", false, err
	}
	if c.tokens == nil {
		c.tokens = map[string]*Token{}
	}
	c.tokens[scope] = t
	return t.AccessToken, false, nil
}

// dropToken forgets the cached token of scope if it is still tok.
func (c *Client) dropToken(scope, tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := c.tokens[scope]; t != nil && t.AccessToken == tok {
		delete(c.tokens, scope)
	}
}

func refreshAt(t *Token) time.Time {
	margin := min(refreshMargin, time.Duration(t.ExpiresIn)*time.Second/2)
	return t.ExpiresOn.Add(-margin)
}

// seconds is a lifetime that Entra writes as a number, and older endpoints
// as a string of digits.
type seconds int64

// UnmarshalJSON accepts a JSON number or a string of digits.
func (s *seconds) UnmarshalJSON(b []byte) error {
	str := strings.Trim(string(b), `"`)
	if str == "null" {
		*s = 0
		return nil
	}
	n, err := strconv.ParseInt(str, 10, 64)
	if err != nil {
		return fmt.Errorf("expires_in %s is not a whole number of seconds", b)
	}
	*s = seconds(n)
	return nil
}
