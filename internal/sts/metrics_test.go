package sts_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/sts"
)

// recordedMetrics is an sts.Metrics that keeps what it is told.
type recordedMetrics struct {
	mu  sync.Mutex
	out []sts.TokenOutcome
}

func (m *recordedMetrics) TokenRequest(o sts.TokenOutcome) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.out = append(m.out, o)
}

func (m *recordedMetrics) all() []sts.TokenOutcome {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sts.TokenOutcome(nil), m.out...)
}

// metricsRig is a second STS over a rig's store, keys and issuers, with
// Metrics set, and a clock that advances a millisecond per reading.
type metricsRig struct {
	*rig
	metrics *recordedMetrics
	url     string
	client  *http.Client
}

func newMetricsRig(t *testing.T) *metricsRig {
	t.Helper()
	r := newRig(t)
	var mu sync.Mutex
	now := r.now
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}
	rec := &recordedMetrics{}
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	h, err := sts.New(sts.Config{
		Store: r.store, Keys: r.keys, Issuers: r.extra, PublicURL: srv.URL, Now: clock,
		Logger: slog.New(slog.DiscardHandler), Metrics: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(mux)
	return &metricsRig{rig: r, metrics: rec, url: srv.URL, client: srv.Client()}
}

func (m *metricsRig) post(t *testing.T, path string, form url.Values) int {
	t.Helper()
	res, err := m.client.Post(m.url+path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestToken_Metrics(t *testing.T) {
	t.Parallel()
	m := newMetricsRig(t)
	id := m.identity(t, tenantID, "metrics-app", fic("pets", m.issURL, "system:serviceaccount:pets:ai"))
	v1Form := with(with(secretForm(m.sp.ClientID, spSecret), "scope"), "resource", "https://vault.azure.net")
	tests := []struct {
		name       string
		path       string
		form       url.Values
		wantStatus int
		want       sts.TokenOutcome // without Duration
	}{
		{name: "identity with a federated credential, v2", path: v2Path,
			form: assertionForm(id.ClientID, m.saToken(t, "pets", "ai")), wantStatus: http.StatusOK,
			want: sts.TokenOutcome{Issued: true, Endpoint: sts.EndpointV2, ClientKind: sts.ClientKindIdentity}},
		{name: "service principal with a secret, v1", path: v1Path, form: v1Form, wantStatus: http.StatusOK,
			want: sts.TokenOutcome{Issued: true, Endpoint: sts.EndpointV1, ClientKind: sts.ClientKindServicePrincipal}},
		{name: "service principal at the AD FS authority", path: "/adfs/oauth2/token",
			form: secretForm(m.sp.ClientID, spSecret), wantStatus: http.StatusOK,
			want: sts.TokenOutcome{Issued: true, Endpoint: sts.EndpointADFS, ClientKind: sts.ClientKindServicePrincipal}},
		{name: "subject differs", path: v2Path,
			form: assertionForm(id.ClientID, m.saToken(t, "pets", "other")), wantStatus: http.StatusUnauthorized,
			want: sts.TokenOutcome{Code: 700213, Endpoint: sts.EndpointV2, ClientKind: sts.ClientKindIdentity}},
		{name: "wrong secret", path: v1Path, form: with(v1Form, "client_secret", "nope"), wantStatus: http.StatusUnauthorized,
			want: sts.TokenOutcome{Code: 7000215, Endpoint: sts.EndpointV1, ClientKind: sts.ClientKindServicePrincipal}},
		{name: "unknown tenant", path: "/" + otherTenant[:8] + "/oauth2/v2.0/token",
			form: secretForm(m.sp.ClientID, spSecret), wantStatus: http.StatusBadRequest,
			want: sts.TokenOutcome{Code: 90002, Endpoint: sts.EndpointV2}},
		{name: "unregistered resource", path: v2Path,
			form: with(secretForm(m.sp.ClientID, spSecret), "scope", "api://nowhere/.default"), wantStatus: http.StatusBadRequest,
			want: sts.TokenOutcome{Code: 500011, Endpoint: sts.EndpointV2, ClientKind: sts.ClientKindServicePrincipal}},
		{name: "AD FS without a client", path: "/adfs/oauth2/token",
			form: with(secretForm("x", spSecret), "client_id"), wantStatus: http.StatusBadRequest,
			want: sts.TokenOutcome{Code: 900144, Endpoint: sts.EndpointADFS}},
		{name: "AD FS, unknown client", path: "/adfs/oauth2/token",
			form: secretForm(uuidFor("nobody"), spSecret), wantStatus: http.StatusBadRequest,
			want: sts.TokenOutcome{Code: 700016, Endpoint: sts.EndpointADFS}},
		{name: "AD FS, wrong secret", path: "/adfs/oauth2/v2.0/token",
			form: secretForm(m.sp.ClientID, "nope"), wantStatus: http.StatusUnauthorized,
			want: sts.TokenOutcome{Code: 7000215, Endpoint: sts.EndpointADFS, ClientKind: sts.ClientKindServicePrincipal}},
	}
	for _, tt := range tests {
		// Sequential: each request's one outcome is the last recorded.
		t.Run(tt.name, func(t *testing.T) {
			before := len(m.metrics.all())
			if status := m.post(t, tt.path, tt.form); status != tt.wantStatus {
				t.Fatalf("status %d, want %d", status, tt.wantStatus)
			}
			got := m.metrics.all()[before:]
			if len(got) != 1 {
				t.Fatalf("%d outcomes recorded, want 1: %+v", len(got), got)
			}
			if got[0].Duration <= 0 {
				t.Errorf("duration %v, want the time the clock advanced", got[0].Duration)
			}
			got[0].Duration = 0
			if got[0] != tt.want {
				t.Errorf("outcome %+v, want %+v", got[0], tt.want)
			}
		})
	}
}

func TestToken_MetricsOnlyForTokenRequests(t *testing.T) {
	t.Parallel()
	m := newMetricsRig(t)
	for _, p := range []string{
		"/" + tenantID + "/v2.0/.well-known/openid-configuration",
		"/" + tenantID + "/discovery/v2.0/keys",
		"/" + otherTenant[:8] + "/.well-known/openid-configuration",
		"/adfs/.well-known/openid-configuration",
	} {
		res, err := m.client.Get(m.url + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if got := m.metrics.all(); len(got) != 0 {
		t.Errorf("metadata requests counted as token requests: %+v", got)
	}
}
