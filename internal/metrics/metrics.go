package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fedcred/fedcred/internal/audit"
)

// Path is where the server serves the metrics.
const Path = "/metrics"

// Mirror is the state of the server's in-memory store copy;
// *mirror.Mirror implements it.
type Mirror interface {
	// Seq is the sequence number of the last change applied.
	Seq() int64
	// Serving reports whether reads are answered.
	Serving() bool
	// Fenced reports whether a writer has fenced the replica off.
	Fenced() bool
}

// Config configures a Registry. Every field is optional.
type Config struct {
	// Mirror, when set, is reported at each scrape as
	// fedcred_mirror_applied_seq, fedcred_mirror_serving and
	// fedcred_mirror_fenced.
	Mirror Mirror
	// AuditStats, when set, is read at each scrape for the
	// fedcred_audit_events_* metrics.
	AuditStats func() audit.Stats
	// Now is the clock request durations are measured with; defaults to
	// time.Now.
	Now func() time.Time
	// Logger receives errors of the metrics handler; defaults to a logger
	// that discards.
	Logger *slog.Logger
}

// Registry holds one server's metrics. Its methods are safe for concurrent
// use, and a nil *Registry records nothing.
type Registry struct {
	reg *prometheus.Registry
	now func() time.Time
	log *slog.Logger

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	httpInFlight  prometheus.Gauge
	tokenRequests *prometheus.CounterVec
	tokenDuration *prometheus.HistogramVec
}

// Histogram buckets, in seconds. A token request answered from memory
// takes about a millisecond; one that fetches a remote issuer's keys may
// take seconds. Management writes wait for replicas to apply them.
var (
	tokenBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	httpBuckets  = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
)

// New returns a Registry with fedcred's metrics, the Go runtime's and the
// process's.
func New(cfg Config) (*Registry, error) {
	r := &Registry{reg: prometheus.NewRegistry(), now: cfg.Now, log: cfg.Logger}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fedcred_http_requests_total",
		Help: "HTTP requests served, by route class, method and status class.",
	}, []string{"route", "method", "status_class"})
	r.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fedcred_http_request_duration_seconds",
		Help:    "Time from a request's arrival to its handler's return, by route class.",
		Buckets: httpBuckets,
	}, []string{"route"})
	r.httpInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "fedcred_http_requests_in_flight",
		Help: "HTTP requests being served.",
	})
	r.tokenRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fedcred_token_requests_total",
		Help: "Token requests, by outcome (issued, refused), AADSTS code of a refusal, endpoint (v1, v2, adfs) and client kind.",
	}, []string{"outcome", "code", "endpoint", "client_kind"})
	r.tokenDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fedcred_token_request_duration_seconds",
		Help:    "Time to answer a token request, by outcome and endpoint.",
		Buckets: tokenBuckets,
	}, []string{"outcome", "endpoint"})

	cs := []prometheus.Collector{
		r.httpRequests, r.httpDuration, r.httpInFlight, r.tokenRequests, r.tokenDuration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	if cfg.Mirror != nil {
		cs = append(cs, mirrorCollector(cfg.Mirror))
	}
	if cfg.AuditStats != nil {
		cs = append(cs, auditCollector(cfg.AuditStats))
	}
	var errs []error
	for _, c := range cs {
		if err := r.reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	r.initTokenSeries()
	return r, nil
}

// Handler serves the metrics in Prometheus' exposition formats.
func (r *Registry) Handler() http.Handler {
	if r == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		ErrorLog:            errorLog{r.log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// errorLog adapts a *slog.Logger to promhttp.Logger.
type errorLog struct{ log *slog.Logger }

// Println logs a metrics handler error.
func (l errorLog) Println(v ...any) {
	l.log.Warn("metrics handler", "err", fmt.Sprint(v...))
}
