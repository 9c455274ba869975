package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/fedcred/fedcred/internal/server"
)

// runChildEnv makes the test binary act as the program `fedcred run` runs.
const runChildEnv = "FEDCRED_TEST_RUN_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(runChildEnv) == "1" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// runChild is an unmodified Azure SDK program: it configures
// WorkloadIdentityCredential only from the environment and trusts the
// server through SSL_CERT_FILE. It gets a token, then waits for the token
// file to be refreshed, and exits 7.
func runChild() int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{DisableInstanceDiscovery: true})
	if err != nil {
		fmt.Println("CREDENTIAL ERROR", err)
		return 1
	}
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}}); err != nil {
		fmt.Println("TOKEN ERROR", err)
		return 1
	}
	path := os.Getenv("AZURE_FEDERATED_TOKEN_FILE")
	fmt.Println("TOKEN_OK", path)
	first, _ := os.ReadFile(path)
	for {
		now, err := os.ReadFile(path)
		if err == nil && len(now) > 0 && !bytes.Equal(now, first) {
			fmt.Println("REFRESHED")
			return 7
		}
		select {
		case <-ctx.Done():
			fmt.Println("NOT REFRESHED")
			return 1
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestRunGivesAnUnmodifiedProgramTokens runs the test binary itself as the
// program, against a real server whose clock is set so that a 10-minute
// service-account token expires 6 seconds from now: the token file must be
// refreshed before that, the SDK must get a token, the exit code must pass
// through, and the file must be gone afterwards.
func TestRunGivesAnUnmodifiedProgramTokens(t *testing.T) {
	dir := t.TempDir()
	skew := 10*time.Minute - 6*time.Second
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    func() time.Time { return time.Now().Add(-skew) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	c := &cli{t: t, dataDir: dir, configDir: t.TempDir()}
	c.env = map[string]string{envDataDir: dir, envConfigDir: c.configDir}
	c.ok("group", "create", "-n", "rg1")
	c.ok("aks", "create", "-n", "c1", "-g", "rg1", "--enable-oidc-issuer")
	c.ok("identity", "create", "-n", "id1", "-g", "rg1")
	iss := strings.TrimSpace(c.ok("aks", "show", "-n", "c1", "-g", "rg1", "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv"))
	c.ok("identity", "federated-credential", "create", "--name", "fic1", "--identity-name", "id1", "-g", "rg1",
		"--issuer", iss, "--subject", "system:serviceaccount:pets:ai-svc")

	t.Setenv(runChildEnv, "1")
	for _, v := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	out, errOut, code := c.run("run", "--cluster", "c1", "-g", "rg1", "--namespace", "pets", "--service-account", "ai-svc",
		"--token-duration", "10m", "--", os.Args[0], "-test.run=^$")
	if code != 7 || !strings.Contains(out, "TOKEN_OK") || !strings.Contains(out, "REFRESHED") {
		t.Fatalf("fedcred run: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	var path string
	fmt.Sscanf(out[strings.Index(out, "TOKEN_OK"):], "TOKEN_OK %s", &path)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("token file %q still there after the program ended: %v", path, err)
	}
}

func TestRunRefusals(t *testing.T) {
	t.Parallel()
	c := newCLI(t, nil)
	if _, errOut, code := c.run("run", "--cluster", "c1", "-g", "rg1", "--namespace", "ns", "--service-account", "sa"); code != exitUsage || !strings.Contains(errOut, "after --") {
		t.Fatalf("run without a program: exit %d, %q", code, errOut)
	}
	if _, errOut, code := c.run("run", "--cluster", "c1", "-g", "rg1", "--namespace", "ns", "--service-account", "sa", "--token-duration", "5m", "--", "true"); code != exitUsage || !strings.Contains(errOut, "at least 10m") {
		t.Fatalf("run with a short token: exit %d, %q", code, errOut)
	}
}

func TestRefreshIn(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	if got := refreshIn(now, now.Add(time.Hour)); got != 48*time.Minute {
		t.Errorf("refreshIn(1h) = %v, want 48m (80%%)", got)
	}
	if got := refreshIn(now, now.Add(-time.Minute)); got != minRefreshBackoff {
		t.Errorf("refreshIn(expired) = %v, want the minimum back-off", got)
	}
}
