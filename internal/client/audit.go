package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// auditPageSize is the page size the client asks the audit API for (its
// maximum).
const auditPageSize = 1000

// AuditActor is who made an audited request.
type AuditActor struct {
	ObjectID string `json:"objectId,omitempty"`
	ClientID string `json:"clientId,omitempty"`
	// Type is ManagedIdentity, ServicePrincipal or System.
	Type string `json:"type,omitempty"`
}

// AuditOutcome is how an audited request ended.
type AuditOutcome struct {
	// Result is success, denied or failed.
	Result string `json:"result"`
	Status int    `json:"status,omitempty"`
	// Code is an AADSTS code (AADSTS700213) or an ARM error code.
	Code string `json:"code,omitempty"`
}

// AuditEvent is one entry of a tenant's audit log, as the audit API returns
// it.
type AuditEvent struct {
	ID             string       `json:"id"`
	TenantID       string       `json:"tenantId"`
	Time           time.Time    `json:"time"`
	Kind           string       `json:"kind"`
	Actor          AuditActor   `json:"actor"`
	ClientID       string       `json:"clientId,omitempty"`
	Target         string       `json:"target,omitempty"`
	SubscriptionID string       `json:"subscriptionId,omitempty"`
	Action         string       `json:"action,omitempty"`
	Outcome        AuditOutcome `json:"outcome"`
	FIC            string       `json:"fic,omitempty"`
	Reason         string       `json:"reason,omitempty"`
	CorrelationID  string       `json:"correlationId,omitempty"`
	RequestID      string       `json:"requestId,omitempty"`
	SourceIP       string       `json:"sourceIp,omitempty"`
	UserAgent      string       `json:"userAgent,omitempty"`
}

// AuditQuery selects audit events. Zero fields do not filter.
type AuditQuery struct {
	// TenantID defaults to Options.TenantID.
	TenantID string
	// Since (inclusive) and Until (exclusive) bound the event times.
	Since, Until time.Time
	// Kinds are event kinds such as token.refused.
	Kinds []string
	// Actor is a principal's object ID or client ID.
	Actor string
	// ClientID is the client a token was requested for, or the management
	// caller's client ID.
	ClientID string
	// Target is a resource ID or token resource: it and everything below it.
	Target string
	// Outcome is success, denied or failed.
	Outcome string
	// Top is the most events to return (required, positive).
	Top int
}

// ListAuditEvents returns up to q.Top of a tenant's audit events, oldest
// first, following the API's pages. more reports that the listing stopped at
// q.Top while the API had further pages: further matching events may
// follow the last one returned.
func (c *Client) ListAuditEvents(ctx context.Context, q AuditQuery) (events []AuditEvent, more bool, err error) {
	tenant := q.TenantID
	if tenant == "" {
		tenant = c.tenantID
	}
	switch {
	case tenant == "":
		return nil, false, errors.New("list audit events: tenant is required")
	case q.Top <= 0:
		return nil, false, errors.New("list audit events: top must be positive")
	}
	vals := url.Values{}
	if !q.Since.IsZero() {
		vals.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		vals.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
	if len(q.Kinds) > 0 {
		vals.Set("kind", strings.Join(q.Kinds, ","))
	}
	for k, v := range map[string]string{"actor": q.Actor, "clientId": q.ClientID, "target": q.Target, "outcome": q.Outcome} {
		if v != "" {
			vals.Set(k, v)
		}
	}
	vals.Set("$top", strconv.Itoa(min(q.Top, auditPageSize)))
	next := c.server + "/" + url.PathEscape(tenant) + "/fedcred/auditEvents?" + vals.Encode()
	events = []AuditEvent{}
	seen := map[string]bool{}
	for page := 0; next != ""; page++ {
		if page == maxPages {
			return nil, false, fmt.Errorf("list audit events: more than %d pages", maxPages)
		}
		if seen[next] {
			return nil, false, errors.New("list audit events: nextLink repeats a page")
		}
		seen[next] = true
		var body struct {
			Value    []AuditEvent `json:"value"`
			NextLink string       `json:"nextLink"`
		}
		if _, err := c.do(ctx, call{api: armAPI, method: http.MethodGet, url: next, out: &body}); err != nil {
			return nil, false, wrap("list audit events", err)
		}
		for _, e := range body.Value {
			if len(events) == q.Top {
				return events, true, nil
			}
			events = append(events, e)
		}
		next = ""
		if body.NextLink != "" {
			if len(events) == q.Top {
				return events, true, nil
			}
			if next, err = c.onServer(body.NextLink); err != nil {
				return nil, false, wrap("list audit events", err)
			}
		}
	}
	return events, false, nil
}
