package graph

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fedcred/fedcred/internal/store"
)

// principalTypeServicePrincipal is the principalType of every assignment:
// managed identities are service principals to Graph.
const principalTypeServicePrincipal = "ServicePrincipal"

// assignmentInput is the body of POST .../appRoleAssignedTo.
type assignmentInput struct {
	PrincipalID *string `json:"principalId"`
	ResourceID  *string `json:"resourceId"`
	AppRoleID   *string `json:"appRoleId"`
}

const supportedAssignmentProperties = "principalId, resourceId and appRoleId"

// assignmentJSON is Graph's appRoleAssignment.
type assignmentJSON struct {
	ODataContext         string  `json:"@odata.context,omitempty"`
	ID                   string  `json:"id"`
	DeletedDateTime      *string `json:"deletedDateTime"`
	AppRoleID            string  `json:"appRoleId"`
	CreatedDateTime      string  `json:"createdDateTime"`
	PrincipalDisplayName *string `json:"principalDisplayName"`
	PrincipalID          string  `json:"principalId"`
	PrincipalType        string  `json:"principalType"`
	ResourceDisplayName  string  `json:"resourceDisplayName"`
	ResourceID           string  `json:"resourceId"`
}

func assignmentView(a store.AppRoleAssignment, principalName string, resource store.Application) assignmentJSON {
	return assignmentJSON{
		ID: a.ID, AppRoleID: a.AppRoleID, CreatedDateTime: a.CreatedAt.UTC().Format(graphTime),
		PrincipalDisplayName: optional(principalName), PrincipalID: a.PrincipalID, PrincipalType: a.PrincipalType,
		ResourceDisplayName: resource.DisplayName, ResourceID: a.ResourceID,
	}
}

// newAssignmentID returns an ID shaped like Graph's: 32 bytes, base64url
// without padding, the first 16 the principal's GUID in Microsoft's byte
// order, the rest random.
func newAssignmentID(principalID string) (string, error) {
	u, err := uuid.Parse(principalID)
	if err != nil {
		return "", fmt.Errorf("parse principal id: %w", err)
	}
	b := make([]byte, 32)
	copy(b, u[:])
	// Data1, Data2 and Data3 are little-endian in Microsoft's GUID layout.
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	if _, err := rand.Read(b[16:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// principal is a managed identity or service principal of the tenant that
// app roles can be assigned to.
type principal struct {
	objectID    string // as stored
	displayName string
}

// lookupPrincipal finds the principal with object ID id in the tenant: a
// service principal by key, else a managed identity by principal ID.
func lookupPrincipal(ctx context.Context, tx store.Tx, tenantID, id string) (principal, bool, error) {
	sp, err := store.Get[store.ServicePrincipal](ctx, tx, store.ServicePrincipal{TenantID: tenantID, ObjectID: id}.Key())
	switch {
	case err == nil:
		return principal{objectID: sp.ObjectID, displayName: sp.DisplayName}, true, nil
	case !errors.Is(err, store.ErrNotFound):
		return principal{}, false, fmt.Errorf("get service principal: %w", err)
	}
	ids, err := identityNames(ctx, tx, tenantID)
	if err != nil {
		return principal{}, false, err
	}
	if p, ok := ids[strings.ToLower(id)]; ok {
		return p, true, nil
	}
	return principal{}, false, nil
}

// identityNames maps the lower-cased principal IDs of the tenant's managed
// identities to them.
func identityNames(ctx context.Context, tx store.Tx, tenantID string) (map[string]principal, error) {
	all, err := store.List[store.Identity](ctx, tx, "", "", 0)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	out := map[string]principal{}
	for _, i := range all {
		if strings.EqualFold(i.TenantID, tenantID) {
			out[strings.ToLower(i.PrincipalID)] = principal{objectID: i.PrincipalID, displayName: i.Name}
		}
	}
	return out, nil
}

func resourceAssignments(ctx context.Context, tx store.Tx, app store.Application) ([]store.AppRoleAssignment, error) {
	as, err := store.List[store.AppRoleAssignment](ctx, tx, store.AppRoleAssignmentPrefix(app.TenantID, app.ServicePrincipalID), "", 0)
	if err != nil {
		return nil, fmt.Errorf("list app role assignments: %w", err)
	}
	return as, nil
}

func (h *Handler) createAssignment(ctx context.Context, req *request) (response, error) {
	var in assignmentInput
	if err := decodeBody(req.http, &in, supportedAssignmentProperties); err != nil {
		return response{}, err
	}
	for _, f := range []struct {
		name  string
		value *string
	}{{"principalId", in.PrincipalID}, {"resourceId", in.ResourceID}, {"appRoleId", in.AppRoleID}} {
		if f.value == nil || !isGUID(*f.value) {
			return response{}, invalidProperty(f.name, "AppRoleAssignment", "%s is required and must be a GUID.", f.name)
		}
	}
	if req.rt.id != "" && !strings.EqualFold(*in.ResourceID, req.rt.id) {
		return response{}, invalidProperty("resourceId", "AppRoleAssignment", "resourceId must be the service principal in the request path.")
	}
	id, err := newAssignmentID(*in.PrincipalID)
	if err != nil {
		return response{}, err
	}
	now := h.now().UTC().Truncate(time.Second)
	var (
		created  store.AppRoleAssignment
		resource store.Application
		p        principal
	)
	err = h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		resource, err = lookupServicePrincipal(ctx, tx, req.caller.TenantID, req.rt)
		if err != nil {
			return err
		}
		if !strings.EqualFold(*in.ResourceID, resource.ServicePrincipalID) {
			return invalidProperty("resourceId", "AppRoleAssignment", "resourceId must be the service principal in the request path.")
		}
		if err := checkAssignableRole(resource, *in.AppRoleID); err != nil {
			return err
		}
		var found bool
		p, found, err = lookupPrincipal(ctx, tx, resource.TenantID, *in.PrincipalID)
		if err != nil {
			return err
		}
		if !found {
			return notFound(*in.PrincipalID)
		}
		existing, err := resourceAssignments(ctx, tx, resource)
		if err != nil {
			return err
		}
		if len(existing) >= maxAssignmentsPerResource {
			return errQuota(fmt.Sprintf("an application has at most %d app role assignments.", maxAssignmentsPerResource))
		}
		for _, a := range existing {
			if strings.EqualFold(a.PrincipalID, p.objectID) && strings.EqualFold(a.AppRoleID, *in.AppRoleID) {
				return badRequest("Permission being assigned already exists on the object")
			}
		}
		created = store.AppRoleAssignment{
			ID: id, TenantID: resource.TenantID, PrincipalID: p.objectID, PrincipalType: principalTypeServicePrincipal,
			ResourceID: resource.ServicePrincipalID, AppRoleID: strings.ToLower(*in.AppRoleID), CreatedAt: now,
		}
		if err := store.Create(ctx, tx, created); err != nil {
			return fmt.Errorf("create app role assignment: %w", err)
		}
		return nil
	})
	if err != nil {
		return response{}, err
	}
	v := assignmentView(created, p.displayName, resource)
	v.ODataContext = h.context(fmt.Sprintf("servicePrincipals('%s')/appRoleAssignedTo/$entity", resource.ServicePrincipalID))
	return response{http.StatusCreated, v}, nil
}

// checkAssignableRole refuses a role the application does not define, or
// one that is disabled or not for applications.
func checkAssignableRole(app store.Application, roleID string) error {
	for _, r := range app.AppRoles {
		if !strings.EqualFold(r.ID, roleID) {
			continue
		}
		switch {
		case !allowsApplications(r):
			return badRequest("Permission being assigned was not found on application. fedcred: app role '%s' does not allow members of type Application.", clip(r.Value))
		case !r.IsEnabled:
			return badRequest("Permission being assigned was not found on application. fedcred: app role '%s' is disabled.", clip(r.Value))
		}
		return nil
	}
	return badRequest("Permission being assigned was not found on application. fedcred: application '%s' has no app role with id '%s'.", clip(app.DisplayName), roleID)
}

func (h *Handler) listAssignments(ctx context.Context, req *request) (response, error) {
	var (
		resource store.Application
		list     []store.AppRoleAssignment
		names    map[string]string
	)
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		resource, err = lookupServicePrincipal(ctx, tx, req.caller.TenantID, req.rt)
		if err != nil {
			return err
		}
		if list, err = resourceAssignments(ctx, tx, resource); err != nil {
			return err
		}
		names, err = principalNames(ctx, tx, resource.TenantID, list)
		return err
	})
	if err != nil {
		return response{}, err
	}
	pageList, next, err := page(list, func(a store.AppRoleAssignment) string { return a.Key() }, req.query)
	if err != nil {
		return response{}, err
	}
	out := listJSON[assignmentJSON]{
		ODataContext: h.context(fmt.Sprintf("servicePrincipals('%s')/appRoleAssignedTo", resource.ServicePrincipalID)),
		Value:        []assignmentJSON{},
	}
	for _, a := range pageList {
		out.Value = append(out.Value, assignmentView(a, names[strings.ToLower(a.PrincipalID)], resource))
	}
	out.ODataNextLink = h.nextLink(req, next)
	return response{http.StatusOK, out}, nil
}

// principalNames resolves the display names of the assignments'
// principals; a principal that no longer exists has none.
func principalNames(ctx context.Context, tx store.Tx, tenantID string, list []store.AppRoleAssignment) (map[string]string, error) {
	out := map[string]string{}
	if len(list) == 0 {
		return out, nil
	}
	ids, err := identityNames(ctx, tx, tenantID)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		key := strings.ToLower(a.PrincipalID)
		if _, done := out[key]; done {
			continue
		}
		if p, ok := ids[key]; ok {
			out[key] = p.displayName
			continue
		}
		sp, err := store.Get[store.ServicePrincipal](ctx, tx, store.ServicePrincipal{TenantID: tenantID, ObjectID: a.PrincipalID}.Key())
		switch {
		case err == nil:
			out[key] = sp.DisplayName
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("get service principal: %w", err)
		}
	}
	return out, nil
}

// lookupAssignment finds the assignment a route addresses on resource.
// Graph's assignment IDs are case-sensitive; the store key is not, so the
// ID is compared again.
func lookupAssignment(ctx context.Context, tx store.Tx, resource store.Application, id string) (store.AppRoleAssignment, error) {
	if id == "" || len(id) > 64 {
		return store.AppRoleAssignment{}, notFound(clip(id))
	}
	a, err := store.GetByAlt[store.AppRoleAssignment](ctx, tx, strings.ToLower(id))
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && (a.ID != id ||
		!strings.EqualFold(a.TenantID, resource.TenantID) || !strings.EqualFold(a.ResourceID, resource.ServicePrincipalID))):
		return store.AppRoleAssignment{}, notFound(id)
	case err != nil:
		return store.AppRoleAssignment{}, fmt.Errorf("get app role assignment: %w", err)
	}
	return a, nil
}

func (h *Handler) getAssignment(ctx context.Context, req *request) (response, error) {
	var (
		resource store.Application
		a        store.AppRoleAssignment
		names    map[string]string
	)
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if resource, err = lookupServicePrincipal(ctx, tx, req.caller.TenantID, req.rt); err != nil {
			return err
		}
		if a, err = lookupAssignment(ctx, tx, resource, req.rt.assignmentID); err != nil {
			return err
		}
		names, err = principalNames(ctx, tx, resource.TenantID, []store.AppRoleAssignment{a})
		return err
	})
	if err != nil {
		return response{}, err
	}
	v := assignmentView(a, names[strings.ToLower(a.PrincipalID)], resource)
	v.ODataContext = h.context(fmt.Sprintf("servicePrincipals('%s')/appRoleAssignedTo/$entity", resource.ServicePrincipalID))
	return response{http.StatusOK, v}, nil
}

func (h *Handler) deleteAssignment(ctx context.Context, req *request) (response, error) {
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		resource, err := lookupServicePrincipal(ctx, tx, req.caller.TenantID, req.rt)
		if err != nil {
			return err
		}
		a, err := lookupAssignment(ctx, tx, resource, req.rt.assignmentID)
		if err != nil {
			return err
		}
		if err := store.Delete[store.AppRoleAssignment](ctx, tx, a.Key()); err != nil {
			return fmt.Errorf("delete app role assignment: %w", err)
		}
		return nil
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusNoContent}, nil
}
