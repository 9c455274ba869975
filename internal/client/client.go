// Package client is a Go client of fedcred's HTTP API: the Entra-shaped token
// endpoint, the ARM-shaped management API (subscriptions, resource groups,
// user-assigned identities and their federated credentials, managed clusters
// and their service-account tokens, role definitions and assignments, key
// vaults), the Key Vault data plane (secrets) and the Graph-shaped
// application API. The fedcred CLI and the end-to-end tests use it.
//
// A Client signs in with client credentials, one token per scope (the
// management API, https://vault.azure.net, https://graph.microsoft.com), and
// keeps each token until shortly before it expires. Failures come back as
// *APIError (the server answered with an ARM or Kubernetes error),
// *VaultError (the Key Vault data plane refused), *GraphError (the
// application API refused), *TokenError (the token endpoint refused) or
// *ConnectionError (the server could not be reached or its certificate was
// not trusted). Error strings never contain a secret or a token.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// MaxResponseBytes bounds every response body the client reads.
const MaxResponseBytes = 8 << 20

// maxCAFileBytes bounds the CA bundle read from disk.
const maxCAFileBytes = 1 << 20

// Timeouts of the HTTP client New builds.
const (
	requestTimeout   = 60 * time.Second
	dialTimeout      = 10 * time.Second
	handshakeTimeout = 10 * time.Second
)

// DefaultUserAgent is sent when Options.UserAgent is empty.
const DefaultUserAgent = "fedcred-client"

// Options configures a Client.
type Options struct {
	// Server is the server's public base URL, e.g. https://127.0.0.1:8443.
	// It must use https.
	Server string
	// TenantID, ClientID and ClientSecret are the service principal the
	// client signs in to the management API with. Only the management
	// methods need them.
	TenantID     string
	ClientID     string
	ClientSecret string
	// CAFile is a PEM bundle of the CA certificates to trust. When set, only
	// those are trusted; when empty, the system roots are.
	CAFile string
	// HTTPClient replaces the HTTP client New would build; CAFile is then
	// ignored.
	HTTPClient *http.Client
	// UserAgent is sent with every request (DefaultUserAgent if empty).
	UserAgent string
	// Now is the clock used for token lifetimes (time.Now if nil).
	Now func() time.Time
}

// Client calls one fedcred server. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	server    string
	tenantID  string
	clientID  string
	secret    string
	http      *http.Client
	userAgent string
	now       func() time.Time

	mu     sync.Mutex        // guards tokens; held while a token is fetched
	tokens map[string]*Token // cached tokens by scope
}

// New checks the options and builds a Client. It reads CAFile now.
func New(opts Options) (*Client, error) {
	base, err := parseServer(opts.Server)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc, err = newHTTPClient(opts.CAFile)
		if err != nil {
			return nil, err
		}
	}
	c := &Client{
		base:      base,
		server:    base.String(),
		tenantID:  opts.TenantID,
		clientID:  opts.ClientID,
		secret:    opts.ClientSecret,
		http:      hc,
		userAgent: opts.UserAgent,
		now:       opts.Now,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Server is the normalised server URL, without a trailing slash.
func (c *Client) Server() string { return c.server }

// ManagementScope is the scope of the management API's tokens:
// "{server}/.default".
func (c *Client) ManagementScope() string { return c.server + "/.default" }

// parseServer checks the server URL and drops a trailing slash.
func parseServer(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("server URL is required")
	}
	u, err := url.Parse(strings.TrimRight(s, "/"))
	if err != nil {
		return nil, fmt.Errorf("parse server URL: %w", err)
	}
	switch {
	case u.Scheme != "https":
		return nil, fmt.Errorf("server URL %q must use https", s)
	case u.Host == "":
		return nil, fmt.Errorf("server URL %q has no host", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("server URL %q must not have user info, a query or a fragment", s)
	}
	return u, nil
}

// newHTTPClient builds an HTTP client that trusts only caFile (or the system
// roots), speaks TLS 1.2 or later, times out, and does not follow redirects.
func newHTTPClient(caFile string) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := loadCAFile(caFile)
		if err != nil {
			return nil, err
		}
		tlsConfig.RootCAs = pool
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   handshakeTimeout,
		ResponseHeaderTimeout: requestTimeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

func loadCAFile(path string) (*x509.CertPool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open CA file: %w", err)
	}
	defer f.Close()
	pem, err := io.ReadAll(io.LimitReader(f, maxCAFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	if len(pem) > maxCAFileBytes {
		return nil, fmt.Errorf("CA file %s is larger than %d bytes", path, maxCAFileBytes)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// send performs req and returns the status, headers and the bounded body.
// Transport failures come back as *ConnectionError.
func (c *Client) send(req *http.Request) (*http.Response, []byte, error) {
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-ms-client-request-id", uuid.NewString())
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, nil, ctxErr
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, &ConnectionError{Server: c.server, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, nil, &ConnectionError{Server: c.server, Err: fmt.Errorf("read response: %w", err)}
	}
	if len(body) > MaxResponseBytes {
		return nil, nil, fmt.Errorf("response from %s %s is larger than %d bytes", req.Method, req.URL.Path, MaxResponseBytes)
	}
	return resp, body, nil
}

// api names one of the HTTP APIs the client calls: each has its own token
// scope and error shape.
type api int

const (
	armAPI   api = iota // the management API
	vaultAPI            // the Key Vault data plane
	graphAPI            // the Graph-shaped application API
)

// call is one authorised API request.
type call struct {
	api    api
	method string
	url    string // absolute URL, api-version included
	body   any    // marshalled as JSON when not nil
	out    any    // decoded from a 2xx body when not nil
}

// resourceURL builds the absolute URL of path (already escaped) with an
// api-version.
func (c *Client) resourceURL(path, apiVersion string) string {
	return c.server + path + "?api-version=" + url.QueryEscape(apiVersion)
}

// scope is the token scope of an API.
func (c *Client) scope(a api) string {
	switch a {
	case vaultAPI:
		return VaultScope
	case graphAPI:
		return GraphScope
	default:
		return c.ManagementScope()
	}
}

// decodeError reads an error answer of an API.
func (a api) decodeError(status int, body []byte) error {
	switch a {
	case vaultAPI:
		return decodeVaultError(status, body)
	case graphAPI:
		return decodeGraphError(status, body)
	default:
		return decodeAPIError(status, body)
	}
}

// do sends an authorised request. A 401 with a cached token drops the token
// and tries once more with a new one (the server may have restarted with new
// signing keys). A 401 from the Key Vault data plane whose challenge names
// another resource is retried once with a token for that resource.
func (c *Client) do(ctx context.Context, cl call) (int, error) {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return 0, fmt.Errorf("encode request: %w", err)
		}
	}
	scope := c.scope(cl.api)
	for attempt := 0; ; attempt++ {
		tok, cached, err := c.scopedToken(ctx, scope)
		if err != nil {
			return 0, err
		}
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, cl.method, cl.url, rd)
		if err != nil {
			return 0, fmt.Errorf("build request: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, body, err := c.send(req)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			if cl.api == vaultAPI {
				if next, ok := challengeScope(resp.Header.Values("WWW-Authenticate")); ok && next != scope {
					scope = next
					continue
				}
			}
			if cached {
				c.dropToken(scope, tok)
				continue
			}
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return resp.StatusCode, cl.api.decodeError(resp.StatusCode, body)
		}
		if cl.out != nil && resp.StatusCode != http.StatusNoContent {
			if err := json.Unmarshal(body, cl.out); err != nil {
				return resp.StatusCode, fmt.Errorf("decode response of %s %s: %w", cl.method, req.URL.Path, err)
			}
		}
		return resp.StatusCode, nil
	}
}

// maxPages bounds how many nextLinks a list follows.
const maxPages = 1000

// list gets every page of an ARM collection, following nextLink.
func list[T any](ctx context.Context, c *Client, path, apiVersion string) ([]T, error) {
	items, err := pages[T](ctx, c, armAPI, c.resourceURL(path, apiVersion))
	if err != nil {
		return nil, wrap("list "+path, err)
	}
	return items, nil
}

// pages gets every page of a collection of api starting at first, following
// nextLink (ARM, Key Vault) or @odata.nextLink (Graph). The client's token
// never leaves the server: a link that names another origin (as when the
// server's public URL differs from the URL this client uses) is followed on
// the client's server, with the link's path and query. Errors of the
// server's making come back as they are.
func pages[T any](ctx context.Context, c *Client, a api, first string) ([]T, error) {
	all := []T{}
	next := first
	seen := map[string]bool{}
	for page := 0; next != ""; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("more than %d pages", maxPages)
		}
		if seen[next] {
			return nil, errors.New("nextLink repeats a page")
		}
		seen[next] = true
		var body struct {
			Value     []T    `json:"value"`
			NextLink  string `json:"nextLink"`
			ODataNext string `json:"@odata.nextLink"`
		}
		if _, err := c.do(ctx, call{api: a, method: http.MethodGet, url: next, out: &body}); err != nil {
			return nil, err
		}
		all = append(all, body.Value...)
		next = ""
		if link := orElse(body.NextLink, body.ODataNext); link != "" {
			onServer, err := c.onServer(link)
			if err != nil {
				return nil, err
			}
			next = onServer
		}
	}
	return all, nil
}

// orElse returns a unless it is empty, else b.
func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// onServer returns link if it points at the server, else the link's path
// and query on the server.
func (c *Client) onServer(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("parse nextLink: %w", err)
	}
	if strings.EqualFold(u.Scheme, c.base.Scheme) && strings.EqualFold(u.Host, c.base.Host) {
		return link, nil
	}
	if u.Path == "" || u.Path[0] != '/' {
		return "", fmt.Errorf("nextLink %q has no absolute path", link)
	}
	return c.base.Scheme + "://" + c.base.Host + u.RequestURI(), nil
}
