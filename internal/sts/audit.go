package sts

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// Audit events of the token endpoints. Each issued token and each refused
// token request of a known tenant becomes one event (Config.Audit): who
// (the client, and its principal when the client exists), which resource,
// how it authenticated, which federated credential matched or came
// closest, the AADSTS code, the correlation and trace IDs, the source IP
// and the user agent. Never the assertion, the secret or the token.
// Refusals for a tenant that does not exist belong to no tenant's log and
// are only logged.

// auditIssued records an issued token.
func (h *Handler) auditIssued(r *http.Request, tenant store.Tenant, cl client, auth authResult, req tokenRequest, corr string) {
	if h.audit == nil {
		return
	}
	e := h.tokenEvent(r, store.AuditTokenIssued, corr)
	e.TenantID = tenant.ID
	e.ClientID = req.clientID
	e.Target = req.resource
	e.Action = "client_" + auth.method
	e.FIC = auth.fic
	e.Outcome = store.AuditOutcome{Result: store.AuditSuccess, Status: http.StatusOK}
	setActor(&e, cl)
	h.audit.Enqueue(e)
}

// auditRefusal records a refused token request. It reads what the refusal
// does not carry (the tenant, the client) again from the store, which
// serves from memory, so the token path itself stays as it is.
func (h *Handler) auditRefusal(r *http.Request, e *Error, traceID, corr string) {
	if h.audit == nil || r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/token") {
		return
	}
	ev := h.tokenEvent(r, store.AuditTokenRefused, corr)
	ev.RequestID = traceID
	ev.ClientID = formClientID(r)
	ev.Target = formResource(r)
	ev.Reason = e.Hint
	ev.Outcome = store.AuditOutcome{Result: store.AuditDenied, Status: e.Status, Code: "AADSTS" + strconv.Itoa(e.Code)}
	if e.Status >= http.StatusInternalServerError {
		ev.Outcome.Result = store.AuditFailed
	}
	for i := 0; i+1 < len(e.Log); i += 2 {
		if k, _ := e.Log[i].(string); k == "closest_fic" {
			ev.FIC, _ = e.Log[i+1].(string)
		}
	}
	switch {
	case r.PostForm.Get("client_assertion") != "":
		ev.Action = "client_assertion"
	case r.PostForm.Get("client_secret") != "" || r.Header.Get("Authorization") != "":
		ev.Action = "client_secret"
	}
	ctx := r.Context()
	_ = h.store.View(ctx, func(tx store.Tx) error {
		t, terr := lookupTenant(ctx, tx, r.PathValue("tenant"))
		if terr != nil {
			return nil
		}
		ev.TenantID = t.ID
		if ev.ClientID == "" {
			return nil
		}
		if cl, found, err := lookupClient(ctx, tx, t.ID, ev.ClientID); err == nil && found {
			setActor(&ev, cl)
		}
		return nil
	})
	if ev.TenantID == "" {
		return
	}
	h.audit.Enqueue(ev)
}

// tokenEvent is the part of a token event every request has.
func (h *Handler) tokenEvent(r *http.Request, kind, corr string) store.AuditEvent {
	return store.AuditEvent{
		Time:          h.now(),
		EventKind:     kind,
		CorrelationID: corr,
		SourceIP:      r.RemoteAddr,
		UserAgent:     r.UserAgent(),
	}
}

// setActor names the client's principal as the event's actor.
func setActor(e *store.AuditEvent, cl client) {
	if cl.identity != nil {
		e.Actor = store.AuditActor{ObjectID: cl.identity.PrincipalID, ClientID: cl.identity.ClientID, Type: "ManagedIdentity"}
		e.SubscriptionID = cl.identity.SubscriptionID
		return
	}
	if cl.sp != nil {
		e.Actor = store.AuditActor{ObjectID: cl.sp.ObjectID, ClientID: cl.sp.ClientID, Type: "ServicePrincipal"}
	}
}

// formClientID is the request's client_id, or the user of its HTTP Basic
// credentials.
func formClientID(r *http.Request) string {
	if id := r.PostForm.Get("client_id"); id != "" {
		return id
	}
	if user, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(user); err == nil {
			return u
		}
	}
	return ""
}

// formResource is the resource the request asked for: the resource of its
// scope (the scope itself when it is not a single <resource>/.default), else
// its resource= (the v1 endpoints).
func formResource(r *http.Request) string {
	scope := r.PostForm.Get("scope")
	if scope == "" {
		return r.PostForm.Get("resource")
	}
	if res, err := resourceFromScope(scope); err == nil {
		return res
	}
	return scope
}
