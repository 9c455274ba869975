package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/config"
)

// testNow is the CLI's clock in tests.
var testNow = time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)

// cli runs the command tree in-process with its own environment, data
// directory and config directory.
type cli struct {
	t         *testing.T
	env       map[string]string
	dataDir   string
	configDir string
}

// newCLI returns a CLI whose data directory holds an admin.json for fake
// (none when fake is nil), as after 'fedcred serve' ran once.
func newCLI(t *testing.T, fake *fakeServer) *cli {
	t.Helper()
	c := &cli{t: t, dataDir: t.TempDir(), configDir: filepath.Join(t.TempDir(), "config")}
	c.env = map[string]string{envDataDir: c.dataDir, envConfigDir: c.configDir}
	if fake != nil {
		c.writeAdmin(config.Admin{
			TenantID: fakeTenant, SubscriptionID: fakeSub, ClientID: fakeClient, ClientSecret: fakeSecret,
			Server: fake.URL(), CAFile: fake.caFile,
		})
	}
	return c
}

func (c *cli) writeAdmin(a config.Admin) {
	c.t.Helper()
	data, err := json.Marshal(a)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dataDir, config.AdminFile), data, 0o600); err != nil {
		c.t.Fatal(err)
	}
}

// run executes one command line.
func (c *cli) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	a := &app{
		getenv: func(k string) string { return c.env[k] },
		stdout: &out,
		stderr: &errb,
		now:    func() time.Time { return testNow },
	}
	code = a.run(context.Background(), args)
	return out.String(), errb.String(), code
}

// ok runs a command line that must succeed and returns its stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("fedcred %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	if errOut != "" {
		c.t.Errorf("fedcred %s: stderr %q on success", strings.Join(args, " "), errOut)
	}
	return out
}

// fail runs a command line that must fail with code and returns stderr;
// stdout must be empty.
func (c *cli) fail(code int, args ...string) string {
	c.t.Helper()
	out, errOut, got := c.run(args...)
	if got != code {
		c.t.Fatalf("fedcred %s: exit %d, want %d; stdout %q stderr %q", strings.Join(args, " "), got, code, out, errOut)
	}
	if out != "" {
		c.t.Errorf("fedcred %s: stdout %q on failure", strings.Join(args, " "), out)
	}
	if !strings.HasPrefix(errOut, "ERROR: ") {
		c.t.Errorf("fedcred %s: stderr %q does not start with ERROR: ", strings.Join(args, " "), errOut)
	}
	return errOut
}

// decode parses JSON output.
func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output %q is not JSON: %v", s, err)
	}
	return v
}
