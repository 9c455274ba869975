package metrics

import (
	"strconv"

	"github.com/fedcred/fedcred/internal/sts"
)

var _ sts.Metrics = (*Registry)(nil)

// Token request label values.
const (
	outcomeIssued  = "issued"
	outcomeRefused = "refused"
	codeNone       = "none"
	kindUnknown    = "unknown"
	endpointOther  = "other"
)

// TokenRequest counts one token request and observes its latency; it
// implements sts.Metrics.
func (r *Registry) TokenRequest(o sts.TokenOutcome) {
	if r == nil {
		return
	}
	outcome, code := outcomeIssued, codeNone
	if !o.Issued {
		outcome = outcomeRefused
		if o.Code > 0 {
			code = "AADSTS" + strconv.Itoa(o.Code)
		}
	}
	endpoint := endpointLabel(o.Endpoint)
	r.tokenRequests.WithLabelValues(outcome, code, endpoint, clientKindLabel(o.ClientKind)).Inc()
	r.tokenDuration.WithLabelValues(outcome, endpoint).Observe(seconds(o.Duration))
}

// initTokenSeries creates the issued series at zero, so that rates over
// them are defined before the first token.
func (r *Registry) initTokenSeries() {
	for _, e := range []string{sts.EndpointV1, sts.EndpointV2, sts.EndpointADFS} {
		for _, k := range []string{sts.ClientKindIdentity, sts.ClientKindServicePrincipal} {
			r.tokenRequests.WithLabelValues(outcomeIssued, codeNone, e, k)
		}
		r.tokenDuration.WithLabelValues(outcomeIssued, e)
		r.tokenDuration.WithLabelValues(outcomeRefused, e)
	}
}

func endpointLabel(e string) string {
	switch e {
	case sts.EndpointV1, sts.EndpointV2, sts.EndpointADFS:
		return e
	}
	return endpointOther
}

func clientKindLabel(k string) string {
	switch k {
	case sts.ClientKindIdentity, sts.ClientKindServicePrincipal:
		return k
	}
	return kindUnknown
}
