// Package audit is fedcred's append-only audit log: every token the token
// service issues or refuses, and every change made through the management
// API (identities, federated credentials, clusters and their keys, vaults,
// trusted issuers, role assignments), as store.AuditEvent entries, and the
// API that reads them back:
//
//	GET /{tenant}/fedcred/auditEvents?since=&until=&kind=&actor=&clientId=&target=&outcome=&$top=&$skiptoken=
//
// # Writing
//
// A Log writes events two ways. Token events (Enqueue) go through a bounded
// in-memory queue that one background writer (Run) drains in batches, one
// store.Update per batch, so the token hot path never waits on the
// database: when the queue is full the event is dropped, counted
// (Stats.Dropped) and a warning logged at most every DropWarnEvery; the
// request is never blocked. Management events (Write) are written
// synchronously, after the change they record has committed: they are rare,
// a caller that lists the log right after a change sees it, and a flood of
// token requests filling the queue cannot push a management change out of
// the log. (What anyone can send without credentials, such as a refused
// key publication, is queued like a token refusal.) When a synchronous
// write fails the event is queued for the background writer instead. A batch that fails is retried twice with
// backoff, then counted as failed (Stats.Failed) and logged. When Run's
// context ends it drains the queue for at most Config.DrainTimeout, so a
// server that shuts down after its in-flight requests loses no queued
// event.
//
// The Log only ever creates events: no API updates or deletes one. The one
// exception is retention: Prune deletes events older than a given age, and
// the server's maintenance loop calls it (default 90 days).
//
// Events never hold a token, a client assertion, a secret value or a request
// body. Every text field is bounded and stripped of control characters
// before it is stored (the user agent to 256 bytes, a target to 2048). The
// source IP is the TCP peer of the request (r.RemoteAddr): X-Forwarded-For
// is not trusted, as fedcred has no trusted-proxy setting.
//
// Keys are "<tenant>/<ID>", where the ID is the event's UTC time in
// store.AuditTimeFormat (fixed width, nanoseconds), "-", a per-process
// sequence number and random bits: time-ordered and unique across replicas,
// so a tenant prefix and an after key page through the log chronologically.
// Events stamped in the same nanosecond by one process keep their order.
//
// # Reading
//
// Handler serves the log of one tenant. The caller authenticates with a
// management-API bearer token and needs the RBAC action ReadAction
// (Fedcred/auditEvents/read; Owner, Contributor and Reader have it through
// their wildcards) at the scope of a subscription of that tenant. It sees
// the events of the subscriptions where it has the action; events that
// belong to no subscription (tokens of service principals, requests naming
// an unknown client) only when it has the action on every subscription of
// the tenant.
//
// Pages are oldest first, the order of the keys: a page never skips or
// repeats an event because another was appended meanwhile, and a consumer
// can resume from its last $skiptoken. Filters: since (inclusive) and until
// (exclusive) as RFC 3339 times, kind (comma-separated), actor (object or
// client ID), clientId, target (an ARM ID or resource: the target itself
// and everything below it, case-insensitively), outcome
// (success|denied|failed). $top is the page size, 1 to 1000 (default 100).
// A request examines at most maxScan events; a page that stopped there may
// hold fewer than $top events, and its nextLink continues the scan.
//
// Events are timestamped when they happen, before they are queued, so an
// event can be stored a moment after a later-stamped one: a consumer that
// tails the log should re-read a few seconds back from its last key.
package audit
