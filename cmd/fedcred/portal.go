package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
)

// signInLinksPath is the portal's API that issues one-time sign-in links.
const signInLinksPath = "/portal/api/sign-in-links"

// Bounds of the sign-in link request.
const (
	signInTimeout      = 30 * time.Second
	maxSignInLinkBytes = 64 << 10
	maxCABytes         = 1 << 20
	// browserGrace is how long the CLI waits for the browser opener to fail
	// before it leaves it running.
	browserGrace = 3 * time.Second
)

func (a *app) newPortalCommand() *cobra.Command {
	var noBrowser bool
	cmd := &cobra.Command{
		Use:   "portal",
		Short: "Sign in to the server's web portal with a one-time link",
		Long: `Ask the server for a one-time link that signs you in to its web portal (/portal/) as the
principal the CLI is signed in as, with that principal's role assignments: there is no password.
The link is printed on standard output; on a desktop (DISPLAY or WAYLAND_DISPLAY set on Linux,
and on macOS) it is also opened in the browser unless --no-browser is given. It works once,
within five minutes. The portal session lasts at most eight hours and ends sooner when idle.`,
		Example: `  fedcred portal
  fedcred portal --no-browser        # print the link only, e.g. over SSH`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&a.flags.server, "server", "", "URL of the fedcred server [FEDCRED_SERVER]")
	f.StringVar(&a.flags.tenant, "tenant", "", "tenant ID [FEDCRED_TENANT_ID]")
	f.StringVar(&a.flags.caFile, "ca-file", "", "PEM file of the CA to trust for the server's certificate [FEDCRED_CA_FILE]")
	f.StringVar(&a.flags.dataDir, "data-dir", "", "data directory of a local server, to find its admin.json [FEDCRED_DATA_DIR]")
	f.BoolVar(&noBrowser, "no-browser", false, "print the link without opening a browser")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		c, err := a.resolve()
		if err != nil {
			return err
		}
		cl, err := a.newClient(c)
		if err != nil {
			return err
		}
		tok, err := cl.ClientCredentialsToken(ctx, cl.ManagementScope())
		if err != nil {
			return err
		}
		link, err := requestSignInLink(ctx, cl.Server(), c.CAFile, tok.AccessToken)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout, link.URL)
		fmt.Fprintf(a.stderr, "This link signs you in to the fedcred portal as client %s. It works once, within %s.\n",
			c.ClientID, time.Duration(link.ExpiresIn)*time.Second)
		if noBrowser {
			return nil
		}
		argv := browserCommand(runtime.GOOS, a.getenv, link.URL)
		if argv == nil {
			fmt.Fprintln(a.stderr, "No desktop was found: open the link in a browser.")
			return nil
		}
		if err := openBrowser(ctx, argv); err != nil {
			fmt.Fprintf(a.stderr, "Could not open a browser (%v): open the link yourself.\n", err)
		}
		return nil
	}
	return cmd
}

// signInLink is the server's answer.
type signInLink struct {
	URL       string `json:"url"`
	ExpiresIn int    `json:"expiresIn"`
}

// requestSignInLink asks server for a sign-in link with a management bearer
// token. The token is sent to server only, over TLS trusting caFile (or the
// system roots).
func requestSignInLink(ctx context.Context, server, caFile, token string) (*signInLink, error) {
	hc, err := signInHTTPClient(caFile)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, signInTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(server, "/")+signInLinksPath, nil)
	if err != nil {
		return nil, fmt.Errorf("build sign-in link request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("ask %s for a sign-in link: no answer within %s", server, signInTimeout)
		}
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap()
		}
		return nil, &client.ConnectionError{Server: server, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSignInLinkBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read sign-in link: %w", err)
	}
	if len(body) > maxSignInLinkBytes {
		return nil, fmt.Errorf("read sign-in link: the answer is larger than %d bytes", maxSignInLinkBytes)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("the server at %s has no portal: is it an older version than this CLI?", server)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
			return nil, fmt.Errorf("(%s) %s", e.Error.Code, e.Error.Message)
		}
		return nil, fmt.Errorf("ask %s for a sign-in link: HTTP %d", server, resp.StatusCode)
	}
	var link signInLink
	if err := json.Unmarshal(body, &link); err != nil {
		return nil, fmt.Errorf("decode sign-in link: %w", err)
	}
	if !strings.HasPrefix(link.URL, "https://") || link.ExpiresIn <= 0 {
		return nil, errors.New("decode sign-in link: the answer has no https link")
	}
	return &link, nil
}

// signInHTTPClient is a client with timeouts that trusts caFile (or the
// system roots) and follows no redirect.
func signInHTTPClient(caFile string) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		f, err := os.Open(caFile)
		if err != nil {
			return nil, fmt.Errorf("open CA file: %w", err)
		}
		defer f.Close()
		pem, err := io.ReadAll(io.LimitReader(f, maxCABytes+1))
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		if len(pem) > maxCABytes {
			return nil, fmt.Errorf("CA file %s is larger than %d bytes", caFile, maxCABytes)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		tlsConfig.RootCAs = pool
	}
	return &http.Client{
		Timeout: signInTimeout,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSClientConfig:     tlsConfig,
			TLSHandshakeTimeout: 10 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// browserCommand is the command that opens url in the desktop's browser on
// goos, or nil when there is no desktop to open it on.
func browserCommand(goos string, getenv func(string) string, url string) []string {
	switch goos {
	case "darwin":
		return []string{"open", url}
	case "windows":
		return []string{"rundll32", "url.dll,FileProtocolHandler", url}
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
		if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
			return nil
		}
		return []string{"xdg-open", url}
	}
	return nil
}

// openBrowser starts argv and reports a failure that comes within
// browserGrace; an opener still running then (some wait for the browser to
// close) is left to run.
func openBrowser(ctx context.Context, argv []string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(browserGrace):
		return nil
	case <-ctx.Done():
		return nil
	}
}
