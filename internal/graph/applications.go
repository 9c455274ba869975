package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fedcred/fedcred/internal/store"
)

// graphTime is how Graph writes createdDateTime.
const graphTime = "2006-01-02T15:04:05Z"

// appRoleJSON is Graph's appRole.
type appRoleJSON struct {
	AllowedMemberTypes []string `json:"allowedMemberTypes"`
	Description        *string  `json:"description"`
	DisplayName        *string  `json:"displayName"`
	ID                 string   `json:"id"`
	IsEnabled          bool     `json:"isEnabled"`
	Origin             string   `json:"origin"`
	Value              string   `json:"value"`
}

// applicationJSON is Graph's application, the properties fedcred models
// plus the empty collections clients expect.
type applicationJSON struct {
	ODataContext           string        `json:"@odata.context,omitempty"`
	ID                     string        `json:"id"`
	DeletedDateTime        *string       `json:"deletedDateTime"`
	AppID                  string        `json:"appId"`
	CreatedDateTime        string        `json:"createdDateTime"`
	DisplayName            string        `json:"displayName"`
	Description            *string       `json:"description"`
	IdentifierURIs         []string      `json:"identifierUris"`
	SignInAudience         string        `json:"signInAudience"`
	Tags                   []string      `json:"tags"`
	AppRoles               []appRoleJSON `json:"appRoles"`
	KeyCredentials         []any         `json:"keyCredentials"`
	PasswordCredentials    []any         `json:"passwordCredentials"`
	RequiredResourceAccess []any         `json:"requiredResourceAccess"`
}

// listJSON is an OData collection.
type listJSON[T any] struct {
	ODataContext  string `json:"@odata.context"`
	ODataNextLink string `json:"@odata.nextLink,omitempty"`
	Value         []T    `json:"value"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func appRolesJSON(roles []store.AppRole) []appRoleJSON {
	out := make([]appRoleJSON, 0, len(roles))
	for _, r := range roles {
		out = append(out, appRoleJSON{
			AllowedMemberTypes: append([]string{}, r.AllowedMemberTypes...),
			Description:        optional(r.Description), DisplayName: optional(r.DisplayName),
			ID: r.ID, IsEnabled: r.IsEnabled, Origin: "Application", Value: r.Value,
		})
	}
	return out
}

func applicationView(a store.Application) applicationJSON {
	return applicationJSON{
		ID: a.ObjectID, AppID: a.AppID, CreatedDateTime: a.CreatedAt.UTC().Format(graphTime),
		DisplayName: a.DisplayName, IdentifierURIs: append([]string{}, a.IdentifierURIs...),
		SignInAudience: signInAudienceMyOrg, Tags: []string{}, AppRoles: appRolesJSON(a.AppRoles),
		KeyCredentials: []any{}, PasswordCredentials: []any{}, RequiredResourceAccess: []any{},
	}
}

// applicationFields are the properties $filter may use on applications.
var applicationFields = filterFields{
	resource:    "Application",
	scalars:     map[string]bool{"appid": true, "id": true, "displayname": true},
	collections: map[string]bool{"identifieruris": true},
}

func applicationValues(a store.Application) filterValues {
	return filterValues{
		scalars:     map[string]string{"appid": a.AppID, "id": a.ObjectID, "displayname": a.DisplayName},
		collections: map[string][]string{"identifieruris": a.IdentifierURIs},
	}
}

// tenantPrefix is the key prefix of a tenant's applications.
func tenantPrefix(tenantID string) string { return strings.ToLower(tenantID + "/") }

// tenantApplications lists the tenant's applications in key order.
func tenantApplications(ctx context.Context, tx store.Tx, tenantID string) ([]store.Application, error) {
	apps, err := store.List[store.Application](ctx, tx, tenantPrefix(tenantID), "", 0)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	return apps, nil
}

// lookupApplication finds the application a route addresses, by object ID
// or by application ID, in the tenant.
func lookupApplication(ctx context.Context, tx store.Tx, tenantID string, rt route) (store.Application, error) {
	if rt.appID != "" {
		if !isGUID(rt.appID) {
			return store.Application{}, notFound(clip(rt.appID))
		}
		a, err := store.GetByAlt[store.Application](ctx, tx, strings.ToLower(rt.appID))
		switch {
		case errors.Is(err, store.ErrNotFound) || (err == nil && !strings.EqualFold(a.TenantID, tenantID)):
			return store.Application{}, notFound(rt.appID)
		case err != nil:
			return store.Application{}, fmt.Errorf("get application: %w", err)
		}
		return a, nil
	}
	id, err := checkedID(rt.id)
	if err != nil {
		return store.Application{}, err
	}
	a, err := store.Get[store.Application](ctx, tx, store.Application{TenantID: tenantID, ObjectID: id}.Key())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Application{}, notFound(rt.id)
	case err != nil:
		return store.Application{}, fmt.Errorf("get application: %w", err)
	}
	return a, nil
}

// checkUnique refuses identifier URIs another application of the tenant
// already has (apps is the tenant's applications; self is skipped).
func checkUnique(apps []store.Application, self store.Application) error {
	mine := map[string]bool{}
	for _, u := range self.IdentifierURIs {
		mine[normalizeURI(u)] = true
	}
	for _, a := range apps {
		if strings.EqualFold(a.ObjectID, self.ObjectID) {
			continue
		}
		for _, u := range a.IdentifierURIs {
			if mine[normalizeURI(u)] {
				return errDuplicateIdentifierURI()
			}
		}
	}
	return nil
}

const supportedApplicationProperties = "displayName, identifierUris, appRoles (id, value, displayName, description, allowedMemberTypes, isEnabled) and signInAudience"

func (h *Handler) createApplication(ctx context.Context, req *request) (response, error) {
	var in applicationInput
	if err := decodeBody(req.http, &in, supportedApplicationProperties); err != nil {
		return response{}, err
	}
	if in.DisplayName == nil {
		return response{}, invalidProperty("displayName", "Application", "displayName is required.")
	}
	now := h.now().UTC().Truncate(time.Second)
	app := store.Application{
		TenantID: req.caller.TenantID, ObjectID: h.newUUID(), AppID: h.newUUID(), ServicePrincipalID: h.newUUID(),
		IdentifierURIs: []string{}, AppRoles: []store.AppRole{}, CreatedAt: now, UpdatedAt: now,
	}
	if err := applyInput(&app, in, h.cfg.ReservedIdentifierURIs, h.newUUID); err != nil {
		return response{}, err
	}
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		t, err := store.Get[store.Tenant](ctx, tx, strings.ToLower(req.caller.TenantID))
		if err != nil {
			return fmt.Errorf("get tenant: %w", err)
		}
		app.TenantID = t.ID
		apps, err := tenantApplications(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		if len(apps) >= maxApplicationsPerTenant {
			return errQuota(fmt.Sprintf("a tenant has at most %d applications.", maxApplicationsPerTenant))
		}
		if err := checkUnique(apps, app); err != nil {
			return err
		}
		if err := store.Create(ctx, tx, app); err != nil {
			return fmt.Errorf("create application: %w", err)
		}
		return nil
	})
	if err != nil {
		return response{}, err
	}
	v := applicationView(app)
	v.ODataContext = h.context("applications/$entity")
	return response{http.StatusCreated, v}, nil
}

func (h *Handler) getApplication(ctx context.Context, req *request) (response, error) {
	var app store.Application
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		app, err = lookupApplication(ctx, tx, req.caller.TenantID, req.rt)
		return err
	})
	if err != nil {
		return response{}, err
	}
	v := applicationView(app)
	v.ODataContext = h.context("applications/$entity")
	return response{http.StatusOK, v}, nil
}

func (h *Handler) listApplications(ctx context.Context, req *request) (response, error) {
	pred, err := parseFilter(req.query.Get("$filter"), applicationFields)
	if err != nil {
		return response{}, err
	}
	var apps []store.Application
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		all, err := tenantApplications(ctx, tx, req.caller.TenantID)
		for _, a := range all {
			if pred(applicationValues(a)) {
				apps = append(apps, a)
			}
		}
		return err
	})
	if err != nil {
		return response{}, err
	}
	pageApps, next, err := page(apps, func(a store.Application) string { return strings.ToLower(a.ObjectID) }, req.query)
	if err != nil {
		return response{}, err
	}
	out := listJSON[applicationJSON]{ODataContext: h.context("applications"), Value: []applicationJSON{}}
	for _, a := range pageApps {
		out.Value = append(out.Value, applicationView(a))
	}
	out.ODataNextLink = h.nextLink(req, next)
	return response{http.StatusOK, out}, nil
}

func (h *Handler) updateApplication(ctx context.Context, req *request) (response, error) {
	var in applicationInput
	if err := decodeBody(req.http, &in, supportedApplicationProperties); err != nil {
		return response{}, err
	}
	now := h.now().UTC().Truncate(time.Second)
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		app, err := lookupApplication(ctx, tx, req.caller.TenantID, req.rt)
		if err != nil {
			return err
		}
		before := app.AppRoles
		if err := applyInput(&app, in, h.cfg.ReservedIdentifierURIs, h.newUUID); err != nil {
			return err
		}
		if in.AppRoles != nil {
			if err := checkAssignedRolesKept(ctx, tx, app, before); err != nil {
				return err
			}
		}
		if in.IdentifierURIs != nil {
			apps, err := tenantApplications(ctx, tx, app.TenantID)
			if err != nil {
				return err
			}
			if err := checkUnique(apps, app); err != nil {
				return err
			}
		}
		app.UpdatedAt = now
		if err := store.Put(ctx, tx, app); err != nil {
			return fmt.Errorf("update application: %w", err)
		}
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusNoContent}, nil
}

// checkAssignedRolesKept refuses an update that removes an assigned app
// role or takes away its Application member type.
func checkAssignedRolesKept(ctx context.Context, tx store.Tx, app store.Application, before []store.AppRole) error {
	assignments, err := store.List[store.AppRoleAssignment](ctx, tx, store.AppRoleAssignmentPrefix(app.TenantID, app.ServicePrincipalID), "", 0)
	if err != nil {
		return fmt.Errorf("list app role assignments: %w", err)
	}
	inUse := map[string]int{}
	for _, a := range assignments {
		inUse[strings.ToLower(a.AppRoleID)]++
	}
	for _, old := range before {
		n := inUse[strings.ToLower(old.ID)]
		if n == 0 {
			continue
		}
		i := slices.IndexFunc(app.AppRoles, func(r store.AppRole) bool { return strings.EqualFold(r.ID, old.ID) })
		if i < 0 {
			return badRequest("Cannot delete app role '%s' (%s) while it is assigned. fedcred: remove its %d app role assignment(s) first.", clip(old.Value), old.ID, n)
		}
		if !allowsApplications(app.AppRoles[i]) {
			return badRequest("Cannot remove member type Application from app role '%s' (%s) while it is assigned. fedcred: remove its %d app role assignment(s) first.", clip(old.Value), old.ID, n)
		}
	}
	return nil
}

func (h *Handler) deleteApplication(ctx context.Context, req *request) (response, error) {
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		app, err := lookupApplication(ctx, tx, req.caller.TenantID, req.rt)
		if err != nil {
			return err
		}
		assignments, err := store.List[store.AppRoleAssignment](ctx, tx, store.AppRoleAssignmentPrefix(app.TenantID, app.ServicePrincipalID), "", 0)
		if err != nil {
			return fmt.Errorf("list app role assignments: %w", err)
		}
		for _, a := range assignments {
			if err := store.Delete[store.AppRoleAssignment](ctx, tx, a.Key()); err != nil {
				return fmt.Errorf("delete app role assignment %s: %w", a.ID, err)
			}
		}
		if err := store.Delete[store.Application](ctx, tx, app.Key()); err != nil {
			return fmt.Errorf("delete application: %w", err)
		}
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusNoContent}, nil
}

// Paging.
const (
	defaultPageSize = 100
	maxPageSize     = 999
)

// page returns the items after $skiptoken (by key, items sorted by key),
// at most $top of them, and the skip token of the next page ("" if none).
func page[T any](items []T, key func(T) string, q url.Values) ([]T, string, error) {
	size := defaultPageSize
	if s := q.Get("$top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return nil, "", badRequest("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", clip(s), maxPageSize)
		}
		size = n
	}
	slices.SortFunc(items, func(a, b T) int { return strings.Compare(key(a), key(b)) })
	if after := strings.ToLower(q.Get("$skiptoken")); after != "" {
		i, _ := slices.BinarySearchFunc(items, after, func(t T, k string) int { return strings.Compare(key(t), k) })
		for i < len(items) && key(items[i]) <= after {
			i++
		}
		items = items[i:]
	}
	if len(items) <= size {
		return items, "", nil
	}
	return items[:size], key(items[size-1]), nil
}

// nextLink is the absolute link to the next page, keeping the request's
// query except its $skiptoken.
func (h *Handler) nextLink(req *request, skip string) string {
	if skip == "" {
		return ""
	}
	q := url.Values{}
	for k, v := range req.query {
		if k != "$skiptoken" {
			q[k] = v
		}
	}
	q.Set("$skiptoken", skip)
	return h.publicURL + req.http.URL.Path + "?" + q.Encode()
}
