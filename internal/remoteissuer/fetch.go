package remoteissuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// userAgent is sent with every fetch.
const userAgent = "fedcred-remoteissuer"

// Media types of the documents.
const (
	mediaJSON    = "application/json"
	mediaJWKSet  = "application/jwk-set+json"
	acceptJWKSet = mediaJWKSet + ", " + mediaJSON + ";q=0.9"
)

// fetcher fetches issuer documents through the guard.
type fetcher struct {
	guard    *guard
	client   *http.Client
	maxBytes int64
	timeout  time.Duration
	minTTL   time.Duration
	maxTTL   time.Duration
	defTTL   time.Duration
}

func newFetcher(cfg Config) *fetcher {
	g := newGuard(cfg)
	return &fetcher{
		guard: g, client: newClient(cfg, g), maxBytes: cfg.MaxDocumentBytes, timeout: cfg.FetchTimeout,
		minTTL: cfg.MinTTL, maxTTL: cfg.MaxTTL, defTTL: cfg.DefaultTTL,
	}
}

// document is a fetched JSON document.
type document struct {
	url         string // the URL finally answered, after redirects
	body        []byte
	contentType string
	maxAge      time.Duration // from Cache-Control; valid when hasMaxAge
	hasMaxAge   bool
}

// get fetches rawURL and returns its body. Transport failures, refused
// URLs and addresses, and non-200 answers wrap ErrUnreachable; a body that
// is too large or not JSON wraps bad (ErrBadDiscovery or ErrBadKeys).
func (f *fetcher) get(ctx context.Context, rawURL, accept string, bad error) (document, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return document{}, fmt.Errorf("%w: parse %q: %w", ErrUnreachable, rawURL, err)
	}
	if err := f.guard.checkURL(u); err != nil {
		return document{}, fmt.Errorf("%w: get %s: %w", ErrUnreachable, redact(u), err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return document{}, fmt.Errorf("%w: get %s: %w", ErrUnreachable, redact(u), err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", userAgent)
	resp, err := f.client.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return document{}, fmt.Errorf("%w: get %s: %w", ErrUnreachable, redact(u), err)
	}
	defer resp.Body.Close()
	final := redact(resp.Request.URL)
	if err := ctx.Err(); err != nil {
		// The transport can hand over an answer that raced the deadline.
		return document{}, fmt.Errorf("%w: get %s: %w", ErrUnreachable, final, context.Cause(ctx))
	}
	if resp.StatusCode != http.StatusOK {
		return document{}, fmt.Errorf("%w: get %s: status %s", ErrUnreachable, final, resp.Status)
	}
	ct := resp.Header.Get("Content-Type")
	if !isJSON(ct) {
		return document{}, fmt.Errorf("%w: get %s: content type %q is not JSON", bad, final, ct)
	}
	if resp.ContentLength > f.maxBytes {
		return document{}, fmt.Errorf("%w: get %s: document of %d bytes is larger than the limit of %d", bad, final, resp.ContentLength, f.maxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return document{}, fmt.Errorf("%w: read %s: %w", ErrUnreachable, final, err)
	}
	if int64(len(body)) > f.maxBytes {
		return document{}, fmt.Errorf("%w: get %s: document is larger than the limit of %d bytes", bad, final, f.maxBytes)
	}
	d := document{url: final, body: body, contentType: ct}
	d.maxAge, d.hasMaxAge = maxAge(resp.Header.Values("Cache-Control"))
	return d, nil
}

// isJSON reports whether a Content-Type names JSON: application/json,
// application/jwk-set+json, or another application/*+json, with any
// parameters.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == mediaJSON || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// maxAge reads the lifetime a response's Cache-Control header gives:
// max-age in seconds, or zero for no-store and no-cache (the cache then
// keeps the keys for MinTTL, as it must keep them for some time).
func maxAge(values []string) (time.Duration, bool) {
	var age time.Duration
	found := false
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store", "no-cache":
				return 0, true
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(arg), `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				const maxSeconds = int64(1 << 32) // far above any MaxTTL, and no overflow
				age, found = time.Duration(min(n, maxSeconds))*time.Second, true
			}
		}
	}
	return age, found
}

// ttl returns the cache lifetime of a discovery document and JWKS fetched
// together: the shorter max-age of the two when either sends one, else the
// default; clamped to [MinTTL, MaxTTL].
func (f *fetcher) ttl(docs ...document) time.Duration {
	ttl, found := time.Duration(0), false
	for _, d := range docs {
		if d.hasMaxAge && (!found || d.maxAge < ttl) {
			ttl, found = d.maxAge, true
		}
	}
	if !found {
		ttl = f.defTTL
	}
	return clamp(ttl, f.minTTL, f.maxTTL)
}

// discovery is the part of an OIDC discovery document the cache reads.
type discovery struct {
	Issuer  string   `json:"issuer"`
	JWKSURI string   `json:"jwks_uri"`
	Algs    []string `json:"id_token_signing_alg_values_supported"`
}

// parseDiscovery decodes a discovery document and checks it belongs to
// issuer (exact string equality, as Kubernetes and go-oidc require) and
// names a jwks_uri the guard will fetch.
func parseDiscovery(d document, issuer string, g *guard) (discovery, error) {
	var doc discovery
	if err := json.Unmarshal(d.body, &doc); err != nil {
		return discovery{}, fmt.Errorf("%w: %s: not a JSON object with string issuer and jwks_uri: %w", ErrBadDiscovery, d.url, err)
	}
	if doc.Issuer != issuer {
		return doc, fmt.Errorf("%w: %s: issuer mismatch: the document's issuer is %q, the configured issuer is %q%s",
			ErrBadDiscovery, d.url, doc.Issuer, issuer, slashHint(doc.Issuer, issuer))
	}
	if doc.JWKSURI == "" {
		return doc, fmt.Errorf("%w: %s: jwks_uri is missing", ErrBadDiscovery, d.url)
	}
	u, err := url.Parse(doc.JWKSURI)
	if err != nil || !u.IsAbs() {
		return doc, fmt.Errorf("%w: %s: jwks_uri %q is not an absolute URL", ErrBadDiscovery, d.url, doc.JWKSURI)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && g.allowHTTP) {
		return doc, fmt.Errorf("%w: %s: jwks_uri %s is not https", ErrBadDiscovery, d.url, redact(u))
	}
	if u.User != nil || u.Host == "" {
		return doc, fmt.Errorf("%w: %s: jwks_uri %s has user info or no host", ErrBadDiscovery, d.url, redact(u))
	}
	return doc, nil
}

// slashHint explains an issuer mismatch that is only a trailing slash.
func slashHint(doc, configured string) string {
	if strings.TrimSuffix(doc, "/") != strings.TrimSuffix(configured, "/") {
		return ""
	}
	return fmt.Sprintf(" (they differ only in the trailing slash; tokens carry the document's form, so the federated credential's issuer should be %q)", doc)
}
