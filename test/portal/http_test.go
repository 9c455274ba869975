package portal

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// identityForm is a create-identity form for rg1.
func identityForm(sub, name, csrf string) url.Values {
	return url.Values{"subscription": {sub}, "resourceGroup": {"rg1"}, "name": {name}, "csrf": {csrf}}
}

// TestFormsRefuseForgedRequests: a POST without the session's CSRF token,
// with a wrong one, or sent from another site is refused with 403 and
// changes nothing; the same form with the token is accepted.
func TestFormsRefuseForgedRequests(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.cli("group", "create", "-n", "rg1")
	v := s.signIn(s.signInLink())
	sub := s.admin.SubscriptionID
	tests := []struct {
		name   string
		csrf   string
		header map[string]string
	}{
		{name: "no token", csrf: ""},
		{name: "wrong token", csrf: strings.Repeat("A", len(v.csrf))},
		{name: "token of another session", csrf: s.signIn(s.signInLink()).csrf},
		{name: "sent from another site", csrf: v.csrf, header: map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{name: "sent from another origin", csrf: v.csrf, header: map[string]string{"Origin": "https://evil.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := v.post("/portal/identities/new", identityForm(sub, "forged-"+strings.ReplaceAll(tt.name, " ", "-"), tt.csrf), tt.header)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Request refused") {
				t.Errorf("status %d, want 403 with the refusal page:\n%s", resp.StatusCode, body)
			}
		})
	}
	if got := s.cli("identity", "list", "-g", "rg1", "--query", "length(@)", "-o", "tsv"); strings.TrimSpace(got) != "0" {
		t.Fatalf("a refused form created identities: %s", got)
	}
	resp, body := v.post("/portal/identities/new", identityForm(sub, "accepted", v.csrf),
		map[string]string{"Origin": s.url, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(resp.Header.Get("Location"), "/identities/accepted?created=1") {
		t.Fatalf("the form with its token: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

// TestSignInLinks: the link API wants a valid management bearer token; a
// link works once; the sign-in form wants its double-submit token and
// comes from the portal itself.
func TestSignInLinks(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	api := s.url + "/portal/api/sign-in-links"
	t.Run("API refuses a missing or invalid token", func(t *testing.T) {
		for _, auth := range []string{"", "Bearer not-a-token", "Basic dXNlcjpwYXNz"} {
			req, _ := http.NewRequest(http.MethodPost, api, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := s.client(nil).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("Authorization %q: %d %q, want 401 with a Bearer challenge", auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
		resp, err := s.client(nil).Get(api)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET %s = %d, want 405", api, resp.StatusCode)
		}
	})
	t.Run("a link works once", func(t *testing.T) {
		link := s.signInLink()
		s.signIn(link)
		other := s.signIn(s.signInLink()) // a fresh visitor, with its own sign-in cookie
		status, body := other.get(strings.TrimPrefix(link, s.url))
		if status != http.StatusUnauthorized || !strings.Contains(body, "used or has expired") {
			t.Errorf("GET a used link = %d, want 401 saying it was used:\n%s", status, body)
		}
		code := link[strings.Index(link, "code=")+len("code="):]
		resp, body := other.post("/portal/sign-in", url.Values{"csrf": {other.signInCSRF(t)}, "code": {code}}, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "used or has expired") {
			t.Errorf("POST a used code = %d, want 401:\n%s", resp.StatusCode, body)
		}
	})
	t.Run("the sign-in form wants its token and the portal's origin", func(t *testing.T) {
		link := s.signInLink()
		code := link[strings.Index(link, "code=")+len("code="):]
		v := &visitor{s: s, client: s.client(nil)} // no cookie jar: no sign-in cookie
		resp, body := v.post("/portal/sign-in", url.Values{"csrf": {"x"}, "code": {code}}, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("without the sign-in cookie: %d, want 403:\n%s", resp.StatusCode, body)
		}
		withJar := s.visitorWithSignInCookie(t, link)
		resp, _ = withJar.post("/portal/sign-in", url.Values{"csrf": {withJar.csrf}, "code": {code}},
			map[string]string{"Sec-Fetch-Site": "cross-site"})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site: %d, want 403", resp.StatusCode)
		}
		// Refused attempts do not use the code up.
		resp, _ = withJar.post("/portal/sign-in", url.Values{"csrf": {withJar.csrf}, "code": {code}}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("after refused attempts the link no longer works: %d", resp.StatusCode)
		}
	})
	t.Run("a damaged link", func(t *testing.T) {
		v := &visitor{s: s, client: s.client(nil)}
		status, _ := v.get("/portal/sign-in?code=short")
		if status != http.StatusBadRequest {
			t.Errorf("GET a damaged link = %d, want 400", status)
		}
	})
}

// signInCSRF opens a fresh link to get a sign-in cookie and its value.
func (v *visitor) signInCSRF(t *testing.T) string {
	t.Helper()
	status, page := v.get(strings.TrimPrefix(v.s.signInLink(), v.s.url))
	if status != http.StatusOK {
		t.Fatalf("open a sign-in link = %d", status)
	}
	return hiddenValue(page, "csrf")
}

// visitorWithSignInCookie opens link with a cookie jar and returns the
// visitor, its csrf set to the sign-in form's value.
func (s *server) visitorWithSignInCookie(t *testing.T, link string) *visitor {
	t.Helper()
	v := s.signIn(s.signInLink()) // any signed-in visitor has a jar
	status, _ := v.get(strings.TrimPrefix(link, s.url))
	if status != http.StatusOK {
		t.Fatalf("open the link = %d", status)
	}
	return v
}

// TestSignOut: after signing out the session is gone, also for a copy of
// its cookie.
func TestSignOut(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	v := s.signIn(s.signInLink())
	u, _ := url.Parse(s.url)
	var cookie *http.Cookie
	for _, c := range v.client.Jar.Cookies(u) {
		if c.Name == "__Host-fedcred_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie after sign-in")
	}
	resp, _ := v.post("/portal/sign-out", url.Values{"csrf": {v.csrf}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/portal/signed-out" {
		t.Fatalf("sign out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if status, _ := v.get("/portal/identities"); status != http.StatusUnauthorized {
		t.Errorf("after sign-out: %d, want 401", status)
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/portal/identities", nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	resp, err := s.client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "Your session has ended.") {
		t.Errorf("the old cookie: %d, want 401 saying the session ended:\n%s", resp.StatusCode, body)
	}
}

// TestPrincipalWithoutRights: a managed identity with no role assignment
// signs in like anyone, sees no subscription, and sees the API's 403 when
// it opens one.
func TestPrincipalWithoutRights(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.cli("group", "create", "-n", "rg1")
	s.cli("aks", "create", "-n", "c1", "-g", "rg1", "--enable-oidc-issuer")
	issuer := strings.TrimSpace(s.cli("aks", "show", "-n", "c1", "-g", "rg1", "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv"))
	clientID := strings.TrimSpace(s.cli("identity", "create", "-n", "app", "-g", "rg1", "--query", "clientId", "-o", "tsv"))
	s.cli("identity", "federated-credential", "create", "--name", "app", "--identity-name", "app", "-g", "rg1",
		"--issuer", issuer, "--subject", "system:serviceaccount:default:app")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(s.cli("aks", "create-token", "-n", "c1", "-g", "rg1", "--namespace", "default", "--service-account", "app")), 0o600); err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal([]byte(s.cli("get-token", "--client-id", clientID, "--federated-token-file", tokenFile,
		"--scope", s.url+"/.default")), &tok); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/portal/api/sign-in-links", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := s.client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var link struct {
		URL string `json:"url"`
	}
	json.NewDecoder(resp.Body).Decode(&link)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || link.URL == "" {
		t.Fatalf("sign-in link for the managed identity: %d %+v", resp.StatusCode, link)
	}
	v := s.signIn(link.URL)
	status, body := v.get("/portal/identities")
	if status != http.StatusOK || !strings.Contains(body, "You can see no subscription") {
		t.Errorf("identities without a subscription: %d\n%s", status, body)
	}
	status, body = v.get("/portal/identities?subscription=" + s.admin.SubscriptionID)
	if status != http.StatusForbidden || !strings.Contains(body, "AuthorizationFailed") ||
		!strings.Contains(body, "Microsoft.ManagedIdentity/userAssignedIdentities/read") {
		t.Errorf("identities of the subscription: %d, want the API's 403 AuthorizationFailed:\n%s", status, body)
	}
	resp, body = v.post("/portal/identities/new", identityForm(s.admin.SubscriptionID, "sneaky", v.csrf), nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "AuthorizationFailed") {
		t.Errorf("create an identity: %d, want the API's 403:\n%s", resp.StatusCode, body)
	}
}

// TestServerSideValidation: without JavaScript the server shows the API's
// refusal, or its own check of what only the form knows, next to the field.
func TestServerSideValidation(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.cli("group", "create", "-n", "rg1")
	s.cli("aks", "create", "-n", "c1", "-g", "rg1", "--enable-oidc-issuer")
	issuer := strings.TrimSpace(s.cli("aks", "show", "-n", "c1", "-g", "rg1", "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv"))
	s.cli("identity", "create", "-n", "id1", "-g", "rg1")
	s.cli("identity", "federated-credential", "create", "--name", "first", "--identity-name", "id1", "-g", "rg1",
		"--issuer", issuer, "--subject", "system:serviceaccount:pets:ai-svc")
	v := s.signIn(s.signInLink())
	sub := s.admin.SubscriptionID
	newCred := "/portal/subscriptions/" + sub + "/resourceGroups/rg1/identities/id1/federated-credentials/new"
	kube := func(ns, sa, name string) url.Values {
		return url.Values{"csrf": {v.csrf}, "scenario": {"kubernetes"}, "cluster_issuer": {issuer}, "namespace": {ns},
			"service_account": {sa}, "name": {name}, "audience": {"api://AzureADTokenExchange"}}
	}
	tests := []struct {
		name       string
		path       string
		form       url.Values
		wantStatus int
		wantField  string // id of the error element
		wantText   string
	}{
		{name: "identity name too short", path: "/portal/identities/new", form: identityForm(sub, "ab", v.csrf),
			wantStatus: http.StatusBadRequest, wantField: "name-error", wantText: "Resource name &#39;ab&#39; is invalid."},
		{name: "namespace not a DNS label", path: newCred, form: kube("Bad_NS", "ai-svc", "second"),
			wantStatus: http.StatusUnprocessableEntity, wantField: "namespace-error", wantText: "A namespace is 1 to 63"},
		{name: "credential name refused by the API", path: newCred, form: kube("pets", "other", "x!"),
			wantStatus: http.StatusBadRequest, wantField: "name-error", wantText: "Federated Identity Credential name &#39;x!&#39; is invalid."},
		{name: "issuer and subject taken", path: newCred, form: kube("pets", "ai-svc", "second"),
			wantStatus: http.StatusBadRequest, wantField: "derived-subject-error", wantText: "Issuer and subject combination already exists"},
		{name: "name taken", path: newCred, form: kube("pets", "other", "first"),
			wantStatus: http.StatusConflict, wantField: "name-error", wantText: "named &#39;first&#39; already exists"},
		{name: "other issuer not https", path: newCred, form: url.Values{"csrf": {v.csrf}, "scenario": {"other"},
			"issuer": {"http://issuer.example/"}, "subject": {"repo:org/app:ref:refs/heads/main"}, "name": {"github-main"}, "audience": {"api://AzureADTokenExchange"}},
			wantStatus: http.StatusBadRequest, wantField: "issuer-error", wantText: "must be an absolute https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := v.post(tt.path, tt.form, nil)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			i := strings.Index(body, `id="`+tt.wantField+`"`)
			if i < 0 {
				t.Fatalf("no #%s in the page:\n%s", tt.wantField, body)
			}
			if end := strings.Index(body[i:], "</"); !strings.Contains(body[i:i+end], tt.wantText) {
				t.Errorf("#%s says %q, want %q; the page:\n%s", tt.wantField, body[i:i+end], tt.wantText, body)
			}
		})
	}
}

// TestSecurityHeaders: pages, assets and refusals all carry the strict
// headers.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	v := s.signIn(s.signInLink())
	const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	for _, path := range []string{"/portal/identities", "/portal/clusters", "/portal/try-it", "/portal/static/app.js", "/portal/static/app.css", "/portal/nope"} {
		resp, err := v.client.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if h.Get("Content-Security-Policy") != csp || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: CSP %q, nosniff %q, referrer %q", path, h.Get("Content-Security-Policy"), h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
	}
	resp, err := v.client.Get(s.url + "/portal/identities")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("a signed-in page has Cache-Control %q, want no-store", cc)
	}
}

// TestIdentitiesSearchAndPaging: the list pages by 20 and searches by name.
func TestIdentitiesSearchAndPaging(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.cli("group", "create", "-n", "rg1")
	for i := range 23 {
		s.cli("identity", "create", "-n", fmt.Sprintf("app-%02d", i), "-g", "rg1", "-o", "none")
	}
	s.cli("identity", "create", "-n", "db-reader", "-g", "rg1", "-o", "none")
	v := s.signIn(s.signInLink())
	rows := regexp.MustCompile(`<tr><td><a href="[^"]+">([^<]+)</a>`)
	tests := []struct {
		name     string
		query    string
		wantRows []string // first and last names listed
		wantN    int
		wantNext bool
		wantText string
	}{
		{name: "first page", query: "", wantN: 20, wantRows: []string{"app-00", "app-19"}, wantNext: true, wantText: "24 managed identities"},
		{name: "second page", query: "page=2", wantN: 4, wantRows: []string{"app-20", "db-reader"}, wantText: "Page 2 of 2"},
		{name: "page past the end", query: "page=9", wantN: 4, wantRows: []string{"app-20", "db-reader"}},
		{name: "search", query: "q=READ", wantN: 1, wantRows: []string{"db-reader", "db-reader"}, wantText: "1 managed identity matching"},
		{name: "search without a match", query: "q=nothing", wantN: 0, wantText: "No managed identity matches your search."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := v.get("/portal/identities?subscription=" + s.admin.SubscriptionID + "&" + tt.query)
			if status != http.StatusOK {
				t.Fatalf("status %d", status)
			}
			got := rows.FindAllStringSubmatch(body, -1)
			if len(got) != tt.wantN {
				t.Fatalf("%d rows, want %d", len(got), tt.wantN)
			}
			if tt.wantN > 0 && (got[0][1] != tt.wantRows[0] || got[len(got)-1][1] != tt.wantRows[1]) {
				t.Errorf("rows %s … %s, want %s … %s", got[0][1], got[len(got)-1][1], tt.wantRows[0], tt.wantRows[1])
			}
			if hasNext := strings.Contains(body, `rel="next"`); hasNext != tt.wantNext {
				t.Errorf("next link %v, want %v", hasNext, tt.wantNext)
			}
			if !strings.Contains(body, tt.wantText) {
				t.Errorf("the page does not say %q", tt.wantText)
			}
		})
	}
}

// TestRoleAssignmentsBlade: an identity's role assignments, as the API
// lists them for its principal, with the role's name.
func TestRoleAssignmentsBlade(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.cli("group", "create", "-n", "rg1")
	clientID := strings.TrimSpace(s.cli("identity", "create", "-n", "reader", "-g", "rg1", "--query", "clientId", "-o", "tsv"))
	s.cli("identity", "create", "-n", "bystander", "-g", "rg1", "-o", "none")
	scope := "/subscriptions/" + s.admin.SubscriptionID + "/resourceGroups/rg1"
	s.cli("role", "assignment", "create", "--role", "Reader", "--assignee", clientID, "--scope", scope, "-o", "none")
	v := s.signIn(s.signInLink())
	base := "/portal/subscriptions/" + s.admin.SubscriptionID + "/resourceGroups/rg1/identities/"
	status, body := v.get(base + "reader/role-assignments")
	if status != http.StatusOK || !strings.Contains(body, ">Reader</td><td class=\"mono wrap\">"+scope+"</td>") {
		t.Errorf("reader's assignments: %d\n%s", status, body)
	}
	status, body = v.get(base + "bystander/role-assignments")
	if status != http.StatusOK || !strings.Contains(body, "This identity has no role assignments here.") {
		t.Errorf("bystander's assignments: %d\n%s", status, body)
	}
}

// TestAuditTabFollowsRBAC: the audit tab reads the log as the visitor. A
// managed identity with Reader on the resource group sees the identity but
// not its audit trail (the audit API's 403, with what it takes); once it is
// Reader of the subscription it sees its own token.
func TestAuditTabFollowsRBAC(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.cli("group", "create", "-n", "rg1")
	s.cli("aks", "create", "-n", "c1", "-g", "rg1", "--enable-oidc-issuer")
	issuer := strings.TrimSpace(s.cli("aks", "show", "-n", "c1", "-g", "rg1", "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv"))
	clientID := strings.TrimSpace(s.cli("identity", "create", "-n", "app", "-g", "rg1", "--query", "clientId", "-o", "tsv"))
	s.cli("identity", "federated-credential", "create", "--name", "app-fic", "--identity-name", "app", "-g", "rg1",
		"--issuer", issuer, "--subject", "system:serviceaccount:default:app")
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(s.cli("aks", "create-token", "-n", "c1", "-g", "rg1", "--namespace", "default", "--service-account", "app")), 0o600); err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal([]byte(s.cli("get-token", "--client-id", clientID, "--federated-token-file", tokenFile,
		"--scope", s.url+"/.default")), &tok); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/portal/api/sign-in-links", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := s.client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var link struct {
		URL string `json:"url"`
	}
	json.NewDecoder(resp.Body).Decode(&link)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || link.URL == "" {
		t.Fatalf("sign-in link for the managed identity: %d %+v", resp.StatusCode, link)
	}
	// Signed in without a role (the harness checks the identities page,
	// which a Reader of only the group is refused), then given one.
	v := s.signIn(link.URL)
	group := "/subscriptions/" + s.admin.SubscriptionID + "/resourceGroups/rg1"
	s.cli("role", "assignment", "create", "--role", "Reader", "--assignee", clientID, "--scope", group, "-o", "none")
	audit := "/portal/subscriptions/" + s.admin.SubscriptionID + "/resourceGroups/rg1/identities/app/audit"
	if status, body := v.get(strings.TrimSuffix(audit, "/audit")); status != http.StatusOK {
		t.Fatalf("the identity's overview with Reader on the group: %d\n%s", status, body)
	}

	status, body := v.get(audit)
	for _, want := range []string{"AuthorizationFailed", "Fedcred/auditEvents/read", `id="audit-forbidden"`, `aria-current="page">Audit</a>`} {
		if status != http.StatusForbidden || !strings.Contains(body, want) {
			t.Errorf("audit tab with Reader on the group: %d, want 403 with %q:\n%s", status, want, body)
		}
	}
	if strings.Contains(body, `id="audit-events"`) {
		t.Errorf("the refused audit tab lists events")
	}

	s.cli("role", "assignment", "create", "--role", "Reader", "--assignee", clientID, "--scope", "/subscriptions/"+s.admin.SubscriptionID, "-o", "none")
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, body = v.get(audit + "?show=tokens")
		if status == http.StatusOK && strings.Contains(body, `data-kind="token.issued"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit tab as Reader of the subscription: %d, want 200 listing the identity's token:\n%s", status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(body, "app-fic <span class=\"muted\">(matched)</span>") || !strings.Contains(body, s.url) {
		t.Errorf("the token's row lacks its credential or resource:\n%s", body)
	}
}
