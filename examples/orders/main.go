// Command orders is an example resource service for fedcred: a small API
// that accepts only access tokens a fedcred server issued for it and
// authorizes on the app roles in them, the way an Azure API validates Entra
// tokens.
//
//	GET /healthz   no authentication
//	GET /orders    a bearer token for --audience carrying the Orders.Read role
//
// Register the API with fedcred's Graph API (an application with identifier
// URI api://orders and an app role Orders.Read allowed for Application
// members), assign the role to a workload's managed identity, and the
// workload's tokens for api://orders/.default carry "roles":["Orders.Read"].
//
//	orders --fedcred-url https://localhost:8443 --tenant <tenantId> --ca-file ~/.local/share/fedcred/ca.crt
//
// The service reads the tenant's OpenID metadata at start, then validates
// tokens against the tenant's JWKS, cached and refreshed by
// pkg/accesstoken. It serves plain HTTP; put TLS in front of it outside a
// test bench.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fedcred/fedcred/pkg/accesstoken"
)

// RoleRead is the app role GET /orders requires.
const RoleRead = "Orders.Read"

// Defaults.
const (
	defaultAudience = "api://orders"
	defaultListen   = "127.0.0.1:8080"
	shutdownTimeout = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "orders:", err)
		}
		os.Exit(2)
	}
}

// options are the command-line flags.
type options struct {
	fedcredURL string
	tenant     string
	audience   string
	caFile     string
	listen     string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("orders", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.fedcredURL, "fedcred-url", "", "the fedcred server's public URL (required)")
	fs.StringVar(&o.tenant, "tenant", "", "the tenant ID whose tokens are accepted (required)")
	fs.StringVar(&o.audience, "audience", defaultAudience, "the token audience: the API's identifier URI")
	fs.StringVar(&o.caFile, "ca-file", "", "PEM file of the CA that issued the server's certificate (default: system roots)")
	fs.StringVar(&o.listen, "listen", defaultListen, "the address to serve on")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.fedcredURL == "" || o.tenant == "":
		return o, errors.New("--fedcred-url and --tenant are required")
	case o.audience == "":
		return o, errors.New("--audience must not be empty")
	}
	return o, nil
}

// run serves until ctx is done. ready, if set, is called with the bound
// address once the service accepts requests.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(addr string)) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	client, err := httpClient(o.caFile)
	if err != nil {
		return err
	}
	v, err := accesstoken.NewTenantValidator(ctx, o.fedcredURL, o.tenant, o.audience, client)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	srv := &http.Server{
		Handler:           newHandler(v, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("orders serving", "addr", ln.Addr().String(), "audience", o.audience, "tenant", o.tenant)
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// httpClient trusts caFile's certificates (or the system roots) and bounds
// every request.
func httpClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: accesstoken.DefaultFetchTimeout}, nil
}

// order is one order the API returns.
type order struct {
	ID    string `json:"id"`
	Item  string `json:"item"`
	Count int    `json:"count"`
}

// ordersResponse is GET /orders' body: the orders and who asked.
type ordersResponse struct {
	Caller string  `json:"caller"`
	AppID  string  `json:"appId"`
	Orders []order `json:"orders"`
}

// newHandler is the service's routes.
func newHandler(v *accesstoken.Validator, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	authenticated := accesstoken.Middleware(v)
	mux.Handle("GET /orders", authenticated(accesstoken.RequireRole(RoleRead)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := accesstoken.FromContext(r.Context())
		log.Info("orders listed", "caller", c.ObjectID, "app_id", c.AppID)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ordersResponse{Caller: c.ObjectID, AppID: c.AppID, Orders: []order{
			{ID: "1001", Item: "kibble", Count: 3},
			{ID: "1002", Item: "leash", Count: 1},
		}})
	}))))
	return mux
}
