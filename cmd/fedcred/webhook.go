package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/fedcred/fedcred/internal/webhook"
)

func newWebhookCommand() *cobra.Command {
	var (
		cfg                                            webhook.Config
		certFile, keyFile, tlsMin, layout, logLevel    string
		tenantID, authorityHost, environment, audience string
		kubeconfig                                     string
		shutdownDelay                                  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Run the Kubernetes mutating admission webhook that injects workload identity into pods",
		Long: `Run the Kubernetes mutating admission webhook of the azure-workload-identity contract (v1.6.0).

Pods labelled azure.workload.identity/use: "true" get, in every container and init container not
listed in their azure.workload.identity/skip-containers annotation, the variables AZURE_CLIENT_ID
(the service account's azure.workload.identity/client-id annotation), AZURE_TENANT_ID (its
azure.workload.identity/tenant-id annotation, else --tenant-id), AZURE_FEDERATED_TOKEN_FILE and
AZURE_AUTHORITY_HOST, and a read-only mount of a projected service-account token with audience
--audience. A variable the container already defines is left alone. A pod whose service account
does not exist, or whose azure.workload.identity/service-account-token-expiration is not within
3600..86400, is refused.

For fedcred, set --authority-host to the server's public URL, e.g. https://fedcred.example.com/:
the Azure SDKs then send their token requests to fedcred. Without it the webhook injects
https://login.microsoftonline.com/ as azure-workload-identity does (or the host of
--azure-environment).

It serves POST /mutate-v1-pod over HTTPS with the certificate in --tls-cert-file and
--tls-private-key-file, re-read when the files change, and /healthz and /readyz (ready once its
service-account cache has synced and a certificate is loaded) there and on --health-addr. It needs
get, list and watch on serviceaccounts. SIGINT or SIGTERM shuts it down gracefully.

Every flag can also be set by the environment variable in its help.`,
		Example: `  # In a cluster (see deploy/webhook), pointing workloads at a fedcred server
  fedcred webhook --tenant-id 2cc9de02-78cf-4805-9209-87ed3eef3f38 \
    --authority-host https://fedcred.example.com/ \
    --tls-cert-file /certs/tls.crt --tls-private-key-file /certs/tls.key

  # Outside a cluster, against the current kubeconfig, with azure-workload-identity v1.5 paths
  fedcred webhook --kubeconfig ~/.kube/config --tenant-id "$TENANT" --token-path-layout v1.5 \
    --listen 127.0.0.1:9443 --tls-cert-file tls.crt --tls-private-key-file tls.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageErrorf("invalid --log-level %q: use debug, info, warn or error", logLevel)
			}
			if tenantID == "" {
				return usageErrorf("--tenant-id (or AZURE_TENANT_ID) is required")
			}
			if certFile == "" || keyFile == "" {
				return usageErrorf("--tls-cert-file and --tls-private-key-file are required")
			}
			host, err := webhook.ResolveAuthorityHost(authorityHost, environment)
			if err != nil {
				return usageError{err}
			}
			minVersion, err := webhook.ParseTLSVersion(tlsMin)
			if err != nil {
				return usageError{fmt.Errorf("invalid --tls-min-version: %w", err)}
			}
			l, err := webhook.ParseLayout(layout)
			if err != nil {
				return usageError{fmt.Errorf("invalid --token-path-layout: %w", err)}
			}
			if !cmd.Flags().Changed("shutdown-delay") {
				if v, ok := os.LookupEnv("FEDCRED_WEBHOOK_SHUTDOWN_DELAY"); ok {
					if shutdownDelay, err = time.ParseDuration(v); err != nil {
						return usageError{fmt.Errorf("invalid FEDCRED_WEBHOOK_SHUTDOWN_DELAY %q: %w", v, err)}
					}
				}
			}
			if audience == "" {
				return usageErrorf("--audience must not be empty")
			}
			restConfig, err := webhook.RESTConfig(kubeconfig)
			if err != nil {
				return err
			}
			client, err := kubernetes.NewForConfig(restConfig)
			if err != nil {
				return fmt.Errorf("create kubernetes client: %w", err)
			}
			cfg.CertFile, cfg.KeyFile, cfg.MinTLSVersion = certFile, keyFile, minVersion
			cfg.Mutator = webhook.Mutator{AuthorityHost: host, TenantID: tenantID, Audience: audience, Layout: l}
			cfg.Client = client
			cfg.ShutdownDelay = shutdownDelay
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			klog.SetSlogLogger(cfg.Logger) // client-go logs through klog
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return webhook.Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", envOr("FEDCRED_WEBHOOK_LISTEN", webhook.DefaultListen), "HTTPS address of the webhook [FEDCRED_WEBHOOK_LISTEN]")
	f.StringVar(&cfg.HealthListen, "health-addr", envOr("FEDCRED_WEBHOOK_HEALTH_ADDR", webhook.DefaultHealthListen), "plain HTTP address for /healthz and /readyz; empty for none [FEDCRED_WEBHOOK_HEALTH_ADDR]")
	f.StringVar(&certFile, "tls-cert-file", envOr("FEDCRED_WEBHOOK_TLS_CERT_FILE", ""), "PEM serving certificate, re-read when it changes [FEDCRED_WEBHOOK_TLS_CERT_FILE]")
	f.StringVar(&keyFile, "tls-private-key-file", envOr("FEDCRED_WEBHOOK_TLS_PRIVATE_KEY_FILE", ""), "PEM private key of --tls-cert-file [FEDCRED_WEBHOOK_TLS_PRIVATE_KEY_FILE]")
	f.StringVar(&tlsMin, "tls-min-version", envOr("FEDCRED_WEBHOOK_TLS_MIN_VERSION", "1.3"), "minimum TLS version: 1.2 or 1.3 [FEDCRED_WEBHOOK_TLS_MIN_VERSION]")
	f.StringVar(&tenantID, "tenant-id", envOr("AZURE_TENANT_ID", ""), "AZURE_TENANT_ID for pods whose service account has no tenant-id annotation [AZURE_TENANT_ID]")
	f.StringVar(&authorityHost, "authority-host", envOr("FEDCRED_WEBHOOK_AUTHORITY_HOST", ""), "AZURE_AUTHORITY_HOST injected: the fedcred server's URL, e.g. https://fedcred.example.com/ (default https://login.microsoftonline.com/) [FEDCRED_WEBHOOK_AUTHORITY_HOST]")
	f.StringVar(&environment, "azure-environment", envOr("AZURE_ENVIRONMENT", ""), "inject this Azure cloud's authority host instead: AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud or AzureGermanCloud [AZURE_ENVIRONMENT]")
	f.StringVar(&audience, "audience", envOr("FEDCRED_WEBHOOK_AUDIENCE", webhook.DefaultAudience), "audience of the projected service-account token [FEDCRED_WEBHOOK_AUDIENCE]")
	f.StringVar(&layout, "token-path-layout", envOr("FEDCRED_WEBHOOK_TOKEN_PATH_LAYOUT", string(webhook.DefaultLayout)), "token volume and path naming of azure-workload-identity v1.5 (/var/run/secrets/azure/tokens) or v1.6 (/var/run/secrets/azure/wi) [FEDCRED_WEBHOOK_TOKEN_PATH_LAYOUT]")
	f.StringVar(&kubeconfig, "kubeconfig", envOr("KUBECONFIG", ""), "kubeconfig file(s); empty uses the in-cluster configuration [KUBECONFIG]")
	f.DurationVar(&shutdownDelay, "shutdown-delay", webhook.DefaultShutdownDelay, "how long to keep serving, not ready, after SIGTERM so the API server stops calling [FEDCRED_WEBHOOK_SHUTDOWN_DELAY]")
	f.StringVar(&logLevel, "log-level", envOr("FEDCRED_LOG_LEVEL", "info"), "log level: debug, info, warn, error [FEDCRED_LOG_LEVEL]")
	return cmd
}
