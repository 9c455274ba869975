package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fedcred/fedcred/internal/audit"
	"github.com/fedcred/fedcred/internal/store"
)

// The audit trail of an identity is two queries of the audit API, merged:
// the token events of the identity's client ID, and the management events
// whose target is the identity or lies below it (its federated
// credentials). The API pages oldest first with a $skiptoken; the tab pages
// either way with a cursor that is an event ID (or a time made into one):
//
//   - Oldest first reads each query after the cursor, as the API's own
//     paging does, and merges them up to the point both were read to.
//   - Newest first begins by asking each query for its oldest event below the
//     cursor (one request each), then reads time windows backwards from
//     the cursor, each [since, until) read whole: a window starts an hour
//     wide, grows fourfold while it holds too few events and shrinks while
//     it holds more than one API page, until the page is full or the
//     oldest event is reached.
//
// A page makes at most auditMaxCalls requests; one that runs out of them
// shows what it found and continues from where it stopped. Events are
// stamped before they are queued and stored, so one can be stored after a
// later-stamped one has been listed: a page lists what is stored when it is
// read, and Refresh reads the newest again.

// Paging of the audit tab.
const (
	auditDefaultTop = 25
	auditMaxTop     = 100
	// auditMaxCalls bounds the audit API requests one page makes.
	auditMaxCalls = 48
	// auditWindowCalls bounds the requests that read one window of one
	// query; a window that needs more is narrowed.
	auditWindowCalls = 4
	// auditWindowCap is how many events of one query a window may hold
	// before it is narrowed.
	auditWindowCap = audit.MaxPageSize
	auditFirstSpan = time.Hour
	auditMaxSpan   = 100 * 365 * 24 * time.Hour
)

// Orders and event groups the tab offers.
const (
	orderNewest = "newest"
	orderOldest = "oldest"
	showAll     = "all"
	showTokens  = "tokens"
	showChanges = "changes"
)

// tokenKinds are the event kinds of the token query.
func tokenKinds() []string { return []string{store.AuditTokenIssued, store.AuditTokenRefused} }

// changeKinds are the event kinds of the change query.
func changeKinds() []string {
	return []string{store.AuditResourceWrite, store.AuditResourceDelete, store.AuditResourceAction}
}

// auditQuery is what the tab's address asks for.
type auditQuery struct {
	Order   string
	Show    string
	Outcome string
	Top     int
	// Cursor is an event ID: the page lists events before it (newest
	// first, parameter "before") or after it (oldest first, "after").
	Cursor string
}

// parseAuditQuery reads the tab's parameters; a value the form cannot
// produce is refused.
func parseAuditQuery(vals url.Values) (auditQuery, error) {
	q := auditQuery{Order: orderNewest, Show: showAll, Top: auditDefaultTop}
	bad := func(msg string) error {
		return &apiError{Status: http.StatusBadRequest, Code: "InvalidQueryParameter", Message: msg}
	}
	for name, vs := range vals {
		if len(vs) > 1 {
			return q, bad(fmt.Sprintf("The parameter '%s' is given more than once.", clip(name, 64)))
		}
	}
	if v := vals.Get("order"); v != "" {
		if v != orderNewest && v != orderOldest {
			return q, bad("The order must be newest or oldest.")
		}
		q.Order = v
	}
	if v := vals.Get("show"); v != "" {
		if v != showAll && v != showTokens && v != showChanges {
			return q, bad("Show must be all, tokens or changes.")
		}
		q.Show = v
	}
	if v := vals.Get("outcome"); v != "" {
		if v != store.AuditSuccess && v != store.AuditDenied && v != store.AuditFailed {
			return q, bad("The outcome must be success, denied or failed.")
		}
		q.Outcome = v
	}
	if v := vals.Get("top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > auditMaxTop {
			return q, bad(fmt.Sprintf("The page size must be from 1 to %d.", auditMaxTop))
		}
		q.Top = n
	}
	cursor := "before"
	if q.Order == orderOldest {
		cursor = "after"
	}
	if v := vals.Get(cursor); v != "" {
		if _, ok := eventTime(v); !ok {
			return q, bad("The page address is not valid: its '" + cursor + "' is not an audit event ID.")
		}
		q.Cursor = v
	}
	return q, nil
}

// values is the query as tab parameters, without the cursor; defaults are
// left out.
func (q auditQuery) values() url.Values {
	v := url.Values{}
	if q.Order != orderNewest {
		v.Set("order", q.Order)
	}
	if q.Show != showAll {
		v.Set("show", q.Show)
	}
	if q.Outcome != "" {
		v.Set("outcome", q.Outcome)
	}
	if q.Top != auditDefaultTop {
		v.Set("top", strconv.Itoa(q.Top))
	}
	return v
}

// pageURL is the tab's address for the page at cursor ("" for the first).
func (q auditQuery) pageURL(base, cursor string) string {
	v := q.values()
	if cursor != "" {
		if q.Order == orderOldest {
			v.Set("after", cursor)
		} else {
			v.Set("before", cursor)
		}
	}
	if len(v) == 0 {
		return base
	}
	return base + "?" + v.Encode()
}

// eventTime reads the time at the start of an event ID, checking the ID's
// shape as the audit API does: the time in store.AuditTimeFormat, "-", and
// 1 to 32 lower-case hexadecimal digits.
func eventTime(id string) (time.Time, bool) {
	ts, suffix, ok := strings.Cut(id, "-")
	if !ok || len(ts) != len(store.AuditTimeFormat) || len(suffix) == 0 || len(suffix) > 32 {
		return time.Time{}, false
	}
	if strings.ContainsFunc(suffix, func(r rune) bool { return (r < '0' || r > '9') && (r < 'a' || r > 'f') }) {
		return time.Time{}, false
	}
	t, err := time.Parse(store.AuditTimeFormat, ts)
	return t, err == nil
}

// timeCursor is a cursor that sorts before every event stamped at t or
// later and after every earlier one.
func timeCursor(t time.Time) string {
	return t.UTC().Format(store.AuditTimeFormat) + "-0"
}

// auditStreams are the API queries of an identity's trail: its tokens by
// client ID, and the changes to it and below it by target.
func auditStreams(iv identityView, show, outcome string) []url.Values {
	var out []url.Values
	add := func(kinds []string, key, value string) {
		if value == "" {
			return
		}
		q := url.Values{"kind": {strings.Join(kinds, ",")}, key: {value}}
		if outcome != "" {
			q.Set("outcome", outcome)
		}
		out = append(out, q)
	}
	if show != showChanges {
		add(tokenKinds(), "clientId", iv.ClientID)
	}
	if show != showTokens {
		add(changeKinds(), "target", iv.ID)
	}
	return out
}

// auditResult is one page of a trail.
type auditResult struct {
	// Events are the page's events in the order asked for.
	Events []store.AuditEvent
	// Next is the cursor of the following page; "" when there is none.
	Next string
	// SearchedTo is set when the page stopped before it was full because
	// it made as many requests as it may: the log was read up to (oldest
	// first) or back to (newest first) this time only.
	SearchedTo time.Time
	// Stuck is set when reading cannot go on: more events than a page can
	// read lie within an instant.
	Stuck bool
}

// auditReader reads the audit API in-process, as the signed-in principal.
type auditReader struct {
	h      *Handler
	ctx    context.Context // carries the principal
	tenant string
	calls  int // requests left
}

// fetch makes one request and returns its events and the $skiptoken of its
// nextLink ("" when there is none). A refusal is returned as *apiError.
func (rd *auditReader) fetch(params url.Values) ([]store.AuditEvent, string, error) {
	rd.calls--
	path := "/" + url.PathEscape(rd.tenant) + "/fedcred/auditEvents?" + params.Encode()
	ans, err := rd.h.serve(rd.ctx, rd.h.audit, http.MethodGet, path, "", nil)
	if err != nil {
		return nil, "", err
	}
	if ans.status != http.StatusOK {
		return nil, "", decodeAPIError(ans.status, ans.body)
	}
	var page struct {
		Value    []store.AuditEvent `json:"value"`
		NextLink string             `json:"nextLink"`
	}
	if err := json.Unmarshal(ans.body, &page); err != nil {
		return nil, "", fmt.Errorf("decode audit events: %w", err)
	}
	if page.NextLink == "" {
		return page.Value, "", nil
	}
	u, err := url.Parse(page.NextLink)
	if err != nil {
		return nil, "", fmt.Errorf("audit events: unusable nextLink: %w", err)
	}
	next := u.Query().Get("$skiptoken")
	if _, ok := eventTime(next); !ok {
		return nil, "", errors.New("audit events: nextLink without a usable $skiptoken")
	}
	return page.Value, next, nil
}

// read reads one query's events in [since, until) (a zero time leaves that
// end open) after the event ID after, oldest first, until it has limit
// events, the range is exhausted (next is "") or it has made maxCalls
// requests or used up the page's (it always makes one). next is the ID up
// to which the range was read.
func (rd *auditReader) read(query url.Values, since, until time.Time, after string, limit, maxCalls int) (events []store.AuditEvent, next string, err error) {
	next = after
	for n := 1; ; n++ {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		if !since.IsZero() {
			q.Set("since", since.Format(time.RFC3339Nano))
		}
		if !until.IsZero() {
			q.Set("until", until.Format(time.RFC3339Nano))
		}
		if next != "" {
			q.Set("$skiptoken", next)
		}
		q.Set("$top", strconv.Itoa(min(audit.MaxPageSize, limit-len(events))))
		page, skip, err := rd.fetch(q)
		if err != nil {
			return nil, "", err
		}
		events = append(events, page...)
		next = skip
		if next == "" || len(events) >= limit || n >= maxCalls || rd.calls <= 0 {
			return events, next, nil
		}
	}
}

// oldestFirst reads the page after the cursor: each query is read after it,
// and the page holds the merged events up to the point every query was
// read to.
func (rd *auditReader) oldestFirst(queries []url.Values, after string, top int) (auditResult, error) {
	per := max(1, rd.calls/max(1, len(queries)))
	var all []store.AuditEvent
	frontier := "" // the least ID a query that did not finish was read to
	for _, q := range queries {
		events, next, err := rd.read(q, time.Time{}, time.Time{}, after, top+1, per)
		if err != nil {
			return auditResult{}, err
		}
		all = append(all, events...)
		if next != "" && (frontier == "" || next < frontier) {
			frontier = next
		}
	}
	all = uniqueEvents(all, func(e store.AuditEvent) bool { return frontier == "" || e.ID <= frontier })
	slices.SortFunc(all, func(a, b store.AuditEvent) int { return strings.Compare(a.ID, b.ID) })
	if len(all) > top {
		return auditResult{Events: all[:top], Next: all[top-1].ID}, nil
	}
	res := auditResult{Events: all, Next: frontier}
	if frontier != "" {
		// Only a query that ran out of requests stops short of top+1
		// events and the end.
		res.SearchedTo, _ = eventTime(frontier)
	}
	return res, nil
}

// newestFirst reads the page before the cursor ("" for the newest), window
// by window backwards from the cursor or now. It first asks each query for
// its oldest event below the cursor: a query without one is left out, and
// the windows stop there.
func (rd *auditReader) newestFirst(queries []url.Values, before string, top int, now time.Time) (auditResult, error) {
	var hi time.Time // the window's end, exclusive; zero: open
	ref := now       // where the window's span is measured from
	if before != "" {
		t, _ := eventTime(before)
		hi = t.Add(time.Nanosecond)
		ref = hi
	}
	queries, floor, err := rd.oldestBelow(queries, hi, before)
	if err != nil || len(queries) == 0 {
		return auditResult{}, err
	}
	span := auditFirstSpan
	var found []store.AuditEvent // every event from hi up to the cursor
	for {
		lo, last := ref.Add(-span), false
		if !lo.After(floor) {
			lo, last = floor, true
		}
		events, fits, readTo, err := rd.window(queries, lo, hi)
		if err != nil {
			return auditResult{}, err
		}
		if !fits {
			// Too many events: keep the newer part of the window, at least
			// half of it, and all that was not read.
			mid := lo.Add(ref.Sub(lo) / 2)
			if t, ok := eventTime(readTo); ok && t.After(mid) {
				mid = t
			}
			stuck := !mid.After(lo) || !mid.Before(ref)
			if stuck || rd.calls <= 0 {
				return rd.stopped(found, hi, top, stuck), nil
			}
			span = ref.Sub(mid)
			continue
		}
		for _, e := range events {
			if before == "" || e.ID < before {
				found = append(found, e)
			}
		}
		if len(found) > top || last {
			break
		}
		hi, ref = lo, lo
		if rd.calls <= 0 {
			return rd.stopped(found, hi, top, false), nil
		}
		span = widen(span)
	}
	found = newestOf(found)
	if len(found) > top {
		return auditResult{Events: found[:top], Next: found[top-1].ID}, nil
	}
	return auditResult{Events: found}, nil
}

// oldestBelow asks each query for its oldest event below hi (zero: open)
// and before the ID before, one request each. It returns the queries that
// may have such events and the earliest time they can be at: the oldest
// event's, or, for a query whose request stopped scanning before it found
// one, where it stopped.
func (rd *auditReader) oldestBelow(queries []url.Values, hi time.Time, before string) ([]url.Values, time.Time, error) {
	var live []url.Values
	var floor time.Time
	for _, q := range queries {
		got, next, err := rd.read(q, time.Time{}, hi, "", 1, 1)
		if err != nil {
			return nil, time.Time{}, err
		}
		from := next
		if len(got) > 0 {
			if before != "" && got[0].ID >= before {
				continue // its oldest event below hi is the cursor's or later
			}
			from = got[0].ID
		}
		t, ok := eventTime(from)
		if !ok {
			continue // nothing below hi
		}
		if len(live) == 0 || t.Before(floor) {
			floor = t
		}
		live = append(live, q)
	}
	return live, floor, nil
}

// widen is the span of the window after one that held too few events.
func widen(span time.Duration) time.Duration {
	if span > auditMaxSpan/4 {
		return auditMaxSpan
	}
	return span * 4
}

// window reads every query's events in [lo, hi). fits is false when a
// query holds more than auditWindowCap events there, or more than
// auditWindowCalls requests could read; readTo is then the ID it was read
// to.
func (rd *auditReader) window(queries []url.Values, lo, hi time.Time) (events []store.AuditEvent, fits bool, readTo string, err error) {
	for _, q := range queries {
		got, next, err := rd.read(q, lo, hi, "", auditWindowCap, auditWindowCalls)
		if err != nil {
			return nil, false, "", err
		}
		if next != "" {
			return nil, false, next, nil
		}
		events = append(events, got...)
	}
	return events, true, "", nil
}

// stopped is the page newest-first reading gives when it cannot go on:
// what it found (every event from hi up to the cursor), and the cursor that
// continues below hi.
func (rd *auditReader) stopped(found []store.AuditEvent, hi time.Time, top int, stuck bool) auditResult {
	found = newestOf(found)
	if len(found) > top {
		return auditResult{Events: found[:top], Next: found[top-1].ID}
	}
	res := auditResult{Events: found, Stuck: stuck}
	if !hi.IsZero() && !stuck {
		res.Next, res.SearchedTo = timeCursor(hi), hi
	}
	if hi.IsZero() {
		// Not even the newest window could be read: there is nothing to
		// continue from.
		res.Stuck = true
	}
	return res
}

// newestOf sorts events newest first, without duplicates.
func newestOf(events []store.AuditEvent) []store.AuditEvent {
	events = uniqueEvents(events, func(store.AuditEvent) bool { return true })
	slices.SortFunc(events, func(a, b store.AuditEvent) int { return strings.Compare(b.ID, a.ID) })
	return events
}

// uniqueEvents keeps the events keep accepts, each ID once.
func uniqueEvents(events []store.AuditEvent, keep func(store.AuditEvent) bool) []store.AuditEvent {
	seen := make(map[string]bool, len(events))
	out := events[:0:0]
	for _, e := range events {
		if !seen[e.ID] && keep(e) {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	return out
}

// readTrail reads one page of an identity's trail as principal p.
func (h *Handler) readTrail(ctx context.Context, tenant string, iv identityView, q auditQuery) (auditResult, error) {
	queries := auditStreams(iv, q.Show, q.Outcome)
	if len(queries) == 0 {
		return auditResult{}, nil
	}
	rd := &auditReader{h: h, ctx: ctx, tenant: tenant, calls: h.auditCalls}
	if q.Order == orderOldest {
		return rd.oldestFirst(queries, q.Cursor, q.Top)
	}
	return rd.newestFirst(queries, q.Cursor, q.Top, h.now())
}

// auditRow is one event as the tab shows it.
type auditRow struct {
	ID, Kind         string
	Time, TimeISO    string
	Event            string
	Result, Outcome  string // Result: success, denied or failed; Outcome: its code or HTTP status
	Reason           string
	Credential       string // the credential matched, come closest, or changed
	CredentialRole   string // matched, closest
	Target           string // a token's resource, or what a change was made to
	TargetID         string
	Action           string
	Caller           string
	CallerDetail     string
	Correlation, Req string
}

// viewAuditEvent turns an event into a row.
func viewAuditEvent(e store.AuditEvent, iv identityView) auditRow {
	r := auditRow{
		ID: e.ID, Kind: e.EventKind, Time: e.Time.UTC().Format("2006-01-02 15:04:05.000 UTC"),
		TimeISO: e.Time.UTC().Format(time.RFC3339Nano), Result: e.Outcome.Result, Outcome: e.Outcome.Code,
		Reason: e.Reason, Action: e.Action, Correlation: e.CorrelationID, Req: e.RequestID,
	}
	if r.Outcome == "" && e.Outcome.Status != 0 {
		r.Outcome = "HTTP " + strconv.Itoa(e.Outcome.Status)
	}
	refused := e.Outcome.Result != store.AuditSuccess
	switch e.EventKind {
	case store.AuditTokenIssued, store.AuditTokenRefused:
		r.Event = "Token issued"
		r.Credential, r.CredentialRole = e.FIC, "matched"
		if e.EventKind == store.AuditTokenRefused {
			r.Event, r.CredentialRole = "Token refused", "closest"
			if e.Outcome.Result == store.AuditFailed {
				r.Event = "Token request failed"
			}
		}
		r.Target, r.TargetID = e.Target, e.Target
		r.Caller = e.SourceIP
		var detail []string
		if e.UserAgent != "" {
			detail = append(detail, e.UserAgent)
		}
		if e.Action != "" {
			detail = append(detail, "with a "+strings.ReplaceAll(e.Action, "_", " "))
		}
		r.CallerDetail = strings.Join(detail, " · ")
	default:
		r.Event = map[string]string{
			store.AuditResourceWrite: "Created or updated", store.AuditResourceDelete: "Deleted", store.AuditResourceAction: "Action",
		}[e.EventKind]
		if r.Event == "" {
			r.Event = e.EventKind
		}
		if refused {
			r.Event = map[string]string{
				store.AuditResourceWrite: "Change refused", store.AuditResourceDelete: "Delete refused",
			}[e.EventKind]
			if r.Event == "" {
				r.Event = "Action refused"
			}
		}
		r.TargetID = e.Target
		r.Target, r.Credential = changedPart(e.Target, iv.ID)
		r.Caller, r.CallerDetail = e.Actor.ClientID, e.Actor.Type
		if r.Caller == "" {
			r.Caller = e.Actor.ObjectID
		}
	}
	return r
}

// changedPart names what a change under identityID was made to, and the
// federated credential it concerns.
func changedPart(target, identityID string) (what, credential string) {
	if len(target) < len(identityID) || !strings.EqualFold(target[:len(identityID)], identityID) {
		return target, ""
	}
	rest := strings.Trim(target[len(identityID):], "/")
	if rest == "" {
		return "Identity", ""
	}
	kind, name, _ := strings.Cut(rest, "/")
	if strings.EqualFold(kind, "federatedIdentityCredentials") {
		if name == "" {
			return "Federated credentials", ""
		}
		return "Federated credential", name
	}
	return rest, ""
}

// auditData is an identity's audit tab.
type auditData struct {
	base
	Identity                 identityView
	Query                    auditQuery
	Orders, Shows, Outcomes  []option
	Rows                     []auditRow
	Paged                    bool
	FirstURL, NextURL        string
	FirstLabel, NextLabel    string
	SearchedTo               string
	Stuck                    bool
	Forbidden                bool
	TopParam                 string // the page size when it is not the default
	TokenCommand, ChangesCmd string
}

// identityAudit answers GET .../identities/{name}/audit: the identity's
// token events and the changes made to it and its federated credentials,
// read from the audit API as the visitor.
func (h *Handler) identityAudit(v *visit) error {
	iv, err := h.readIdentity(v)
	if err != nil {
		return err
	}
	q, err := parseAuditQuery(v.r.URL.Query())
	if err != nil {
		return err
	}
	d := &auditData{
		base: base{Title: iv.Name + " · Audit", Nav: "identities", Crumbs: identityCrumbs(iv, "Audit"),
			Tabs: identityTabs(iv, "Audit")},
		Identity: iv, Query: q, Paged: q.Cursor != "",
		Orders: []option{{Label: "Newest first", Value: orderNewest}, {Label: "Oldest first", Value: orderOldest}},
		Shows: []option{{Label: "Tokens and changes", Value: showAll}, {Label: "Tokens only", Value: showTokens},
			{Label: "Changes only", Value: showChanges}},
		Outcomes: []option{{Label: "Any outcome", Value: ""}, {Label: "Success", Value: store.AuditSuccess},
			{Label: "Denied", Value: store.AuditDenied}, {Label: "Failed", Value: store.AuditFailed}},
		FirstURL:   q.pageURL(iv.AuditURL, ""),
		FirstLabel: "Newest", NextLabel: "Older events",
		TokenCommand: "fedcred audit list --since 90d --kind " + strings.Join(tokenKinds(), ",") + " --client-id " + iv.ClientID + " -o table",
		ChangesCmd:   "fedcred audit list --since 90d --kind " + strings.Join(changeKinds(), ",") + " --target '" + iv.ID + "' -o table",
	}
	if q.Order == orderOldest {
		d.FirstLabel, d.NextLabel = "Oldest", "Later events"
	}
	if q.Top != auditDefaultTop {
		d.TopParam = strconv.Itoa(q.Top)
	}
	choose(d.Orders, q.Order)
	choose(d.Shows, q.Show)
	choose(d.Outcomes, q.Outcome)
	tenant := iv.TenantID
	if tenant == "" {
		tenant = h.cfg.TenantID
	}
	res, err := h.readTrail(h.cfg.WithPrincipal(v.r.Context(), v.p), tenant, iv, q)
	if err != nil {
		ae, ok := asAPIError(err)
		if !ok {
			return err
		}
		d.Error, d.Forbidden = ae, ae.Status == http.StatusForbidden
		return v.show(h, ae.Status, "audit", d)
	}
	for _, e := range res.Events {
		d.Rows = append(d.Rows, viewAuditEvent(e, iv))
	}
	if res.Next != "" {
		d.NextURL = q.pageURL(iv.AuditURL, res.Next)
	}
	if !res.SearchedTo.IsZero() {
		d.SearchedTo = res.SearchedTo.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	d.Stuck = res.Stuck
	return v.show(h, http.StatusOK, "audit", d)
}

// choose marks the option whose value is value.
func choose(opts []option, value string) {
	for i := range opts {
		opts[i].Selected = opts[i].Value == value
	}
}

// clip shortens s to at most n bytes for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
