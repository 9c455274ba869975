// Package portal drives the real fedcred binary's web portal: in headless
// Chromium (sign in with the one-time link, create an identity, add a
// Kubernetes federated credential, run "Try it" to a token and to a
// refusal), and over plain HTTP (CSRF, sign-in links, a principal without
// rights).
package portal

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/config"
)

// binary is the fedcred binary built once for the package's tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fedcred-portal-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fedcred")
	build := exec.Command("go", "build", "-o", binary, "github.com/fedcred/fedcred/cmd/fedcred")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fedcred:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running `fedcred serve` with its own data directory.
type server struct {
	t       *testing.T
	url     string
	dataDir string
	config  string // FEDCRED_CONFIG_DIR, empty: the CLI uses admin.json
	admin   config.Admin
	pool    *x509.CertPool
	log     *bytes.Buffer
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startServer runs `fedcred serve` on a free port and waits until it
// answers; it is stopped when the test ends.
func startServer(t *testing.T) *server {
	t.Helper()
	s := &server{t: t, dataDir: t.TempDir(), config: t.TempDir(), log: &bytes.Buffer{}}
	port := freePort(t)
	cmd := exec.Command(binary, "serve", "--data-dir", s.dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Env = append(os.Environ(), "FEDCRED_CONFIG_DIR="+s.config)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	s.url = fmt.Sprintf("https://localhost:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if data, err := os.ReadFile(filepath.Join(s.dataDir, config.AdminFile)); err == nil && json.Unmarshal(data, &s.admin) == nil {
			if ca, err := os.ReadFile(s.admin.CAFile); err == nil {
				s.pool = x509.NewCertPool()
				s.pool.AppendCertsFromPEM(ca)
				resp, err := s.client(nil).Get(s.url + "/healthz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return s
					}
				}
			}
		}
		select {
		case <-done:
			t.Fatalf("fedcred serve exited:\n%s", s.log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("fedcred serve did not answer within 30s:\n%s", s.log.String())
		}
	}
}

// client is an HTTP client that trusts the server's CA, keeps cookies in
// jar (nil for none) and does not follow redirects.
func (s *server) client(jar http.CookieJar) *http.Client {
	return &http.Client{
		Timeout:       30 * time.Second,
		Jar:           jar,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// cli runs the fedcred CLI against the server (it finds it through
// admin.json) and returns its standard output.
func (s *server) cli(args ...string) string {
	s.t.Helper()
	out, err := s.run(args...)
	if err != nil {
		s.t.Fatalf("fedcred %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (s *server) run(args ...string) (string, error) {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "FEDCRED_DATA_DIR="+s.dataDir, "FEDCRED_CONFIG_DIR="+s.config,
		"DISPLAY=", "WAYLAND_DISPLAY=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, stderr.String())
	}
	return stdout.String(), nil
}

// signInLinkPattern is what `fedcred portal` prints.
var signInLinkPattern = regexp.MustCompile(`^https://localhost:\d+/portal/sign-in\?code=[A-Za-z0-9_-]{43}$`)

// signInLink runs `fedcred portal --no-browser` and returns the link.
func (s *server) signInLink() string {
	s.t.Helper()
	out, err := s.run("portal", "--no-browser")
	if err != nil && strings.Contains(err.Error(), "unknown command") {
		s.t.Fatalf("the fedcred binary has no 'portal' command: register newPortalCommand in cmd/fedcred/root.go (%v)", err)
	}
	if err != nil {
		s.t.Fatalf("fedcred portal --no-browser: %v", err)
	}
	link := strings.TrimSpace(out)
	if !signInLinkPattern.MatchString(link) {
		s.t.Fatalf("fedcred portal printed %q, want one sign-in link", link)
	}
	return link
}

// visitor is an HTTP client signed in to the portal.
type visitor struct {
	s      *server
	client *http.Client
	csrf   string
}

// hiddenValue finds a hidden input's value in a page.
func hiddenValue(page, name string) string {
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

// get fetches a page and returns its status and body.
func (v *visitor) get(path string) (int, string) {
	v.s.t.Helper()
	resp, err := v.client.Get(v.s.url + path)
	if err != nil {
		v.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if c := hiddenValue(string(body), "csrf"); c != "" {
		v.csrf = c
	}
	return resp.StatusCode, string(body)
}

// post sends a form with extra headers and returns the response (body
// read).
func (v *visitor) post(path string, form url.Values, header map[string]string) (*http.Response, string) {
	v.s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, v.s.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		v.s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, val := range header {
		req.Header.Set(k, val)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		v.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// signIn follows a sign-in link over HTTP and returns the signed-in
// visitor.
func (s *server) signIn(link string) *visitor {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	v := &visitor{s: s, client: s.client(jar)}
	status, page := v.get(strings.TrimPrefix(link, s.url))
	if status != http.StatusOK {
		s.t.Fatalf("GET sign-in link = %d:\n%s", status, page)
	}
	code := hiddenValue(page, "code")
	resp, body := v.post("/portal/sign-in", url.Values{"csrf": {v.csrf}, "code": {code}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/identities" {
		s.t.Fatalf("POST sign-in = %d %s:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	status, page = v.get("/portal/identities")
	if status != http.StatusOK {
		s.t.Fatalf("identities after sign-in = %d:\n%s", status, page)
	}
	return v
}
