package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/sts"
)

// Authority styles az-setup registers.
const (
	authorityADFS   = "adfs"
	authorityTenant = "tenant"
)

// azBundleFile is the CA bundle az-setup writes into the az config directory.
const azBundleFile = "fedcred-ca-bundle.pem"

// azCommandTimeout bounds each az command az-setup runs.
const azCommandTimeout = 2 * time.Minute

// azCloudConfig is what `az cloud register --cloud-config` reads.
type azCloudConfig struct {
	Endpoints map[string]string `json:"endpoints"`
	Suffixes  map[string]string `json:"suffixes"`
}

// azSetup is one az-setup invocation's resolved settings.
type azSetup struct {
	server, caFile, tenant, cloud, authority, configDir, az string
}

// cloudConfig is the fedcred cloud as az knows clouds: the four endpoints
// az requires (resourceManager, activeDirectory, activeDirectoryResourceId,
// activeDirectoryGraphResourceId), so registering makes no request, and the
// Key Vault DNS suffix.
func (s azSetup) cloudConfig() azCloudConfig {
	ad := s.server
	if s.authority == authorityADFS {
		ad += sts.ADFSPath
	}
	return azCloudConfig{
		Endpoints: map[string]string{
			"resourceManager":                s.server + "/",
			"activeDirectory":                ad,
			"activeDirectoryResourceId":      "https://management.core.windows.net/",
			"activeDirectoryGraphResourceId": "https://graph.windows.net/",
			"management":                     "https://management.core.windows.net/",
		},
		Suffixes: map[string]string{"keyvaultDns": ".vault.azure.net"},
	}
}

func (s azSetup) bundlePath() string { return filepath.Join(s.configDir, azBundleFile) }

func (a *app) newAZSetupCommand() *cobra.Command {
	var (
		s       azSetup
		runIt   bool
		systemC string
	)
	cmd := &cobra.Command{
		Use:   "az-setup [--config-dir DIR] [--cloud-name NAME] [--authority adfs|tenant] [--run]",
		Short: "Print (or run) the az commands that point an az configuration at this fedcred server",
		Long: `Print the commands that make the Azure CLI (az) use this fedcred server, or with --run, do it:
register the server as an az cloud with the four endpoints az needs (so registering makes no
request), make it the active cloud, and trust the server's CA through REQUESTS_CA_BUNDLE (a bundle
of the system CAs and the server's CA, written into the az configuration directory).

az 2.45 (Debian's azure-cli) cannot turn MSAL's instance discovery off: with a plain authority it
asks login.microsoftonline.com about the server's host. The default --authority adfs registers
the server's AD FS-style authority (<server>/adfs), for which MSAL skips instance discovery;
the tenant is taken from the client that logs in. --authority tenant registers the server's URL
itself, which works when login.microsoftonline.com reaches fedcred ('fedcred run
--emulate-login-host -- az ...').

Key Vault data-plane commands (az keyvault secret ...) address https://<vault>.vault.azure.net,
so they need 'fedcred run --emulate-login-host -- az ...' too.

The settings apply to the az configuration directory --config-dir (default $AZURE_CONFIG_DIR,
else ~/.azure); every az command that should use fedcred needs the same AZURE_CONFIG_DIR and
REQUESTS_CA_BUNDLE, which the printed commands export.`,
		Example: `  # See the commands
  fedcred az-setup --config-dir ~/.azure-fedcred

  # Run them, then log in as a managed identity with a service-account token
  fedcred az-setup --config-dir ~/.azure-fedcred --run
  export AZURE_CONFIG_DIR=~/.azure-fedcred REQUESTS_CA_BUNDLE=~/.azure-fedcred/fedcred-ca-bundle.pem
  az login --service-principal -u "$CLIENT_ID" --tenant "$TENANT_ID" --federated-token "$(cat token.jwt)"`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&a.flags.server, "server", "", "URL of the fedcred server [FEDCRED_SERVER]")
	f.StringVar(&a.flags.caFile, "ca-file", "", "PEM file of the CA to trust for the server's certificate [FEDCRED_CA_FILE]")
	f.StringVar(&a.flags.dataDir, "data-dir", "", "data directory of a local server, to find its admin.json [FEDCRED_DATA_DIR]")
	f.StringVar(&a.flags.tenant, "tenant", "", "tenant ID, for the printed login example [FEDCRED_TENANT_ID]")
	f.StringVar(&s.configDir, "config-dir", "", "the az configuration directory to set up (default $AZURE_CONFIG_DIR, else ~/.azure)")
	f.StringVar(&s.cloud, "cloud-name", "fedcred", "name of the az cloud to register")
	f.StringVar(&s.authority, "authority", authorityADFS, "authority az uses: adfs (no instance discovery) or tenant (needs the login host emulated)")
	f.BoolVar(&runIt, "run", false, "run the commands with az instead of printing them")
	f.StringVar(&s.az, "az", "az", "the az executable, for --run")
	f.StringVar(&systemC, "system-ca-bundle", "", "the system CA bundle to start REQUESTS_CA_BUNDLE with (default: the distribution's)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if s.authority != authorityADFS && s.authority != authorityTenant {
			return usageErrorf("--authority must be %s or %s", authorityADFS, authorityTenant)
		}
		if strings.TrimSpace(s.cloud) == "" || strings.ContainsAny(s.cloud, " \t\n'\"") {
			return usageErrorf("--cloud-name %q must be a non-empty name without spaces or quotes", s.cloud)
		}
		c, err := a.resolve()
		if err != nil {
			return err
		}
		s.server, s.caFile, s.tenant = strings.TrimRight(c.Server, "/"), c.CAFile, c.TenantID
		if s.configDir == "" {
			s.configDir = a.getenv("AZURE_CONFIG_DIR")
		}
		if s.configDir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return fmt.Errorf("find the az configuration directory (pass --config-dir): %w", err)
			}
			s.configDir = filepath.Join(home, ".azure")
		}
		if s.configDir, err = filepath.Abs(s.configDir); err != nil {
			return fmt.Errorf("az configuration directory: %w", err)
		}
		if systemC == "" {
			systemC = systemBundle()
		}
		if runIt {
			return a.runAZSetup(cmd.Context(), s, systemC)
		}
		return printAZSetup(a.stdout, s, c.ClientID, systemC)
	}
	return cmd
}

// systemBundle is the first system CA bundle that exists, or "".
func systemBundle() string {
	for _, p := range systemBundles {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printAZSetup prints the commands as a shell script.
func printAZSetup(w io.Writer, s azSetup, clientID, systemCA string) error {
	cfg, err := json.Marshal(s.cloudConfig())
	if err != nil {
		return fmt.Errorf("encode cloud configuration: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Point az at fedcred %s (authority: %s).\n", s.server, s.authority)
	fmt.Fprintf(&b, "export AZURE_CONFIG_DIR=%s\n", shellQuote(s.configDir))
	fmt.Fprintf(&b, "mkdir -p \"$AZURE_CONFIG_DIR\"\n")
	switch {
	case s.caFile == "":
		fmt.Fprintf(&b, "# The server's certificate is trusted by the system: no CA bundle needed.\n")
	case systemCA == "":
		fmt.Fprintf(&b, "cp %s \"$AZURE_CONFIG_DIR/%s\"\n", shellQuote(s.caFile), azBundleFile)
	default:
		fmt.Fprintf(&b, "cat %s %s > \"$AZURE_CONFIG_DIR/%s\"\n", shellQuote(systemCA), shellQuote(s.caFile), azBundleFile)
	}
	if s.caFile != "" {
		fmt.Fprintf(&b, "export REQUESTS_CA_BUNDLE=\"$AZURE_CONFIG_DIR/%s\"\n", azBundleFile)
	}
	fmt.Fprintf(&b, "az cloud register -n %s --cloud-config %s 2>/dev/null ||\n", s.cloud, shellQuote(string(cfg)))
	fmt.Fprintf(&b, "  az cloud update -n %s --cloud-config %s\n", s.cloud, shellQuote(string(cfg)))
	fmt.Fprintf(&b, "az cloud set -n %s\n", s.cloud)
	tenant := s.tenant
	if tenant == "" {
		tenant = "<tenant ID>"
	}
	fmt.Fprintf(&b, "# Then log in, as a managed identity with a federated token:\n")
	fmt.Fprintf(&b, "#   az login --service-principal -u <client ID> --tenant %s --federated-token \"$(cat token.jwt)\"\n", tenant)
	if clientID != "" {
		fmt.Fprintf(&b, "# or as the admin service principal (its secret is in admin.json):\n")
		fmt.Fprintf(&b, "#   az login --service-principal -u %s --tenant %s -p <client secret>\n", clientID, tenant)
	}
	if s.authority == authorityTenant {
		fmt.Fprintf(&b, "# This authority needs login.microsoftonline.com routed to fedcred: run az as\n")
		fmt.Fprintf(&b, "#   fedcred run --emulate-login-host ... -- az login ...\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// runAZSetup writes the CA bundle and runs the az commands.
func (a *app) runAZSetup(ctx context.Context, s azSetup, systemCA string) error {
	if err := os.MkdirAll(s.configDir, 0o700); err != nil {
		return fmt.Errorf("create the az configuration directory: %w", err)
	}
	env := azEnv(os.Environ(), s.configDir)
	if s.caFile != "" {
		dir, err := os.MkdirTemp(s.configDir, ".fedcred-bundle-")
		if err != nil {
			return fmt.Errorf("write the CA bundle: %w", err)
		}
		defer os.RemoveAll(dir)
		tmp, err := writeTrustBundleFrom(dir, systemCA, s.caFile)
		if err != nil {
			return err
		}
		if err := os.Rename(tmp, s.bundlePath()); err != nil {
			return fmt.Errorf("write the CA bundle: %w", err)
		}
		env = append(env, "REQUESTS_CA_BUNDLE="+s.bundlePath())
	}
	cfg, err := json.Marshal(s.cloudConfig())
	if err != nil {
		return fmt.Errorf("encode cloud configuration: %w", err)
	}
	if _, err := a.az(ctx, s, env, "cloud", "show", "-n", s.cloud, "-o", "none"); err == nil {
		if _, err := a.az(ctx, s, env, "cloud", "update", "-n", s.cloud, "--cloud-config", string(cfg), "-o", "none"); err != nil {
			return err
		}
	} else if _, err := a.az(ctx, s, env, "cloud", "register", "-n", s.cloud, "--cloud-config", string(cfg), "-o", "none"); err != nil {
		return err
	}
	if _, err := a.az(ctx, s, env, "cloud", "set", "-n", s.cloud, "-o", "none"); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "az cloud %q in %s now points at %s (authority %s).\n", s.cloud, s.configDir, s.server, s.authority)
	fmt.Fprintf(a.stdout, "Use it with:\n  export AZURE_CONFIG_DIR=%s", shellQuote(s.configDir))
	if s.caFile != "" {
		fmt.Fprintf(a.stdout, " REQUESTS_CA_BUNDLE=%s", shellQuote(s.bundlePath()))
	}
	fmt.Fprintln(a.stdout)
	return nil
}

// az runs one az command with env, and returns its standard output. A
// failure carries az's own error line.
func (a *app) az(ctx context.Context, s azSetup, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, azCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.az, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return "", fmt.Errorf("az %s: %s", strings.Join(args[:2], " "), oneLine(lastLines(stderr.String(), 3)))
	case err != nil:
		return "", fmt.Errorf("run az (install the Azure CLI, or pass --az): %w", err)
	}
	return stdout.String(), nil
}

// azEnv is env with AZURE_CONFIG_DIR set to dir and no CA bundle variable
// that would hide REQUESTS_CA_BUNDLE.
func azEnv(env []string, dir string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "AZURE_CONFIG_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "AZURE_CONFIG_DIR="+dir, "AZURE_CORE_COLLECT_TELEMETRY=no")
}

// lastLines is the last n non-empty lines of s.
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
