package audit_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/client"
	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/issuer"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/server"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

const (
	defAudience  = "api://AzureADTokenExchange"
	rawUserAgent = "audit-e2e-raw/1.0"
	wrongSecret  = "wrong-secret-value-that-must-never-be-stored-0123456789"
)

// e2e is a real fedcred server and what the test needs to call it.
type e2e struct {
	t     *testing.T
	srv   *server.Server
	dir   string
	admin config.Admin
	http  *http.Client
	cl    *client.Client
}

func startServer(t *testing.T) *e2e {
	t.Helper()
	dir := t.TempDir()
	srv, err := server.Start(context.Background(), server.Config{
		DataDir: dir, Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{t: t, srv: srv, dir: dir}
	t.Cleanup(func() { e.shutdown() })
	data, err := os.ReadFile(filepath.Join(dir, config.AdminFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &e.admin); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(e.admin.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	e.http = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	e.cl, err = client.New(client.Options{Server: srv.URL, TenantID: e.admin.TenantID, ClientID: e.admin.ClientID,
		ClientSecret: e.admin.ClientSecret, CAFile: e.admin.CAFile, UserAgent: "audit-e2e-client"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// shutdown stops the server once.
func (e *e2e) shutdown() {
	if e.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		e.t.Errorf("shutdown: %v", err)
	}
	e.srv = nil
}

// token posts a client-credentials request with correlation ID corr and
// returns the status and the decoded body.
func (e *e2e) token(tenant string, form url.Values, corr string) (int, map[string]any) {
	e.t.Helper()
	form.Set("grant_type", "client_credentials")
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("client-request-id", corr)
	req.Header.Set("User-Agent", rawUserAgent)
	return e.do(req)
}

func (e *e2e) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, body
}

// assertion returns the form of a client-assertion request.
func assertion(clientID, jwt, scope string) url.Values {
	return url.Values{"client_id": {clientID}, "scope": {scope}, "client_assertion": {jwt},
		"client_assertion_type": {client.AssertionTypeJWTBearer}}
}

// bearer calls the server with an access token.
func (e *e2e) bearer(method, path, tok string, body string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", rawUserAgent)
	return e.do(req)
}

// waitEvents lists the log as the admin until every correlation ID in corrs
// is in it.
func (e *e2e) waitEvents(corrs ...string) []client.AuditEvent {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		events, _, err := e.cl.ListAuditEvents(context.Background(), client.AuditQuery{Top: 10000})
		if err != nil {
			e.t.Fatal(err)
		}
		found := map[string]bool{}
		for _, ev := range events {
			found[ev.CorrelationID] = true
		}
		missing := ""
		for _, c := range corrs {
			if !found[c] {
				missing = c
			}
		}
		if missing == "" {
			return events
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no event with correlation ID %s in %d events", missing, len(events))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func byCorrelation(events []client.AuditEvent, corr string) client.AuditEvent {
	for _, e := range events {
		if e.CorrelationID == corr {
			return e
		}
	}
	return client.AuditEvent{}
}

func TestServer_AuditLog(t *testing.T) {
	t.Parallel()
	e := startServer(t)
	ctx := context.Background()
	sub, tenant := e.admin.SubscriptionID, e.admin.TenantID
	cl := e.cl
	mgmtScope := e.srv.URL + "/.default"

	// Management changes by the admin.
	if _, err := cl.PutResourceGroup(ctx, sub, "rg1", client.ResourceGroup{Location: "eastus"}); err != nil {
		t.Fatal(err)
	}
	cluster, err := cl.PutCluster(ctx, sub, "rg1", "c1", client.Cluster{Location: "eastus",
		Properties: client.ClusterProperties{OIDCIssuerProfile: &client.OIDCIssuerProfile{Enabled: true}}})
	if err != nil {
		t.Fatal(err)
	}
	issuerURL := cluster.Properties.OIDCIssuerProfile.IssuerURL
	id1, err := cl.PutIdentity(ctx, sub, "rg1", "id1", client.Identity{Location: "eastus"})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := cl.PutIdentity(ctx, sub, "rg1", "id2", client.Identity{Location: "eastus"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ identity, name, sa string }{{"id1", "pets-ai", "ai"}, {"id2", "nobody", "nobody"}} {
		if _, err := cl.PutFederatedCredential(ctx, sub, "rg1", f.identity, f.name, client.FederatedCredentialProperties{
			Issuer: issuerURL, Subject: "system:serviceaccount:pets:" + f.sa, Audiences: []string{defAudience}}); err != nil {
			t.Fatal(err)
		}
	}
	saToken := func(sa string) string {
		tr, err := cl.CreateServiceAccountToken(ctx, sub, "rg1", "c1", "pets", sa, issuer.TokenRequestSpec{Audiences: []string{defAudience}})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	aiJWT, otherJWT, nobodyJWT := saToken("ai"), saToken("other"), saToken("nobody")
	if _, err := cl.CreateRoleAssignment(ctx, client.SubscriptionScope(sub), client.RoleAssignmentProperties{
		RoleDefinitionID: client.RoleDefinitionID(sub, rbac.ReaderID), PrincipalID: id1.Properties.PrincipalID,
		PrincipalType: "ServicePrincipal"}); err != nil {
		t.Fatal(err)
	}
	if err := cl.RotateClusterKeys(ctx, sub, "rg1", "c1"); err != nil {
		t.Fatal(err)
	}

	// Token requests, with known correlation IDs.
	corr := map[string]string{}
	for _, k := range []string{"issued", "refused", "secret", "basic", "tenant", "mgmt", "nobody"} {
		corr[k] = uuid.NewString()
	}
	var tokens []string
	status, body := e.token(tenant, assertion(id1.Properties.ClientID, aiJWT, "https://vault.azure.net/.default"), corr["issued"])
	if status != http.StatusOK {
		t.Fatalf("token for id1 = %d %v", status, body)
	}
	tokens = append(tokens, body["access_token"].(string))
	if status, body = e.token(tenant, assertion(id1.Properties.ClientID, otherJWT, "https://vault.azure.net/.default"), corr["refused"]); status != http.StatusUnauthorized {
		t.Fatalf("token for the wrong subject = %d %v", status, body)
	}
	secretForm := url.Values{"client_id": {e.admin.ClientID}, "client_secret": {wrongSecret}, "scope": {mgmtScope}}
	if status, body = e.token(tenant, secretForm, corr["secret"]); status != http.StatusUnauthorized {
		t.Fatalf("token with a wrong secret = %d %v", status, body)
	}
	basic, err := http.NewRequest(http.MethodPost, e.srv.URL+"/"+tenant+"/oauth2/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "resource": {"https://vault.azure.net"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	basic.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	basic.Header.Set("client-request-id", corr["basic"])
	basic.SetBasicAuth(url.QueryEscape(e.admin.ClientID), url.QueryEscape(wrongSecret))
	if status, body = e.do(basic); status != http.StatusUnauthorized {
		t.Fatalf("v1 token with a wrong Basic secret = %d %v", status, body)
	}
	if status, _ = e.token(uuid.NewString(), assertion(id1.Properties.ClientID, aiJWT, mgmtScope), corr["tenant"]); status != http.StatusBadRequest {
		t.Fatalf("token for an unknown tenant = %d", status)
	}
	status, body = e.token(tenant, assertion(id1.Properties.ClientID, aiJWT, mgmtScope), corr["mgmt"])
	if status != http.StatusOK {
		t.Fatalf("management token for id1 = %d %v", status, body)
	}
	readerTok := body["access_token"].(string)
	status, body = e.token(tenant, assertion(id2.Properties.ClientID, nobodyJWT, mgmtScope), corr["nobody"])
	if status != http.StatusOK {
		t.Fatalf("management token for id2 = %d %v", status, body)
	}
	noRoleTok := body["access_token"].(string)
	tokens = append(tokens, readerTok, noRoleTok)
	if err := cl.DeleteFederatedCredential(ctx, sub, "rg1", "id2", "nobody"); err != nil {
		t.Fatal(err)
	}

	// A reader's write is refused and recorded; its reads are not.
	deniedPath := "/subscriptions/" + sub + "/resourceGroups/rg-denied"
	if status, _ := e.bearer(http.MethodPut, deniedPath+"?api-version=2021-04-01", readerTok, `{"location":"eastus"}`); status != http.StatusForbidden {
		t.Fatalf("PUT by a reader = %d, want 403", status)
	}
	if status, _ := e.bearer(http.MethodGet, "/subscriptions/"+sub+"/resourceGroups?api-version=2021-04-01", readerTok, ""); status != http.StatusOK {
		t.Fatalf("GET by a reader = %d, want 200", status)
	}

	// A key publication with a proof no key vouches for is refused and
	// recorded, without the proof.
	publishPath := "/subscriptions/" + sub + "/providers/Fedcred/trustedIssuers/private1/publishKeys"
	bogusProof := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzcHkifQ.c2lnbmF0dXJl"
	tokens = append(tokens, bogusProof)
	publish, err := http.NewRequest(http.MethodPost, e.srv.URL+publishPath+"?api-version=2024-01-01", strings.NewReader(`{"keys":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	publish.Header.Set("Authorization", "Bearer "+bogusProof)
	corr["publish"] = uuid.NewString()
	publish.Header.Set("x-ms-client-request-id", corr["publish"])
	if status, body := e.do(publish); status != http.StatusUnauthorized {
		t.Fatalf("publishKeys with a bogus proof = %d %v, want 401", status, body)
	}

	events := e.waitEvents(corr["issued"], corr["refused"], corr["secret"], corr["basic"], corr["mgmt"], corr["nobody"], corr["publish"])

	t.Run("issued token", func(t *testing.T) {
		ev := byCorrelation(events, corr["issued"])
		want := client.AuditEvent{ID: ev.ID, TenantID: tenant, Time: ev.Time, Kind: "token.issued",
			Actor:    client.AuditActor{ObjectID: id1.Properties.PrincipalID, ClientID: id1.Properties.ClientID, Type: "ManagedIdentity"},
			ClientID: id1.Properties.ClientID, Target: "https://vault.azure.net", SubscriptionID: sub, Action: "client_assertion",
			Outcome: client.AuditOutcome{Result: "success", Status: 200}, FIC: "pets-ai", CorrelationID: corr["issued"],
			SourceIP: "127.0.0.1", UserAgent: rawUserAgent}
		if ev != want {
			t.Errorf("event = %+v\nwant    %+v", ev, want)
		}
		if time.Since(ev.Time) > time.Minute || ev.Time.Location() != time.UTC {
			t.Errorf("time %v is not a recent UTC time", ev.Time)
		}
	})
	t.Run("refused assertion names the closest credential", func(t *testing.T) {
		ev := byCorrelation(events, corr["refused"])
		if ev.Kind != "token.refused" || ev.FIC != "pets-ai" || ev.Outcome != (client.AuditOutcome{Result: "denied", Status: 401, Code: "AADSTS700213"}) ||
			ev.Actor.ObjectID != id1.Properties.PrincipalID || ev.Action != "client_assertion" || ev.RequestID == "" ||
			!strings.Contains(ev.Reason, "system:serviceaccount:pets:other") {
			t.Errorf("event = %+v", ev)
		}
	})
	t.Run("refused secret", func(t *testing.T) {
		ev := byCorrelation(events, corr["secret"])
		if ev.Kind != "token.refused" || ev.Outcome.Code != "AADSTS7000215" || ev.Actor.ClientID != e.admin.ClientID ||
			ev.Actor.Type != "ServicePrincipal" || ev.Action != "client_secret" || ev.SubscriptionID != "" || ev.Target != e.srv.URL {
			t.Errorf("event = %+v", ev)
		}
	})
	t.Run("refused HTTP Basic secret on the v1 endpoint", func(t *testing.T) {
		ev := byCorrelation(events, corr["basic"])
		if ev.Kind != "token.refused" || ev.Outcome.Code != "AADSTS7000215" || ev.ClientID != e.admin.ClientID ||
			ev.Action != "client_secret" || ev.Target != "https://vault.azure.net" {
			t.Errorf("event = %+v", ev)
		}
	})
	t.Run("unknown tenant is in no log", func(t *testing.T) {
		if ev := byCorrelation(events, corr["tenant"]); ev.ID != "" {
			t.Errorf("recorded %+v", ev)
		}
	})
	t.Run("management changes", func(t *testing.T) {
		idPath := "/subscriptions/" + sub + "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
		id2FIC := "/subscriptions/" + sub + "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id2/federatedIdentityCredentials/nobody"
		wantActions := map[string]string{
			"resource.delete " + id2FIC: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
			"resource.write " + idPath:  "Microsoft.ManagedIdentity/userAssignedIdentities/write",
			"resource.write " + idPath + "/federatedIdentityCredentials/pets-ai":                 "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
			"keys.rotated " + cluster.ID + "/rotateServiceAccountSigningKeys":                    "Microsoft.ContainerService/managedClusters/rotateServiceAccountSigningKeys/action",
			"resource.write /subscriptions/" + sub + "/resourceGroups/rg1":                       "Microsoft.Resources/subscriptions/resourceGroups/write",
			"resource.action " + cluster.ID + "/api/v1/namespaces/pets/serviceaccounts/ai/token": "Microsoft.ContainerService/managedClusters/serviceAccountTokens/action",
		}
		seen := map[string]client.AuditEvent{}
		for _, ev := range events {
			seen[ev.Kind+" "+ev.Target] = ev
			if strings.HasSuffix(ev.Action, "/read") {
				t.Errorf("a read was recorded: %+v", ev)
			}
		}
		for key, action := range wantActions {
			ev, ok := seen[key]
			if !ok {
				t.Errorf("no event %q", key)
				continue
			}
			if ev.Action != action || ev.Actor.ClientID != e.admin.ClientID || ev.Outcome.Result != "success" ||
				ev.SubscriptionID != sub || ev.UserAgent != "audit-e2e-client" || ev.CorrelationID == "" || ev.RequestID == "" {
				t.Errorf("event %q = %+v", key, ev)
			}
		}
		var assignments int
		for _, ev := range events {
			if ev.Kind == "resource.write" && ev.Action == "Microsoft.Authorization/roleAssignments/write" && ev.Outcome.Result == "success" {
				assignments++
			}
		}
		if assignments != 1 {
			t.Errorf("%d role assignment writes recorded, want 1", assignments)
		}
	})
	t.Run("forbidden write", func(t *testing.T) {
		var denied []client.AuditEvent
		for _, ev := range events {
			if ev.Outcome.Result == "denied" && ev.Kind == "resource.write" {
				denied = append(denied, ev)
			}
		}
		if len(denied) != 1 || denied[0].Target != deniedPath || denied[0].Actor.ObjectID != id1.Properties.PrincipalID ||
			denied[0].Actor.Type != "ManagedIdentity" || denied[0].Outcome != (client.AuditOutcome{Result: "denied", Status: 403, Code: "AuthorizationFailed"}) {
			t.Errorf("denied writes = %+v", denied)
		}
	})
	t.Run("refused key publication", func(t *testing.T) {
		var got []client.AuditEvent
		for _, ev := range events {
			if ev.Kind == "keys.published" {
				got = append(got, ev)
			}
		}
		if len(got) != 1 || got[0].Target != publishPath || got[0].Actor.Type != "IssuerProof" || got[0].Outcome.Result != "denied" ||
			got[0].Outcome.Status != http.StatusUnauthorized || got[0].SubscriptionID != sub || got[0].CorrelationID != corr["publish"] ||
			got[0].Action != "Fedcred/trustedIssuers/publishKeys/action" {
			t.Errorf("key publications = %+v", got)
		}
	})
	t.Run("filters through the client", func(t *testing.T) {
		got, more, err := cl.ListAuditEvents(ctx, client.AuditQuery{Kinds: []string{"token.refused"}, ClientID: id1.Properties.ClientID, Top: 100})
		if err != nil || more || len(got) != 1 || got[0].CorrelationID != corr["refused"] {
			t.Errorf("refusals of id1 = %+v, more %v, err %v", got, more, err)
		}
		got, more, err = cl.ListAuditEvents(ctx, client.AuditQuery{Top: 2})
		if err != nil || !more || len(got) != 2 {
			t.Errorf("top 2 = %d events, more %v, err %v; want 2 and more", len(got), more, err)
		}
	})
	t.Run("RBAC on the API", func(t *testing.T) {
		path := "/" + tenant + "/fedcred/auditEvents?$top=5"
		if status, body := e.bearer(http.MethodGet, path, readerTok, ""); status != http.StatusOK || len(body["value"].([]any)) != 5 {
			t.Errorf("reader: %d %v", status, body)
		}
		if status, body := e.bearer(http.MethodGet, path, noRoleTok, ""); status != http.StatusForbidden {
			t.Errorf("identity without a role: %d %v", status, body)
		}
		if status, _ := e.bearer(http.MethodGet, path, "not-a-token", ""); status != http.StatusUnauthorized {
			t.Errorf("bad token: %d", status)
		}
	})

	// An event queued just before shutdown is written by the drain.
	last := uuid.NewString()
	status, body = e.token(tenant, assertion(id1.Properties.ClientID, aiJWT, "https://vault.azure.net/.default"), last)
	if status != http.StatusOK {
		t.Fatalf("last token = %d %v", status, body)
	}
	tokens = append(tokens, body["access_token"].(string))
	stats := e.srv.AuditStats()
	e.shutdown()
	if stats.Dropped != 0 || stats.Failed != 0 {
		t.Errorf("audit stats %+v: events lost", stats)
	}

	st, err := sqlite.Open(ctx, filepath.Join(e.dir, config.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var recs []store.Record
	if err := st.View(ctx, func(tx store.Tx) error {
		recs, err = tx.List(ctx, store.KindAuditEvent, "", "", 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	drained := false
	secrets := append([]string{aiJWT, otherJWT, nobodyJWT, e.admin.ClientSecret, wrongSecret, "eyJ"}, tokens...)
	for _, r := range recs {
		for _, s := range secrets {
			if strings.Contains(string(r.Data), s) {
				t.Errorf("stored event %s contains a credential (%.12s...)", r.Key, s)
			}
		}
		if strings.Contains(string(r.Data), last) {
			drained = true
		}
	}
	if !drained {
		t.Error("the token event queued before shutdown was not written")
	}
	if len(recs) < 15 {
		t.Errorf("%d events stored, expected the whole scenario", len(recs))
	}
}
