package ratelimit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Defaults the server uses when its configuration leaves a limit at zero.
// They are far above what one well-behaved client or host needs (the Azure
// SDKs cache a token until shortly before it expires, 24 hours for a
// managed identity), and above what a small server can serve, so that only
// a runaway or hostile caller on a large server meets them; set lower
// limits for your capacity (see SECURITY.md).
var (
	// DefaultPerClient is 1000 issued tokens or successful API calls per
	// second per client, in bursts of up to 2000.
	DefaultPerClient = Rate{PerSecond: 1000, Burst: 2000}
	// DefaultPerAddress is 5000 requests per second per source address, in
	// bursts of up to 10000.
	DefaultPerAddress = Rate{PerSecond: 5000, Burst: 10000}
)

// ThrottledCode is the AADSTS code of a throttled token request: Entra's
// 90055, "There are too many incoming requests".
const ThrottledCode = 90055

// maxFormBytes is how much of a token request body is read to find the
// client_id: the token service's own bound, beyond which it refuses the
// request anyway.
const maxFormBytes = 64 << 10

// maxKeyBytes bounds a client key; client IDs are GUIDs, so only keys of
// clients that do not exist are ever clipped.
const maxKeyBytes = 256

// maxBearerBytes bounds the bearer token whose claims name an API caller.
const maxBearerBytes = 16 << 10

// Config configures Middleware.
type Config struct {
	// PerAddress limits every request by its source address; IPv6
	// addresses count by their /64, which one host usually holds whole.
	// The health checks /healthz and /readyz are never limited. The address
	// is the connection's: X-Forwarded-For is not trusted.
	PerAddress Rate
	// PerClient limits each client's access tokens (keyed by client_id)
	// and, separately, its successful calls to the management
	// API, Key Vault and Graph (keyed by the bearer token's tid and appid).
	// A request is refused while its client has no token left, but only a
	// request that succeeds spends one, so nobody can exhaust another
	// client's budget by naming it.
	PerClient Rate
	// MaxKeys bounds the keys each limiter tracks (default DefaultMaxKeys).
	MaxKeys int
	// PublicURL is the server's URL, for the error_uri of Entra's body.
	PublicURL string
	// VaultHost reports whether a request's Host names a Key Vault
	// (<name>.vault.azure.net), which the server routes to the vault
	// whatever the path. Nil means none does.
	VaultHost func(host string) bool
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger receives one debug line per throttled request; defaults to a
	// logger that discards.
	Logger *slog.Logger
}

// Middleware applies the per-address and per-client limits.
type Middleware struct {
	address   *Limiter
	client    *Limiter
	publicURL string
	vaultHost func(string) bool
	now       func() time.Time
	log       *slog.Logger
}

// New returns a Middleware, or an error if a rate is invalid.
func New(cfg Config) (*Middleware, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	address, err := NewLimiter(cfg.PerAddress, cfg.MaxKeys, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: per-address limit: %w", err)
	}
	client, err := NewLimiter(cfg.PerClient, cfg.MaxKeys, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("ratelimit: per-client limit: %w", err)
	}
	if cfg.VaultHost == nil {
		cfg.VaultHost = func(string) bool { return false }
	}
	return &Middleware{address: address, client: client, publicURL: strings.TrimSuffix(cfg.PublicURL, "/"),
		vaultHost: cfg.VaultHost, now: cfg.Now, log: cfg.Logger}, nil
}

// api is the part of the server a request is for, which decides the shape
// of a 429 and how the client is named.
type api int

const (
	apiOther api = iota
	apiExempt
	apiToken // the token endpoints
	apiSTS   // the token service's other paths
	apiARM
	apiVault
	apiGraph
)

// classify tells which API r is for, by the same hosts and prefixes the
// server routes on.
func (m *Middleware) classify(r *http.Request) api {
	p := r.URL.Path
	lower := "/" + strings.TrimLeft(strings.ToLower(p), "/")
	switch {
	case p == "/healthz" || p == "/readyz":
		return apiExempt
	case m.vaultHost(r.Host):
		return apiVault
	case lower == "/subscriptions" || strings.HasPrefix(lower, "/subscriptions/") || lower == "/metadata/endpoints":
		return apiARM
	case strings.HasPrefix(p, "/vaults/"):
		return apiVault
	case strings.HasPrefix(p, "/v1.0/"):
		return apiGraph
	}
	seg := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case r.Method == http.MethodPost && len(seg) == 3 && seg[1] == "oauth2" && seg[2] == "token",
		r.Method == http.MethodPost && len(seg) == 4 && seg[1] == "oauth2" && seg[2] == "v2.0" && seg[3] == "token":
		return apiToken
	case seg[0] == "common", len(seg) > 1 && (seg[1] == "oauth2" || seg[1] == "v2.0" || seg[1] == ".well-known" || seg[1] == "discovery"):
		return apiSTS
	}
	return apiOther
}

// Wrap returns next behind the limits.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := m.classify(r)
		if kind == apiExempt {
			next.ServeHTTP(w, r)
			return
		}
		if key, ok := AddressKey(r.RemoteAddr); ok {
			if ok, wait := m.address.Take(key); !ok {
				m.throttle(w, r, kind, "address", wait)
				return
			}
		}
		var client string
		switch kind {
		case apiToken:
			client = tokenClientKey(r)
		case apiARM, apiVault, apiGraph:
			client = bearerClientKey(r)
		}
		if client == "" {
			next.ServeHTTP(w, r)
			return
		}
		if wait := m.client.Wait(client); wait > 0 {
			m.throttle(w, r, kind, "client", wait)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusOK || (kind != apiToken && sw.status >= 200 && sw.status < 400) {
			m.client.Charge(client)
		}
	})
}

// AddressKey returns the per-address key of a connection's remote address
// ("ip:port"): the IPv4 address, or the /64 of an IPv6 address.
func AddressKey(remoteAddr string) (string, bool) {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return "", false
	}
	a := ap.Addr().Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String(), true
	}
	return a.String(), true
}

// tokenClientKey names the client of a token request by its client_id
// (from the form, else from HTTP Basic; client IDs are unique across
// tenants, and the AD FS path names no tenant), reading at most
// maxFormBytes of the body and leaving the body as it was for the token
// service. It returns "" when the client cannot be told.
func tokenClientKey(r *http.Request) string {
	clientID := ""
	if r.Body != nil && r.Body != http.NoBody {
		buf, _ := io.ReadAll(io.LimitReader(r.Body, maxFormBytes+1))
		r.Body = replayBody{Reader: io.MultiReader(bytes.NewReader(buf), r.Body), Closer: r.Body}
		if len(buf) <= maxFormBytes {
			if form, err := url.ParseQuery(string(buf)); err == nil {
				clientID = form.Get("client_id")
			}
		}
	}
	if clientID == "" {
		if user, _, ok := r.BasicAuth(); ok {
			clientID, _ = url.QueryUnescape(user)
		}
	}
	if clientID == "" {
		return ""
	}
	return clip("token/" + strings.ToLower(clientID))
}

// bearerClientKey names the caller of an API request by the tid and appid
// of its bearer token, unverified: the key only selects a bucket, and only
// a request the API accepted (so whose token verified) is charged to it.
func bearerClientKey(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(token) > maxBearerBytes {
		return ""
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		TenantID string `json:"tid"`
		AppID    string `json:"appid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.AppID == "" {
		return ""
	}
	return clip("api/" + strings.ToLower(c.TenantID) + "/" + strings.ToLower(c.AppID))
}

func clip(key string) string {
	if len(key) > maxKeyBytes {
		return key[:maxKeyBytes]
	}
	return key
}

// replayBody is a request body that first yields what was read ahead.
type replayBody struct {
	io.Reader
	io.Closer
}

// statusWriter records the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// RetryAfter is the Retry-After value for a wait: whole seconds, rounded
// up, at least one.
func RetryAfter(wait time.Duration) string {
	return strconv.Itoa(int(math.Max(1, math.Ceil(wait.Seconds()))))
}

// throttle answers a throttled request with 429, Retry-After and the error
// body of kind's API.
func (m *Middleware) throttle(w http.ResponseWriter, r *http.Request, kind api, limit string, wait time.Duration) {
	retry := RetryAfter(wait)
	m.log.LogAttrs(r.Context(), slog.LevelDebug, "request throttled",
		slog.String("limit", limit), slog.String("path", clip(r.URL.Path)), slog.String("retry_after", retry))
	h := w.Header()
	h.Set("Retry-After", retry)
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store, no-cache")
	what := "this client"
	if limit == "address" {
		what = "this address"
	}
	var body any
	switch kind {
	case apiToken, apiSTS:
		body = m.entraBody(r, fmt.Sprintf("the rate limit of %s is exhausted; retry after %s seconds.", what, retry))
	case apiVault:
		body = errorBody{Error: errorDetail{Code: "Throttled",
			Message: fmt.Sprintf("Request was not processed because too many requests were received from %s. Retry after %s seconds.", what, retry)}}
	default:
		body = errorBody{Error: errorDetail{Code: "TooManyRequests",
			Message: fmt.Sprintf("The request is throttled: too many requests were received from %s. Retry after %s seconds.", what, retry)}}
	}
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(body)
}

// errorBody is the error shape of ARM, Key Vault and Graph.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// entraError is Entra's error JSON, members in Entra's order.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
	ErrorURI         string `json:"error_uri"`
}

func (m *Middleware) entraBody(r *http.Request, hint string) entraError {
	ts := m.now().UTC().Format("2006-01-02 15:04:05Z")
	trace := uuid.NewString()
	corr := uuid.NewString()
	if v := r.Header.Get("client-request-id"); len(v) == 36 {
		if id, err := uuid.Parse(v); err == nil {
			corr = id.String()
		}
	}
	return entraError{
		Error: "temporarily_unavailable",
		ErrorDescription: fmt.Sprintf("AADSTS%d: There are too many incoming requests. Please try again later. fedcred: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			ThrottledCode, hint, trace, corr, ts),
		ErrorCodes:    []int{ThrottledCode},
		Timestamp:     ts,
		TraceID:       trace,
		CorrelationID: corr,
		ErrorURI:      fmt.Sprintf("%s/error?code=%d", m.publicURL, ThrottledCode),
	}
}
