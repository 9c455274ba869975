// Package client is a Go client of fedcred's HTTP API: the Entra-shaped token
// endpoint and the ARM-shaped management API (subscriptions, resource groups,
// user-assigned identities and their federated credentials, managed clusters
// and their service-account tokens). The fedcred CLI and the end-to-end tests
// use it.
//
// A Client signs in to the management API with client credentials and keeps
// the access token until shortly before it expires. Failures come back as
// *APIError (the server answered with an ARM or Kubernetes error),
// *TokenError (the token endpoint refused) or *ConnectionError (the server
// could not be reached or its certificate was not trusted). Error strings
// never contain a secret or a token.
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

	mu    sync.Mutex // guards token; held while a token is fetched
	token *Token
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

// call is one management API request.
type call struct {
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

// do sends an authorised management request. A 401 with a cached token
// drops the token and tries once more with a new one (the server may have
// restarted with new signing keys).
func (c *Client) do(ctx context.Context, cl call) (int, error) {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return 0, fmt.Errorf("encode request: %w", err)
		}
	}
	for attempt := 0; ; attempt++ {
		tok, cached, err := c.managementToken(ctx)
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
		if resp.StatusCode == http.StatusUnauthorized && cached && attempt == 0 {
			c.dropToken(tok)
			continue
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return resp.StatusCode, decodeAPIError(resp.StatusCode, body)
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

// list gets every page of an ARM collection, following nextLink. The
// client's token never leaves the server: a nextLink that names another
// origin (as when the server's public URL differs from the URL this client
// uses) is followed on the client's server, with the link's path and query.
func list[T any](ctx context.Context, c *Client, path, apiVersion string) ([]T, error) {
	all := []T{}
	next := c.resourceURL(path, apiVersion)
	seen := map[string]bool{}
	for page := 0; next != ""; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("list %s: more than %d pages", path, maxPages)
		}
		if seen[next] {
			return nil, fmt.Errorf("list %s: nextLink repeats a page", path)
		}
		seen[next] = true
		var body struct {
			Value    []T    `json:"value"`
			NextLink string `json:"nextLink"`
		}
		if _, err := c.do(ctx, call{method: http.MethodGet, url: next, out: &body}); err != nil {
			return nil, err
		}
		all = append(all, body.Value...)
		next = ""
		if body.NextLink != "" {
			link, err := c.onServer(body.NextLink)
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", path, err)
			}
			next = link
		}
	}
	return all, nil
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
