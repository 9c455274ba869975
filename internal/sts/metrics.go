package sts

import (
	"net/http"
	"time"
)

// Metrics counts token requests (Config.Metrics); *metrics.Registry
// implements it. TokenRequest is called once per token request, after the
// response is written, and must be safe for concurrent use and return at
// once.
type Metrics interface {
	TokenRequest(o TokenOutcome)
}

// TokenOutcome is how one token request ended. It carries nothing that
// names a tenant, a client or a resource, so every field can be a metric
// label.
type TokenOutcome struct {
	// Issued is true for an issued token, false for a refusal.
	Issued bool
	// Code is the AADSTS code of a refusal (0 when issued); the codes form
	// a fixed set, those of the constructors in errors.go.
	Code int
	// Endpoint is EndpointV1, EndpointV2 or EndpointADFS.
	Endpoint string
	// ClientKind is ClientKindIdentity or ClientKindServicePrincipal, or ""
	// when the request was refused before its client was found.
	ClientKind string
	// Duration is how long the request took, from its start to its
	// response written.
	Duration time.Duration
}

// TokenOutcome.Endpoint values: the tenant's v1 and v2 token endpoints and
// the AD FS-style authority (ADFSPath), whichever form it was sent.
const (
	EndpointV1   = "v1"
	EndpointV2   = "v2"
	EndpointADFS = "adfs"
)

// TokenOutcome.ClientKind values.
const (
	ClientKindIdentity         = "identity"
	ClientKindServicePrincipal = "servicePrincipal"
)

// endpointName is the TokenOutcome.Endpoint of a tenant's endpoint.
func endpointName(v endpointVersion) string {
	if v == v1 {
		return EndpointV1
	}
	return EndpointV2
}

// exchange measures one token request for Config.Metrics. A nil *exchange
// (no Metrics configured) records nothing and costs nothing.
type exchange struct {
	metrics Metrics
	now     func() time.Time
	start   time.Time
	out     TokenOutcome
}

// startExchange starts measuring a token request to endpoint.
func (h *Handler) startExchange(endpoint string) *exchange {
	if h.metrics == nil {
		return nil
	}
	return &exchange{metrics: h.metrics, now: h.now, start: h.now(), out: TokenOutcome{Endpoint: endpoint}}
}

// client records the kind of client the request authenticates as.
func (x *exchange) client(cl client) {
	if x == nil {
		return
	}
	switch {
	case cl.identity != nil:
		x.out.ClientKind = ClientKindIdentity
	case cl.sp != nil:
		x.out.ClientKind = ClientKindServicePrincipal
	}
}

// finish records the request's end: refused with e, or issued when e is
// nil.
func (x *exchange) finish(e *Error) {
	if x == nil {
		return
	}
	x.out.Issued = e == nil
	if e != nil {
		x.out.Code = e.Code
	}
	x.out.Duration = x.now().Sub(x.start)
	x.metrics.TokenRequest(x.out)
}

// refuse writes a token request's refusal and records it.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, x *exchange, e *Error, attrs ...any) {
	h.writeError(w, r, e, attrs...)
	x.finish(e)
}
