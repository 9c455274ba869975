package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fedcred/fedcred/internal/config"
	"github.com/fedcred/fedcred/internal/metrics"
)

// metricsEnv is a real server started in-process, with its admin
// credentials and a client that trusts its CA.
type metricsEnv struct {
	srv    *Server
	admin  config.Admin
	client *http.Client
}

func startMetricsEnv(t *testing.T, cfg Config) *metricsEnv {
	t.Helper()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	admin, err := readAdmin(filepath.Join(cfg.DataDir, config.AdminFile))
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(admin.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no CA certificate in " + admin.CAFile)
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	t.Cleanup(client.CloseIdleConnections)
	return &metricsEnv{srv: srv, admin: admin, client: client}
}

// do sends a request and returns its status and body.
func (e *metricsEnv) do(t *testing.T, method, rawURL string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// tokenForm is a client-secret request for a Key Vault token.
func tokenForm(clientID, secret string) url.Values {
	return url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret},
		"scope": {"https://vault.azure.net/.default"},
	}
}

// scrape is one parsed /metrics answer and its text.
type scrape struct {
	text     string
	families map[string]*dto.MetricFamily
}

func (e *metricsEnv) scrape(t *testing.T, metricsURL string) scrape {
	t.Helper()
	status, text := e.do(t, http.MethodGet, metricsURL, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", metricsURL, status, text)
	}
	return parseScrape(t, text)
}

func parseScrape(t *testing.T, text string) scrape {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, text)
	}
	return scrape{text: text, families: fams}
}

// value sums the samples of family name whose labels include want.
func (s scrape) value(name string, want map[string]string) float64 {
	f := s.families[name]
	if f == nil {
		return -1
	}
	var sum float64
	for _, m := range f.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// series lists every sample's label set of the fedcred_ families, one
// string each.
func (s scrape) series() []string {
	var out []string
	for name, f := range s.families {
		if !strings.HasPrefix(name, "fedcred_") {
			continue
		}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out = append(out, name+"{"+strings.Join(ls, ",")+"}")
		}
	}
	sort.Strings(out)
	return out
}

// labelValues is every value label takes across the fedcred_ families.
func (s scrape) labelValues(label string) []string {
	var out []string
	for name, f := range s.families {
		if !strings.HasPrefix(name, "fedcred_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && !slices.Contains(out, l.GetValue()) {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestMetrics_CountExchanges(t *testing.T) {
	t.Parallel()
	e := startMetricsEnv(t, Config{})
	metricsURL := e.srv.URL + metrics.Path
	before := e.scrape(t, metricsURL)

	tokenURL := e.srv.URL + "/" + e.admin.TenantID + "/oauth2/v2.0/token"
	status, body := e.do(t, http.MethodPost, tokenURL, tokenForm(e.admin.ClientID, e.admin.ClientSecret))
	if status != http.StatusOK {
		t.Fatalf("token with the admin secret: %d\n%s", status, body)
	}
	var issued struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &issued); err != nil || issued.AccessToken == "" {
		t.Fatalf("token response: %v\n%s", err, body)
	}
	const wrongSecret = "not-the-admin-secret-0123456789"
	if status, body := e.do(t, http.MethodPost, tokenURL, tokenForm(e.admin.ClientID, wrongSecret)); status != http.StatusUnauthorized {
		t.Fatalf("token with a wrong secret: %d\n%s", status, body)
	}
	const unknownClient = "5b0d2c9e-7a41-4f7e-9d3c-0a1b2c3d4e5f"
	if status, body := e.do(t, http.MethodPost, e.srv.URL+"/adfs/oauth2/token", tokenForm(unknownClient, wrongSecret)); status != http.StatusBadRequest {
		t.Fatalf("AD FS token for an unknown client: %d\n%s", status, body)
	}

	after := e.scrape(t, metricsURL)
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		delta  float64
	}{
		{name: "issued token", metric: "fedcred_token_requests_total",
			labels: map[string]string{"outcome": "issued", "code": "none", "endpoint": "v2", "client_kind": "servicePrincipal"}, delta: 1},
		{name: "wrong secret", metric: "fedcred_token_requests_total",
			labels: map[string]string{"outcome": "refused", "code": "AADSTS7000215", "endpoint": "v2", "client_kind": "servicePrincipal"}, delta: 1},
		{name: "unknown client at the AD FS authority", metric: "fedcred_token_requests_total",
			labels: map[string]string{"outcome": "refused", "code": "AADSTS700016", "endpoint": "adfs", "client_kind": "unknown"}, delta: 1},
		{name: "latency of the issued token", metric: "fedcred_token_request_duration_seconds",
			labels: map[string]string{"outcome": "issued", "endpoint": "v2"}, delta: 1},
		{name: "latency of the refusals", metric: "fedcred_token_request_duration_seconds",
			labels: map[string]string{"outcome": "refused"}, delta: 2},
		{name: "token route, success", metric: "fedcred_http_requests_total",
			labels: map[string]string{"route": "token", "method": "POST", "status_class": "2xx"}, delta: 1},
		{name: "token route, refusals", metric: "fedcred_http_requests_total",
			labels: map[string]string{"route": "token", "method": "POST", "status_class": "4xx"}, delta: 2},
		{name: "token route durations", metric: "fedcred_http_request_duration_seconds",
			labels: map[string]string{"route": "token"}, delta: 3},
		{name: "the first scrape", metric: "fedcred_http_requests_total",
			labels: map[string]string{"route": "other", "method": "GET", "status_class": "2xx"}, delta: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := after.value(tt.metric, tt.labels) - max(before.value(tt.metric, tt.labels), 0); got != tt.delta {
				t.Errorf("%s%v moved by %v, want %v", tt.metric, tt.labels, got, tt.delta)
			}
		})
	}
	if got := after.value("fedcred_http_requests_in_flight", nil); got != 1 {
		t.Errorf("requests in flight during a scrape = %v, want 1 (the scrape)", got)
	}

	t.Run("mirror and audit gauges", func(t *testing.T) {
		if after.value("fedcred_mirror_serving", nil) != 1 || after.value("fedcred_mirror_fenced", nil) != 0 ||
			after.value("fedcred_mirror_applied_seq", nil) < 1 {
			t.Errorf("mirror gauges: serving %v fenced %v seq %v", after.value("fedcred_mirror_serving", nil),
				after.value("fedcred_mirror_fenced", nil), after.value("fedcred_mirror_applied_seq", nil))
		}
		// The audit writer stores the three token events in the background.
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := e.scrape(t, metricsURL)
			written, dropped := s.value("fedcred_audit_events_written_total", nil), s.value("fedcred_audit_events_dropped_total", nil)
			if written >= 2 && dropped == 0 && s.value("fedcred_audit_events_queued", nil) >= 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("audit metrics: written %v, dropped %v", written, dropped)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("no identifier or secret in the scrape", func(t *testing.T) {
		sig := issued.AccessToken[strings.LastIndex(issued.AccessToken, ".")+1:]
		for what, s := range map[string]string{
			"admin secret": e.admin.ClientSecret, "wrong secret": wrongSecret, "access token": issued.AccessToken,
			"access token signature": sig, "admin client id": e.admin.ClientID, "unknown client id": unknownClient,
			"tenant id": e.admin.TenantID, "subscription id": e.admin.SubscriptionID, "vault resource": "vault.azure.net",
		} {
			for _, text := range []string{after.text, strings.ToLower(after.text)} {
				if strings.Contains(text, s) || strings.Contains(text, strings.ToLower(s)) {
					t.Errorf("the scrape shows the %s", what)
				}
			}
		}
	})
}

func TestMetrics_BoundedLabels(t *testing.T) {
	t.Parallel()
	e := startMetricsEnv(t, Config{})
	metricsURL := e.srv.URL + metrics.Path
	random := func() string {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	// Paths of every shape, built around random segments.
	shapes := []struct {
		name   string
		method string
		path   func(r string) string
	}{
		{name: "one segment", method: http.MethodGet, path: func(r string) string { return "/" + r }},
		{name: "deep path", method: http.MethodGet, path: func(r string) string { return "/" + r + "/x/" + r + "/y" }},
		{name: "token path of an unknown tenant", method: http.MethodPost, path: func(r string) string { return "/" + r + "/oauth2/token" }},
		{name: "discovery of an unknown tenant", method: http.MethodGet, path: func(r string) string { return "/" + r + "/.well-known/openid-configuration" }},
		{name: "unknown issuer", method: http.MethodGet, path: func(r string) string { return "/oidc/" + r + "/" + r + "/openid/v1/jwks" }},
		{name: "unknown subscription", method: http.MethodGet, path: func(r string) string { return "/subscriptions/" + r + "?api-version=2022-12-01" }},
		{name: "unknown vault", method: http.MethodGet, path: func(r string) string { return "/vaults/" + r + "/secrets/" + r }},
		{name: "odd method", method: "X" + "PURGE", path: func(r string) string { return "/" + r }},
	}
	// One request of each shape first, so every series they can make
	// exists.
	var used []string
	send := func(method, path string) {
		status, _ := e.do(t, method, e.srv.URL+path, nil)
		if status < 400 {
			t.Errorf("%s %s: %d, want a refusal", method, path, status)
		}
	}
	for _, s := range shapes {
		r := random()
		used = append(used, r)
		send(s.method, s.path(r))
	}
	e.scrape(t, metricsURL) // a scrape's own series
	before := e.scrape(t, metricsURL)

	// 100 random paths: one route class, one series.
	for i := range 100 {
		r := random()
		used = append(used, r)
		send(http.MethodGet, shapes[i%2].path(r))
	}
	mid := e.scrape(t, metricsURL)
	other := map[string]string{"route": "other", "method": "GET", "status_class": "4xx"}
	if got := mid.value("fedcred_http_requests_total", other) - before.value("fedcred_http_requests_total", other); got != 100 {
		t.Errorf("other/GET/4xx moved by %v after 100 random paths, want 100", got)
	}
	if b, m := before.series(), mid.series(); !slices.Equal(b, m) {
		t.Errorf("100 random paths changed the series:\nbefore %d: %v\nafter %d: %v", len(b), b, len(m), m)
	}

	// 100 more of every shape add no series either.
	for i := range 100 {
		r := random()
		used = append(used, r)
		s := shapes[i%len(shapes)]
		send(s.method, s.path(r))
	}
	after := e.scrape(t, metricsURL)
	if m, a := mid.series(), after.series(); !slices.Equal(m, a) {
		t.Errorf("random paths of every shape changed the series:\nbefore %d: %v\nafter %d: %v", len(m), m, len(a), a)
	}
	allowed := map[string][]string{
		"route":        {"audit", "graph", "issuer", "management", "other", "portal", "token", "vault"},
		"method":       {"DELETE", "GET", "HEAD", "OPTIONS", "OTHER", "PATCH", "POST", "PUT"},
		"status_class": {"1xx", "2xx", "3xx", "4xx", "5xx", "other"},
		"endpoint":     {"adfs", "v1", "v2"},
		"client_kind":  {"identity", "servicePrincipal", "unknown"},
		"outcome":      {"issued", "refused"},
	}
	for label, values := range allowed {
		for _, v := range after.labelValues(label) {
			if !slices.Contains(values, v) {
				t.Errorf("label %s has value %q, not one of %v", label, v, values)
			}
		}
	}
	for _, v := range after.labelValues("code") {
		if v != "none" && !strings.HasPrefix(v, "AADSTS") {
			t.Errorf("label code has value %q", v)
		}
	}
	for _, r := range used {
		if strings.Contains(after.text, r) {
			t.Fatalf("the scrape shows the random path segment %s", r)
		}
	}
}

func TestMetrics_SeparateListener(t *testing.T) {
	t.Parallel()
	e := startMetricsEnv(t, Config{MetricsListen: "127.0.0.1:0"})
	if e.srv.MetricsAddr == "" {
		t.Fatal("no metrics address")
	}
	metricsURL := "http://" + e.srv.MetricsAddr + metrics.Path

	if status, _ := e.do(t, http.MethodGet, e.srv.URL+metrics.Path, nil); status != http.StatusNotFound {
		t.Errorf("/metrics on the main listener: %d, want 404 when it has its own listener", status)
	}
	tokenURL := e.srv.URL + "/" + e.admin.TenantID + "/oauth2/token"
	form := tokenForm(e.admin.ClientID, e.admin.ClientSecret)
	form.Del("scope")
	form.Set("resource", "https://vault.azure.net")
	if status, body := e.do(t, http.MethodPost, tokenURL, form); status != http.StatusOK {
		t.Fatalf("v1 token: %d\n%s", status, body)
	}
	s := e.scrape(t, metricsURL)
	if got := s.value("fedcred_token_requests_total", map[string]string{"outcome": "issued", "endpoint": "v1", "client_kind": "servicePrincipal"}); got != 1 {
		t.Errorf("issued v1 tokens = %v, want 1", got)
	}
	if got := s.value("fedcred_http_requests_in_flight", nil); got != 0 {
		t.Errorf("in flight = %v, want 0: the metrics listener's own requests are not counted", got)
	}
	for _, tt := range []struct {
		name, method, path string
		want               int
	}{
		{name: "other paths", method: http.MethodGet, path: "/healthz", want: http.StatusNotFound},
		{name: "the token endpoint", method: http.MethodPost, path: "/" + e.admin.TenantID + "/oauth2/token", want: http.StatusNotFound},
		{name: "writes to /metrics", method: http.MethodPost, path: metrics.Path, want: http.StatusMethodNotAllowed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if status, _ := e.do(t, tt.method, "http://"+e.srv.MetricsAddr+tt.path, url.Values{}); status != tt.want {
				t.Errorf("%s %s on the metrics listener: %d, want %d", tt.method, tt.path, status, tt.want)
			}
		})
	}
}

func TestMetrics_SeparateListenerStops(t *testing.T) {
	t.Parallel()
	cfg := Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Get("http://" + srv.MetricsAddr + metrics.Path)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := client.Get("http://" + srv.MetricsAddr + metrics.Path); err == nil {
		res.Body.Close()
		t.Fatal("the metrics listener still answers after Shutdown")
	}
}

func TestMetrics_BadListenAddress(t *testing.T) {
	t.Parallel()
	cfg := Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:99999", Logger: slog.New(slog.DiscardHandler)}
	srv, err := Start(context.Background(), cfg)
	if err == nil {
		srv.Shutdown(context.Background())
		t.Fatal("Start accepted a metrics address with port 99999")
	}
	if !strings.Contains(err.Error(), "metrics") {
		t.Errorf("error %q does not say it is the metrics listener", err)
	}
	// Nothing stays bound or locked: the same data directory starts.
	cfg.MetricsListen = ""
	srv, err = Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start after the failed start: %v", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRouteClass(t *testing.T) {
	t.Parallel()
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tests := []struct {
		name string
		host string
		path string
		want metrics.Route
	}{
		{name: "v2 token endpoint", path: "/" + tenant + "/oauth2/v2.0/token", want: metrics.RouteToken},
		{name: "v1 token endpoint", path: "/" + tenant + "/oauth2/token", want: metrics.RouteToken},
		{name: "tenant discovery", path: "/" + tenant + "/v2.0/.well-known/openid-configuration", want: metrics.RouteToken},
		{name: "tenant keys", path: "/" + tenant + "/discovery/v2.0/keys", want: metrics.RouteToken},
		{name: "instance discovery", path: "/common/discovery/instance", want: metrics.RouteToken},
		{name: "AD FS authority", path: "/adfs/oauth2/token", want: metrics.RouteToken},
		{name: "subscription", path: "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups", want: metrics.RouteManagement},
		{name: "subscription with a leading double slash and odd case", path: "//SUBSCRIPTIONS/x", want: metrics.RouteManagement},
		{name: "ARM metadata", path: "/metadata/endpoints", want: metrics.RouteManagement},
		{name: "vault by path", path: "/vaults/kv/secrets/s", want: metrics.RouteVault},
		{name: "vault by host", host: "kv.vault.azure.net", path: "/secrets/s", want: metrics.RouteVault},
		{name: "graph", path: "/v1.0/applications", want: metrics.RouteGraph},
		{name: "portal", path: "/portal/identities", want: metrics.RoutePortal},
		{name: "portal root", path: "/portal", want: metrics.RoutePortal},
		{name: "cluster issuer", path: "/oidc/" + tenant + "/uid/openid/v1/jwks", want: metrics.RouteIssuer},
		{name: "audit API", path: "/" + tenant + "/fedcred/auditEvents", want: metrics.RouteAudit},
		{name: "health check", path: "/healthz", want: metrics.RouteOther},
		{name: "metrics", path: "/metrics", want: metrics.RouteOther},
		{name: "root", path: "/", want: metrics.RouteOther},
		{name: "two unknown segments", path: "/a/b", want: metrics.RouteOther},
		{name: "other fedcred path of a tenant", path: "/" + tenant + "/fedcred/other", want: metrics.RouteOther},
		{name: "empty tenant segment", path: "//oauth2/token", want: metrics.RouteOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &http.Request{Host: tt.host, URL: &url.URL{Path: tt.path}}
			if r.Host == "" {
				r.Host = "localhost:8443"
			}
			if got := routeClass(r); got != tt.want {
				t.Errorf("routeClass(%s%s) = %s, want %s", tt.host, tt.path, got, tt.want)
			}
		})
	}
}
