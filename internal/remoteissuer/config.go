package remoteissuer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// Defaults of the Config fields left zero.
const (
	defaultMinRefreshInterval = 30 * time.Second
	defaultMaxStale           = 24 * time.Hour // Entra keeps rotated-out keys 24 h
	defaultTTL                = time.Hour
	defaultMinTTL             = time.Minute
	defaultMaxTTL             = 24 * time.Hour
	defaultMaxDocumentBytes   = 1 << 20
	defaultFetchTimeout       = 10 * time.Second
	defaultMaxIssuers         = 10000
)

// Resolver resolves host names for the guarded dialer; *net.Resolver
// implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Cache and Check. Zero values are safe defaults.
type Config struct {
	// Client supplies TLS settings (root CAs) and an overall timeout. The
	// guard always applies: its Transport, which must be nil or an
	// *http.Transport, is cloned, and the clone's proxy, dial functions and
	// redirect policy are replaced with the guarded ones. Defaults to a
	// client with the system roots.
	Client *http.Client
	// AllowHTTP permits http issuer and jwks_uri URLs. It MUST NOT be set in
	// production: keys fetched over http can be replaced in transit. A
	// redirect from https to http is refused even when it is set.
	AllowHTTP bool
	// AllowedNetworks lists networks the guard lets through although they
	// are otherwise refused (loopback, private, link-local, CGNAT, ...), for
	// issuers inside the operator's own network, e.g. 10.0.0.0/8.
	AllowedNetworks []netip.Prefix
	// Resolver resolves issuer host names; defaults to net.DefaultResolver.
	Resolver Resolver
	// MinRefreshInterval bounds how often a token whose kid is not among an
	// issuer's cached keys can cause a refetch, and how soon a failed fetch
	// is retried. Default 30s.
	MinRefreshInterval time.Duration
	// MaxStale is how long after its last successful fetch an issuer's keys
	// are still served while refetches fail. Default 24h (Entra keeps
	// rotated-out keys for 24h). Keys are always served until their TTL
	// ends, even when MaxStale is shorter.
	MaxStale time.Duration
	// DefaultTTL is the cache lifetime of an issuer's keys when neither
	// document sends Cache-Control max-age (default 1h); MinTTL and MaxTTL
	// bound every lifetime (defaults 1m and 24h). DefaultTTL is clamped to
	// [MinTTL, MaxTTL].
	DefaultTTL, MinTTL, MaxTTL time.Duration
	// MaxDocumentBytes caps the discovery document and the JWKS each.
	// Default 1 MiB.
	MaxDocumentBytes int64
	// FetchTimeout bounds each HTTP fetch, from dial to the last body byte.
	// Default 10s.
	FetchTimeout time.Duration
	// MaxIssuers bounds the number of cached issuers; the least recently
	// used is evicted first. Default 10000.
	MaxIssuers int
	// Now is the clock; defaults to time.Now. It must be safe for
	// concurrent use.
	Now func() time.Time
	// Logger receives fetch failures, key changes and warnings; defaults
	// to a logger that discards. Only issuer URLs and key IDs are logged.
	Logger *slog.Logger
}

// withDefaults validates cfg and returns it with defaults filled in.
func (cfg Config) withDefaults() (Config, error) {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"min refresh interval", cfg.MinRefreshInterval}, {"max stale", cfg.MaxStale},
		{"default ttl", cfg.DefaultTTL}, {"min ttl", cfg.MinTTL}, {"max ttl", cfg.MaxTTL},
		{"fetch timeout", cfg.FetchTimeout},
	} {
		if f.d < 0 {
			return Config{}, fmt.Errorf("remoteissuer: %s %v is negative", f.name, f.d)
		}
	}
	if cfg.MaxDocumentBytes < 0 || cfg.MaxIssuers < 0 {
		return Config{}, errors.New("remoteissuer: max document bytes and max issuers must not be negative")
	}
	allowed := make([]netip.Prefix, 0, len(cfg.AllowedNetworks))
	for _, p := range cfg.AllowedNetworks {
		if !p.IsValid() {
			return Config{}, fmt.Errorf("remoteissuer: allowed network %v is not a valid prefix", p)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 { // ::ffff:10.0.0.0/104 means 10.0.0.0/8
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		allowed = append(allowed, p.Masked())
	}
	cfg.AllowedNetworks = allowed
	if cfg.Client != nil && cfg.Client.Transport != nil {
		if _, ok := cfg.Client.Transport.(*http.Transport); !ok {
			return Config{}, fmt.Errorf("remoteissuer: client transport %T cannot be guarded: it must be nil or an *http.Transport", cfg.Client.Transport)
		}
	}
	setDefault(&cfg.MinRefreshInterval, defaultMinRefreshInterval)
	setDefault(&cfg.MaxStale, defaultMaxStale)
	setDefault(&cfg.DefaultTTL, defaultTTL)
	setDefault(&cfg.MinTTL, defaultMinTTL)
	setDefault(&cfg.MaxTTL, defaultMaxTTL)
	setDefault(&cfg.FetchTimeout, defaultFetchTimeout)
	setDefault(&cfg.MaxDocumentBytes, defaultMaxDocumentBytes)
	setDefault(&cfg.MaxIssuers, defaultMaxIssuers)
	if cfg.MinTTL > cfg.MaxTTL {
		return Config{}, fmt.Errorf("remoteissuer: min ttl %v is above max ttl %v", cfg.MinTTL, cfg.MaxTTL)
	}
	cfg.DefaultTTL = clamp(cfg.DefaultTTL, cfg.MinTTL, cfg.MaxTTL)
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func clamp(d, lo, hi time.Duration) time.Duration {
	return min(max(d, lo), hi)
}
