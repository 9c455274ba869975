package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/fedcred/fedcred/internal/audit"
	"github.com/fedcred/fedcred/internal/sts"
)

// fakeMirror is a Mirror whose state the test sets.
type fakeMirror struct {
	mu              sync.Mutex
	seq             int64
	serving, fenced bool
}

func (m *fakeMirror) set(seq int64, serving, fenced bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq, m.serving, m.fenced = seq, serving, fenced
}

func (m *fakeMirror) Seq() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}

func (m *fakeMirror) Serving() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.serving
}

func (m *fakeMirror) Fenced() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fenced
}

// gather returns the registry's samples of name as label-set → value
// (a histogram's value is its sample count).
func gather(t *testing.T, r *Registry, name string) map[string]float64 {
	t.Helper()
	fams, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			out[labelString(m)] = value(m)
		}
	}
	return out
}

func labelString(m *dto.Metric) string {
	var ls []string
	for _, l := range m.GetLabel() {
		ls = append(ls, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(ls, ",")
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

func newRegistry(t *testing.T, cfg Config) *Registry {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStartRequest_BoundsLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		route  Route
		method string
		status int
		want   string
	}{
		{name: "known route and method", route: RouteToken, method: http.MethodPost, status: 200, want: "method=POST,route=token,status_class=2xx"},
		{name: "unknown route is other", route: Route("/3f2a/secret/path"), method: http.MethodGet, status: 404, want: "method=GET,route=other,status_class=4xx"},
		{name: "empty route is other", route: "", method: http.MethodGet, status: 404, want: "method=GET,route=other,status_class=4xx"},
		{name: "unknown method is OTHER", route: RouteVault, method: "PROPFIND-0123456789", status: 405, want: "method=OTHER,route=vault,status_class=4xx"},
		{name: "lower-case method is OTHER", route: RouteGraph, method: "get", status: 200, want: "method=OTHER,route=graph,status_class=2xx"},
		{name: "nothing written counts as 200", route: RoutePortal, method: http.MethodGet, status: 0, want: "method=GET,route=portal,status_class=2xx"},
		{name: "server error", route: RouteManagement, method: http.MethodPut, status: 503, want: "method=PUT,route=management,status_class=5xx"},
		{name: "informational", route: RouteIssuer, method: http.MethodGet, status: 101, want: "method=GET,route=issuer,status_class=1xx"},
		{name: "status beyond 599", route: RouteAudit, method: http.MethodGet, status: 799, want: "method=GET,route=audit,status_class=other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRegistry(t, Config{})
			done := r.StartRequest()
			if got := gather(t, r, "fedcred_http_requests_in_flight")[""]; got != 1 {
				t.Errorf("in flight during the request = %v, want 1", got)
			}
			done(tt.route, tt.method, tt.status)
			got := gather(t, r, "fedcred_http_requests_total")
			if len(got) != 1 || got[tt.want] != 1 {
				t.Errorf("requests = %v, want only %s = 1", got, tt.want)
			}
			if got := gather(t, r, "fedcred_http_requests_in_flight")[""]; got != 0 {
				t.Errorf("in flight after the request = %v, want 0", got)
			}
		})
	}
}

func TestStartRequest_Duration(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	r := newRegistry(t, Config{Now: clock})

	done := r.StartRequest()
	advance(300 * time.Millisecond)
	done(RouteToken, http.MethodPost, 200)
	done = r.StartRequest()
	advance(-time.Hour) // the clock set back mid-request
	done(RouteToken, http.MethodPost, 200)

	fams, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var h *dto.Histogram
	for _, f := range fams {
		if f.GetName() == "fedcred_http_request_duration_seconds" {
			h = f.GetMetric()[0].GetHistogram()
		}
	}
	if h == nil {
		t.Fatal("no duration histogram")
	}
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 0.3 {
		t.Errorf("durations: %d samples summing to %v, want 2 summing to 0.3 (a negative one counts as 0)", h.GetSampleCount(), h.GetSampleSum())
	}
}

func TestTokenRequest_Labels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   sts.TokenOutcome
		want string
	}{
		{name: "issued to an identity",
			in:   sts.TokenOutcome{Issued: true, Endpoint: sts.EndpointV2, ClientKind: sts.ClientKindIdentity},
			want: "client_kind=identity,code=none,endpoint=v2,outcome=issued"},
		{name: "issued ignores a stray code",
			in:   sts.TokenOutcome{Issued: true, Code: 700213, Endpoint: sts.EndpointV1, ClientKind: sts.ClientKindServicePrincipal},
			want: "client_kind=servicePrincipal,code=none,endpoint=v1,outcome=issued"},
		{name: "refused with a code",
			in:   sts.TokenOutcome{Code: 700213, Endpoint: sts.EndpointADFS, ClientKind: sts.ClientKindIdentity},
			want: "client_kind=identity,code=AADSTS700213,endpoint=adfs,outcome=refused"},
		{name: "refused before the client is known",
			in:   sts.TokenOutcome{Code: 90002, Endpoint: sts.EndpointV2},
			want: "client_kind=unknown,code=AADSTS90002,endpoint=v2,outcome=refused"},
		{name: "refused without a code",
			in:   sts.TokenOutcome{Endpoint: sts.EndpointV2, ClientKind: "managedIdentity"},
			want: "client_kind=unknown,code=none,endpoint=v2,outcome=refused"},
		{name: "unknown endpoint",
			in:   sts.TokenOutcome{Issued: true, Endpoint: "/" + "72f988bf-86f1-41af-91ab-2d7cd011db47", ClientKind: sts.ClientKindIdentity},
			want: "client_kind=identity,code=none,endpoint=other,outcome=issued"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRegistry(t, Config{})
			r.TokenRequest(tt.in)
			got := gather(t, r, "fedcred_token_requests_total")
			if got[tt.want] != 1 {
				t.Errorf("token requests = %v, want %s = 1", got, tt.want)
			}
			var sum float64
			for _, v := range got {
				sum += v
			}
			if sum != 1 {
				t.Errorf("token requests sum to %v, want 1", sum)
			}
		})
	}
}

func TestRegistry_InitialTokenSeries(t *testing.T) {
	t.Parallel()
	r := newRegistry(t, Config{})
	got := gather(t, r, "fedcred_token_requests_total")
	if len(got) != 6 {
		t.Errorf("%d initial token series, want 6 (issued × 3 endpoints × 2 client kinds): %v", len(got), got)
	}
	for k, v := range got {
		if v != 0 || !strings.Contains(k, "outcome=issued") {
			t.Errorf("initial series %s = %v", k, v)
		}
	}
}

func TestRegistry_ScrapeTimeSources(t *testing.T) {
	t.Parallel()
	m := &fakeMirror{}
	m.set(7, true, false)
	var mu sync.Mutex
	stats := audit.Stats{Queued: 3, Written: 10, Dropped: 1, Failed: 2}
	r := newRegistry(t, Config{Mirror: m, AuditStats: func() audit.Stats { mu.Lock(); defer mu.Unlock(); return stats }})

	check := func(want map[string]float64) {
		t.Helper()
		for name, v := range want {
			if got := gather(t, r, name)[""]; got != v {
				t.Errorf("%s = %v, want %v", name, got, v)
			}
		}
	}
	check(map[string]float64{
		"fedcred_mirror_applied_seq": 7, "fedcred_mirror_serving": 1, "fedcred_mirror_fenced": 0,
		"fedcred_audit_events_queued": 3, "fedcred_audit_events_written_total": 10,
		"fedcred_audit_events_dropped_total": 1, "fedcred_audit_events_failed_total": 2,
	})
	// Each scrape reads the sources again.
	m.set(9, false, true)
	mu.Lock()
	stats = audit.Stats{Queued: 0, Written: 14, Dropped: 5, Failed: 2}
	mu.Unlock()
	check(map[string]float64{
		"fedcred_mirror_applied_seq": 9, "fedcred_mirror_serving": 0, "fedcred_mirror_fenced": 1,
		"fedcred_audit_events_queued": 0, "fedcred_audit_events_written_total": 14,
		"fedcred_audit_events_dropped_total": 5,
	})
}

func TestRegistry_WithoutSources(t *testing.T) {
	t.Parallel()
	r := newRegistry(t, Config{})
	for _, name := range []string{"fedcred_mirror_serving", "fedcred_audit_events_queued"} {
		if got := gather(t, r, name); len(got) != 0 {
			t.Errorf("%s reported without a source: %v", name, got)
		}
	}
}

func TestRegistry_IndependentRegistries(t *testing.T) {
	t.Parallel()
	a, b := newRegistry(t, Config{}), newRegistry(t, Config{})
	a.TokenRequest(sts.TokenOutcome{Issued: true, Endpoint: sts.EndpointV2, ClientKind: sts.ClientKindIdentity})
	a.StartRequest()(RouteToken, http.MethodPost, 200)
	if got := gather(t, b, "fedcred_token_requests_total")["client_kind=identity,code=none,endpoint=v2,outcome=issued"]; got != 0 {
		t.Errorf("a token counted by one registry shows in another: %v", got)
	}
	if got := gather(t, b, "fedcred_http_requests_total"); len(got) != 0 {
		t.Errorf("a request counted by one registry shows in another: %v", got)
	}
}

func TestRegistry_Nil(t *testing.T) {
	t.Parallel()
	var r *Registry
	r.TokenRequest(sts.TokenOutcome{Issued: true})
	r.StartRequest()(RouteToken, http.MethodGet, 200)
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil registry's handler answered %d, want 404", rec.Code)
	}
}

func TestRegistry_Handler(t *testing.T) {
	t.Parallel()
	r := newRegistry(t, Config{Mirror: &fakeMirror{seq: 4, serving: true}})
	r.TokenRequest(sts.TokenOutcome{Code: 7000215, Endpoint: sts.EndpointV2, ClientKind: sts.ClientKindServicePrincipal})
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + Path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`fedcred_token_requests_total{client_kind="servicePrincipal",code="AADSTS7000215",endpoint="v2",outcome="refused"} 1`,
		"fedcred_mirror_applied_seq 4",
		"# TYPE fedcred_token_request_duration_seconds histogram",
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the scrape lacks %q", want)
		}
	}
}
