package portal_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/portal"
	"github.com/fedcred/fedcred/internal/server"
)

// clock is a settable clock for the server under test.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rig is a whole fedcred server on a loopback port with a settable clock.
type rig struct {
	t     *testing.T
	url   string
	clock *clock
	admin config.Admin
	http  *http.Client
}

func newRig(t *testing.T) *rig {
	t.Helper()
	c := &clock{t: time.Now().UTC()}
	dir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: "127.0.0.1:0", Now: c.Now,
		Logger:             slog.New(slog.DiscardHandler),
		TenantKeyRotation:  -1,
		ClusterKeyRotation: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	r := &rig{t: t, url: srv.URL, clock: c}
	data, err := os.ReadFile(filepath.Join(dir, config.AdminFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &r.admin); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(r.admin.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	r.http = &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return r
}

// do sends a request with client (the rig's when nil) and returns the
// status and body.
func (r *rig) do(client *http.Client, req *http.Request) (*http.Response, string) {
	r.t.Helper()
	if client == nil {
		client = r.http
	}
	resp, err := client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// adminToken is a management token of the admin service principal.
func (r *rig) adminToken() string {
	r.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {r.admin.ClientID},
		"client_secret": {r.admin.ClientSecret}, "scope": {r.url + "/.default"}}
	req, _ := http.NewRequest(http.MethodPost, r.url+"/"+r.admin.TenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := r.do(nil, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil {
		r.t.Fatalf("admin token: %d %s", resp.StatusCode, body)
	}
	return tok.AccessToken
}

// link asks for a sign-in link as the admin.
func (r *rig) link() string {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.url+portal.SignInLinksPath, nil)
	req.Header.Set("Authorization", "Bearer "+r.adminToken())
	resp, body := r.do(nil, req)
	var l struct {
		URL       string `json:"url"`
		ExpiresIn int    `json:"expiresIn"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &l) != nil || l.ExpiresIn != 300 {
		r.t.Fatalf("sign-in link: %d %s", resp.StatusCode, body)
	}
	return l.URL
}

var hiddenPattern = regexp.MustCompile(`name="(csrf|code)" value="([^"]*)"`)

// openLink GETs a sign-in link with a fresh cookie jar and returns the
// browser-like client and the form's values.
func (r *rig) openLink(link string) (*http.Client, url.Values, int) {
	r.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: r.http.Transport, Timeout: r.http.Timeout, CheckRedirect: r.http.CheckRedirect}
	req, _ := http.NewRequest(http.MethodGet, link, nil)
	resp, body := r.do(c, req)
	form := url.Values{}
	for _, m := range hiddenPattern.FindAllStringSubmatch(body, -1) {
		form.Set(m[1], m[2])
	}
	return c, form, resp.StatusCode
}

// postForm posts form with client.
func (r *rig) postForm(client *http.Client, path string, form url.Values) (*http.Response, string) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r.do(client, req)
}

// signIn signs in with a fresh link and returns the signed-in client.
func (r *rig) signIn() *http.Client {
	r.t.Helper()
	c, form, status := r.openLink(r.link())
	if status != http.StatusOK {
		r.t.Fatalf("open link: %d", status)
	}
	resp, body := r.postForm(c, portal.SignInPath, form)
	if resp.StatusCode != http.StatusSeeOther {
		r.t.Fatalf("sign in: %d %s", resp.StatusCode, body)
	}
	return c
}

// page GETs a portal page.
func (r *rig) page(c *http.Client, path string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.url+path, nil)
	resp, body := r.do(c, req)
	return resp.StatusCode, body
}

func TestSignInCodeExpires(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tests := []struct {
		name       string
		wait       time.Duration
		wantStatus int
	}{
		{name: "just before five minutes", wait: portal.DefaultSignInLifetime - time.Second, wantStatus: http.StatusSeeOther},
		{name: "at five minutes", wait: portal.DefaultSignInLifetime, wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		// Not parallel: the subtests move the one clock.
		t.Run(tt.name, func(t *testing.T) {
			link := r.link()
			c, form, status := r.openLink(link)
			if status != http.StatusOK {
				t.Fatalf("open link: %d", status)
			}
			r.clock.advance(tt.wait)
			resp, body := r.postForm(c, portal.SignInPath, form)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("sign in after %v: %d, want %d\n%s", tt.wait, resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus == http.StatusUnauthorized {
				if !strings.Contains(body, "used or has expired") {
					t.Errorf("the refusal does not say the link expired:\n%s", body)
				}
				if status, _ := r.page(c, "/portal/identities"); status != http.StatusUnauthorized {
					t.Errorf("an expired link gave a session: %d", status)
				}
			}
		})
	}
}

func TestSessionEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// steps are the waits between requests; the last request must be
		// refused and every one before it served.
		steps []time.Duration
	}{
		{name: "idle for the idle timeout", steps: []time.Duration{20 * time.Minute, 29 * time.Minute, portal.DefaultIdleTimeout}},
		{name: "used until the lifetime ends", steps: append(repeat(25*time.Minute, 19), 10*time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			c := r.signIn()
			for i, d := range tt.steps {
				r.clock.advance(d)
				status, body := r.page(c, "/portal/clusters")
				last := i == len(tt.steps)-1
				switch {
				case !last && status != http.StatusOK:
					t.Fatalf("request %d: %d, want 200\n%s", i, status, body)
				case last && (status != http.StatusUnauthorized || !strings.Contains(body, "Your session has expired.")):
					t.Fatalf("last request: %d, want 401 saying the session expired\n%s", status, body)
				}
			}
			// The refusal cleared the cookie: the browser no longer sends it.
			if status, body := r.page(c, "/portal/clusters"); status != http.StatusUnauthorized || strings.Contains(body, "expired") {
				t.Errorf("after expiry: %d, want 401 without a cookie\n%s", status, body)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// TestLiveRulesAgreeWithTheServer checks the patterns the browser checks as
// the visitor types against the management API's and Kubernetes' answers.
func TestLiveRulesAgreeWithTheServer(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tok := r.adminToken()
	api := func(method, path, body string) int {
		req, _ := http.NewRequest(method, r.url+path+"?api-version=2023-01-31", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, _ := r.do(nil, req)
		return resp.StatusCode
	}
	group := "/subscriptions/" + r.admin.SubscriptionID + "/resourceGroups/rg1"
	if got := api(http.MethodPut, group, `{"location":"eastus"}`); got != http.StatusCreated {
		t.Fatalf("create group: %d", got)
	}
	names := []string{"ab", "abc", "a_b-c", "-abc", "_abc", "ab.c", "ab c", "Ünicode", strings.Repeat("a", 120), strings.Repeat("a", 121),
		strings.Repeat("a", 128), strings.Repeat("a", 129), "9lives"}
	identityRule := regexp.MustCompile(portal.IdentityNamePattern)
	credentialRule := regexp.MustCompile(portal.CredentialNamePattern)
	ident := group + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
	if api(http.MethodPut, ident+"parent", `{"location":"eastus"}`) != http.StatusCreated {
		t.Fatal("create parent identity")
	}
	for i, n := range names {
		name := n
		if len(n) > 12 {
			name = fmt.Sprintf("%d characters", len(n))
		}
		t.Run(name, func(t *testing.T) {
			got := api(http.MethodPut, ident+url.PathEscape(n), `{"location":"eastus"}`) < 300
			if want := identityRule.MatchString(n); got != want {
				t.Errorf("identity name %q: API accepts %v, live rule %v", n, got, want)
			}
			body := `{"properties":{"issuer":"https://issuer.example/` + string(rune('a'+i)) + `","subject":"s","audiences":["a"]}}`
			got = api(http.MethodPut, ident+"parent/federatedIdentityCredentials/"+url.PathEscape(n), body) < 300
			if want := credentialRule.MatchString(n); got != want {
				t.Errorf("credential name %q: API accepts %v, live rule %v", n, got, want)
			}
		})
	}
	nsRule, saRule := regexp.MustCompile(portal.NamespacePattern), regexp.MustCompile(portal.ServiceAccountPattern)
	for _, v := range []string{"pets", "a", "a-b", "-a", "a-", "A", "a.b", "a_b", "1", strings.Repeat("a", 63), strings.Repeat("a", 64), "a..b", "a.b-c.d"} {
		nsOK := issuer.ValidateServiceAccount(v, "a") == nil
		if got := nsRule.MatchString(v) && len(v) <= 63; got != nsOK {
			t.Errorf("namespace %q: Kubernetes accepts %v, live rule %v", v, nsOK, got)
		}
		saOK := issuer.ValidateServiceAccount("a", v) == nil
		if got := saRule.MatchString(v) && len(v) <= 253; got != saOK {
			t.Errorf("service account %q: Kubernetes accepts %v, live rule %v", v, saOK, got)
		}
	}
}
