package sts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/store"
)

// BuiltinResources are the resources every tenant has, like Entra's
// first-party service principals. No application may claim them.
func BuiltinResources() []string {
	return []string{
		"https://vault.azure.net",             // Key Vault
		"https://cognitiveservices.azure.com", // Azure AI services
		"https://storage.azure.com",           // Storage
		"https://graph.microsoft.com",         // Microsoft Graph
		"https://management.core.windows.net", // ARM (classic audience)
		"https://management.azure.com",        // ARM
	}
}

// resource is what a token is issued for.
type resource struct {
	// app is the resource application, nil for built-in resources, the
	// management audiences and Config.Resources.
	app *store.Application
	// roles are the values of the app roles assigned to the client on app,
	// sorted; nil when there are none.
	roles []string
}

// knownResource reports whether resource is a built-in resource, one of the
// management audiences, or registered through Config.Resources. Built-ins
// and management audiences are compared ignoring one trailing slash, since
// clients send both forms.
func (h *Handler) knownResource(resource string) bool {
	want := strings.TrimSuffix(resource, "/")
	if want == "" {
		return false
	}
	for _, list := range [][]string{BuiltinResources(), h.mgmt} {
		for _, r := range list {
			if strings.TrimSuffix(r, "/") == want {
				return true
			}
		}
	}
	return h.resources != nil && h.resources(resource)
}

// resolveResource finds what a token is requested for, in this order: the
// built-in resources, the server's own URL and the management audiences
// (and Config.Resources); then the tenant's applications, by identifier URI
// (exact, ignoring one trailing slash) and then by application ID (<appId>
// or api://<appId>). For an application it also collects the client's app
// roles on it. found is false for a resource the tenant does not have.
func (h *Handler) resolveResource(ctx context.Context, tenantID string, cl client, requested string) (res resource, found bool, err error) {
	if h.knownResource(requested) {
		return resource{}, true, nil
	}
	err = h.store.View(ctx, func(tx store.Tx) error {
		app, ok, err := findApplication(ctx, tx, tenantID, requested)
		if err != nil || !ok {
			return err
		}
		roles, err := assignedRoles(ctx, tx, app, cl.objectID())
		if err != nil {
			return err
		}
		res, found = resource{app: &app, roles: roles}, true
		return nil
	})
	if err != nil {
		return resource{}, false, fmt.Errorf("resolve resource: %w", err)
	}
	return res, found, nil
}

// findApplication finds the tenant's application named by requested.
//
// By identifier URI it scans the tenant's applications in memory (the
// store's View is served from the mirror), decoding only those whose stored
// JSON contains the URI: a cheap byte search keeps the scan far below the
// cost of the token's signature even for many applications.
func findApplication(ctx context.Context, tx store.Tx, tenantID, requested string) (store.Application, bool, error) {
	want := strings.TrimSuffix(requested, "/")
	if want == "" {
		return store.Application{}, false, nil
	}
	enc, err := json.Marshal(want)
	if err != nil {
		return store.Application{}, false, fmt.Errorf("encode resource: %w", err)
	}
	needle := enc[:len(enc)-1] // the JSON string without its closing quote: matches a trailing slash too
	recs, err := tx.List(ctx, store.KindApplication, strings.ToLower(tenantID+"/"), "", 0)
	if err != nil {
		return store.Application{}, false, fmt.Errorf("list applications: %w", err)
	}
	for _, rec := range recs {
		if !bytes.Contains(rec.Data, needle) {
			continue
		}
		var app store.Application
		if err := json.Unmarshal(rec.Data, &app); err != nil {
			return store.Application{}, false, fmt.Errorf("decode application %q: %w", rec.Key, err)
		}
		if slices.ContainsFunc(app.IdentifierURIs, func(u string) bool { return strings.TrimSuffix(u, "/") == want }) {
			return app, true, nil
		}
	}

	appID := strings.TrimPrefix(want, "api://")
	if len(appID) != 36 || uuid.Validate(appID) != nil {
		return store.Application{}, false, nil
	}
	app, err := store.GetByAlt[store.Application](ctx, tx, strings.ToLower(appID))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Application{}, false, nil
	case err != nil:
		return store.Application{}, false, fmt.Errorf("get application: %w", err)
	case !strings.EqualFold(app.TenantID, tenantID):
		return store.Application{}, false, nil
	}
	return app, true, nil
}

// assignedRoles returns the sorted values of the enabled app roles of app
// (allowing Application members) assigned to the principal objectID. The
// assignments are keyed by resource and principal, so this lists only the
// principal's own.
func assignedRoles(ctx context.Context, tx store.Tx, app store.Application, objectID string) ([]string, error) {
	if objectID == "" || len(app.AppRoles) == 0 {
		return nil, nil
	}
	recs, err := tx.List(ctx, store.KindAppRoleAssignment, store.AppRoleAssignmentPrincipalPrefix(app.TenantID, app.ServicePrincipalID, objectID), "", 0)
	if err != nil {
		return nil, fmt.Errorf("list app role assignments: %w", err)
	}
	var roles []string
	for _, rec := range recs {
		var a store.AppRoleAssignment
		if err := json.Unmarshal(rec.Data, &a); err != nil {
			return nil, fmt.Errorf("decode app role assignment %q: %w", rec.Key, err)
		}
		if !strings.EqualFold(a.PrincipalID, objectID) {
			continue
		}
		for _, r := range app.AppRoles {
			if strings.EqualFold(r.ID, a.AppRoleID) && r.IsEnabled && r.Value != "" && slices.Contains(r.AllowedMemberTypes, "Application") {
				roles = append(roles, r.Value)
			}
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles), nil
}
