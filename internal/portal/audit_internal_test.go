package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/arm"
	"github.com/fedcred/fedcred/internal/audit"
	"github.com/fedcred/fedcred/internal/rbac"
	"github.com/fedcred/fedcred/internal/store"
	"github.com/fedcred/fedcred/internal/store/sqlite"
)

// These tests page through an identity's trail against the real audit API
// handler over a real SQLite store, with events written straight into the
// store so that there can be thousands, spread over years or packed into a
// second.

const (
	trailTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	trailSub    = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	trailClient = "11111111-2222-4333-8444-555555555555"
	otherClient = "99999999-2222-4333-8444-555555555555"
	reader      = "aaaaaaaa-0000-4000-8000-000000000001"
)

const (
	trailIdentity = "/subscriptions/" + trailSub + "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app"
	// app2 shares app's name as a prefix: its events must not show.
	otherIdentity = "/subscriptions/" + trailSub + "/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/app2"
)

var trailNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// principalKey carries the test's principal, as the server's
// withPortalPrincipal does.
type principalKey struct{}

// allowReader lets reader read the log and no one else.
type allowReader struct{}

func (allowReader) Decide(_ context.Context, req rbac.Request) (rbac.Decision, error) {
	return rbac.Decision{Allowed: req.PrincipalID == reader && req.Action == audit.ReadAction}, nil
}

// trailEvents builds events in time order; seq keeps IDs unique.
type trailEvents struct {
	list []store.AuditEvent
	seq  int
}

func (b *trailEvents) add(at time.Time, kind, clientID, target, result string) {
	b.seq++
	b.list = append(b.list, store.AuditEvent{
		TenantID: trailTenant, ID: fmt.Sprintf("%s-%016x", at.UTC().Format(store.AuditTimeFormat), b.seq),
		Time: at.UTC(), EventKind: kind, ClientID: clientID, Target: target, SubscriptionID: trailSub,
		Outcome: store.AuditOutcome{Result: result},
	})
}

// token adds a token event of the identity, change one of a change to
// target.
func (b *trailEvents) token(at time.Time, result string) {
	kind := store.AuditTokenIssued
	if result != store.AuditSuccess {
		kind = store.AuditTokenRefused
	}
	b.add(at, kind, trailClient, "https://vault.azure.net", result)
}

func (b *trailEvents) change(at time.Time, target string) {
	b.add(at, store.AuditResourceWrite, otherClient, target, store.AuditSuccess)
}

// noise adds events of the tenant that are not the identity's.
func (b *trailEvents) noise(at time.Time, i int) {
	switch i % 4 {
	case 0:
		b.add(at, store.AuditTokenIssued, otherClient, "https://vault.azure.net", store.AuditSuccess)
	case 1:
		b.add(at, store.AuditResourceWrite, otherClient, otherIdentity+"/federatedIdentityCredentials/x", store.AuditSuccess)
	case 2:
		// The identity calling the management API is not a change to it.
		b.add(at, store.AuditResourceWrite, trailClient, "/subscriptions/"+trailSub+"/resourceGroups/rg1", store.AuditSuccess)
	default:
		b.add(at, store.AuditKeysRotated, "", "/subscriptions/"+trailSub, store.AuditSuccess)
	}
}

// want is the IDs of the identity's events the query selects, oldest first.
func (b *trailEvents) want(show, outcome string) []string {
	var out []string
	for _, e := range b.list {
		token := slices.Contains(tokenKinds(), e.EventKind) && e.ClientID == trailClient
		change := slices.Contains(changeKinds(), e.EventKind) && (strings.EqualFold(e.Target, trailIdentity) ||
			strings.HasPrefix(strings.ToLower(e.Target), strings.ToLower(trailIdentity)+"/"))
		if (token && show != showChanges || change && show != showTokens) && (outcome == "" || e.Outcome.Result == outcome) {
			out = append(out, e.ID)
		}
	}
	slices.Sort(out)
	return out
}

// newTrailHandler serves the events through a real audit handler over a
// real SQLite store.
func newTrailHandler(t *testing.T, events []store.AuditEvent, withPrincipal func(context.Context, arm.Principal) context.Context) *Handler {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Update(ctx, func(tx store.Tx) error {
		return store.Create(ctx, tx, store.Subscription{ID: trailSub, TenantID: trailTenant})
	}); err != nil {
		t.Fatal(err)
	}
	for chunk := range slices.Chunk(events, 2000) {
		if err := st.Update(ctx, func(tx store.Tx) error {
			for _, e := range chunk {
				if err := store.Create(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	api, err := audit.NewHandler(audit.HandlerConfig{
		Store: st, Authorizer: allowReader{}, PublicURL: "https://fedcred.test",
		Authenticate: func(r *http.Request) (audit.Caller, error) {
			p, ok := r.Context().Value(principalKey{}).(arm.Principal)
			if !ok {
				return audit.Caller{}, fmt.Errorf("%w: no principal", audit.ErrUnauthenticated)
			}
			return audit.Caller{ObjectID: p.ObjectID, ClientID: p.ClientID, TenantID: p.TenantID}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if withPrincipal == nil {
		withPrincipal = func(ctx context.Context, p arm.Principal) context.Context {
			return context.WithValue(ctx, principalKey{}, p)
		}
	}
	h, err := New(Config{
		Management: http.NotFoundHandler(), STS: http.NotFoundHandler(), Issuers: http.NotFoundHandler(), Audit: api,
		Authenticate:  func(*http.Request) (arm.Principal, error) { return arm.Principal{}, errors.New("not used") },
		WithPrincipal: withPrincipal, Store: st, PublicURL: "https://fedcred.test", TenantID: trailTenant,
		Now: func() time.Time { return trailNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var trailView = identityView{ID: trailIdentity, ClientID: trailClient, TenantID: trailTenant, Name: "app"}

// readAs reads one page as the reader.
func readAs(h *Handler, p arm.Principal, q auditQuery) (auditResult, error) {
	return h.readTrail(h.cfg.WithPrincipal(context.Background(), p), trailTenant, trailView, q)
}

var readerPrincipal = arm.Principal{ObjectID: reader, ClientID: reader, TenantID: trailTenant, Type: arm.PrincipalServicePrincipal}

// pageThrough follows Next from the first page and returns every ID listed,
// in order, checking each page's shape.
func pageThrough(t *testing.T, h *Handler, q auditQuery) (ids []string, short int) {
	t.Helper()
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == 2000 {
			t.Fatalf("more than 2000 pages: paging does not end")
		}
		res, err := readAs(h, readerPrincipal, q)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if res.Stuck {
			t.Fatalf("page %d is stuck", page)
		}
		if len(res.Events) > q.Top {
			t.Fatalf("page %d has %d events, more than %d", page, len(res.Events), q.Top)
		}
		if res.Next != "" && len(res.Events) < q.Top {
			if res.SearchedTo.IsZero() {
				t.Fatalf("page %d has %d of %d events and a next page, but does not say where it stopped", page, len(res.Events), q.Top)
			}
			short++
		}
		for _, e := range res.Events {
			if seen[e.ID] {
				t.Fatalf("page %d repeats %s", page, e.ID)
			}
			seen[e.ID] = true
			ids = append(ids, e.ID)
		}
		if res.Next == "" {
			return ids, short
		}
		if res.Next == q.Cursor {
			t.Fatalf("page %d does not advance from %s", page, q.Cursor)
		}
		q.Cursor = res.Next
	}
}

func TestTrailPaging(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		build func(b *trailEvents)
		top   int
		calls int // the page's request budget; 0 for the default
		// wantShort says pages stop early for want of requests.
		wantShort bool
	}{
		{name: "no events", build: func(*trailEvents) {}, top: 5},
		{name: "sparse over three years", top: 7, build: func(b *trailEvents) {
			at := trailNow.Add(-3 * 365 * 24 * time.Hour)
			for i := range 60 {
				at = at.Add(time.Duration(i*i+1) * 37 * time.Minute)
				if i%3 == 0 {
					b.change(at, trailIdentity+"/federatedIdentityCredentials/fic"+fmt.Sprint(i))
				} else {
					b.token(at, store.AuditSuccess)
				}
				b.noise(at.Add(time.Second), i)
			}
		}},
		{name: "a dense burst narrows the window", top: 100, build: func(b *trailEvents) {
			for i := range 20 {
				b.token(trailNow.Add(-time.Duration(40-i)*24*time.Hour), store.AuditDenied)
			}
			start := trailNow.Add(-10 * time.Minute)
			for i := range 1300 {
				b.token(start.Add(time.Duration(i)*400*time.Microsecond), store.AuditSuccess)
			}
			b.change(trailNow.Add(-time.Minute), trailIdentity)
		}},
		{name: "the tenant's other events exceed one request's scan", top: 10, build: func(b *trailEvents) {
			start := trailNow.Add(-20 * time.Hour)
			for i := range 7000 {
				at := start.Add(time.Duration(i) * 10 * time.Second)
				b.noise(at, i)
				if i%233 == 0 {
					b.token(at.Add(time.Millisecond), store.AuditSuccess)
				}
			}
		}},
		{name: "few requests per page continue where they stopped", top: 5, calls: 2, wantShort: true, build: func(b *trailEvents) {
			start := trailNow.Add(-17 * time.Hour)
			for i := range 12000 {
				at := start.Add(time.Duration(i) * 5 * time.Second)
				b.noise(at, i)
				if i%1500 == 0 {
					b.change(at.Add(time.Millisecond), trailIdentity)
				}
			}
		}},
		{name: "events of one nanosecond", top: 2, build: func(b *trailEvents) {
			for range 9 {
				b.token(trailNow.Add(-time.Hour), store.AuditSuccess)
			}
		}},
		{name: "events stamped after now", top: 3, build: func(b *trailEvents) {
			for i := range 5 {
				b.token(trailNow.Add(time.Duration(i-2)*time.Minute), store.AuditSuccess)
				b.change(trailNow.Add(time.Duration(i)*time.Hour), trailIdentity)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := &trailEvents{}
			tt.build(b)
			h := newTrailHandler(t, b.list, nil)
			if tt.calls > 0 {
				h.auditCalls = tt.calls
			}
			want := b.want(showAll, "")
			for _, order := range []string{orderOldest, orderNewest} {
				got, short := pageThrough(t, h, auditQuery{Order: order, Show: showAll, Top: tt.top})
				expected := slices.Clone(want)
				if order == orderNewest {
					slices.Reverse(expected)
				}
				if !slices.Equal(got, expected) {
					t.Errorf("%s first: %d events listed, want %d\n got %s\nwant %s", order, len(got), len(expected), brief(got), brief(expected))
				}
				if (short > 0) != tt.wantShort {
					t.Errorf("%s first: %d pages stopped early, want some: %v", order, short, tt.wantShort)
				}
			}
		})
	}
}

// brief shortens a list of IDs for a failure message.
func brief(ids []string) string {
	if len(ids) <= 6 {
		return strings.Join(ids, " ")
	}
	return strings.Join(ids[:3], " ") + " ... " + strings.Join(ids[len(ids)-3:], " ")
}

func TestTrailFilters(t *testing.T) {
	t.Parallel()
	b := &trailEvents{}
	for i := range 30 {
		at := trailNow.Add(-time.Duration(30-i) * 7 * time.Hour)
		switch i % 3 {
		case 0:
			b.token(at, store.AuditSuccess)
		case 1:
			b.token(at, store.AuditDenied)
		default:
			b.change(at, trailIdentity)
		}
		b.noise(at.Add(time.Second), i)
	}
	h := newTrailHandler(t, b.list, nil)
	tests := []struct {
		name          string
		show, outcome string
		wantN         int
	}{
		{name: "everything", show: showAll, wantN: 30},
		{name: "tokens only", show: showTokens, wantN: 20},
		{name: "changes only", show: showChanges, wantN: 10},
		{name: "refused tokens", show: showTokens, outcome: store.AuditDenied, wantN: 10},
		{name: "successes", show: showAll, outcome: store.AuditSuccess, wantN: 20},
		{name: "failures", show: showAll, outcome: store.AuditFailed, wantN: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := b.want(tt.show, tt.outcome)
			if len(want) != tt.wantN {
				t.Fatalf("the test data has %d such events, want %d", len(want), tt.wantN)
			}
			got, _ := pageThrough(t, h, auditQuery{Order: orderOldest, Show: tt.show, Outcome: tt.outcome, Top: 4})
			if !slices.Equal(got, want) {
				t.Errorf("listed %s, want %s", brief(got), brief(want))
			}
		})
	}
}

// TestTrailReadsAsThePrincipal: the portal reads the log with the visitor
// in the request's context, and shows the API's refusal.
func TestTrailReadsAsThePrincipal(t *testing.T) {
	t.Parallel()
	b := &trailEvents{}
	b.token(trailNow.Add(-time.Minute), store.AuditSuccess)
	tests := []struct {
		name          string
		withPrincipal func(context.Context, arm.Principal) context.Context
		principal     arm.Principal
		wantStatus    int
		wantCode      string
	}{
		{name: "a reader", principal: readerPrincipal, wantStatus: http.StatusOK},
		{name: "a principal without the read action", principal: arm.Principal{ObjectID: "someone", TenantID: trailTenant},
			wantStatus: http.StatusForbidden, wantCode: "AuthorizationFailed"},
		{name: "a principal of another tenant", principal: arm.Principal{ObjectID: reader, TenantID: "11111111-1111-4111-8111-111111111111"},
			wantStatus: http.StatusForbidden, wantCode: "AuthorizationFailed"},
		{name: "no principal in the context", principal: readerPrincipal,
			withPrincipal: func(ctx context.Context, _ arm.Principal) context.Context { return ctx },
			wantStatus:    http.StatusUnauthorized, wantCode: "AuthenticationFailed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newTrailHandler(t, b.list, tt.withPrincipal)
			res, err := readAs(h, tt.principal, auditQuery{Order: orderNewest, Show: showAll, Top: 5})
			if tt.wantStatus == http.StatusOK {
				if err != nil || len(res.Events) != 1 {
					t.Fatalf("read: %d events, %v; want the one event", len(res.Events), err)
				}
				return
			}
			ae, ok := asAPIError(err)
			if !ok || ae.Status != tt.wantStatus || ae.Code != tt.wantCode {
				t.Fatalf("read: %v, want the API's %d %s", err, tt.wantStatus, tt.wantCode)
			}
		})
	}
}

func TestParseAuditQuery(t *testing.T) {
	t.Parallel()
	id := "20261129T100000.000000001Z-00000001abcdef01"
	tests := []struct {
		name    string
		raw     string
		want    auditQuery
		wantErr string
	}{
		{name: "defaults", raw: "", want: auditQuery{Order: orderNewest, Show: showAll, Top: auditDefaultTop}},
		{name: "everything", raw: "order=oldest&show=tokens&outcome=denied&top=100&after=" + id,
			want: auditQuery{Order: orderOldest, Show: showTokens, Outcome: store.AuditDenied, Top: 100, Cursor: id}},
		{name: "before goes with newest first", raw: "before=" + id, want: auditQuery{Order: orderNewest, Show: showAll, Top: auditDefaultTop, Cursor: id}},
		{name: "the other order's cursor is ignored", raw: "after=" + id, want: auditQuery{Order: orderNewest, Show: showAll, Top: auditDefaultTop}},
		{name: "a time cursor", raw: "before=20261129T100000.000000001Z-0", want: auditQuery{Order: orderNewest, Show: showAll, Top: auditDefaultTop, Cursor: "20261129T100000.000000001Z-0"}},
		{name: "unknown order", raw: "order=random", wantErr: "The order must be newest or oldest."},
		{name: "unknown show", raw: "show=secrets", wantErr: "Show must be all, tokens or changes."},
		{name: "unknown outcome", raw: "outcome=maybe", wantErr: "The outcome must be success, denied or failed."},
		{name: "page size zero", raw: "top=0", wantErr: "The page size must be from 1 to 100."},
		{name: "page size too large", raw: "top=101", wantErr: "The page size must be from 1 to 100."},
		{name: "cursor not an ID", raw: "before=x", wantErr: "is not an audit event ID"},
		{name: "cursor with upper-case hex", raw: "before=20261129T100000.000000001Z-ABC", wantErr: "is not an audit event ID"},
		{name: "cursor with a bad time", raw: "before=20261329T100000.000000001Z-abc", wantErr: "is not an audit event ID"},
		{name: "cursor suffix too long", raw: "before=20261129T100000.000000001Z-" + strings.Repeat("a", 33), wantErr: "is not an audit event ID"},
		{name: "a parameter twice", raw: "order=oldest&order=newest", wantErr: "given more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vals, err := url.ParseQuery(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseAuditQuery(vals)
			if tt.wantErr != "" {
				ae, ok := asAPIError(err)
				if !ok || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, tt.wantErr) {
					t.Fatalf("error %v, want 400 saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestChangedPart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, target             string
		wantWhat, wantCredential string
	}{
		{name: "the identity", target: trailIdentity, wantWhat: "Identity"},
		{name: "the identity in other case", target: strings.ToUpper(trailIdentity), wantWhat: "Identity"},
		{name: "a credential", target: trailIdentity + "/federatedIdentityCredentials/pets-ai", wantWhat: "Federated credential", wantCredential: "pets-ai"},
		{name: "the credentials collection", target: trailIdentity + "/federatedIdentityCredentials", wantWhat: "Federated credentials"},
		{name: "something else", target: "/subscriptions/" + trailSub, wantWhat: "/subscriptions/" + trailSub},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			what, cred := changedPart(tt.target, trailIdentity)
			if what != tt.wantWhat || cred != tt.wantCredential {
				t.Errorf("changedPart = %q, %q; want %q, %q", what, cred, tt.wantWhat, tt.wantCredential)
			}
		})
	}
}

// TestTrailStuck: more of the identity's events in one nanosecond than a
// window may hold cannot be paged newest first; the pages say so and end
// rather than repeat. Oldest first still lists them all.
func TestTrailStuck(t *testing.T) {
	t.Parallel()
	b := &trailEvents{}
	b.token(trailNow.Add(-2*time.Hour), store.AuditSuccess)
	for range auditWindowCap + 1 {
		b.token(trailNow.Add(-20*time.Minute), store.AuditDenied)
	}
	b.change(trailNow.Add(-time.Minute), trailIdentity)
	h := newTrailHandler(t, b.list, nil)

	q := auditQuery{Order: orderNewest, Show: showAll, Top: 10}
	var listed int
	for page := 0; ; page++ {
		if page == 20 {
			t.Fatal("newest first: more than 20 pages")
		}
		res, err := readAs(h, readerPrincipal, q)
		if err != nil {
			t.Fatal(err)
		}
		listed += len(res.Events)
		if res.Next == "" {
			if !res.Stuck {
				t.Errorf("newest first ends after %d events without saying it is stuck", listed)
			}
			break
		}
		if res.Stuck || res.Next == q.Cursor {
			t.Fatalf("page %d: stuck %v with a next page %q (cursor %q)", page, res.Stuck, res.Next, q.Cursor)
		}
		q.Cursor = res.Next
	}
	if listed != 1 {
		t.Errorf("newest first listed %d events before it stopped, want the one change above the burst", listed)
	}
	got, _ := pageThrough(t, h, auditQuery{Order: orderOldest, Show: showAll, Top: 100})
	if want := b.want(showAll, ""); !slices.Equal(got, want) {
		t.Errorf("oldest first listed %d events, want %d", len(got), len(want))
	}
}
