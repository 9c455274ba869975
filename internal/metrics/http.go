package metrics

import (
	"net/http"
	"strconv"
	"time"
)

// Route is the class of an HTTP request's path, the route label of the
// HTTP metrics: one value per part of the server, never the path itself.
type Route string

// The route classes.
const (
	// RouteToken is the token service: token endpoints, tenant metadata
	// and keys, instance discovery, the AD FS-style authority.
	RouteToken Route = "token"
	// RouteManagement is the ARM-shaped management API.
	RouteManagement Route = "management"
	// RouteVault is the Key Vault data plane.
	RouteVault Route = "vault"
	// RouteGraph is the Graph-shaped applications API.
	RouteGraph Route = "graph"
	// RoutePortal is the web portal.
	RoutePortal Route = "portal"
	// RouteIssuer is the cluster OIDC issuers.
	RouteIssuer Route = "issuer"
	// RouteAudit is the audit API.
	RouteAudit Route = "audit"
	// RouteOther is everything else: health checks, metrics, unknown paths.
	RouteOther Route = "other"
)

// label is r when it is one of the route classes, else RouteOther.
func (r Route) label() string {
	switch r {
	case RouteToken, RouteManagement, RouteVault, RouteGraph, RoutePortal, RouteIssuer, RouteAudit:
		return string(r)
	}
	return string(RouteOther)
}

// StartRequest counts an HTTP request in flight and returns the function
// that records its end, to be called once, with its route class, method
// and status code (0 counts as 200, as net/http sends when a handler writes
// nothing).
func (r *Registry) StartRequest() (done func(route Route, method string, status int)) {
	if r == nil {
		return func(Route, string, int) {}
	}
	start := r.now()
	r.httpInFlight.Inc()
	return func(route Route, method string, status int) {
		r.httpInFlight.Dec()
		r.httpRequests.WithLabelValues(route.label(), methodLabel(method), statusClass(status)).Inc()
		r.httpDuration.WithLabelValues(route.label()).Observe(seconds(r.now().Sub(start)))
	}
}

// methodLabel is method when it is a standard HTTP method, else "OTHER".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// statusClass is "2xx" for 200 to 299 and so on; "other" outside 100-599.
func statusClass(status int) string {
	if status == 0 {
		status = http.StatusOK
	}
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

// seconds is d in seconds, never negative (a clock set back mid-request).
func seconds(d time.Duration) float64 {
	return max(d, 0).Seconds()
}
