package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/ratelimit"
	"github.com/fedcred/fedcred/internal/server"
	"github.com/fedcred/fedcred/internal/store/mirror"
)

// envOr returns the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func newServeCommand() *cobra.Command {
	var (
		cfg      server.Config
		logLevel string
	)
	entraLimits, _ := strconv.ParseBool(envOr("FEDCRED_ENTRA_LIMITS", "false"))
	durations := []struct {
		flag, env, help string
		def             time.Duration
		dst             *time.Duration
	}{
		{"max-stale", "FEDCRED_MAX_STALE", "how long a replica keeps issuing tokens from memory while PostgreSQL is unreachable", mirror.DefaultMaxStale, &cfg.MaxStale},
		{"tenant-key-rotation", "FEDCRED_TENANT_KEY_ROTATION", "how long a tenant signing key signs before it is rotated (negative: never)", server.DefaultTenantKeyRotation, &cfg.TenantKeyRotation},
		{"cluster-key-rotation", "FEDCRED_CLUSTER_KEY_ROTATION", "how long a cluster signing key signs before it is rotated (negative: never)", server.DefaultClusterKeyRotation, &cfg.ClusterKeyRotation},
		{"audit-retention", "FEDCRED_AUDIT_RETENTION", "how long audit events are kept before they are pruned (negative: forever)", server.DefaultAuditRetention, &cfg.AuditRetention},
	}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the fedcred server (STS, management API, cluster issuers) on one HTTPS listener",
		Long: `Run the fedcred server: the Entra-compatible token service, the ARM-shaped management API
and the OIDC issuers of the clusters it hosts, on one HTTPS listener.

On first start it creates, in the data directory: a local CA (ca.crt is what clients trust) and
the server certificate, the key-encryption key that seals signing keys at rest, the SQLite
database, one tenant and subscription, and an admin service principal whose credentials are
written to admin.json (mode 0600). Other fedcred commands on the same machine find the server
through admin.json. SIGINT or SIGTERM shuts the server down gracefully.

Every flag can also be set by its FEDCRED_* environment variable.`,
		Example: `  # Run on the embedded defaults (127.0.0.1:8443, data in ~/.local/share/fedcred)
  fedcred serve

  # Another data directory and the URL clients reach the server by
  fedcred serve --data-dir /var/lib/fedcred --listen 0.0.0.0:8443 --public-url https://fedcred.example.com

  # One of several replicas behind a load balancer, on PostgreSQL
  fedcred serve --store postgres://fedcred@db:5432/fedcred --public-url https://fedcred.example.com \
    --tls-cert-file tls.crt --tls-key-file tls.key --kek-file kek`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, d := range durations {
				if !cmd.Flags().Changed(d.flag) {
					if v, ok := os.LookupEnv(d.env); ok {
						parsed, err := time.ParseDuration(v)
						if err != nil {
							return usageError{fmt.Errorf("invalid %s %q: %w", d.env, v, err)}
						}
						*d.dst = parsed
					}
				}
			}
			for _, name := range []string{"rate-limit-per-client", "rate-limit-per-client-burst", "rate-limit-per-address", "rate-limit-per-address-burst"} {
				env := "FEDCRED_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
				if v, ok := os.LookupEnv(env); ok && !cmd.Flags().Changed(name) {
					if err := cmd.Flags().Set(name, v); err != nil {
						return usageError{fmt.Errorf("invalid %s %q: %w", env, v, err)}
					}
				}
			}
			// 0 on the command line means no limit; in server.Config a
			// negative rate does, and 0 means the default.
			for _, r := range []*float64{&cfg.RateLimitPerClient, &cfg.RateLimitPerAddress} {
				if *r == 0 {
					*r = -1
				}
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError{fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", logLevel)}
			}
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			cfg.EntraLimits = entraLimits
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return server.Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", envOr("FEDCRED_DATA_DIR", config.DefaultDataDir()), "data directory [FEDCRED_DATA_DIR]")
	f.StringVar(&cfg.Listen, "listen", envOr("FEDCRED_LISTEN", config.DefaultListenAddr), "address to listen on [FEDCRED_LISTEN]")
	f.StringVar(&cfg.MetricsListen, "metrics-listen", envOr("FEDCRED_METRICS_LISTEN", ""),
		"serve /metrics on this address over plain HTTP instead of on the main listener (default: on the main listener, unauthenticated) [FEDCRED_METRICS_LISTEN]")
	f.StringVar(&cfg.PublicURL, "public-url", envOr("FEDCRED_PUBLIC_URL", ""), "https URL clients use to reach the server (default https://localhost:<port>) [FEDCRED_PUBLIC_URL]")
	f.StringVar(&cfg.Store, "store", envOr("FEDCRED_STORE", ""), "database: a SQLite file path, sqlite://<path>, or postgres://... for several replicas (default <data-dir>/fedcred.db) [FEDCRED_STORE]")
	f.StringVar(&cfg.TLSCertFile, "tls-cert-file", envOr("FEDCRED_TLS_CERT_FILE", ""), "serve this certificate instead of one from the local CA [FEDCRED_TLS_CERT_FILE]")
	f.StringVar(&cfg.TLSKeyFile, "tls-key-file", envOr("FEDCRED_TLS_KEY_FILE", ""), "private key of --tls-cert-file [FEDCRED_TLS_KEY_FILE]")
	f.StringVar(&cfg.KEKFile, "kek-file", envOr("FEDCRED_KEK_FILE", ""), "key-encryption key file (default <data-dir>/kek) [FEDCRED_KEK_FILE]")
	var previousKEKs []string
	if v := envOr("FEDCRED_PREVIOUS_KEK_FILES", ""); v != "" {
		previousKEKs = strings.Split(v, ",")
	}
	f.StringArrayVar(&cfg.PreviousKEKFiles, "previous-kek-file", previousKEKs,
		"an earlier key-encryption key, while rotating: what it sealed is re-sealed with --kek-file (repeatable) [FEDCRED_PREVIOUS_KEK_FILES, comma-separated]")
	var allowedNetworks []string
	if v := envOr("FEDCRED_REMOTE_ISSUER_ALLOWED_NETWORKS", ""); v != "" {
		allowedNetworks = strings.Split(v, ",")
	}
	f.StringSliceVar(&allowedNetworks, "remote-issuer-allowed-networks", allowedNetworks,
		"CIDRs of otherwise refused addresses (private, loopback, link-local) issuers may be fetched from [FEDCRED_REMOTE_ISSUER_ALLOWED_NETWORKS]")
	allowHTTP, _ := strconv.ParseBool(envOr("FEDCRED_REMOTE_ISSUER_ALLOW_HTTP", "false"))
	f.BoolVar(&cfg.RemoteIssuerAllowHTTP, "remote-issuer-allow-http", allowHTTP, "fetch issuers over plain http (development only) [FEDCRED_REMOTE_ISSUER_ALLOW_HTTP]")
	f.StringVar(&cfg.RemoteIssuerCAFile, "remote-issuer-ca-file", envOr("FEDCRED_REMOTE_ISSUER_CA_FILE", ""), "PEM CAs trusted for remote issuers instead of the system roots [FEDCRED_REMOTE_ISSUER_CA_FILE]")
	cmd.PreRunE = func(*cobra.Command, []string) error {
		for _, n := range allowedNetworks {
			p, err := netip.ParsePrefix(strings.TrimSpace(n))
			if err != nil {
				return usageError{fmt.Errorf("invalid --remote-issuer-allowed-networks entry %q: %w", n, err)}
			}
			cfg.RemoteIssuerAllowedNetworks = append(cfg.RemoteIssuerAllowedNetworks, p)
		}
		return nil
	}
	f.BoolVar(&entraLimits, "entra-limits", entraLimits, "enforce Entra's limits, such as 20 federated credentials per identity [FEDCRED_ENTRA_LIMITS]")
	f.Float64Var(&cfg.RateLimitPerClient, "rate-limit-per-client", ratelimit.DefaultPerClient.PerSecond,
		"access tokens per second one client may obtain, and successful API calls it may make (0: no limit) [FEDCRED_RATE_LIMIT_PER_CLIENT]")
	f.IntVar(&cfg.RateLimitPerClientBurst, "rate-limit-per-client-burst", 0, "burst of --rate-limit-per-client (default twice the rate) [FEDCRED_RATE_LIMIT_PER_CLIENT_BURST]")
	f.Float64Var(&cfg.RateLimitPerAddress, "rate-limit-per-address", ratelimit.DefaultPerAddress.PerSecond,
		"requests per second one source address may make (0: no limit) [FEDCRED_RATE_LIMIT_PER_ADDRESS]")
	f.IntVar(&cfg.RateLimitPerAddressBurst, "rate-limit-per-address-burst", 0, "burst of --rate-limit-per-address (default twice the rate) [FEDCRED_RATE_LIMIT_PER_ADDRESS_BURST]")
	for _, d := range durations {
		f.DurationVar(d.dst, d.flag, d.def, d.help+" ["+d.env+"]")
	}
	f.StringVar(&logLevel, "log-level", envOr("FEDCRED_LOG_LEVEL", "info"), "log level: debug, info, warn, error [FEDCRED_LOG_LEVEL]")
	return cmd
}
