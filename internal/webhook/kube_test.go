package webhook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRESTConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "config")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: "t0ken"}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		kubeconfig string
		wantHost   string
		wantErr    string
	}{
		{name: "one file", kubeconfig: kubeconfig, wantHost: "https://127.0.0.1:6443"},
		{name: "a KUBECONFIG-style list with a missing file", kubeconfig: filepath.Join(dir, "missing") + string(os.PathListSeparator) + kubeconfig, wantHost: "https://127.0.0.1:6443"},
		{name: "only missing files", kubeconfig: filepath.Join(dir, "missing"), wantErr: "load kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := RESTConfig(tt.kubeconfig)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("RESTConfig() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RESTConfig() error = %v", err)
			}
			if cfg.Host != tt.wantHost || cfg.BearerToken != "t0ken" || cfg.UserAgent != "fedcred-webhook" || cfg.Timeout != 10*time.Second {
				t.Errorf("RESTConfig() = host %q, user agent %q, timeout %v", cfg.Host, cfg.UserAgent, cfg.Timeout)
			}
		})
	}
}
