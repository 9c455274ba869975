package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
)

// Bounds of 'fedcred audit list'.
const (
	defaultAuditSince = "1h"
	defaultAuditTop   = 1000
	maxAuditTop       = 100000
)

// auditKinds and auditOutcomes are the values the audit API accepts.
func auditKinds() []string {
	return []string{"token.issued", "token.refused", "resource.write", "resource.delete", "resource.action", "keys.rotated", "keys.published"}
}

func auditOutcomes() []string { return []string{"success", "denied", "failed"} }

func (a *app) newAuditCommand() *cobra.Command {
	cmd := groupCommand("audit", "Read the audit log of tokens issued and refused and of management changes",
		`  fedcred audit list --since 24h -o table
  fedcred audit list --kind token.refused --client-id CLIENT_ID`)
	a.addClientFlags(cmd)
	cmd.AddCommand(a.newAuditListCommand())
	return cmd
}

func (a *app) newAuditListCommand() *cobra.Command {
	var (
		since, until, actor, clientID, target, outcome string
		kinds                                          []string
		top                                            int
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List audit events, oldest first",
		Long: `List the tenant's audit events, oldest first: every token issued or refused (with the client,
the resource, the federated credential that matched or came closest, and the AADSTS code) and
every change made through the management API, or refused for want of a role (with the caller, the
RBAC action and the resource ID). Events never contain tokens, assertions or secrets.

--since and --until take a duration back from now (90s, 30m, 1h, 7d) or an RFC 3339 time; --since
defaults to 1h. --target selects a resource ID or token resource and everything below it. At most
--top events are printed (default 1000); when more may follow, a warning says so on stderr.
Reading the log needs the Fedcred/auditEvents/read action on the subscription (Owner,
Contributor and Reader have it).`,
		Example: `  fedcred audit list -o table
  fedcred audit list --since 7d --kind token.refused --query "[].{time:time,client:clientId,code:outcome.code,fic:fic}"
  fedcred audit list --since 2026-11-29T00:00:00Z --until 2026-11-30T00:00:00Z --kind resource.write,resource.delete
  fedcred audit list --target "$(fedcred identity show -n id1 -g rg1 --query id -o tsv)" -o table
  fedcred audit list --client-id CLIENT_ID --outcome denied --query "[].[time,kind,outcome.code]" -o tsv`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", defaultAuditSince, "start: a duration back from now (30m, 1h, 7d) or an RFC 3339 time")
	f.StringVar(&until, "until", "", "end (exclusive): a duration back from now or an RFC 3339 time (default: now)")
	f.StringSliceVar(&kinds, "kind", nil, "only events of these kinds (repeatable or comma-separated): "+strings.Join(auditKinds(), ", "))
	f.StringVar(&clientID, "client-id", "", "only events of this client ID (a token's client, or a management caller)")
	f.StringVar(&actor, "actor", "", "only events whose actor has this object ID or client ID")
	f.StringVar(&target, "target", "", "only events on this resource ID or token resource, or below it")
	f.StringVar(&outcome, "outcome", "", "only events with this outcome: "+strings.Join(auditOutcomes(), ", "))
	f.IntVar(&top, "top", defaultAuditTop, fmt.Sprintf("print at most this many events (1 to %d)", maxAuditTop))
	cmd.RunE = a.action(func(ctx context.Context) error {
		q := client.AuditQuery{Actor: actor, ClientID: clientID, Target: target, Outcome: outcome, Top: top}
		now := a.now()
		var err error
		if q.Since, err = parseAuditTime("--since", since, now); err != nil {
			return err
		}
		if q.Until, err = parseAuditTime("--until", until, now); err != nil {
			return err
		}
		if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
			return usageErrorf("--since must be before --until")
		}
		for _, k := range kinds {
			if k = strings.TrimSpace(k); !slices.Contains(auditKinds(), k) {
				return usageErrorf("invalid --kind %q: allowed values: %s", k, strings.Join(auditKinds(), ", "))
			}
			q.Kinds = append(q.Kinds, strings.TrimSpace(k))
		}
		if outcome != "" && !slices.Contains(auditOutcomes(), outcome) {
			return usageErrorf("invalid --outcome %q: allowed values: %s", outcome, strings.Join(auditOutcomes(), ", "))
		}
		if top < 1 || top > maxAuditTop {
			return usageErrorf("--top must be from 1 to %d", maxAuditTop)
		}
		s, err := a.session()
		if err != nil {
			return err
		}
		events, more, err := s.client.ListAuditEvents(ctx, q)
		if err != nil {
			return err
		}
		if err := a.renderOrTable(events, func() any { return auditTable(events) }); err != nil {
			return err
		}
		if more {
			fmt.Fprintf(a.stderr, "WARNING: showing the first %d events; more may follow: raise --top or narrow --since and --until.\n", top)
		}
		return nil
	})
	return cmd
}

// parseAuditTime reads a --since or --until value: "" (none), a duration
// back from now (Go syntax, plus a day suffix "d"), or an RFC 3339 time.
func parseAuditTime(flag, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 36500 {
			return time.Time{}, usageErrorf("invalid %s %q: use a duration such as 30m, 1h or 7d, or an RFC 3339 time", flag, v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d < 0 {
			return time.Time{}, usageErrorf("invalid %s %q: use a duration such as 30m, 1h or 7d, or an RFC 3339 time", flag, v)
		}
	}
	return now.Add(-d), nil
}

// auditTable is the table of 'audit list -o table': one row per event.
func auditTable(events []client.AuditEvent) []map[string]any {
	rows := make([]map[string]any, 0, len(events))
	for _, e := range events {
		code := e.Outcome.Code
		if code == "" && e.Outcome.Status != 0 {
			code = strconv.Itoa(e.Outcome.Status)
		}
		rows = append(rows, map[string]any{
			"Time":    e.Time.UTC().Format(time.RFC3339),
			"Kind":    e.Kind,
			"Outcome": e.Outcome.Result,
			"Code":    code,
			"Actor":   first(e.Actor.ClientID, e.Actor.ObjectID, e.Actor.Type),
			"Target":  e.Target,
			"Fic":     e.FIC,
		})
	}
	return rows
}
