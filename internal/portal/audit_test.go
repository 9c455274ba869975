package portal_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// api calls the management API as the admin and returns the status and
// body.
func (r *rig) api(token, method, path, body string) (int, string) {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.url+path+"?api-version=2024-02-01", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, out := r.do(nil, req)
	return resp.StatusCode, out
}

// auditRowPattern finds the audit tab's rows: kind and event ID.
var auditRowPattern = regexp.MustCompile(`<tr data-kind="([^"]+)" data-event-id="([^"]+)">`)

// auditRows are the kinds of the rows of an audit page, in order.
func auditRows(page string) []string {
	var kinds []string
	for _, m := range auditRowPattern.FindAllStringSubmatch(page, -1) {
		kinds = append(kinds, m[1])
	}
	return kinds
}

// TestIdentityAuditTab: "Try it" to a token and to a refusal, and the
// identity's audit tab lists both with the changes made to the identity
// and its credential, newest or oldest first, paged, filtered, and
// without the events of an identity whose name starts the same.
func TestIdentityAuditTab(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	tok := r.adminToken()
	sub := r.admin.SubscriptionID
	group := "/subscriptions/" + sub + "/resourceGroups/rg1"
	identities := group + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
	cluster := group + "/providers/Microsoft.ContainerService/managedClusters/c1"
	for _, step := range []struct{ path, body string }{
		{group, `{"location":"eastus"}`},
		{cluster, `{"location":"eastus","properties":{"oidcIssuerProfile":{"enabled":true}}}`},
		{identities + "app", `{"location":"eastus"}`},
		{identities + "app2", `{"location":"eastus"}`},
	} {
		if status, body := r.api(tok, http.MethodPut, step.path, step.body); status >= 300 {
			t.Fatalf("PUT %s: %d %s", step.path, status, body)
		}
	}
	_, body := r.api(tok, http.MethodGet, cluster, "")
	var c struct {
		Properties struct {
			OIDCIssuerProfile struct {
				IssuerURL string `json:"issuerURL"`
			} `json:"oidcIssuerProfile"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil || c.Properties.OIDCIssuerProfile.IssuerURL == "" {
		t.Fatalf("cluster issuer: %v %s", err, body)
	}
	fic := `{"properties":{"issuer":"` + c.Properties.OIDCIssuerProfile.IssuerURL +
		`","subject":"system:serviceaccount:pets:ai-svc","audiences":["api://AzureADTokenExchange"]}}`
	for _, id := range []string{"app", "app2"} {
		if status, body := r.api(tok, http.MethodPut, identities+id+"/federatedIdentityCredentials/pets", fic); status >= 300 {
			t.Fatalf("PUT credential of %s: %d %s", id, status, body)
		}
	}

	browser := r.signIn()
	status, page := r.page(browser, "/portal/try-it")
	if status != http.StatusOK {
		t.Fatalf("try it form: %d", status)
	}
	csrf := hiddenPattern.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatal("no CSRF token on the try it form")
	}
	tryIt := func(identity, serviceAccount string) string {
		t.Helper()
		resp, body := r.postForm(browser, "/portal/try-it", url.Values{
			"csrf": {csrf[2]}, "subscription": {sub}, "source": {"cluster"}, "cluster": {cluster},
			"namespace": {"pets"}, "service_account": {serviceAccount}, "audience": {"api://AzureADTokenExchange"},
			"identity": {identities + identity}, "resource": {"https://vault.azure.net"},
		})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("try it: %d\n%s", resp.StatusCode, body)
		}
		return body
	}
	if body := tryIt("app", "ai-svc"); !strings.Contains(body, "Token issued.") || !strings.Contains(body, `id="result-audit"`) {
		t.Fatalf("try it did not issue a token, or does not link the audit tab:\n%s", body)
	}
	if body := tryIt("app", "other"); !strings.Contains(body, "AADSTS700213") {
		t.Fatalf("try it was not refused with AADSTS700213:\n%s", body)
	}
	tryIt("app2", "other")

	auditPath := "/portal/subscriptions/" + sub + "/resourceGroups/rg1/identities/app/audit"
	// Token events are written by a background writer: wait for them.
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, page = r.page(browser, auditPath)
		kinds := auditRows(page)
		if status == http.StatusOK && slices.Contains(kinds, "token.issued") && slices.Contains(kinds, "token.refused") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit tab never showed both token events: %d %v\n%s", status, kinds, page)
		}
		time.Sleep(100 * time.Millisecond)
	}
	newest := []string{"token.refused", "token.issued", "resource.write", "resource.write"}
	if got := auditRows(page); !slices.Equal(got, newest) {
		t.Fatalf("rows %v, want %v", got, newest)
	}
	for _, want := range []string{
		`<a href="` + auditPath + `" aria-current="page">Audit</a>`,
		`AADSTS700213`, `pets <span class="muted">(closest)</span>`, `pets <span class="muted">(matched)</span>`,
		`<span class="mono">https://vault.azure.net</span>`, `">Federated credential</td>`, `">Identity</td>`, `<td>pets</td>`,
		`with a client assertion`, `fedcred audit list --since 90d --kind token.issued,token.refused --client-id `,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the audit tab lacks %q", want)
		}
	}
	if strings.Contains(page, "app2") {
		t.Errorf("the audit tab shows app2's events:\n%s", page)
	}

	tests := []struct {
		name     string
		query    string
		status   int
		want     []string
		wantText []string
	}{
		{name: "oldest first", query: "order=oldest", status: http.StatusOK,
			want: []string{"resource.write", "resource.write", "token.issued", "token.refused"}},
		{name: "changes only", query: "show=changes", status: http.StatusOK, want: []string{"resource.write", "resource.write"}},
		{name: "tokens only", query: "show=tokens", status: http.StatusOK, want: []string{"token.refused", "token.issued"}},
		{name: "refusals", query: "outcome=denied", status: http.StatusOK, want: []string{"token.refused"}},
		{name: "failures", query: "outcome=failed", status: http.StatusOK, wantText: []string{"No events for this identity yet."}},
		{name: "first page of one", query: "top=1", status: http.StatusOK, want: []string{"token.refused"},
			wantText: []string{`rel="next">Older events</a>`, `<span aria-disabled="true">Newest</span>`, `name="top" value="1"`}},
		{name: "unknown order", query: "order=sideways", status: http.StatusBadRequest, wantText: []string{"The order must be newest or oldest."}},
		{name: "damaged cursor", query: "before=yesterday", status: http.StatusBadRequest, wantText: []string{"is not an audit event ID"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, page := r.page(browser, auditPath+"?"+tt.query)
			if status != tt.status {
				t.Fatalf("status %d, want %d\n%s", status, tt.status, page)
			}
			if got := auditRows(page); tt.status == http.StatusOK && !slices.Equal(got, tt.want) {
				t.Errorf("rows %v, want %v", got, tt.want)
			}
			for _, want := range tt.wantText {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
		})
	}

	t.Run("paging one by one lists every event once", func(t *testing.T) {
		for _, order := range []string{"newest", "oldest"} {
			next := auditPath + "?order=" + order + "&top=1"
			var ids []string
			for range 10 {
				status, page := r.page(browser, next)
				rows := auditRowPattern.FindAllStringSubmatch(page, -1)
				if status != http.StatusOK || len(rows) > 1 {
					t.Fatalf("%s: %d with %d rows", next, status, len(rows))
				}
				if len(rows) == 1 {
					ids = append(ids, rows[0][2])
				}
				m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(page)
				if m == nil {
					break
				}
				next = strings.ReplaceAll(m[1], "&amp;", "&")
			}
			if sorted := slices.IsSorted(ids); len(ids) != 4 || sorted != (order == "oldest") {
				t.Errorf("%s first, one per page: %v", order, ids)
			}
		}
	})
}
