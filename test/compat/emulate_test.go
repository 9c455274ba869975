package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// childModeEnv makes the test binary act as an unmodified Go program.
const childModeEnv = "FEDCRED_COMPAT_CHILD"

// runChild is an unmodified Go program as people write it for Entra
// Workload ID: DefaultAzureCredential(nil), the public management endpoint
// and the vault's own host, configured only by its environment. It prints
// one JSON line per step and exits 0.
func runChild(mode string) int {
	if mode != "go-unmodified" {
		fmt.Fprintln(os.Stderr, "unknown child mode", mode)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	report := func(step string, detail any, err error) {
		r := map[string]any{"step": step, "ok": err == nil, "detail": detail}
		if err != nil {
			r["error"] = err.Error()
		}
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		report("token", nil, err)
		return 0
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	report("token", tok.Token != "", err)
	ids, err := armmsi.NewUserAssignedIdentitiesClient(os.Getenv("FEDCRED_SUBSCRIPTION_ID"), cred, nil)
	if err == nil {
		var id armmsi.UserAssignedIdentitiesClientGetResponse
		id, err = ids.Get(ctx, os.Getenv("FEDCRED_RG"), os.Getenv("FEDCRED_IDENTITY"), nil)
		if err == nil {
			report("identity_get", *id.Properties.ClientID, nil)
		}
	}
	if err != nil {
		report("identity_get", nil, err)
	}
	kv, err := azsecrets.NewClient(os.Getenv("FEDCRED_VAULT_HOST_URL"), cred, nil)
	if err == nil {
		var s azsecrets.GetSecretResponse
		s, err = kv.GetSecret(ctx, os.Getenv("FEDCRED_SECRET_NAME"), "", nil)
		if err == nil {
			report("keyvault_get", *s.Value, nil)
		}
	}
	if err != nil {
		report("keyvault_get", nil, err)
	}
	return 0
}

// TestEmulateLoginHost runs unmodified Go, Node and Python programs
// (DefaultAzureCredential without options, the public management host, the
// vault's own host) under `fedcred run --emulate-login-host`. The programs
// see only fedcred: fedcred run's proxy answers the public hosts, and it
// passes every other host on to the test's proxy, which refuses and
// reports it.
func TestEmulateLoginHost(t *testing.T) {
	t.Parallel()
	bin := fedcredBinary(t)
	f := startFedcred(t)
	w := f.newWorkload(t, "emu")
	programs := []struct {
		name string
		cmd  func(t *testing.T) []string
	}{
		{name: "go", cmd: func(*testing.T) []string { return []string{os.Args[0], "-test.run=^$"} }},
		{name: "node", cmd: func(t *testing.T) []string {
			node := requireTool(t, "node", "apt-get install nodejs npm")
			if _, err := os.Stat(filepath.Join("node", "node_modules", "@azure", "identity")); err != nil {
				requireTool(t, "node_modules/@azure/identity", "cd test/compat/node && npm ci")
			}
			return []string{node, filepath.Join("node", "unmodified.js")}
		}},
		{name: "python", cmd: func(t *testing.T) []string {
			if _, err := exec.Command(debianPython, "-c", "import azure.identity, msal").CombinedOutput(); err != nil {
				requireTool(t, "python3-azure", "apt-get install python3-azure python3-msal")
			}
			return []string{debianPython, filepath.Join("python", "unmodified.py")}
		}},
	}
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			args := append([]string{"run", "--emulate-login-host", "--cluster", w.cluster, "-g", w.rg,
				"--namespace", namespace, "--service-account", account, "--identity", w.identity.Name, "--"}, p.cmd(t)...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = f.clientEnv(map[string]string{
				"FEDCRED_DATA_DIR":        f.dataDir,
				"FEDCRED_CONFIG_DIR":      t.TempDir(),
				childModeEnv:              "go-unmodified",
				"FEDCRED_SUBSCRIPTION_ID": f.admin.SubscriptionID,
				"FEDCRED_RG":              w.rg,
				"FEDCRED_IDENTITY":        w.identity.Name,
				"FEDCRED_VAULT_HOST_URL":  "https://" + w.vault + ".vault.azure.net/",
				"FEDCRED_SECRET_NAME":     secretName,
				"PYTHONDONTWRITEBYTECODE": "1",
			})
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("fedcred run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), "fedcred run: emulating login.microsoftonline.com") {
				t.Errorf("fedcred run did not say that it routes the login host:\n%s", stderr.String())
			}
			got := map[string]result{}
			for _, line := range strings.Split(stdout.String(), "\n") {
				var r result
				if json.Unmarshal([]byte(line), &r) == nil && r.Step != "" {
					got[r.Step] = r
				}
			}
			ok := []string{"token", "identity_get", "keyvault_get"}
			if p.name == "python" {
				ok = append(ok, "msal")
			}
			expectSteps(t, got, ok, nil)
			if v := detail[string](t, got, "keyvault_get"); v != secretValue {
				t.Errorf("secret = %q, want %q", v, secretValue)
			}
			if id := detail[string](t, got, "identity_get"); id != w.identity.Properties.ClientID {
				t.Errorf("identity clientId = %q, want %q", id, w.identity.Properties.ClientID)
			}
			if t.Failed() {
				t.Logf("stderr:\n%s", stderr.String())
			}
		})
	}
}
