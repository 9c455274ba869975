package audit

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fedcred/fedcred/internal/store"
)

// Bounds of the text fields of an event, in bytes.
const (
	maxField     = 256  // IDs, names, codes, kinds, actions
	maxTarget    = 2048 // ARM IDs and resources
	maxUserAgent = 256
	maxReason    = 1024
)

// Actor types besides the principal types the management API knows.
const (
	// ActorSystem is the server itself (automatic key rotation).
	ActorSystem = "System"
)

// Kinds lists every event kind, in the order the API documents them.
func Kinds() []string {
	return []string{
		store.AuditTokenIssued, store.AuditTokenRefused,
		store.AuditResourceWrite, store.AuditResourceDelete, store.AuditResourceAction,
		store.AuditKeysRotated, store.AuditKeysPublished,
	}
}

// prepare bounds and cleans every text field, stamps the time in UTC, keeps
// only the host of a SourceIP given as a request's RemoteAddr ("ip:port"),
// and gives e an ID if it has none.
func (l *Log) prepare(e store.AuditEvent) store.AuditEvent {
	e.Time = e.Time.UTC()
	e.TenantID = strings.ToLower(clean(e.TenantID, maxField))
	e.EventKind = clean(e.EventKind, maxField)
	e.Actor.ObjectID = clean(e.Actor.ObjectID, maxField)
	e.Actor.ClientID = clean(e.Actor.ClientID, maxField)
	e.Actor.Type = clean(e.Actor.Type, maxField)
	e.ClientID = clean(e.ClientID, maxField)
	e.Target = clean(e.Target, maxTarget)
	e.SubscriptionID = clean(e.SubscriptionID, maxField)
	e.Action = clean(e.Action, maxField)
	e.Outcome.Result = clean(e.Outcome.Result, maxField)
	e.Outcome.Code = clean(e.Outcome.Code, maxField)
	e.FIC = clean(e.FIC, maxField)
	e.Reason = clean(e.Reason, maxReason)
	e.CorrelationID = clean(e.CorrelationID, maxField)
	e.RequestID = clean(e.RequestID, maxField)
	e.SourceIP = clean(sourceIP(e.SourceIP), maxField)
	e.UserAgent = clean(e.UserAgent, maxUserAgent)
	if e.ID == "" {
		e.ID = l.newID(e)
	}
	return e
}

// newID is the event's time, then a sequence number that keeps one
// process's events of the same nanosecond in order, then random bits that
// keep replicas' events apart.
func (l *Log) newID(e store.AuditEvent) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return fmt.Sprintf("%s-%08x%08x", e.Time.Format(store.AuditTimeFormat), l.seq.Add(1), binary.BigEndian.Uint32(b[:]))
}

// clean makes s safe to store and print: valid UTF-8, control characters
// replaced by spaces, at most limit bytes (cut on a rune boundary, marked
// with "...").
func clean(s string, limit int) string {
	if !strings.ContainsFunc(s, unicode.IsControl) && utf8.ValidString(s) && len(s) <= limit {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) <= limit {
		return s
	}
	cut := limit - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// cutTenant splits a key into its tenant and ID.
func cutTenant(key string) (tenant, id string, ok bool) {
	return strings.Cut(key, "/")
}

// sourceIP is the host of a request's RemoteAddr ("ip:port"); anything else
// is kept as it is.
func sourceIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}
