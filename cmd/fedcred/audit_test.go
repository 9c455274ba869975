package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/audit"
	"github.com/fedcred/fedcred/internal/client"
	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

const (
	auditTenant = "2cc9de02-78cf-4805-9209-87ed3eef3f38"
	auditSub    = "0177b9ff-fb2b-44ab-b8e6-08761e987781"
	auditAdmin  = "admin-object-id"
)

// auditServer is the real audit API over a real SQLite store, behind an
// HTTPS test server with a token endpoint: the admin's credentials get
// "tok-admin" (an Owner of the subscription), "other-client" gets
// "tok-other" (no role).
func auditServer(t *testing.T) (*cli, store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	err = st.Update(ctx, func(tx store.Tx) error {
		for _, o := range []store.Object{
			store.Tenant{ID: auditTenant},
			store.Subscription{ID: auditSub, TenantID: auditTenant},
			store.RoleAssignment{Name: "a1", Scope: "/subscriptions/" + auditSub, PrincipalID: auditAdmin, TenantID: auditTenant,
				RoleDefinitionID: client.RoleDefinitionID(auditSub, rbac.OwnerID)},
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
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		tok := map[string]string{fakeClient + "/" + fakeSecret: "tok-admin", "other-client/other-secret": "tok-other"}[r.PostFormValue("client_id")+"/"+r.PostFormValue("client_secret")]
		if tok == "" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": tok})
	})
	h, err := audit.NewHandler(audit.HandlerConfig{
		Store: st, Authorizer: rbac.Authorizer{Store: st}, PublicURL: srv.URL,
		Authenticate: func(r *http.Request) (audit.Caller, error) {
			switch r.Header.Get("Authorization") {
			case "Bearer tok-admin":
				return audit.Caller{ObjectID: auditAdmin, ClientID: fakeClient, TenantID: auditTenant}, nil
			case "Bearer tok-other":
				return audit.Caller{ObjectID: "other-object-id", ClientID: "other-client", TenantID: auditTenant}, nil
			}
			return audit.Caller{}, audit.ErrUnauthenticated
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(mux)

	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t, nil)
	c.writeAdmin(config.Admin{TenantID: auditTenant, SubscriptionID: auditSub, ClientID: fakeClient, ClientSecret: fakeSecret,
		Server: srv.URL, CAFile: caFile})
	return c, st
}

// seedAudit stores the events the CLI tests list, stamped relative to the
// CLI's clock (testNow).
func seedAudit(t *testing.T, st store.Store) {
	t.Helper()
	l, err := audit.New(audit.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	idID := "/subscriptions/" + auditSub + "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	events := []store.AuditEvent{
		{Time: testNow.Add(-2 * time.Hour), EventKind: store.AuditResourceWrite, SubscriptionID: auditSub, Target: idID,
			Actor: store.AuditActor{ObjectID: auditAdmin, ClientID: fakeClient, Type: "ServicePrincipal"}, ClientID: fakeClient,
			Action: "Microsoft.ManagedIdentity/userAssignedIdentities/write", Outcome: store.AuditOutcome{Result: store.AuditSuccess, Status: 201}},
		{Time: testNow.Add(-30 * time.Minute), EventKind: store.AuditTokenIssued, SubscriptionID: auditSub, Target: "https://vault.azure.net",
			Actor: store.AuditActor{ObjectID: "p1", ClientID: "id1-client", Type: "ManagedIdentity"}, ClientID: "id1-client",
			Action: "client_assertion", FIC: "pets-ai", Outcome: store.AuditOutcome{Result: store.AuditSuccess, Status: 200}},
		{Time: testNow.Add(-10 * time.Minute), EventKind: store.AuditTokenRefused, SubscriptionID: auditSub, Target: "https://vault.azure.net",
			Actor: store.AuditActor{ObjectID: "p1", ClientID: "id1-client", Type: "ManagedIdentity"}, ClientID: "id1-client",
			Action: "client_assertion", FIC: "pets-ai", Outcome: store.AuditOutcome{Result: store.AuditDenied, Status: 401, Code: "AADSTS700213"}},
		{Time: testNow.Add(-time.Minute), EventKind: store.AuditResourceDelete, SubscriptionID: auditSub, Target: idID + "/federatedIdentityCredentials/pets-ai",
			Actor: store.AuditActor{ObjectID: "p2", ClientID: "ci-client", Type: "ManagedIdentity"}, ClientID: "ci-client",
			Action:  "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
			Outcome: store.AuditOutcome{Result: store.AuditDenied, Status: 403, Code: "AuthorizationFailed"}},
	}
	for _, e := range events {
		e.TenantID = auditTenant
		if err := l.Write(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditList(t *testing.T) {
	t.Parallel()
	c, st := auditServer(t)
	seedAudit(t, st)
	kinds := func(out string) []string {
		var got []string
		for _, e := range decode[[]client.AuditEvent](t, out) {
			got = append(got, e.Kind)
		}
		return got
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "the last hour by default, oldest first", args: nil, want: []string{"token.issued", "token.refused", "resource.delete"}},
		{name: "since a longer duration", args: []string{"--since", "3h"}, want: []string{"resource.write", "token.issued", "token.refused", "resource.delete"}},
		{name: "since in days", args: []string{"--since", "1d"}, want: []string{"resource.write", "token.issued", "token.refused", "resource.delete"}},
		{name: "since an RFC 3339 time", args: []string{"--since", testNow.Add(-15 * time.Minute).Format(time.RFC3339)}, want: []string{"token.refused", "resource.delete"}},
		{name: "until a duration ago", args: []string{"--since", "3h", "--until", "20m"}, want: []string{"resource.write", "token.issued"}},
		{name: "kind", args: []string{"--kind", "token.refused"}, want: []string{"token.refused"}},
		{name: "kinds repeated and comma-separated", args: []string{"--since", "3h", "--kind", "token.issued,resource.write", "--kind", "keys.rotated"}, want: []string{"resource.write", "token.issued"}},
		{name: "client id", args: []string{"--client-id", "ci-client"}, want: []string{"resource.delete"}},
		{name: "actor", args: []string{"--since", "3h", "--actor", auditAdmin}, want: []string{"resource.write"}},
		{name: "outcome", args: []string{"--outcome", "denied"}, want: []string{"token.refused", "resource.delete"}},
		{name: "target and below", args: []string{"--since", "3h", "--target", "/subscriptions/" + auditSub + "/resourceGroups/RG1"}, want: []string{"resource.write", "resource.delete"}},
		{name: "nothing matches", args: []string{"--client-id", "nobody"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := c.ok(append([]string{"audit", "list"}, tt.args...)...)
			if got := kinds(out); !slices.Equal(got, tt.want) {
				t.Errorf("kinds %v, want %v\n%s", got, tt.want, out)
			}
		})
	}
}

func TestAuditListOutputs(t *testing.T) {
	t.Parallel()
	c, st := auditServer(t)
	seedAudit(t, st)

	t.Run("json is the API's events", func(t *testing.T) {
		events := decode[[]client.AuditEvent](t, c.ok("audit", "list", "--kind", "token.refused"))
		if len(events) != 1 {
			t.Fatalf("%d events", len(events))
		}
		e := events[0]
		if e.FIC != "pets-ai" || e.Outcome.Code != "AADSTS700213" || e.ClientID != "id1-client" || !e.Time.Equal(testNow.Add(-10*time.Minute)) || e.ID == "" {
			t.Errorf("event = %+v", e)
		}
	})
	t.Run("table", func(t *testing.T) {
		out := c.ok("audit", "list", "-o", "table")
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		if len(lines) != 5 {
			t.Fatalf("table has %d lines, want a header, a rule and 3 rows:\n%s", len(lines), out)
		}
		if strings.Join(strings.Fields(lines[0]), " ") != "Actor Code Fic Kind Outcome Target Time" {
			t.Errorf("header = %q", lines[0])
		}
		row := strings.Join(strings.Fields(lines[3]), " ")
		want := "id1-client AADSTS700213 pets-ai token.refused denied https://vault.azure.net " + testNow.Add(-10*time.Minute).Format(time.RFC3339)
		if row != want {
			t.Errorf("row = %q\nwant  %q", row, want)
		}
		if !strings.Contains(lines[2], " 200 ") {
			t.Errorf("a success row shows its status as its code: %q", lines[2])
		}
	})
	t.Run("tsv with a query", func(t *testing.T) {
		out := c.ok("audit", "list", "--outcome", "denied", "--query", "[].[kind,outcome.code,actor.clientId]", "-o", "tsv")
		if out != "token.refused\tAADSTS700213\tid1-client\nresource.delete\tAuthorizationFailed\tci-client\n" {
			t.Errorf("tsv = %q", out)
		}
	})
	t.Run("query", func(t *testing.T) {
		out := c.ok("audit", "list", "--query", "[?fic=='pets-ai'].kind", "-o", "json")
		if got := decode[[]string](t, out); !slices.Equal(got, []string{"token.issued", "token.refused"}) {
			t.Errorf("query result %v", got)
		}
	})
	t.Run("top cuts the list and warns", func(t *testing.T) {
		out, errOut, code := c.run("audit", "list", "--since", "3h", "--top", "2")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if n := len(decode[[]client.AuditEvent](t, out)); n != 2 {
			t.Errorf("%d events, want 2", n)
		}
		if !strings.HasPrefix(errOut, "WARNING: showing the first 2 events") {
			t.Errorf("stderr = %q, want a warning that more may follow", errOut)
		}
	})
}

func TestAuditListErrors(t *testing.T) {
	t.Parallel()
	c, st := auditServer(t)
	seedAudit(t, st)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		want     string
	}{
		{name: "since not a time", args: []string{"--since", "yesterday"}, wantCode: exitUsage, want: "invalid --since"},
		{name: "negative duration", args: []string{"--since", "-1h"}, wantCode: exitUsage, want: "invalid --since"},
		{name: "bad day count", args: []string{"--since", "xd"}, wantCode: exitUsage, want: "invalid --since"},
		{name: "until not a time", args: []string{"--until", "soon"}, wantCode: exitUsage, want: "invalid --until"},
		{name: "since after until", args: []string{"--since", "10m", "--until", "1h"}, wantCode: exitUsage, want: "--since must be before --until"},
		{name: "unknown kind", args: []string{"--kind", "token.minted"}, wantCode: exitUsage, want: "invalid --kind"},
		{name: "unknown outcome", args: []string{"--outcome", "ok"}, wantCode: exitUsage, want: "invalid --outcome"},
		{name: "top zero", args: []string{"--top", "0"}, wantCode: exitUsage, want: "--top must be from 1"},
		{name: "top too large", args: []string{"--top", fmt.Sprint(maxAuditTop + 1)}, wantCode: exitUsage, want: "--top must be from 1"},
		{name: "caller without the role", env: map[string]string{envClientID: "other-client", envClientSecret: "other-secret"},
			wantCode: exitError, want: "(AuthorizationFailed)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cc := *c
			cc.t = t
			cc.env = map[string]string{}
			for k, v := range c.env {
				cc.env[k] = v
			}
			for k, v := range tt.env {
				cc.env[k] = v
			}
			errOut := cc.fail(tt.wantCode, append([]string{"audit", "list"}, tt.args...)...)
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q lacks %q", errOut, tt.want)
			}
		})
	}
}
