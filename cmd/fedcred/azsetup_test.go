package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/config"
)

// fakeAZ writes an az stand-in that logs each call (arguments, then
// AZURE_CONFIG_DIR and REQUESTS_CA_BUNDLE) to log, succeeds on `cloud show`
// only once `cloud register` ran, and fails `cloud register` when
// failRegister is set.
func fakeAZ(t *testing.T, failRegister bool) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "calls.log")
	bin = filepath.Join(dir, "az")
	script := `#!/bin/sh
echo "$* | $AZURE_CONFIG_DIR | $REQUESTS_CA_BUNDLE" >> "` + log + `"
state="$AZURE_CONFIG_DIR/.fake-cloud"
case "$1 $2" in
"cloud show") [ -f "$state" ] || { echo "ERROR: The cloud 'x' is not registered." >&2; exit 1; } ;;
"cloud register") if [ -n "` + map[bool]string{true: "fail"}[failRegister] + `" ]; then echo "ERROR: bad cloud config" >&2; exit 2; fi; touch "$state" ;;
esac
exit 0
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

// azSetupCLI is a CLI whose admin.json names a server with a CA file.
func azSetupCLI(t *testing.T) (*cli, string) {
	t.Helper()
	c := newCLI(t, nil)
	ca := filepath.Join(c.dataDir, config.CACertFile)
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nZmVkY3JlZA==\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.writeAdmin(config.Admin{TenantID: fakeTenant, SubscriptionID: fakeSub, ClientID: fakeClient, ClientSecret: fakeSecret,
		Server: "https://localhost:9443/", CAFile: ca})
	return c, ca
}

func TestAZSetupPrintsCommandsThatWork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		wantAD    string
		wantCloud string
		wantNote  string
	}{
		{name: "AD FS authority by default", args: nil, wantAD: "https://localhost:9443/adfs", wantCloud: "fedcred"},
		{name: "tenant authority", args: []string{"--authority", "tenant", "--cloud-name", "fc2"}, wantAD: "https://localhost:9443",
			wantCloud: "fc2", wantNote: "--emulate-login-host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, ca := azSetupCLI(t)
			cfg := filepath.Join(t.TempDir(), "az config")
			system := filepath.Join(t.TempDir(), "system.pem")
			if err := os.WriteFile(system, []byte("SYSTEM-CAS\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out := c.ok(append([]string{"az-setup", "--config-dir", cfg, "--system-ca-bundle", system}, tt.args...)...)
			if strings.Contains(out, fakeSecret) {
				t.Fatal("az-setup printed the admin secret")
			}
			for _, want := range []string{`"activeDirectory":"` + tt.wantAD + `"`, `"resourceManager":"https://localhost:9443/"`,
				"az cloud set -n " + tt.wantCloud, "export REQUESTS_CA_BUNDLE=", fakeClient, tt.wantNote} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			// The printed script runs: bash with a stand-in az.
			az, log := fakeAZ(t, false)
			cmd := exec.Command("bash", "-euc", out)
			cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(az)+":"+os.Getenv("PATH"))
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("the printed commands fail: %v\n%s", err, b)
			}
			calls, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			bundle := filepath.Join(cfg, azBundleFile)
			for _, want := range []string{"cloud register -n " + tt.wantCloud + " --cloud-config {", "cloud set -n " + tt.wantCloud + " | " + cfg + " | " + bundle} {
				if !strings.Contains(string(calls), want) {
					t.Errorf("az calls lack %q:\n%s", want, calls)
				}
			}
			got, err := os.ReadFile(bundle)
			caPEM, _ := os.ReadFile(ca)
			if err != nil || !strings.HasPrefix(string(got), "SYSTEM-CAS\n") || !strings.Contains(string(got), string(caPEM)) {
				t.Errorf("bundle = %q, %v; want the system CAs then fedcred's CA", got, err)
			}
		})
	}
}

func TestAZSetupRunsAZ(t *testing.T) {
	t.Parallel()
	c, ca := azSetupCLI(t)
	az, log := fakeAZ(t, false)
	cfg := t.TempDir()
	system := filepath.Join(t.TempDir(), "system.pem")
	if err := os.WriteFile(system, []byte("SYSTEM-CAS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := c.ok("az-setup", "--config-dir", cfg, "--run", "--az", az, "--system-ca-bundle", system)
	if !strings.Contains(out, "now points at https://localhost:9443 (authority adfs)") {
		t.Errorf("output: %s", out)
	}
	c.ok("az-setup", "--config-dir", cfg, "--run", "--az", az, "--authority", "tenant", "--system-ca-bundle", system)
	calls, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var verbs []string
	for _, line := range strings.Split(strings.TrimSpace(string(calls)), "\n") {
		f := strings.Fields(line)
		verbs = append(verbs, f[0]+" "+f[1])
		if !strings.Contains(line, " | "+cfg+" | "+filepath.Join(cfg, azBundleFile)) {
			t.Errorf("az ran without the config directory and bundle: %s", line)
		}
	}
	want := "cloud show,cloud register,cloud set,cloud show,cloud update,cloud set"
	if strings.Join(verbs, ",") != want {
		t.Errorf("az calls %v, want %s", verbs, want)
	}
	var cloud azCloudConfig
	for _, line := range strings.Split(string(calls), "\n") {
		if strings.HasPrefix(line, "cloud update") {
			js := line[strings.Index(line, "{") : strings.LastIndex(line, "}")+1]
			if err := json.Unmarshal([]byte(js), &cloud); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cloud.Endpoints["activeDirectory"] != "https://localhost:9443" || cloud.Suffixes["keyvaultDns"] != ".vault.azure.net" {
		t.Errorf("cloud config of --authority tenant: %+v", cloud)
	}
	bundle, _ := os.ReadFile(filepath.Join(cfg, azBundleFile))
	caPEM, _ := os.ReadFile(ca)
	if want := "SYSTEM-CAS\n\n" + string(caPEM) + "\n"; string(bundle) != want {
		t.Errorf("bundle = %q, want %q", bundle, want)
	}
}

func TestAZSetupRefusals(t *testing.T) {
	t.Parallel()
	c, _ := azSetupCLI(t)
	az, _ := fakeAZ(t, true)
	c.fail(exitUsage, "az-setup", "--authority", "common")
	c.fail(exitUsage, "az-setup", "--cloud-name", "two words")
	c.fail(exitUsage, "az-setup", "--cloud-name", "")
	if errOut := c.fail(exitError, "az-setup", "--run", "--config-dir", t.TempDir(), "--az", filepath.Join(t.TempDir(), "no-az")); !strings.Contains(errOut, "install the Azure CLI") {
		t.Errorf("missing az: %s", errOut)
	}
	if errOut := c.fail(exitError, "az-setup", "--run", "--config-dir", t.TempDir(), "--az", az); !strings.Contains(errOut, "az cloud register: ERROR: bad cloud config") {
		t.Errorf("failing az: %s", errOut)
	}
	empty := newCLI(t, nil)
	if errOut := empty.fail(exitError, "az-setup"); !strings.Contains(errOut, "no fedcred server") {
		t.Errorf("no server: %s", errOut)
	}
}
