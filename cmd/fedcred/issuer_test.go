package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/remoteissuer"
	"github.com/fedcred/fedcred/internal/server"
)

// runNow runs a command line like run, on the real clock: publish-keys
// signs a proof the server checks against its own clock.
func (c *cli) runNow(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	a := &app{getenv: func(k string) string { return c.env[k] }, stdout: &out, stderr: &errb, now: time.Now}
	code = a.run(context.Background(), args)
	return out.String(), errb.String(), code
}

// writeFile writes data to name in a new temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// signingKey is a cluster signing key and its PEM file.
type signingKey struct {
	key  crypto.Signer
	kid  string
	file string
}

func newSigningKey(t *testing.T, ec bool) signingKey {
	t.Helper()
	var k crypto.Signer
	var block *pem.Block
	if ec {
		ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(ek)
		if err != nil {
			t.Fatal(err)
		}
		k, block = ek, &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	} else {
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		k, block = rk, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}
	}
	kid, err := keys.KeyID(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{key: k, kid: kid, file: writeFile(t, "sa.key", pem.EncodeToMemory(block))}
}

// jwksFile writes the public JWKS of ks and returns its path.
func jwksFile(t *testing.T, ks ...signingKey) string {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range ks {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.key.Public(), KeyID: k.kid, Use: "sig"})
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "jwks.json", data)
}

func TestIssuerCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	c := &cli{t: t, dataDir: dir, configDir: t.TempDir()}
	c.env = map[string]string{envDataDir: dir, envConfigDir: c.configDir}
	const issuer = "https://private-cluster.example/"
	rsaKey, ecKey, stranger := newSigningKey(t, false), newSigningKey(t, true), newSigningKey(t, true)

	created := decode[map[string]any](t, c.ok("issuer", "create", "--name", "private1", "--issuer", issuer, "--jwks-file", jwksFile(t, rsaKey)))
	id := "/subscriptions/" + srv.Admin.SubscriptionID + "/providers/Fedcred/trustedIssuers/private1"
	if created["id"] != id || created["issuer"] != issuer || created["publishKeysAudience"] != srv.URL+id {
		t.Errorf("create printed %v", created)
	}
	if ks, _ := created["keys"].([]any); len(ks) != 1 || ks[0].(map[string]any)["kid"] != rsaKey.kid {
		t.Errorf("keys = %v", created["keys"])
	}

	t.Run("create needs a JWKS file", func(t *testing.T) {
		_, errOut, code := c.run("issuer", "create", "--name", "p2", "--issuer", "https://p2.example/")
		if code != exitUsage || !strings.Contains(errOut, "jwks-file") {
			t.Errorf("exit %d, %q", code, errOut)
		}
		if out := c.ok("issuer", "create", "--help"); !strings.Contains(out, "--jwks-file is required") {
			t.Errorf("create --help does not say why --jwks-file is required:\n%s", out)
		}
	})
	t.Run("a JWKS with a private key is refused before anything is sent", func(t *testing.T) {
		priv := writeFile(t, "jwks.json", []byte(`{"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":"AQ","y":"AQ","d":"AQ"}]}`))
		if errOut := c.fail(exitError, "issuer", "create", "--name", "p2", "--issuer", "https://p2.example/", "--jwks-file", priv); !strings.Contains(errOut, "private or symmetric key material") {
			t.Errorf("stderr %q", errOut)
		}
	})
	t.Run("the server refuses a second name for the issuer", func(t *testing.T) {
		errOut := c.fail(exitError, "issuer", "create", "--name", "p2", "--issuer", issuer, "--jwks-file", jwksFile(t, ecKey))
		if !strings.HasPrefix(errOut, "ERROR: (IssuerAlreadyTrusted) ") {
			t.Errorf("stderr %q", errOut)
		}
	})
	if out := c.ok("issuer", "show", "-n", "private1", "--query", "issuer", "-o", "tsv"); out != issuer+"\n" {
		t.Errorf("show --query issuer = %q", out)
	}
	if out := c.ok("issuer", "list", "--query", "[].name", "-o", "tsv"); out != "private1\n" {
		t.Errorf("list = %q", out)
	}
	if out := c.ok("issuer", "update", "--name", "private1", "--jwks-file", jwksFile(t, rsaKey, ecKey), "--query", "length(keys)", "-o", "tsv"); out != "2\n" {
		t.Errorf("update printed %q keys", out)
	}

	t.Run("publish-keys with credentials reads the issuer and audience", func(t *testing.T) {
		out, errOut, code := c.runNow("issuer", "publish-keys", "--name", "private1", "--jwks-file", jwksFile(t, rsaKey, ecKey),
			"--signing-key-file", rsaKey.file, "--query", "keysPublishedBy", "-o", "tsv")
		if code != 0 || out != rsaKey.kid+"\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want keysPublishedBy = the RSA key's kube kid", code, out, errOut)
		}
	})
	t.Run("publish-keys without credentials, as a cluster's cron job", func(t *testing.T) {
		cron := &cli{t: t, dataDir: t.TempDir(), configDir: t.TempDir()}
		cron.env = map[string]string{envDataDir: cron.dataDir, envConfigDir: cron.configDir,
			envServer: srv.URL, envCAFile: srv.Admin.CAFile, envSubscription: srv.Admin.SubscriptionID}
		out, errOut, code := cron.runNow("issuer", "publish-keys", "--name", "private1", "--jwks-file", jwksFile(t, ecKey),
			"--signing-key-file", ecKey.file, "--kid", ecKey.kid, "--issuer", issuer, "--query", "keys[].kid", "-o", "tsv")
		if code != 0 || out != ecKey.kid+"\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if _, errOut, code := cron.run("issuer", "show", "--name", "private1"); code != exitError || !strings.Contains(errOut, "credentials") {
			t.Errorf("show without credentials: exit %d, %q", code, errOut)
		}
	})
	t.Run("publish-keys with a key fedcred does not trust", func(t *testing.T) {
		_, errOut, code := c.runNow("issuer", "publish-keys", "--name", "private1", "--jwks-file", jwksFile(t, stranger),
			"--signing-key-file", stranger.file)
		if code != exitError || !strings.HasPrefix(errOut, "ERROR: (InvalidAuthenticationToken) The proof token is refused") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("publish-keys with the withdrawn RSA key", func(t *testing.T) {
		_, errOut, code := c.runNow("issuer", "publish-keys", "--name", "private1", "--jwks-file", jwksFile(t, rsaKey),
			"--signing-key-file", rsaKey.file)
		if code != exitError || !strings.Contains(errOut, "(InvalidAuthenticationToken)") {
			t.Errorf("exit %d, %q", code, errOut)
		}
	})
	t.Run("publish-keys with a file that holds no key", func(t *testing.T) {
		notKey := writeFile(t, "sa.key", []byte("-----BEGIN CERTIFICATE-----\nAQ==\n-----END CERTIFICATE-----\n"))
		if errOut := c.fail(exitError, "issuer", "publish-keys", "--name", "private1", "--jwks-file", jwksFile(t, ecKey), "--signing-key-file", notKey); !strings.Contains(errOut, "holds no PEM private key") {
			t.Errorf("stderr %q", errOut)
		}
	})

	c.ok("issuer", "delete", "--name", "private1", "--yes")
	if errOut := c.fail(exitError, "issuer", "show", "--name", "private1"); !strings.HasPrefix(errOut, "ERROR: (ResourceNotFound) ") {
		t.Errorf("show after delete: %q", errOut)
	}
}

// testIssuer serves an OIDC discovery document and JWKS over TLS on
// 127.0.0.1 and writes its certificate to a CA file.
func testIssuer(t *testing.T, key signingKey) (url, caFile string) {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL + "/", "jwks_uri": srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256", "ES256"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.key.Public(), KeyID: key.kid, Use: "sig"}}})
	})
	srv = httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the no-CA case fails handshakes on purpose
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL + "/", writeFile(t, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}

func TestIssuerCheck(t *testing.T) {
	t.Parallel()
	key := newSigningKey(t, true)
	url, caFile := testIssuer(t, key)
	c := newCLI(t, nil)

	tests := []struct {
		name      string
		args      []string
		wantCode  int
		wantLines []string // each must appear as a line prefix in stdout
		wantErr   string
	}{
		{
			name: "a loopback issuer is refused by default", args: []string{url},
			wantCode: exitError, wantLines: []string{"✓ the issuer ends in a slash", "✗ fetching the discovery document failed: issuer unreachable"},
			wantErr: "(loopback) is refused",
		},
		{
			name: "without the issuer's CA", args: []string{url, "--allow-private"},
			wantCode: exitError, wantLines: []string{"✗ fetching the discovery document failed"},
			wantErr: "certificate",
		},
		{
			name: "allowed and trusted", args: []string{url, "--allow-private", "--ca-file", caFile},
			wantCode: 0, wantLines: []string{
				"✓ fetched the discovery document", "✓ the document's issuer equals the configured issuer exactly",
				"✓ fetched the JWKS", "✓ all 1 keys are usable", "keys:", `  ✓ kid "` + key.kid + `" (EC sig)`,
			},
		},
		{
			name: "the issuer without its trailing slash", args: []string{strings.TrimSuffix(url, "/"), "--allow-private", "--ca-file", caFile},
			wantCode: exitError, wantLines: []string{"✗ the discovery document cannot be used"},
			wantErr: "cannot be used",
		},
		{name: "no URL", args: nil, wantCode: exitUsage, wantErr: "accepts 1 arg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := c.run(append([]string{"issuer", "check"}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.wantCode, out, errOut)
			}
			for _, want := range tc.wantLines {
				if !strings.HasPrefix(out, want) && !strings.Contains(out, "\n"+want) {
					t.Errorf("stdout lacks a line starting %q:\n%s", want, out)
				}
			}
			if tc.wantErr != "" && !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut, tc.wantErr)
			}
			if tc.wantCode == 0 && errOut != "" {
				t.Errorf("stderr %q on success", errOut)
			}
		})
	}
	t.Run("json report", func(t *testing.T) {
		t.Parallel()
		out := c.ok("issuer", "check", url, "--allow-private", "--ca-file", caFile, "-o", "json")
		r := decode[remoteissuer.Report](t, out)
		if r.Issuer != url || r.JWKSURI != strings.TrimSuffix(url, "/")+"/jwks" || len(r.Keys) != 1 || !r.Keys[0].Usable || len(r.Findings) < 4 {
			t.Errorf("report = %+v", r)
		}
		for _, f := range r.Findings {
			if !f.OK {
				t.Errorf("finding not OK: %s", f.Text)
			}
		}
	})
}
