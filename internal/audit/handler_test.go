package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/audit"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
)

const (
	sub1     = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	sub2     = "5c7a2f10-8d3e-4b7a-9f61-2a4e8c0d1b33"
	subOther = "9e8d7c6b-5a49-4838-a726-15f4e3d2c1b0"

	owner      = "owner-object"
	reader1    = "reader-of-sub1"
	rgReader   = "reader-of-a-group"
	miContrib  = "identity-contributor"
	foreign    = "caller-of-tenant-b"
	missingTok = ""
)

// apiRig is the audit API over a real SQLite store with real role
// assignments, behind an httptest server. Callers authenticate with
// "Bearer <object ID>".
type apiRig struct {
	srv   *httptest.Server
	store store.Store
}

func newAPIRig(t *testing.T) *apiRig {
	t.Helper()
	st := openStore(t)
	ctx := context.Background()
	assign := func(name, principal, role, scope string) store.RoleAssignment {
		return store.RoleAssignment{Name: name, Scope: scope, PrincipalID: principal, PrincipalType: "ServicePrincipal", TenantID: tenantA,
			RoleDefinitionID: "/subscriptions/" + sub1 + "/providers/Microsoft.Authorization/roleDefinitions/" + role}
	}
	err := st.Update(ctx, func(tx store.Tx) error {
		for _, o := range []store.Object{
			store.Tenant{ID: tenantA}, store.Tenant{ID: tenantB},
			store.Subscription{ID: sub1, TenantID: tenantA}, store.Subscription{ID: sub2, TenantID: tenantA},
			store.Subscription{ID: subOther, TenantID: tenantB},
			assign("a1", owner, rbac.OwnerID, "/subscriptions/"+sub1),
			assign("a2", owner, rbac.OwnerID, "/subscriptions/"+sub2),
			assign("a3", reader1, rbac.ReaderID, "/subscriptions/"+sub1),
			assign("a4", rgReader, rbac.ReaderID, "/subscriptions/"+sub1+"/resourceGroups/rg1"),
			assign("a5", miContrib, rbac.ManagedIdentityContributorID, "/subscriptions/"+sub1),
			assign("a6", foreign, rbac.OwnerID, "/subscriptions/"+subOther),
		} {
			if err := store.Create(ctx, tx, o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h, err := audit.NewHandler(audit.HandlerConfig{
		Store: st, Authorizer: rbac.Authorizer{Store: st}, PublicURL: srv.URL,
		Authenticate: func(r *http.Request) (audit.Caller, error) {
			oid, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || oid == "" {
				return audit.Caller{}, fmt.Errorf("%w: no token", audit.ErrUnauthenticated)
			}
			tenant := tenantA
			if oid == foreign {
				tenant = tenantB
			}
			return audit.Caller{ObjectID: oid, ClientID: "client-of-" + oid, TenantID: tenant}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(mux)
	return &apiRig{srv: srv, store: st}
}

// seed stores events directly, each at t0 plus its index in seconds.
func (r *apiRig) seed(t *testing.T, events ...store.AuditEvent) []store.AuditEvent {
	t.Helper()
	l, _, _ := newLog(t, r.store, nil)
	for i := range events {
		if events[i].Time.IsZero() {
			events[i].Time = t0.Add(time.Duration(i) * time.Second)
		}
		if events[i].TenantID == "" {
			events[i].TenantID = tenantA
		}
		if err := l.Write(context.Background(), events[i]); err != nil {
			t.Fatal(err)
		}
	}
	return events
}

// apiAnswer is one decoded answer.
type apiAnswer struct {
	status int
	header http.Header
	Value  []store.AuditEvent `json:"value"`
	Next   string             `json:"nextLink"`
	Error  struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// get calls the API as caller ("" for no token) with a raw query.
func (r *apiRig) get(t *testing.T, caller, tenant, rawQuery string) apiAnswer {
	t.Helper()
	u := r.srv.URL + "/" + tenant + "/fedcred/auditEvents"
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	return r.getURL(t, caller, u)
}

func (r *apiRig) getURL(t *testing.T, caller, u string) apiAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if caller != "" {
		req.Header.Set("Authorization", "Bearer "+caller)
	}
	resp, err := r.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := apiAnswer{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("GET %s: body is not JSON: %v", u, err)
	}
	return a
}

// all follows nextLink from the first page and returns every event.
func (r *apiRig) all(t *testing.T, caller, rawQuery string) ([]store.AuditEvent, int) {
	t.Helper()
	a := r.get(t, caller, tenantA, rawQuery)
	var out []store.AuditEvent
	pages := 1
	for {
		if a.status != http.StatusOK {
			t.Fatalf("page %d: status %d %s", pages, a.status, a.Error.Message)
		}
		out = append(out, a.Value...)
		if a.Next == "" {
			return out, pages
		}
		if !strings.HasPrefix(a.Next, r.srv.URL+"/"+tenantA+"/fedcred/auditEvents?") {
			t.Fatalf("nextLink %q is not under the server's public URL", a.Next)
		}
		pages++
		a = r.getURL(t, caller, a.Next)
	}
}

func clientIDs(events []store.AuditEvent) []string {
	out := []string{}
	for _, e := range events {
		out = append(out, e.ClientID)
	}
	return out
}

// fixture is the log the filter and RBAC tests read.
func fixture() []store.AuditEvent {
	idPath := "/subscriptions/" + sub1 + "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	return []store.AuditEvent{
		{ClientID: "e0", EventKind: store.AuditTokenIssued, SubscriptionID: sub1, Target: "https://vault.azure.net",
			Actor: store.AuditActor{ObjectID: "p1", ClientID: "e0", Type: "ManagedIdentity"}, FIC: "fic1",
			Outcome: store.AuditOutcome{Result: store.AuditSuccess, Status: 200}},
		{ClientID: "e1", EventKind: store.AuditTokenRefused, SubscriptionID: sub1, Target: "https://vault.azure.net",
			Actor: store.AuditActor{ObjectID: "p1", ClientID: "e1", Type: "ManagedIdentity"}, FIC: "fic1",
			Outcome: store.AuditOutcome{Result: store.AuditDenied, Status: 401, Code: "AADSTS700213"}},
		{ClientID: "e2", EventKind: store.AuditTokenRefused, Target: "https://management.azure.com/",
			Outcome: store.AuditOutcome{Result: store.AuditDenied, Status: 400, Code: "AADSTS700016"}},
		{ClientID: "e3", EventKind: store.AuditResourceWrite, SubscriptionID: sub1, Target: idPath,
			Actor: store.AuditActor{ObjectID: owner, ClientID: "e3"}, Action: "Microsoft.ManagedIdentity/userAssignedIdentities/write",
			Outcome: store.AuditOutcome{Result: store.AuditSuccess, Status: 201}},
		{ClientID: "e4", EventKind: store.AuditResourceWrite, SubscriptionID: sub1, Target: idPath + "/federatedIdentityCredentials/fic1",
			Actor: store.AuditActor{ObjectID: owner, ClientID: "e4"}, Outcome: store.AuditOutcome{Result: store.AuditSuccess, Status: 200}},
		{ClientID: "e5", EventKind: store.AuditResourceDelete, SubscriptionID: sub1, Target: idPath + "2",
			Actor: store.AuditActor{ObjectID: reader1, ClientID: "e5"}, Outcome: store.AuditOutcome{Result: store.AuditDenied, Status: 403, Code: "AuthorizationFailed"}},
		{ClientID: "e6", EventKind: store.AuditKeysRotated, SubscriptionID: sub2, Target: "/subscriptions/" + sub2 + "/resourceGroups/rg9/providers/Microsoft.ContainerService/managedClusters/c1",
			Actor: store.AuditActor{ObjectID: owner, ClientID: "e6"}, Outcome: store.AuditOutcome{Result: store.AuditSuccess, Status: 200}},
		{ClientID: "e7", EventKind: store.AuditTokenRefused, SubscriptionID: sub1, Target: "https://vault.azure.net",
			Outcome: store.AuditOutcome{Result: store.AuditFailed, Status: 503, Code: "AADSTS90033"}},
		{ClientID: "b0", TenantID: tenantB, EventKind: store.AuditTokenIssued, SubscriptionID: subOther,
			Outcome: store.AuditOutcome{Result: store.AuditSuccess, Status: 200}},
	}
}

func TestHandler_Filters(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.seed(t, fixture()...)
	at := func(i int) string {
		return url.QueryEscape(t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339))
	}
	idPath := "/subscriptions/" + sub1 + "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{name: "no filter lists the tenant's events oldest first", query: "", want: []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7"}},
		{name: "since is inclusive", query: "since=" + at(5), want: []string{"e5", "e6", "e7"}},
		{name: "until is exclusive", query: "until=" + at(2), want: []string{"e0", "e1"}},
		{name: "since and until", query: "since=" + at(2) + "&until=" + at(4), want: []string{"e2", "e3"}},
		{name: "since with nanoseconds", query: "since=" + url.QueryEscape(t0.Add(2*time.Second+time.Nanosecond).Format(time.RFC3339Nano)), want: []string{"e3", "e4", "e5", "e6", "e7"}},
		{name: "one kind", query: "kind=token.refused", want: []string{"e1", "e2", "e7"}},
		{name: "several kinds", query: "kind=token.issued,keys.rotated", want: []string{"e0", "e6"}},
		{name: "actor by object id", query: "actor=" + owner, want: []string{"e3", "e4", "e6"}},
		{name: "actor by client id, any case", query: "actor=E5", want: []string{"e5"}},
		{name: "client id", query: "clientId=e2", want: []string{"e2"}},
		{name: "outcome denied", query: "outcome=denied", want: []string{"e1", "e2", "e5"}},
		{name: "outcome failed", query: "outcome=failed", want: []string{"e7"}},
		{name: "target selects the resource and what is below it", query: "target=" + url.QueryEscape(strings.ToLower(idPath)), want: []string{"e3", "e4"}},
		{name: "target with a trailing slash", query: "target=" + url.QueryEscape(idPath+"/"), want: []string{"e3", "e4"}},
		{name: "target of a token resource", query: "target=" + url.QueryEscape("https://management.azure.com"), want: []string{"e2"}},
		{name: "target that is only a string prefix matches nothing", query: "target=" + url.QueryEscape("https://vault.azure"), want: []string{}},
		{name: "filters combine", query: "kind=token.refused&outcome=denied&clientId=e1", want: []string{"e1"}},
		{name: "parameter names ignore case", query: "KIND=token.issued&ClientID=e0", want: []string{"e0"}},
		{name: "api-version is accepted", query: "api-version=2024-01-01&clientId=e3", want: []string{"e3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, _ := r.all(t, owner, tt.query)
			if g := clientIDs(got); !slices.Equal(g, tt.want) {
				t.Errorf("got %v, want %v", g, tt.want)
			}
		})
	}
}

func TestHandler_Paging(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	var events []store.AuditEvent
	for i := range 7 {
		events = append(events, store.AuditEvent{ClientID: fmt.Sprintf("c%d", i), EventKind: store.AuditTokenIssued,
			Outcome: store.AuditOutcome{Result: store.AuditSuccess, Status: 200}})
	}
	r.seed(t, events...)

	got, pages := r.all(t, owner, "$top=3&kind=token.issued")
	if g := clientIDs(got); !slices.Equal(g, []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6"}) || pages != 3 {
		t.Errorf("paged %v in %d pages, want c0..c6 in 3", g, pages)
	}
	first := r.get(t, owner, tenantA, "$top=3&kind=token.issued")
	next, err := url.Parse(first.Next)
	if err != nil {
		t.Fatal(err)
	}
	if next.Query().Get("kind") != "token.issued" || next.Query().Get("$top") != "3" || next.Query().Get("$skiptoken") != first.Value[2].ID {
		t.Errorf("nextLink %q does not keep the filters and continue after the page's last event", first.Next)
	}

	// An event appended while paging shows up at the end, never twice.
	r.seed(t, store.AuditEvent{ClientID: "late", EventKind: store.AuditTokenIssued, Time: t0.Add(time.Hour),
		Outcome: store.AuditOutcome{Result: store.AuditSuccess}})
	rest := r.getURL(t, owner, first.Next)
	tail, _ := r.all(t, owner, "$top=3&kind=token.issued&$skiptoken="+rest.Value[len(rest.Value)-1].ID)
	if g := clientIDs(append(rest.Value, tail...)); !slices.Equal(g, []string{"c3", "c4", "c5", "c6", "late"}) {
		t.Errorf("rest of the pages = %v, want c3..c6 and late", g)
	}

	// The default page size is 100.
	many := make([]store.AuditEvent, 0, 150)
	for i := range 150 {
		many = append(many, store.AuditEvent{ClientID: "bulk", EventKind: store.AuditTokenRefused,
			Time: t0.Add(2*time.Hour + time.Duration(i)*time.Millisecond), Outcome: store.AuditOutcome{Result: store.AuditDenied}})
	}
	r.seed(t, many...)
	a := r.get(t, owner, tenantA, "clientId=bulk")
	if len(a.Value) != audit.DefaultPageSize || a.Next == "" {
		t.Errorf("default page: %d events, nextLink %q; want %d and a nextLink", len(a.Value), a.Next, audit.DefaultPageSize)
	}
}

func TestHandler_ScanIsBounded(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	// 5,100 events that do not match, then one that does.
	err := r.store.Update(context.Background(), func(tx store.Tx) error {
		for i := range 5101 {
			e := store.AuditEvent{TenantID: tenantA, ClientID: "noise", EventKind: store.AuditTokenIssued, Time: t0.Add(time.Duration(i) * time.Millisecond)}
			if i == 5100 {
				e.ClientID = "needle"
			}
			e.ID = e.Time.Format(store.AuditTimeFormat) + fmt.Sprintf("-%016x", i)
			if err := store.Create(context.Background(), tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	first := r.get(t, owner, tenantA, "clientId=needle")
	if first.status != http.StatusOK || len(first.Value) != 0 || first.Next == "" {
		t.Fatalf("first page: status %d, %d events, nextLink %q; want an empty page that continues", first.status, len(first.Value), first.Next)
	}
	second := r.getURL(t, owner, first.Next)
	if g := clientIDs(second.Value); !slices.Equal(g, []string{"needle"}) || second.Next != "" {
		t.Errorf("second page = %v, nextLink %q; want the needle and no nextLink", g, second.Next)
	}
}

func TestHandler_Authorization(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	r.seed(t, fixture()...)
	tests := []struct {
		name       string
		caller     string
		tenant     string
		wantStatus int
		wantCode   string
		want       []string
	}{
		{name: "owner of every subscription sees every event of the tenant", caller: owner, tenant: tenantA,
			wantStatus: 200, want: []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7"}},
		{name: "reader of one subscription sees that subscription's events only", caller: reader1, tenant: tenantA,
			wantStatus: 200, want: []string{"e0", "e1", "e3", "e4", "e5", "e7"}},
		{name: "reader of a resource group only is refused", caller: rgReader, tenant: tenantA, wantStatus: 403, wantCode: "AuthorizationFailed"},
		{name: "managed identity contributor lacks the action", caller: miContrib, tenant: tenantA, wantStatus: 403, wantCode: "AuthorizationFailed"},
		{name: "owner in another tenant is refused", caller: foreign, tenant: tenantA, wantStatus: 403, wantCode: "AuthorizationFailed"},
		{name: "caller of tenant B reads tenant B", caller: foreign, tenant: tenantB, wantStatus: 200, want: []string{"b0"}},
		{name: "owner of tenant A cannot read tenant B", caller: owner, tenant: tenantB, wantStatus: 403, wantCode: "AuthorizationFailed"},
		{name: "a tenant that does not exist answers as one without access", caller: owner, tenant: "00000000-0000-4000-8000-000000000000", wantStatus: 403, wantCode: "AuthorizationFailed"},
		{name: "no token", caller: missingTok, tenant: tenantA, wantStatus: 401, wantCode: "AuthenticationFailed"},
		{name: "not a tenant ID", caller: owner, tenant: "contoso.onmicrosoft.com", wantStatus: 400, wantCode: "InvalidTenantId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := r.get(t, tt.caller, tt.tenant, "")
			if a.status != tt.wantStatus || a.Error.Code != tt.wantCode {
				t.Fatalf("status %d code %q (%s), want %d %q", a.status, a.Error.Code, a.Error.Message, tt.wantStatus, tt.wantCode)
			}
			if tt.wantStatus == http.StatusOK {
				if g := clientIDs(a.Value); !slices.Equal(g, tt.want) {
					t.Errorf("sees %v, want %v", g, tt.want)
				}
			}
			if tt.wantStatus == http.StatusForbidden && (len(a.Value) != 0 || !strings.Contains(a.Error.Message, audit.ReadAction)) {
				t.Errorf("403 body: %d events, message %q; want none, naming %s", len(a.Value), a.Error.Message, audit.ReadAction)
			}
			if tt.wantStatus == http.StatusUnauthorized && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer authorization_uri=") {
				t.Errorf("401 without a Bearer challenge: %q", a.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestHandler_BadQueries(t *testing.T) {
	t.Parallel()
	r := newAPIRig(t)
	tests := []struct {
		name  string
		query string
	}{
		{name: "since not a time", query: "since=yesterday"},
		{name: "until a bare date", query: "until=2026-11-29"},
		{name: "since after until", query: "since=2026-11-29T10:00:00Z&until=2026-11-29T09:00:00Z"},
		{name: "since equal to until", query: "since=2026-11-29T10:00:00Z&until=2026-11-29T10:00:00Z"},
		{name: "unknown kind", query: "kind=token.minted"},
		{name: "one unknown kind among known ones", query: "kind=token.issued,,"},
		{name: "unknown outcome", query: "outcome=ok"},
		{name: "top zero", query: "$top=0"},
		{name: "top above the maximum", query: fmt.Sprintf("$top=%d", audit.MaxPageSize+1)},
		{name: "top not a number", query: "$top=ten"},
		{name: "malformed skiptoken", query: "$skiptoken=abc"},
		{name: "skiptoken with a bad suffix", query: "$skiptoken=20261129T100000.000000000Z-XYZ"},
		{name: "parameter given twice", query: "kind=token.issued&kind=token.refused"},
		{name: "parameter given twice in two cases", query: "clientId=a&clientid=b"},
		{name: "unknown parameter", query: "$filter=kind%20eq%20%27x%27"},
		{name: "oversized value", query: "actor=" + strings.Repeat("a", 1025)},
		{name: "malformed query string", query: "kind=%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := r.get(t, owner, tenantA, tt.query)
			if a.status != http.StatusBadRequest || a.Error.Code != "InvalidQueryParameter" || a.Error.Message == "" {
				t.Errorf("status %d code %q message %q, want 400 InvalidQueryParameter with a message", a.status, a.Error.Code, a.Error.Message)
			}
		})
	}
}

func TestHandler_StoreFailureIsNotLeaked(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	h, err := audit.NewHandler(audit.HandlerConfig{
		Store: st, Authorizer: rbac.Authorizer{Store: st}, PublicURL: "https://fedcred.example",
		Authenticate: func(*http.Request) (audit.Caller, error) {
			return audit.Caller{}, fmt.Errorf("read keys: %w", errInjected)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/"+tenantA+"/fedcred/auditEvents", nil)
	req.SetPathValue("tenant", tenantA)
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "injected") {
		t.Errorf("status %d body %s; want 500 without the cause", rec.Code, rec.Body)
	}
}

func TestNewHandler_ChecksConfig(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	ok := audit.HandlerConfig{Store: st, Authorizer: rbac.Authorizer{Store: st}, PublicURL: "https://x",
		Authenticate: func(*http.Request) (audit.Caller, error) { return audit.Caller{}, nil }}
	tests := []struct {
		name string
		edit func(*audit.HandlerConfig)
	}{
		{name: "no store", edit: func(c *audit.HandlerConfig) { c.Store = nil }},
		{name: "no authorizer", edit: func(c *audit.HandlerConfig) { c.Authorizer = nil }},
		{name: "no authenticate", edit: func(c *audit.HandlerConfig) { c.Authenticate = nil }},
		{name: "relative public url", edit: func(c *audit.HandlerConfig) { c.PublicURL = "/x" }},
		{name: "public url with a query", edit: func(c *audit.HandlerConfig) { c.PublicURL = "https://x/?a=b" }},
	}
	if _, err := audit.NewHandler(ok); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := ok
			tt.edit(&cfg)
			if _, err := audit.NewHandler(cfg); err == nil {
				t.Error("accepted")
			}
		})
	}
}
