package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/issuer"
)

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.pem")
	if err := os.WriteFile(huge, make([]byte, maxCAFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "no server", opts: Options{}, wantErr: "server URL is required"},
		{name: "plain http", opts: Options{Server: "http://127.0.0.1:8443"}, wantErr: "must use https"},
		{name: "no host", opts: Options{Server: "https://"}, wantErr: "has no host"},
		{name: "query", opts: Options{Server: "https://h/?x=1"}, wantErr: "must not have"},
		{name: "user info", opts: Options{Server: "https://u:p@h"}, wantErr: "must not have"},
		{name: "missing CA file", opts: Options{Server: "https://h", CAFile: filepath.Join(dir, "absent.pem")}, wantErr: "open CA file"},
		{name: "CA file without a certificate", opts: Options{Server: "https://h", CAFile: notPEM}, wantErr: "holds no PEM certificate"},
		{name: "CA file too large", opts: Options{Server: "https://h", CAFile: huge}, wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewNormalisesServer(t *testing.T) {
	t.Parallel()
	c, err := New(Options{Server: "https://fedcred.example:8443/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server() != "https://fedcred.example:8443" {
		t.Errorf("Server() = %q", c.Server())
	}
	if c.ManagementScope() != "https://fedcred.example:8443/.default" {
		t.Errorf("ManagementScope() = %q", c.ManagementScope())
	}
}

func TestTLSTrust(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /subscriptions", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"value": []any{map[string]any{"subscriptionId": testSub}}})
	})
	other := newTestCA(t)
	oldTLS := newTestCA(t)
	tls11 := startServer(t, oldTLS, http.NotFoundHandler())
	tls11.TLS.MaxVersion = tls.VersionTLS11

	tests := []struct {
		name       string
		server     string
		caFile     string
		wantVerify bool // a certificate verification failure rather than another TLS failure
	}{
		{name: "a CA that did not issue the certificate", server: f.srv.URL, caFile: other.file, wantVerify: true},
		{name: "no CA file, so only the system roots", server: f.srv.URL, caFile: "", wantVerify: true},
		{name: "a server that offers only TLS 1.1", server: tls11.URL, caFile: oldTLS.file},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(Options{Server: tt.server, TenantID: testTenant, ClientID: testClient, ClientSecret: testSecret, CAFile: tt.caFile})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ListSubscriptions(context.Background())
			var ce *ConnectionError
			if !errors.As(err, &ce) {
				t.Fatalf("ListSubscriptions error = %v, want a *ConnectionError", err)
			}
			if ce.Server != strings.TrimRight(tt.server, "/") {
				t.Errorf("ConnectionError.Server = %q, want %q", ce.Server, tt.server)
			}
			var verr *tls.CertificateVerificationError
			var unknown x509.UnknownAuthorityError
			if got := errors.As(err, &verr) || errors.As(err, &unknown); got != tt.wantVerify {
				t.Errorf("certificate verification error = %v, want %v (err: %v)", got, tt.wantVerify, err)
			}
		})
	}

	t.Run("the CA that issued the certificate", func(t *testing.T) {
		t.Parallel()
		subs, err := f.client(nil).ListSubscriptions(context.Background())
		if err != nil || len(subs) != 1 || subs[0].SubscriptionID != testSub {
			t.Fatalf("ListSubscriptions = %v, %v", subs, err)
		}
	})
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	url := f.srv.URL
	c := f.client(nil)
	f.srv.Close()
	_, err := c.GetResourceGroup(context.Background(), testSub, "rg")
	var ce *ConnectionError
	if !errors.As(err, &ce) || ce.Server != url {
		t.Fatalf("error = %v, want a *ConnectionError for %s", err, url)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error %q contains the secret", err)
	}
}

func TestRequestToken(t *testing.T) {
	t.Parallel()
	type form map[string]string
	tests := []struct {
		name     string
		req      TokenRequest
		status   int
		response string
		wantForm form
		want     *Token
		wantErr  func(t *testing.T, err error)
	}{
		{
			name:     "client secret",
			req:      TokenRequest{ClientID: "app", Scope: "api://x/.default", ClientSecret: "s3cret"},
			status:   200,
			response: `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"at"}`,
			wantForm: form{"grant_type": "client_credentials", "client_id": "app", "scope": "api://x/.default", "client_secret": "s3cret"},
			want:     &Token{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 3599},
		},
		{
			name:     "federated assertion with expires_in as a string",
			req:      TokenRequest{TenantID: "other-tenant", ClientID: "id", Scope: "https://vault.azure.net/.default", ClientAssertion: "jwt.jwt.jwt"},
			status:   200,
			response: `{"token_type":"Bearer","expires_in":"86399","access_token":"at2"}`,
			wantForm: form{
				"grant_type": "client_credentials", "client_id": "id", "scope": "https://vault.azure.net/.default",
				"client_assertion_type": AssertionTypeJWTBearer, "client_assertion": "jwt.jwt.jwt",
			},
			want: &Token{AccessToken: "at2", TokenType: "Bearer", ExpiresIn: 86399},
		},
		{
			name:   "AADSTS error",
			req:    TokenRequest{ClientID: "id", Scope: "s/.default", ClientAssertion: "a.b.c"},
			status: 400,
			response: `{"error":"invalid_client","error_description":"AADSTS700211: No matching federated identity record found for presented assertion issuer 'https://x/'.\r\nTrace ID: t\r\nCorrelation ID: c",` +
				`"error_codes":[700211],"trace_id":"t","correlation_id":"c"}`,
			wantErr: func(t *testing.T, err error) {
				var te *TokenError
				if !errors.As(err, &te) {
					t.Fatalf("error %v is not a *TokenError", err)
				}
				if te.StatusCode != 400 || te.ErrorCode != "invalid_client" || !te.HasCode(700211) || te.HasCode(70021) ||
					te.TraceID != "t" || te.CorrelationID != "c" {
					t.Errorf("TokenError = %+v", te)
				}
				if got, want := te.Summary(), "AADSTS700211: No matching federated identity record found for presented assertion issuer 'https://x/'."; got != want {
					t.Errorf("Summary() = %q, want %q", got, want)
				}
			},
		},
		{
			name:     "error that is not JSON",
			req:      TokenRequest{ClientID: "id", Scope: "s/.default", ClientSecret: "s3cret"},
			status:   502,
			response: `<html>bad gateway</html>`,
			wantErr: func(t *testing.T, err error) {
				var te *TokenError
				if !errors.As(err, &te) || te.StatusCode != 502 || te.Error() != "the token endpoint answered 502 Bad Gateway" {
					t.Fatalf("error = %#v", err)
				}
			},
		},
		{
			name:     "success without an access token",
			req:      TokenRequest{ClientID: "id", Scope: "s/.default", ClientSecret: "s3cret"},
			status:   200,
			response: `{"token_type":"Bearer","expires_in":3599}`,
			wantErr:  wantErrContaining("no access_token"),
		},
		{
			name:     "success without expires_in",
			req:      TokenRequest{ClientID: "id", Scope: "s/.default", ClientSecret: "s3cret"},
			status:   200,
			response: `{"token_type":"Bearer","access_token":"at"}`,
			wantErr:  wantErrContaining("expires_in is missing"),
		},
		{
			name:     "success with a fractional expires_in",
			req:      TokenRequest{ClientID: "id", Scope: "s/.default", ClientSecret: "s3cret"},
			status:   200,
			response: `{"token_type":"Bearer","access_token":"at","expires_in":1.5}`,
			wantErr:  wantErrContaining("not a whole number"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			var gotForm form
			var gotPath string
			f.setTokenHandler(func(w http.ResponseWriter, r *http.Request) {
				gotPath = r.URL.Path
				if err := r.ParseForm(); err != nil {
					t.Error(err)
				}
				gotForm = form{}
				for k := range r.PostForm {
					gotForm[k] = r.PostForm.Get(k)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.response)
			})
			clk := newClock()
			tok, err := f.client(clk.now).RequestToken(context.Background(), tt.req)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("RequestToken succeeded, want an error")
				}
				tt.wantErr(t, err)
				for _, secret := range []string{tt.req.ClientSecret, tt.req.ClientAssertion} {
					if secret != "" && strings.Contains(err.Error(), secret) {
						t.Errorf("error %q contains a credential", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantTenant := first(tt.req.TenantID, testTenant)
			if gotPath != "/"+wantTenant+"/oauth2/v2.0/token" {
				t.Errorf("token path = %q", gotPath)
			}
			if !reflect.DeepEqual(gotForm, tt.wantForm) {
				t.Errorf("form = %v, want %v", gotForm, tt.wantForm)
			}
			tt.want.ExpiresOn = clk.now().Add(time.Duration(tt.want.ExpiresIn) * time.Second)
			if !reflect.DeepEqual(tok, tt.want) {
				t.Errorf("token = %#v, want %#v", *tok, *tt.want)
			}
		})
	}
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func wantErrContaining(s string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func TestRequestTokenRefusesBadRequestsWithoutCallingTheServer(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	noTenant, err := New(Options{Server: f.srv.URL, CAFile: f.ca.file})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    *Client
		req  TokenRequest
		want string
	}{
		{name: "no tenant", c: noTenant, req: TokenRequest{ClientID: "c", Scope: "s", ClientSecret: "x"}, want: "tenant is required"},
		{name: "no client ID", c: f.client(nil), req: TokenRequest{Scope: "s", ClientSecret: "x"}, want: "client ID is required"},
		{name: "no scope", c: f.client(nil), req: TokenRequest{ClientID: "c", ClientSecret: "x"}, want: "scope is required"},
		{name: "neither secret nor assertion", c: f.client(nil), req: TokenRequest{ClientID: "c", Scope: "s"}, want: "exactly one"},
		{name: "both secret and assertion", c: f.client(nil), req: TokenRequest{ClientID: "c", Scope: "s", ClientSecret: "x", ClientAssertion: "y"}, want: "exactly one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.RequestToken(context.Background(), tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	if n := f.tokens.Load(); n != 0 {
		t.Errorf("%d tokens were requested", n)
	}
}

func TestTokenStringHidesTheToken(t *testing.T) {
	t.Parallel()
	tok := Token{AccessToken: "very-secret-token", TokenType: "Bearer", ExpiresIn: 60, ExpiresOn: time.Unix(0, 0)}
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v", &tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok)} {
		if strings.Contains(s, "very-secret-token") {
			t.Errorf("formatted token %q shows the token", s)
		}
	}
}

func TestManagementTokenIsCachedAndRefreshed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		expiresIn    int64
		stillCached  time.Duration // the cached token is still used this long after issue
		refreshAfter time.Duration // and replaced this long after issue
	}{
		{name: "an hour-long token is refreshed five minutes before expiry", expiresIn: 3600, stillCached: 54*time.Minute + 59*time.Second, refreshAfter: 55 * time.Minute},
		{name: "a two-minute token is refreshed at half its life", expiresIn: 120, stillCached: 59 * time.Second, refreshAfter: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.expiresIn.Store(tt.expiresIn)
			f.mux.HandleFunc("GET /subscriptions/{sub}", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, map[string]any{"subscriptionId": r.PathValue("sub")})
			})
			clk := newClock()
			c := f.client(clk.now)
			ctx := context.Background()
			get := func() {
				t.Helper()
				if _, err := c.GetSubscription(ctx, testSub); err != nil {
					t.Fatal(err)
				}
			}
			get()
			get()
			clk.advance(tt.stillCached)
			get()
			if n := f.tokens.Load(); n != 1 {
				t.Fatalf("%d token requests before refresh, want 1", n)
			}
			clk.advance(tt.refreshAfter - tt.stillCached)
			get()
			if n := f.tokens.Load(); n != 2 {
				t.Fatalf("%d token requests after refresh, want 2", n)
			}
			reqs := f.recorded()
			if got := reqs[len(reqs)-1].Auth; got != "Bearer tok-2" {
				t.Errorf("last request authorised with %q, want the new token", got)
			}
			if got := reqs[0].Auth; got != "Bearer tok-1" {
				t.Errorf("first request authorised with %q", got)
			}
		})
	}
}

func TestManagementTokenIsSharedAcrossGoroutines(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /subscriptions/{sub}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"subscriptionId": r.PathValue("sub")})
	})
	c := f.client(nil)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := c.GetSubscription(context.Background(), testSub)
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := f.tokens.Load(); n != 1 {
		t.Errorf("%d token requests for 8 concurrent calls, want 1", n)
	}
}

func TestUnauthorizedRetriesOnceWithANewToken(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /subscriptions/{sub}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"subscriptionId": r.PathValue("sub")})
	})
	c := f.client(nil)
	ctx := context.Background()
	if _, err := c.GetSubscription(ctx, testSub); err != nil {
		t.Fatal(err)
	}
	// The server forgets tok-1 (as after a restart with new keys): the
	// client gets tok-2 and succeeds.
	f.reject("tok-1")
	if _, err := c.GetSubscription(ctx, testSub); err != nil {
		t.Fatalf("after the server rejected the cached token: %v", err)
	}
	if n := f.tokens.Load(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	// A fresh token that is refused is an error, not a loop.
	f.reject("tok-2")
	f.reject("tok-3")
	f.reject("tok-4")
	_, err := c.GetSubscription(ctx, testSub)
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized || ae.Code != "AuthenticationFailed" {
		t.Fatalf("error = %v, want a 401 AuthenticationFailed *APIError", err)
	}
	if n := f.tokens.Load(); n != 3 {
		t.Errorf("%d token requests, want 3 (one retry, no loop)", n)
	}
}

func TestManagementCallsNeedCredentials(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	c, err := New(Options{Server: f.srv.URL, TenantID: testTenant, ClientID: testClient, CAFile: f.ca.file})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListResourceGroups(context.Background(), testSub)
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("error = %v, want ErrNoCredentials", err)
	}
	if len(f.recorded()) != 0 || f.tokens.Load() != 0 {
		t.Error("the server was called without credentials")
	}
}

func TestWrongSecretIsATokenError(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	c, err := New(Options{Server: f.srv.URL, TenantID: testTenant, ClientID: testClient, ClientSecret: "wrong-secret", CAFile: f.ca.file})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListIdentities(context.Background(), testSub, "")
	var te *TokenError
	if !errors.As(err, &te) || !te.HasCode(7000215) {
		t.Fatalf("error = %v, want the AADSTS7000215 *TokenError", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("error %q contains the secret", err)
	}
}

func TestListFollowsNextLink(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /subscriptions/{sub}/resourceGroups", func(w http.ResponseWriter, r *http.Request) {
		page := r.URL.Query().Get("$skiptoken")
		next := func(tok string) string {
			return f.srv.URL + r.URL.Path + "?api-version=" + r.URL.Query().Get("api-version") + "&$skiptoken=" + tok
		}
		switch page {
		case "":
			writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}, "nextLink": next("p2")})
		case "p2":
			writeJSON(w, 200, map[string]any{"value": []any{}, "nextLink": next("p3")})
		case "p3":
			writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"name": "c"}}})
		}
	})
	groups, err := f.client(nil).ListResourceGroups(context.Background(), testSub)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.Name)
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("names = %v, want a,b,c", names)
	}
	reqs := f.recorded()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		if !strings.Contains(r.Query, "api-version="+ResourceGroupsAPIVersion) || r.Auth != "Bearer tok-1" {
			t.Errorf("request %+v lacks the api-version or the token", r)
		}
	}
}

func TestListNextLinkStaysOnTheServer(t *testing.T) {
	t.Parallel()
	elsewhere := newFakeAPI(t)
	tests := []struct {
		name     string
		nextLink func(self string) string
	}{
		{name: "a link to another server", nextLink: func(string) string {
			return elsewhere.srv.URL + "/subscriptions/" + testSub + "/resourceGroups?api-version=x&$skiptoken=p2"
		}},
		{name: "a link to plain http on the same host", nextLink: func(self string) string {
			return strings.Replace(self, "https:", "http:", 1) + "/subscriptions/" + testSub + "/resourceGroups?api-version=x&$skiptoken=p2"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.mux.HandleFunc("GET /subscriptions/{sub}/resourceGroups", func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("$skiptoken") == "p2" {
					writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"name": "b"}}})
					return
				}
				writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"name": "a"}}, "nextLink": tt.nextLink(f.srv.URL)})
			})
			groups, err := f.client(nil).ListResourceGroups(context.Background(), testSub)
			if err != nil {
				t.Fatal(err)
			}
			if len(groups) != 2 || groups[1].Name != "b" {
				t.Errorf("groups = %+v", groups)
			}
			if reqs := f.recorded(); len(reqs) != 2 || reqs[1].Query != "api-version=x&$skiptoken=p2" {
				t.Errorf("requests = %+v, want the second page from this server", reqs)
			}
			if n := len(elsewhere.recorded()); n != 0 {
				t.Errorf("the other server got %d requests", n)
			}
		})
	}
}

func TestListRefusesBadNextLinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		nextLink func(self string) string
		wantErr  string
	}{
		{name: "a link to the same page", nextLink: func(self string) string {
			return self + "/subscriptions/" + testSub + "/resourceGroups?api-version=" + ResourceGroupsAPIVersion
		}, wantErr: "repeats a page"},
		{name: "a relative link", nextLink: func(string) string { return "page2" }, wantErr: "has no absolute path"},
		{name: "a link that does not parse", nextLink: func(string) string { return "https://h/%zz" }, wantErr: "parse nextLink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.mux.HandleFunc("GET /subscriptions/{sub}/resourceGroups", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, 200, map[string]any{"value": []any{map[string]any{"name": "a"}}, "nextLink": tt.nextLink(f.srv.URL)})
			})
			_, err := f.client(nil).ListResourceGroups(context.Background(), testSub)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestListStopsAfterMaxPages(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /subscriptions/{sub}/resourceGroups", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
		next := fmt.Sprintf("%s%s?api-version=x&$skiptoken=%d", f.srv.URL, r.URL.Path, n+1)
		writeJSON(w, 200, map[string]any{"value": []any{}, "nextLink": next})
	})
	_, err := f.client(nil).ListResourceGroups(context.Background(), testSub)
	if err == nil || !strings.Contains(err.Error(), "more than 1000 pages") {
		t.Fatalf("error = %v, want the page limit", err)
	}
	if n := len(f.recorded()); n != maxPages {
		t.Errorf("%d requests, want %d", n, maxPages)
	}
}

func TestAPIErrorDecoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		want     APIError
		wantText string
	}{
		{
			name:     "ARM error",
			status:   404,
			body:     `{"error":{"code":"ResourceNotFound","message":"The Resource 'x' was not found.","target":"name"}}`,
			want:     APIError{StatusCode: 404, Code: "ResourceNotFound", Message: "The Resource 'x' was not found.", Target: "name"},
			wantText: "(ResourceNotFound) The Resource 'x' was not found.",
		},
		{
			name:     "Kubernetes Status",
			status:   422,
			body:     `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"spec.expirationSeconds: Invalid value","reason":"Invalid","code":422}`,
			want:     APIError{StatusCode: 422, Code: "Invalid", Message: "spec.expirationSeconds: Invalid value"},
			wantText: "(Invalid) spec.expirationSeconds: Invalid value",
		},
		{
			name:     "empty body",
			status:   500,
			body:     ``,
			want:     APIError{StatusCode: 500, Code: "HTTP500", Message: "The server answered 500 Internal Server Error."},
			wantText: "(HTTP500) The server answered 500 Internal Server Error.",
		},
		{
			name:     "HTML body",
			status:   502,
			body:     `<html>proxy error</html>`,
			want:     APIError{StatusCode: 502, Code: "HTTP502", Message: "The server answered 502 Bad Gateway."},
			wantText: "(HTTP502) The server answered 502 Bad Gateway.",
		},
		{
			name:     "JSON without an error member",
			status:   409,
			body:     `{"message":"conflict"}`,
			want:     APIError{StatusCode: 409, Code: "HTTP409", Message: "The server answered 409 Conflict."},
			wantText: "(HTTP409) The server answered 409 Conflict.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.mux.HandleFunc("GET /subscriptions/{sub}/resourceGroups/{rg}", func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			})
			_, err := f.client(nil).GetResourceGroup(context.Background(), testSub, "rg")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v, want *APIError", err)
			}
			if *ae != tt.want {
				t.Errorf("APIError = %+v, want %+v", *ae, tt.want)
			}
			if err.Error() != tt.wantText {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.wantText)
			}
			if ae.IsNotFound() != (tt.status == 404) {
				t.Errorf("IsNotFound() = %v", ae.IsNotFound())
			}
		})
	}
}

func TestResponseBodyIsBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{name: "at the limit", size: MaxResponseBytes},
		{name: "one byte over the limit", size: MaxResponseBytes + 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.mux.HandleFunc("GET /subscriptions/{sub}/resourceGroups/{rg}", func(w http.ResponseWriter, _ *http.Request) {
				// A valid JSON object padded with spaces to the size.
				body := `{"name":"rg"}`
				fmt.Fprint(w, body+strings.Repeat(" ", tt.size-len(body)))
			})
			rg, err := f.client(nil).GetResourceGroup(context.Background(), testSub, "rg")
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "larger than") {
					t.Fatalf("error = %v, want a size error", err)
				}
				return
			}
			if err != nil || rg.Name != "rg" {
				t.Fatalf("GetResourceGroup = %+v, %v", rg, err)
			}
		})
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.client(nil).ListSubscriptions(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

// wantRequest is one management request a method should send.
type wantRequest struct {
	method, path, apiVersion string
	body                     string // JSON, compared semantically; "" for none
}

func TestRequestShapes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const (
		rgPath  = "/subscriptions/sub-1/resourceGroups/rg-1"
		idPath  = rgPath + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-1"
		ficPath = idPath + "/federatedIdentityCredentials/fic-1"
		mcPath  = rgPath + "/providers/Microsoft.ContainerService/managedClusters/c-1"
	)
	clusterJSON := `{"id":"` + mcPath + `","name":"c-1","type":"Microsoft.ContainerService/ManagedClusters","location":"westeurope","tags":{"k":"v"},
		"properties":{"provisioningState":"Succeeded","kubernetesVersion":"1.33.0","dnsPrefix":"c1","fqdn":"c1.example",
		"nodeResourceGroup":"MC_rg","servicePrincipalProfile":{"clientId":"msi"},"oidcIssuerProfile":{"enabled":false}}}`
	tests := []struct {
		name     string
		call     func(c *Client) (any, error)
		response string
		status   int
		want     []wantRequest
		wantErr  string
		check    func(t *testing.T, got any)
	}{
		{
			name: "put resource group",
			call: func(c *Client) (any, error) {
				return c.PutResourceGroup(ctx, testSub, "rg-1", ResourceGroup{Location: "eastus", Name: "ignored", ID: "ignored"})
			},
			response: `{"id":"` + rgPath + `","name":"rg-1","location":"eastus","properties":{"provisioningState":"Succeeded"}}`,
			status:   201,
			want:     []wantRequest{{method: "PUT", path: rgPath, apiVersion: ResourceGroupsAPIVersion, body: `{"location":"eastus","tags":null}`}},
			check: func(t *testing.T, got any) {
				rg := got.(*ResourceGroup)
				if rg.Name != "rg-1" || rg.Properties == nil || rg.Properties.ProvisioningState != "Succeeded" {
					t.Errorf("resource group = %+v", rg)
				}
			},
		},
		{
			name:     "delete resource group that does not exist",
			call:     func(c *Client) (any, error) { return nil, c.DeleteResourceGroup(ctx, testSub, "rg-1") },
			status:   204,
			want:     []wantRequest{{method: "DELETE", path: rgPath, apiVersion: ResourceGroupsAPIVersion}},
			response: ``,
		},
		{
			name: "put identity sends only location and tags",
			call: func(c *Client) (any, error) {
				return c.PutIdentity(ctx, testSub, "rg-1", "id-1", Identity{Location: "eastus", Tags: map[string]string{"a": "b"},
					Properties: IdentityProperties{ClientID: "must-not-be-sent"}})
			},
			response: `{"id":"` + idPath + `","name":"id-1","properties":{"clientId":"cid","principalId":"pid","tenantId":"tid"}}`,
			status:   201,
			want:     []wantRequest{{method: "PUT", path: idPath, apiVersion: IdentityAPIVersion, body: `{"location":"eastus","tags":{"a":"b"}}`}},
			check: func(t *testing.T, got any) {
				if id := got.(*Identity); id.Properties.ClientID != "cid" || id.Properties.PrincipalID != "pid" {
					t.Errorf("identity = %+v", id)
				}
			},
		},
		{
			name:     "list identities of a subscription",
			call:     func(c *Client) (any, error) { return c.ListIdentities(ctx, testSub, "") },
			response: `{"value":[{"name":"id-1"}]}`,
			status:   200,
			want:     []wantRequest{{method: "GET", path: "/subscriptions/sub-1/providers/Microsoft.ManagedIdentity/userAssignedIdentities", apiVersion: IdentityAPIVersion}},
		},
		{
			name:     "list identities of a resource group",
			call:     func(c *Client) (any, error) { return c.ListIdentities(ctx, testSub, "rg-1") },
			response: `{"value":[]}`,
			status:   200,
			want:     []wantRequest{{method: "GET", path: rgPath + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities", apiVersion: IdentityAPIVersion}},
			check: func(t *testing.T, got any) {
				if ids := got.([]Identity); ids == nil || len(ids) != 0 {
					t.Errorf("identities = %#v, want an empty non-nil list", ids)
				}
			},
		},
		{
			name: "put federated credential",
			call: func(c *Client) (any, error) {
				return c.PutFederatedCredential(ctx, testSub, "rg-1", "id-1", "fic-1", FederatedCredentialProperties{
					Issuer: "https://iss/", Subject: "system:serviceaccount:ns:sa", Audiences: []string{DefaultAudience}})
			},
			response: `{"id":"` + ficPath + `","name":"fic-1","properties":{"issuer":"https://iss/","subject":"system:serviceaccount:ns:sa","audiences":["api://AzureADTokenExchange"]}}`,
			status:   201,
			want: []wantRequest{{method: "PUT", path: ficPath, apiVersion: IdentityAPIVersion,
				body: `{"properties":{"issuer":"https://iss/","subject":"system:serviceaccount:ns:sa","audiences":["api://AzureADTokenExchange"]}}`}},
		},
		{
			name:     "list federated credentials",
			call:     func(c *Client) (any, error) { return c.ListFederatedCredentials(ctx, testSub, "rg-1", "id-1") },
			response: `{"value":[{"name":"fic-1","properties":{"issuer":"i","subject":"s","audiences":["a"]}}]}`,
			status:   200,
			want:     []wantRequest{{method: "GET", path: idPath + "/federatedIdentityCredentials", apiVersion: IdentityAPIVersion}},
			check: func(t *testing.T, got any) {
				if f := got.([]FederatedCredential); len(f) != 1 || f[0].Properties.Subject != "s" {
					t.Errorf("credentials = %+v", f)
				}
			},
		},
		{
			name: "delete federated credential",
			call: func(c *Client) (any, error) {
				return nil, c.DeleteFederatedCredential(ctx, testSub, "rg-1", "id-1", "fic-1")
			},
			status:   200,
			want:     []wantRequest{{method: "DELETE", path: ficPath, apiVersion: IdentityAPIVersion}},
			response: ``,
		},
		{
			name: "put cluster leaves read-only fields out",
			call: func(c *Client) (any, error) {
				return c.PutCluster(ctx, testSub, "rg-1", "c-1", Cluster{ID: "x", Name: "x", Location: "eastus", Properties: ClusterProperties{
					ProvisioningState: "Succeeded", FQDN: "f", OIDCIssuerProfile: &OIDCIssuerProfile{Enabled: true, IssuerURL: "https://old/"}}})
			},
			response: clusterJSON,
			status:   201,
			want: []wantRequest{{method: "PUT", path: mcPath, apiVersion: ClusterAPIVersion,
				body: `{"location":"eastus","tags":null,"properties":{"oidcIssuerProfile":{"enabled":true}}}`}},
		},
		{
			name: "update cluster gets, changes and puts back the writable fields",
			call: func(c *Client) (any, error) {
				return c.UpdateCluster(ctx, testSub, "rg-1", "c-1", func(cl *Cluster) {
					cl.Properties.OIDCIssuerProfile = &OIDCIssuerProfile{Enabled: true}
				})
			},
			response: clusterJSON,
			status:   200,
			want: []wantRequest{
				{method: "GET", path: mcPath, apiVersion: ClusterAPIVersion},
				{method: "PUT", path: mcPath, apiVersion: ClusterAPIVersion,
					body: `{"location":"westeurope","tags":{"k":"v"},"properties":{"kubernetesVersion":"1.33.0","dnsPrefix":"c1","oidcIssuerProfile":{"enabled":true}}}`},
			},
		},
		{
			name: "get cluster reads issuerURL as the wire spells it",
			call: func(c *Client) (any, error) { return c.GetCluster(ctx, testSub, "rg-1", "c-1") },
			response: `{"name":"c-1","properties":{"oidcIssuerProfile":{"enabled":true,"issuerURL":"https://h/oidc/t/u/"},` +
				`"powerState":{"code":"Running"},"currentKubernetesVersion":"1.33.0"}}`,
			status: 200,
			want:   []wantRequest{{method: "GET", path: mcPath, apiVersion: ClusterAPIVersion}},
			check: func(t *testing.T, got any) {
				c := got.(*Cluster)
				if p := c.Properties; p.OIDCIssuerProfile == nil || p.OIDCIssuerProfile.IssuerURL != "https://h/oidc/t/u/" ||
					p.PowerState == nil || p.PowerState.Code != "Running" || p.CurrentKubernetesVersion != "1.33.0" {
					t.Errorf("cluster properties = %+v", c.Properties)
				}
				b, _ := json.Marshal(c)
				if !strings.Contains(string(b), `"issuerUrl":"https://h/oidc/t/u/"`) {
					t.Errorf("cluster encodes as %s, want issuerUrl as az prints it", b)
				}
			},
		},
		{
			name:     "list clusters of a subscription",
			call:     func(c *Client) (any, error) { return c.ListClusters(ctx, testSub, "") },
			response: `{"value":[]}`,
			status:   200,
			want:     []wantRequest{{method: "GET", path: "/subscriptions/sub-1/providers/Microsoft.ContainerService/managedClusters", apiVersion: ClusterAPIVersion}},
		},
		{
			name:     "rotate cluster keys",
			call:     func(c *Client) (any, error) { return nil, c.RotateClusterKeys(ctx, testSub, "rg-1", "c-1") },
			status:   204,
			want:     []wantRequest{{method: "POST", path: mcPath + "/rotateServiceAccountSigningKeys", apiVersion: ClusterAPIVersion}},
			response: ``,
		},
		{
			name: "create service account token",
			call: func(c *Client) (any, error) {
				secs := int64(7200)
				return c.CreateServiceAccountToken(ctx, testSub, "rg-1", "c-1", "default", "app",
					issuer.TokenRequestSpec{Audiences: []string{DefaultAudience}, ExpirationSeconds: &secs})
			},
			response: `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","status":{"token":"sa.jwt.token","expirationTimestamp":"2026-01-02T05:04:05Z"}}`,
			status:   201,
			want: []wantRequest{{method: "POST", path: mcPath + "/api/v1/namespaces/default/serviceaccounts/app/token", apiVersion: ClusterAPIVersion,
				body: `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","metadata":{},` +
					`"spec":{"audiences":["api://AzureADTokenExchange"],"expirationSeconds":7200},"status":{"token":"","expirationTimestamp":""}}`}},
			check: func(t *testing.T, got any) {
				if tr := got.(*issuer.TokenRequest); tr.Status.Token != "sa.jwt.token" || tr.Status.ExpirationTimestamp != "2026-01-02T05:04:05Z" {
					t.Errorf("token request = %+v", tr)
				}
			},
		},
		{
			name: "a service account token answer without a token is an error",
			call: func(c *Client) (any, error) {
				return c.CreateServiceAccountToken(ctx, testSub, "rg-1", "c-1", "default", "app", issuer.TokenRequestSpec{})
			},
			response: `{"kind":"TokenRequest","status":{}}`,
			status:   201,
			want: []wantRequest{{method: "POST", path: mcPath + "/api/v1/namespaces/default/serviceaccounts/app/token", apiVersion: ClusterAPIVersion,
				body: `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","metadata":{},"spec":{"audiences":null},"status":{"token":"","expirationTimestamp":""}}`}},
			wantErr: "no status.token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			f.mux.HandleFunc("/subscriptions/", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				status := tt.status
				if r.Method == http.MethodGet && status == 201 {
					status = 200
				}
				w.WriteHeader(status)
				fmt.Fprint(w, tt.response)
			})
			got, err := tt.call(f.client(nil))
			reqs := f.recorded()
			if len(reqs) != len(tt.want) {
				t.Fatalf("%d requests, want %d: %+v", len(reqs), len(tt.want), reqs)
			}
			for i, w := range tt.want {
				r := reqs[i]
				if r.Method != w.method || r.Path != w.path || r.Query != "api-version="+w.apiVersion {
					t.Errorf("request %d = %s %s?%s, want %s %s?api-version=%s", i, r.Method, r.Path, r.Query, w.method, w.path, w.apiVersion)
				}
				if r.Auth != "Bearer tok-1" {
					t.Errorf("request %d authorised with %q", i, r.Auth)
				}
				assertJSONEqual(t, r.Body, w.body)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func assertJSONEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	if want == "" {
		if len(got) != 0 {
			t.Errorf("body = %s, want none", got)
		}
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("body %q is not JSON: %v", got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q is not JSON: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
}

func TestNamesArePathEscapedAndRequired(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	f.mux.HandleFunc("/subscriptions/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"name": "x"})
	})
	c := f.client(nil)
	ctx := context.Background()
	if _, err := c.GetIdentity(ctx, testSub, "rg 1", "a/b?c"); err != nil {
		t.Fatal(err)
	}
	reqs := f.recorded()
	want := "/subscriptions/sub-1/resourceGroups/rg%201/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a%2Fb%3Fc"
	if len(reqs) != 1 || reqs[0].RawPath != want {
		t.Fatalf("requests = %+v, want raw path %s", reqs, want)
	}

	tests := []struct {
		name string
		call func() error
		want string
	}{
		{name: "empty subscription", call: func() error { _, err := c.ListResourceGroups(ctx, ""); return err }, want: "subscription ID is required"},
		{name: "empty group", call: func() error { _, err := c.GetResourceGroup(ctx, testSub, " "); return err }, want: "resource group name is required"},
		{name: "empty identity", call: func() error { return c.DeleteIdentity(ctx, testSub, "rg", "") }, want: "identity name is required"},
		{name: "empty credential", call: func() error { _, err := c.GetFederatedCredential(ctx, testSub, "rg", "id", ""); return err }, want: "federated credential name is required"},
		{name: "empty cluster", call: func() error { return c.RotateClusterKeys(ctx, testSub, "rg", "") }, want: "cluster name is required"},
		{name: "empty namespace", call: func() error {
			_, err := c.CreateServiceAccountToken(ctx, testSub, "rg", "c", "", "sa", issuer.TokenRequestSpec{})
			return err
		}, want: "namespace is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	if n := len(f.recorded()); n != 1 {
		t.Errorf("%d requests after the refused calls, want still 1", n)
	}
}
