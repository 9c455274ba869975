// Package metrics is fedcred's Prometheus instrumentation: a Registry built
// per server (no package-level state, so several servers in one process and
// parallel tests keep their own counts) that the server's HTTP middleware,
// the token service and scrape-time collectors report to, and the handler
// that exposes it at /metrics.
//
// The metrics:
//
//	fedcred_http_requests_total{route,method,status_class}   counter
//	fedcred_http_request_duration_seconds{route}             histogram
//	fedcred_http_requests_in_flight                          gauge
//	fedcred_token_requests_total{outcome,code,endpoint,client_kind}  counter
//	fedcred_token_request_duration_seconds{outcome,endpoint}         histogram
//	fedcred_mirror_applied_seq                               gauge
//	fedcred_mirror_serving                                   gauge (0 or 1)
//	fedcred_mirror_fenced                                    gauge (0 or 1)
//	fedcred_audit_events_queued                              gauge
//	fedcred_audit_events_written_total                       counter
//	fedcred_audit_events_dropped_total                       counter
//	fedcred_audit_events_failed_total                        counter
//
// plus the Go runtime's go_* and the process's process_* metrics.
//
// Every label takes its value from a fixed set, whatever callers send:
// route is one of the Route constants, method one of the standard HTTP
// methods or OTHER, status_class 1xx to 5xx (other beyond), outcome
// issued or refused, code an AADSTS code (from the token service's fixed
// set) or none, endpoint v1, v2, adfs, client_kind identity,
// servicePrincipal or unknown. No label ever carries a path, a tenant, a client ID, a token or
// a secret, so the series stay few and a scrape reveals no identifier.
package metrics
