package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/loginproxy"
)

// The environment a workload-identity pod gets, and the trust variables the
// common runtimes read.
const (
	envAzureClientID  = "AZURE_CLIENT_ID"
	envAzureTenantID  = "AZURE_TENANT_ID"
	envAzureTokenFile = "AZURE_FEDERATED_TOKEN_FILE"
	envAzureAuthority = "AZURE_AUTHORITY_HOST"
	tokenFileName     = "azure-identity-token"
	refreshFraction   = 0.8 // kubelet refreshes a projected token at 80% of its lifetime
	minRefreshBackoff = 2 * time.Second
)

// systemBundles are where Linux distributions keep their CA bundle.
var systemBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine
	"/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
	"/etc/ssl/cert.pem",                  // macOS, OpenBSD
}

func (a *app) newRunCommand() *cobra.Command {
	var (
		clusterName, rg, namespace, account, identityName string
		duration                                          time.Duration
		noTrust, emulate                                  bool
	)
	cmd := &cobra.Command{
		Use:   "run --cluster C -g RG --namespace NS --service-account SA [--identity NAME] -- COMMAND [ARGS...]",
		Short: "Run a local program as a workload-identity pod of a cluster would run",
		Long: `Run a local program exactly as the workload-identity webhook sets up a pod: fedcred mints the
service account's token from the cluster's issuer into a private temporary file, refreshes it at
80% of its lifetime (as kubelet does), and sets AZURE_CLIENT_ID, AZURE_TENANT_ID,
AZURE_FEDERATED_TOKEN_FILE and AZURE_AUTHORITY_HOST. An unmodified Azure SDK program then gets
tokens from fedcred. Variables already set in the environment are kept, as the webhook keeps a
container's own.

The client ID is that of --identity; without it, of the one identity in the subscription with a
federated credential for this cluster's issuer and the service account's subject.

When the server's certificate comes from a local CA, the program is told to trust it:
SSL_CERT_FILE and REQUESTS_CA_BUNDLE point at the system bundle plus the CA, and
NODE_EXTRA_CA_CERTS at the CA (unless they are set, or --no-trust-env is given).

With --emulate-login-host, a program that does not turn the Azure SDKs' instance discovery off
(DefaultAzureCredential as it comes) works too: fedcred starts a local HTTPS proxy on 127.0.0.1
and sets HTTPS_PROXY (and NO_PROXY for the fedcred server and loopback) so that
login.microsoftonline.com, management.azure.com and <vault>.vault.azure.net are answered by
fedcred, with certificates from fedcred's CA (when its key is in the local data directory, else
from a CA made for this run). SSL_CERT_FILE, REQUESTS_CA_BUNDLE and NODE_EXTRA_CA_CERTS are then
always set, to the CAs the program trusted before plus those CAs. Other hosts are tunnelled
unchanged (through the HTTPS_PROXY fedcred itself was given, if any). fedcred never routes these
hosts unless asked, and says on stderr when it does.

Signals are passed to the program, fedcred exits with its exit code, and the token file is
removed afterwards.`,
		Example: `  fedcred run --cluster c1 -g rg1 --namespace pets --service-account ai-svc -- ./my-service --port 8080
  fedcred run --cluster c1 -g rg1 --namespace pets --service-account ai-svc --identity ai-svc-identity -- python app.py
  # An unmodified DefaultAzureCredential program, reading https://myvault.vault.azure.net
  fedcred run --emulate-login-host --cluster c1 -g rg1 --namespace pets --service-account ai-svc -- node app.js`,
	}
	f := cmd.Flags()
	f.StringVar(&clusterName, "cluster", "", "name of the cluster whose issuer signs the token")
	f.StringVarP(&rg, "resource-group", "g", "", "resource group of the cluster")
	f.StringVar(&namespace, "namespace", "", "namespace of the service account")
	f.StringVar(&account, "service-account", "", "name of the service account")
	f.StringVar(&identityName, "identity", "", "user-assigned identity (in the cluster's resource group) whose client ID to use")
	f.DurationVar(&duration, "token-duration", issuer.DefaultTokenExpiration, "lifetime of each service-account token (at least 10m)")
	f.BoolVar(&noTrust, "no-trust-env", false, "do not set SSL_CERT_FILE, REQUESTS_CA_BUNDLE and NODE_EXTRA_CA_CERTS")
	f.BoolVar(&emulate, "emulate-login-host", false, "answer login.microsoftonline.com, management.azure.com and *.vault.azure.net with fedcred, through a local proxy (HTTPS_PROXY)")
	required(cmd, "cluster", "resource-group", "namespace", "service-account")
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if cmd.ArgsLenAtDash() != 0 || len(args) == 0 {
			return usageErrorf("give the program to run after --, e.g. fedcred run ... -- ./app")
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkRequiredNotEmpty(cmd); err != nil {
			return err
		}
		if duration < issuer.MinTokenExpiration || duration%time.Second != 0 {
			return usageErrorf("--token-duration %s must be whole seconds and at least %s", duration, issuer.MinTokenExpiration)
		}
		if emulate && noTrust {
			return usageErrorf("--emulate-login-host needs the program to trust its certificates: drop --no-trust-env")
		}
		r := &runner{
			app: a, rg: rg, cluster: clusterName, namespace: namespace, account: account,
			identity: identityName, seconds: int64(duration / time.Second), trust: !noTrust, emulate: emulate,
		}
		code, err := r.run(cmd.Context(), args)
		if err != nil {
			return err
		}
		a.exitCode = code
		return nil
	}
	return cmd
}

// runner runs one program with a service-account token kept fresh.
type runner struct {
	app                                       *app
	rg, cluster, namespace, account, identity string
	seconds                                   int64
	trust, emulate                            bool
	session                                   *session
	sub                                       string
	tokenPath                                 string
}

func (r *runner) run(ctx context.Context, args []string) (int, error) {
	s, sub, err := r.app.subscriptionSession(ctx)
	if err != nil {
		return 0, err
	}
	r.session, r.sub = s, sub
	clientID, err := r.clientID(ctx)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "fedcred-run-")
	if err != nil {
		return 0, fmt.Errorf("create token directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return 0, fmt.Errorf("create token directory: %w", err)
	}
	r.tokenPath = filepath.Join(dir, tokenFileName)
	expires, err := r.refresh(ctx)
	if err != nil {
		return 0, err
	}

	env := os.Environ()
	setDefault := func(name, value string) {
		if _, ok := os.LookupEnv(name); !ok && value != "" {
			env = append(env, name+"="+value)
		}
	}
	setDefault(envAzureClientID, clientID)
	setDefault(envAzureTenantID, s.conn.TenantID)
	setDefault(envAzureTokenFile, r.tokenPath)
	setDefault(envAzureAuthority, strings.TrimSuffix(s.conn.Server, "/")+"/")
	if r.emulate {
		proxy, proxyEnv, err := r.startLoginProxy(dir)
		if err != nil {
			return 0, err
		}
		defer proxy.Close()
		env = override(env, proxyEnv)
	} else if r.trust && s.conn.CAFile != "" {
		bundle, err := writeTrustBundle(dir, s.conn.CAFile)
		if err != nil {
			return 0, err
		}
		setDefault("SSL_CERT_FILE", bundle)
		setDefault("REQUESTS_CA_BUNDLE", bundle)
		setDefault("NODE_EXTRA_CA_CERTS", s.conn.CAFile)
	}

	child := exec.Command(args[0], args[1:]...)
	child.Env = env
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, r.app.stdout, r.app.stderr
	if err := child.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", args[0], err)
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(signals)
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()

	timer := time.NewTimer(refreshIn(time.Now(), expires))
	defer timer.Stop()
	for {
		select {
		case sig := <-signals:
			child.Process.Signal(sig)
		case <-timer.C:
			next, err := r.refresh(ctx)
			if err != nil {
				fmt.Fprintf(r.app.stderr, "fedcred run: refresh the service-account token: %s\n", r.app.describe(err))
				timer.Reset(minRefreshBackoff)
				continue
			}
			timer.Reset(refreshIn(time.Now(), next))
		case err := <-done:
			return exitStatus(err)
		}
	}
}

// clientID is the client ID of --identity, or of the one identity that
// trusts this cluster's issuer for this service account.
func (r *runner) clientID(ctx context.Context) (string, error) {
	c := r.session.client
	if r.identity != "" {
		id, err := c.GetIdentity(ctx, r.sub, r.rg, r.identity)
		if err != nil {
			return "", err
		}
		return id.Properties.ClientID, nil
	}
	cl, err := c.GetCluster(ctx, r.sub, r.rg, r.cluster)
	if err != nil {
		return "", err
	}
	if cl.Properties.OIDCIssuerProfile == nil || cl.Properties.OIDCIssuerProfile.IssuerURL == "" {
		return "", fmt.Errorf("cluster %s has no OIDC issuer: enable it with 'fedcred aks update -n %s -g %s --enable-oidc-issuer'", r.cluster, r.cluster, r.rg)
	}
	iss, subject := cl.Properties.OIDCIssuerProfile.IssuerURL, issuer.Subject(r.namespace, r.account)
	ids, err := c.ListIdentities(ctx, r.sub, "")
	if err != nil {
		return "", err
	}
	var matches []client.Identity
	for _, id := range ids {
		rg := resourceGroupOf(id.ID)
		fics, err := c.ListFederatedCredentials(ctx, r.sub, rg, id.Name)
		if err != nil {
			return "", err
		}
		for _, f := range fics {
			if f.Properties.Issuer == iss && f.Properties.Subject == subject {
				matches = append(matches, id)
				break
			}
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("no identity has a federated credential for issuer %s and subject %s: create one, or pass --identity", iss, subject)
	case 1:
		return matches[0].Properties.ClientID, nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = m.Name
	}
	return "", fmt.Errorf("identities %s all trust %s; choose one with --identity", strings.Join(names, ", "), subject)
}

// refresh mints a new token and replaces the file atomically, as kubelet
// does, and returns when the token expires.
func (r *runner) refresh(ctx context.Context) (time.Time, error) {
	seconds := r.seconds
	tr, err := r.session.client.CreateServiceAccountToken(ctx, r.sub, r.rg, r.cluster, r.namespace, r.account,
		issuer.TokenRequestSpec{Audiences: []string{client.DefaultAudience}, ExpirationSeconds: &seconds})
	if err != nil {
		return time.Time{}, err
	}
	expires, err := time.Parse(time.RFC3339, tr.Status.ExpirationTimestamp)
	if err != nil {
		return time.Time{}, fmt.Errorf("token expiration %q: %w", tr.Status.ExpirationTimestamp, err)
	}
	tmp := r.tokenPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(tr.Status.Token), 0o600); err != nil {
		return time.Time{}, fmt.Errorf("write token file: %w", err)
	}
	if err := os.Rename(tmp, r.tokenPath); err != nil {
		return time.Time{}, fmt.Errorf("write token file: %w", err)
	}
	return expires, nil
}

// refreshIn is how long to wait before refreshing a token that expires at
// exp: 80% of its remaining lifetime.
func refreshIn(now, exp time.Time) time.Duration {
	d := time.Duration(float64(exp.Sub(now)) * refreshFraction)
	return max(d, minRefreshBackoff)
}

// writeTrustBundle writes the system CA bundle followed by caFile, so a
// program trusts both the public internet and the fedcred server.
func writeTrustBundle(dir, caFile string) (string, error) {
	return writeTrustBundleFrom(dir, systemBundle(), caFile)
}

// writeTrustBundleFrom writes dir/ca-bundle.pem: the PEM file base (none
// when "") followed by caFile.
func writeTrustBundleFrom(dir, base, caFile string) (string, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return "", fmt.Errorf("read CA file: %w", err)
	}
	out := filepath.Join(dir, "ca-bundle.pem")
	return out, writeBundle(out, base, ca)
}

// writeBundle writes the PEM file base (none when "") followed by the PEM
// certificates cas to path, mode 0600.
func writeBundle(path, base string, cas ...[]byte) error {
	var data []byte
	if base != "" {
		b, err := os.ReadFile(base)
		if err != nil {
			return fmt.Errorf("read CA bundle: %w", err)
		}
		data = append(b, '\n')
	}
	for _, ca := range cas {
		data = append(append(data, ca...), '\n')
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}
	return nil
}

// startLoginProxy starts the proxy of --emulate-login-host in front of the
// server, writes the trust files into dir, and returns the proxy and the
// variables the program gets: HTTPS_PROXY and NO_PROXY, and the trust
// variables naming what the program trusted before plus the CAs of the
// server and of the proxy. It says on stderr what it routes where.
func (r *runner) startLoginProxy(dir string) (*loginproxy.Proxy, map[string]string, error) {
	c := r.session.conn
	server := strings.TrimRight(c.Server, "/")
	u, err := url.Parse(server)
	if err != nil {
		return nil, nil, fmt.Errorf("server URL %q: %w", c.Server, err)
	}
	var (
		pool     *x509.CertPool
		serverCA []byte
		auth     *loginproxy.Authority
		whose    string
	)
	if c.CAFile != "" {
		if serverCA, err = os.ReadFile(c.CAFile); err != nil {
			return nil, nil, fmt.Errorf("read CA file: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(serverCA) {
			return nil, nil, fmt.Errorf("CA file %s holds no certificate", c.CAFile)
		}
		// fedcred's own CA signs the emulated hosts when its key is beside
		// it (a local server's data directory).
		if a, err := loginproxy.LoadAuthority(c.CAFile, filepath.Join(filepath.Dir(c.CAFile), config.CAKeyFile)); err == nil {
			auth, whose = a, "fedcred's CA "+c.CAFile
		}
	}
	if auth == nil {
		if auth, err = loginproxy.NewAuthority(r.app.now()); err != nil {
			return nil, nil, err
		}
		whose = "a CA made for this run"
	}
	proxy, err := loginproxy.Start(loginproxy.Config{
		Upstream: server, UpstreamRootCAs: pool, Authority: auth, Passthrough: passthroughDialer(),
	}, "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	cas := [][]byte{auth.CertPEM()}
	if len(serverCA) > 0 && !strings.Contains(string(serverCA), string(auth.CertPEM())) {
		cas = append(cas, serverCA)
	}
	env := map[string]string{}
	base := first(os.Getenv("SSL_CERT_FILE"), os.Getenv("REQUESTS_CA_BUNDLE"), systemBundle())
	bundle := filepath.Join(dir, "emulate-ca-bundle.pem")
	if err := writeBundle(bundle, base, cas...); err != nil {
		proxy.Close()
		return nil, nil, err
	}
	nodeCAs := filepath.Join(dir, "emulate-node-cas.pem")
	if err := writeBundle(nodeCAs, os.Getenv("NODE_EXTRA_CA_CERTS"), cas...); err != nil {
		proxy.Close()
		return nil, nil, err
	}
	env["SSL_CERT_FILE"], env["REQUESTS_CA_BUNDLE"], env["NODE_EXTRA_CA_CERTS"] = bundle, bundle, nodeCAs
	noProxy := []string{"localhost", "127.0.0.1", "::1", u.Hostname()}
	if prev := first(os.Getenv("NO_PROXY"), os.Getenv("no_proxy")); prev != "" {
		noProxy = append([]string{prev}, noProxy...)
	}
	for _, name := range []string{"HTTPS_PROXY", "https_proxy"} {
		env[name] = proxy.URL()
	}
	for _, name := range []string{"NO_PROXY", "no_proxy"} {
		env[name] = strings.Join(noProxy, ",")
	}
	fmt.Fprintf(r.app.stderr, "fedcred run: emulating %s for the program: HTTPS_PROXY=%s answers them with fedcred at %s, "+
		"with certificates from %s; other hosts pass through unchanged.\n",
		strings.Join(loginproxy.DefaultHosts(), ", "), proxy.URL(), server, whose)
	return proxy, env, nil
}

// override sets each of vars in env, replacing what env had.
func override(env []string, vars map[string]string) []string {
	out := make([]string, 0, len(env)+len(vars))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := vars[name]; !ok {
			out = append(out, kv)
		}
	}
	for name, v := range vars {
		out = append(out, name+"="+v)
	}
	return out
}

// passthroughDialer connects the login proxy to hosts it does not emulate:
// through the HTTPS proxy of fedcred's own environment when there is one
// (HTTPS_PROXY, NO_PROXY), else directly.
func passthroughDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		up, err := http.ProxyFromEnvironment(&http.Request{URL: &url.URL{Scheme: "https", Host: addr}})
		if err != nil || up == nil {
			return d.DialContext(ctx, network, addr)
		}
		return dialThroughProxy(ctx, &d, up, addr)
	}
}

// dialThroughProxy opens a CONNECT tunnel to addr through the HTTP proxy up.
func dialThroughProxy(ctx context.Context, d *net.Dialer, up *url.URL, addr string) (net.Conn, error) {
	if up.Scheme != "http" {
		return nil, fmt.Errorf("proxy %s: only http:// proxies can be chained", up.Redacted())
	}
	host := up.Host
	if up.Port() == "" {
		host = net.JoinHostPort(up.Hostname(), "80")
	}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("dial proxy %s: %w", up.Redacted(), err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n"
	if up.User != nil {
		pass, _ := up.User.Password()
		req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(up.User.Username()+":"+pass)) + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: %w", up.Redacted(), err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: %w", up.Redacted(), err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, fmt.Errorf("proxy %s refused %s: %s", up.Redacted(), addr, resp.Status)
	}
	if br.Buffered() > 0 {
		conn.Close()
		return nil, fmt.Errorf("proxy %s sent data before the tunnel opened", up.Redacted())
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

// resourceGroupOf extracts the resource group from an ARM resource ID.
func resourceGroupOf(id string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return ""
}

// exitStatus turns a program's end into fedcred's exit code: its own code,
// or 128+signal when a signal ended it, as shells report.
func exitStatus(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, fmt.Errorf("wait for the program: %w", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ee.ExitCode(), nil
}
