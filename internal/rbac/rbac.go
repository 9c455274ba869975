// Package rbac decides role-based access: built-in role definitions shaped
// as Azure's (actions and data actions with wildcards), and the evaluation
// of role assignments with scope inheritance. Access is denied unless an
// assignment of the principal, at the target scope or a scope above it,
// grants a role whose actions match the requested action and whose
// exclusions (NotActions) do not.
package rbac

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/fedcred/fedcred/internal/store"
)

// Data-plane actions of the Key Vault secret store.
const (
	SecretGet          = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
	SecretSet          = "Microsoft.KeyVault/vaults/secrets/setSecret/action"
	SecretReadMetadata = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
	SecretDelete       = "Microsoft.KeyVault/vaults/secrets/delete"
	SecretUpdate       = "Microsoft.KeyVault/vaults/secrets/update/action"
)

// Request is one access decision to make.
type Request struct {
	// PrincipalID is the caller's object ID.
	PrincipalID string
	// Action is the operation, e.g.
	// Microsoft.ManagedIdentity/userAssignedIdentities/write.
	Action string
	// Data says Action is a data action (a resource's data plane).
	Data bool
	// Scope is the ARM ID of the resource or scope acted on.
	Scope string
}

// Decision is an access decision and why.
type Decision struct {
	Allowed bool
	// Assignment and Role name the grant that allowed it.
	Assignment store.RoleAssignment
	Role       RoleDefinition
}

// Definition returns the built-in role with the given GUID, or a role
// definition ID ending in it.
func Definition(id string) (RoleDefinition, bool) {
	guid := id
	if i := strings.LastIndex(id, "/"); i >= 0 {
		guid = id[i+1:]
	}
	for _, d := range BuiltIn() {
		if strings.EqualFold(d.ID, guid) {
			return d, true
		}
	}
	return RoleDefinition{}, false
}

// DefinitionByName returns the built-in role with the given name, compared
// case-insensitively.
func DefinitionByName(name string) (RoleDefinition, bool) {
	for _, d := range BuiltIn() {
		if strings.EqualFold(d.Name, name) {
			return d, true
		}
	}
	return RoleDefinition{}, false
}

// Decide evaluates req against assignments (of any principals; those of
// other principals are ignored).
func Decide(req Request, assignments []store.RoleAssignment) Decision {
	for _, a := range assignments {
		if !strings.EqualFold(a.PrincipalID, req.PrincipalID) || !Covers(a.Scope, req.Scope) {
			continue
		}
		def, ok := Definition(a.RoleDefinitionID)
		if !ok {
			continue
		}
		if def.Permits(req.Action, req.Data) {
			return Decision{Allowed: true, Assignment: a, Role: def}
		}
	}
	return Decision{}
}

// Permits reports whether the role grants action (a data action if data).
func (d RoleDefinition) Permits(action string, data bool) bool {
	allow, deny := d.Actions, d.NotActions
	if data {
		allow, deny = d.DataActions, d.NotDataActions
	}
	return matchesAny(allow, action) && !matchesAny(deny, action)
}

func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if Match(p, action) {
			return true
		}
	}
	return false
}

// Match reports whether action matches pattern, case-insensitively, where
// each "*" matches any run of characters (slashes included).
func Match(pattern, action string) bool {
	p, a := strings.ToLower(pattern), strings.ToLower(action)
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == a
	}
	if !strings.HasPrefix(a, parts[0]) {
		return false
	}
	a = a[len(parts[0]):]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(a, part)
		if i < 0 {
			return false
		}
		a = a[i+len(part):]
	}
	return strings.HasSuffix(a, parts[len(parts)-1])
}

// Covers reports whether an assignment at scope applies to target: target is
// scope itself or lies below it. "/" covers everything.
func Covers(scope, target string) bool {
	s := strings.ToLower(strings.TrimSuffix(scope, "/"))
	t := strings.ToLower(strings.TrimSuffix(target, "/"))
	return s == "" || t == s || strings.HasPrefix(t, s+"/")
}

// Authorizer decides requests against the role assignments in a store.
// The zero value with a Store reads every assignment per decision; one made
// by NewAuthorizer over a store that reports its sequence number (the
// in-memory mirror) keeps assignments indexed by principal and rebuilds the
// index only when the store has changed.
type Authorizer struct {
	Store store.Store
	index *atomic.Pointer[principalIndex]
}

// sequenced is a store that numbers its changes (mirror.Mirror).
type sequenced interface{ Seq() int64 }

// principalIndex is every role assignment at one store sequence number,
// grouped by lower-cased principal ID.
type principalIndex struct {
	seq   int64
	byKey map[string][]store.RoleAssignment
}

// NewAuthorizer returns an Authorizer over st that indexes assignments by
// principal when st reports its sequence number.
func NewAuthorizer(st store.Store) Authorizer {
	z := Authorizer{Store: st}
	if _, ok := st.(sequenced); ok {
		z.index = &atomic.Pointer[principalIndex]{}
	}
	return z
}

// Decide loads the principal's assignments and decides req. An error means
// the assignments could not be read; it is never an implicit allow.
func (z Authorizer) Decide(ctx context.Context, req Request) (Decision, error) {
	assignments, err := z.assignments(ctx, req.PrincipalID)
	if err != nil {
		return Decision{}, err
	}
	return Decide(req, assignments), nil
}

func (z Authorizer) assignments(ctx context.Context, principalID string) ([]store.RoleAssignment, error) {
	seqd, ok := z.Store.(sequenced)
	if z.index == nil || !ok {
		return z.list(ctx)
	}
	// The sequence number is read before the assignments, so an index is
	// never older than the number it is filed under.
	seq := seqd.Seq()
	if idx := z.index.Load(); idx != nil && idx.seq == seq {
		return idx.byKey[strings.ToLower(principalID)], nil
	}
	all, err := z.list(ctx)
	if err != nil {
		return nil, err
	}
	idx := &principalIndex{seq: seq, byKey: map[string][]store.RoleAssignment{}}
	for _, a := range all {
		k := strings.ToLower(a.PrincipalID)
		idx.byKey[k] = append(idx.byKey[k], a)
	}
	z.index.Store(idx)
	return idx.byKey[strings.ToLower(principalID)], nil
}

func (z Authorizer) list(ctx context.Context) ([]store.RoleAssignment, error) {
	var all []store.RoleAssignment
	err := z.Store.View(ctx, func(tx store.Tx) error {
		var err error
		all, err = store.List[store.RoleAssignment](ctx, tx, "", "", 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read role assignments: %w", err)
	}
	return all, nil
}
