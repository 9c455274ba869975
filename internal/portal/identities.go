package portal

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// identitiesPageSize is how many identities a list page shows.
const identitiesPageSize = 20

// maxListedIdentities bounds how many identities a search reads.
const maxListedIdentities = 5000

// identityView is an identity as the pages show it.
type identityView struct {
	ID, Sub, RG, Name, Location     string
	ClientID, PrincipalID, TenantID string
	URL, CredentialsURL, RolesURL   string
	DeleteURL, TryItURL, NewCredURL string
	AuditURL                        string
}

func viewIdentity(i identityJSON) identityView {
	ref, _ := parseResourceID(i.ID)
	u := identityURL(ref.Sub, ref.RG, i.Name)
	return identityView{
		ID: i.ID, Sub: ref.Sub, RG: ref.RG, Name: i.Name, Location: i.Location,
		ClientID: i.Properties.ClientID, PrincipalID: i.Properties.PrincipalID, TenantID: i.Properties.TenantID,
		URL: u, CredentialsURL: u + "/federated-credentials", RolesURL: u + "/role-assignments",
		DeleteURL: u + "/delete", NewCredURL: u + "/federated-credentials/new", AuditURL: u + "/audit",
		TryItURL: "/portal/try-it?" + url.Values{"subscription": {ref.Sub}, "identity": {i.ID}}.Encode(),
	}
}

// identityURL is the portal page of an identity.
func identityURL(sub, rg, name string) string {
	return "/portal/subscriptions/" + url.PathEscape(sub) + "/resourceGroups/" + url.PathEscape(rg) +
		"/identities/" + url.PathEscape(name)
}

// identityTabs are an identity's blades.
func identityTabs(iv identityView, current string) []tab {
	tabs := []tab{
		{Label: "Overview", URL: iv.URL},
		{Label: "Federated credentials", URL: iv.CredentialsURL},
		{Label: "Role assignments", URL: iv.RolesURL},
		{Label: "Audit", URL: iv.AuditURL},
		{Label: "Try it", URL: iv.TryItURL},
	}
	for i := range tabs {
		tabs[i].Current = tabs[i].Label == current
	}
	return tabs
}

// identityCrumbs lead from the list to an identity.
func identityCrumbs(iv identityView, last string) []crumb {
	c := []crumb{
		{Label: "Managed identities", URL: "/portal/identities?" + url.Values{"subscription": {iv.Sub}}.Encode()},
		{Label: iv.Name, URL: iv.URL},
	}
	if last != "" {
		c = append(c, crumb{Label: last})
	} else {
		c[1].URL = ""
	}
	return c
}

// subscriptionChoice is the subscriptions the visitor sees and the one a
// page acts in.
type subscriptionChoice struct {
	Subscriptions []subscriptionJSON
	Subscription  string
}

// pickSubscription lists the visitor's subscriptions and picks the one the
// query names, else the first. A named subscription is used even when the
// list does not show it, so that the API says why it may not be used.
func (h *Handler) pickSubscription(v *visit, asked string) (subscriptionChoice, error) {
	subs, err := list[subscriptionJSON](v.r.Context(), h, v.p, "/subscriptions", apiVersionResources, nil)
	if err != nil {
		return subscriptionChoice{}, err
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].DisplayName < subs[j].DisplayName })
	c := subscriptionChoice{Subscriptions: subs, Subscription: asked}
	if c.Subscription == "" && len(subs) > 0 {
		c.Subscription = subs[0].SubscriptionID
	}
	return c, nil
}

// identitiesData is the identities list.
type identitiesData struct {
	base
	subscriptionChoice
	Query             string
	Rows              []identityView
	Total, Page, Last int
	PrevURL, NextURL  string
	NewURL            string
	Truncated         bool
}

// listIdentities answers GET /portal/identities: the subscription's
// identities, searched by name and paged.
func (h *Handler) listIdentities(v *visit) error {
	q := v.r.URL.Query()
	choice, err := h.pickSubscription(v, q.Get("subscription"))
	if err != nil {
		return err
	}
	d := &identitiesData{
		base:               base{Title: "Managed identities", Nav: "identities", Crumbs: []crumb{{Label: "Managed identities"}}},
		subscriptionChoice: choice,
		Query:              strings.TrimSpace(q.Get("q")),
		NewURL:             "/portal/identities/new?" + url.Values{"subscription": {choice.Subscription}}.Encode(),
	}
	if name := q.Get("deleted"); name != "" {
		d.Flash = "Managed identity '" + name + "' was deleted."
	}
	if choice.Subscription == "" {
		return v.show(h, http.StatusOK, "identities", d)
	}
	all, err := list[identityJSON](v.r.Context(), h, v.p, identitiesPath(choice.Subscription), apiVersionIdentity,
		url.Values{"$top": {"1000"}})
	if err != nil {
		return err
	}
	if len(all) > maxListedIdentities {
		all, d.Truncated = all[:maxListedIdentities], true
	}
	needle := strings.ToLower(d.Query)
	for _, i := range all {
		if needle == "" || strings.Contains(strings.ToLower(i.Name), needle) {
			d.Rows = append(d.Rows, viewIdentity(i))
		}
	}
	sort.SliceStable(d.Rows, func(i, j int) bool {
		return strings.ToLower(d.Rows[i].Name) < strings.ToLower(d.Rows[j].Name)
	})
	d.Total = len(d.Rows)
	d.Last = max(1, (d.Total+identitiesPageSize-1)/identitiesPageSize)
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = min(max(d.Page, 1), d.Last)
	start := (d.Page - 1) * identitiesPageSize
	d.Rows = d.Rows[start:min(start+identitiesPageSize, d.Total)]
	pageURL := func(n int) string {
		vals := url.Values{"subscription": {choice.Subscription}, "page": {strconv.Itoa(n)}}
		if d.Query != "" {
			vals.Set("q", d.Query)
		}
		return "/portal/identities?" + vals.Encode()
	}
	if d.Page > 1 {
		d.PrevURL = pageURL(d.Page - 1)
	}
	if d.Page < d.Last {
		d.NextURL = pageURL(d.Page + 1)
	}
	return v.show(h, http.StatusOK, "identities", d)
}

// identityFormData is the create-identity form.
type identityFormData struct {
	base
	subscriptionChoice
	Groups       []resourceGroupJSON
	Group        string
	Name         field
	Location     field
	Errors       formErrors
	NoGroupsHint bool
}

// identityForm builds the form for the subscription chosen.
func (h *Handler) identityForm(v *visit, sub string) (*identityFormData, error) {
	choice, err := h.pickSubscription(v, sub)
	if err != nil {
		return nil, err
	}
	d := &identityFormData{
		base: base{Title: "Create managed identity", Nav: "identities", Crumbs: []crumb{
			{Label: "Managed identities", URL: "/portal/identities?" + url.Values{"subscription": {choice.Subscription}}.Encode()},
			{Label: "Create"},
		}},
		subscriptionChoice: choice,
		Errors:             formErrors{},
		Name: field{ID: "name", Name: "name", Label: "Name", Required: true, RequiredMessage: "Enter a name.",
			Pattern: identityNamePattern, PatternMessage: identityNameMessage, MaxLength: 128,
			Hint: "3 to 128 letters, numbers, hyphens and underscores, starting with a letter or number."},
		Location: field{ID: "location", Name: "location", Label: "Location (optional)",
			Hint: "Leave empty to use the resource group's location."},
	}
	if choice.Subscription != "" {
		groups, err := list[resourceGroupJSON](v.r.Context(), h, v.p, subscriptionPath(choice.Subscription)+"/resourceGroups", apiVersionResources, nil)
		if err != nil {
			return nil, err
		}
		sort.Slice(groups, func(i, j int) bool { return strings.ToLower(groups[i].Name) < strings.ToLower(groups[j].Name) })
		d.Groups = groups
	}
	d.NoGroupsHint = len(d.Groups) == 0
	return d, nil
}

// newIdentity answers GET /portal/identities/new.
func (h *Handler) newIdentity(v *visit) error {
	d, err := h.identityForm(v, v.r.URL.Query().Get("subscription"))
	if err != nil {
		return err
	}
	d.Group = v.r.URL.Query().Get("resourceGroup")
	d.Name.Autofocus = true
	return v.show(h, http.StatusOK, "identity-new", d)
}

// createIdentity answers POST /portal/identities/new: it creates the
// identity through the API and shows the API's refusal next to the field
// it concerns.
func (h *Handler) createIdentity(v *visit) error {
	f := v.r.PostForm
	d, err := h.identityForm(v, f.Get("subscription"))
	if err != nil {
		return err
	}
	d.Group = f.Get("resourceGroup")
	d.Name.Value = strings.TrimSpace(f.Get("name"))
	d.Location.Value = strings.TrimSpace(f.Get("location"))
	switch {
	case d.Group == "":
		d.Errors.add("resourceGroup", "Choose a resource group.")
	}
	if d.Name.Value == "" {
		d.Errors.add("name", "Enter a name.")
	}
	if len(d.Errors) > 0 {
		return h.showIdentityForm(v, d, http.StatusUnprocessableEntity)
	}
	ctx := v.r.Context()
	location := d.Location.Value
	if location == "" {
		var g resourceGroupJSON
		if err := h.call(ctx, v.p, http.MethodGet, groupPath(d.Subscription, d.Group), apiVersionResources, nil, nil, &g); err != nil {
			if ae, ok := asAPIError(err); ok {
				d.Errors.add("resourceGroup", ae.Message)
				return h.showIdentityForm(v, d, ae.Status)
			}
			return err
		}
		location = g.Location
	}
	var out identityJSON
	body := map[string]any{"location": location}
	err = h.call(ctx, v.p, http.MethodPut, identityPath(d.Subscription, d.Group, d.Name.Value), apiVersionIdentity, nil, body, &out)
	if err != nil {
		ae, ok := asAPIError(err)
		if !ok {
			return err
		}
		switch ae.Code {
		case "InvalidResourceName":
			d.Errors.add("name", ae.Message)
		case "LocationRequired", "InvalidLocation", "LocationNotAvailableForResourceType":
			d.Errors.add("location", ae.Message)
		case "ResourceGroupNotFound":
			d.Errors.add("resourceGroup", ae.Message)
		default:
			d.Error = ae
		}
		return h.showIdentityForm(v, d, ae.Status)
	}
	http.Redirect(v.w, v.r, viewIdentity(out).URL+"?created=1", http.StatusSeeOther)
	return nil
}

func (h *Handler) showIdentityForm(v *visit, d *identityFormData, status int) error {
	d.Name.Error, d.Location.Error = d.Errors["name"], d.Errors["location"]
	switch {
	case d.Name.Error != "":
		d.Name.Autofocus = true
	case d.Location.Error != "":
		d.Location.Autofocus = true
	}
	return v.show(h, status, "identity-new", d)
}

// readIdentity reads the identity the path names.
func (h *Handler) readIdentity(v *visit) (identityView, error) {
	var i identityJSON
	sub, rg, name := v.r.PathValue("sub"), v.r.PathValue("rg"), v.r.PathValue("name")
	if err := h.call(v.r.Context(), v.p, http.MethodGet, identityPath(sub, rg, name), apiVersionIdentity, nil, nil, &i); err != nil {
		return identityView{}, err
	}
	return viewIdentity(i), nil
}

// identityData is an identity's overview.
type identityData struct {
	base
	Identity identityView
}

// identityOverview answers GET .../identities/{name}.
func (h *Handler) identityOverview(v *visit) error {
	iv, err := h.readIdentity(v)
	if err != nil {
		return err
	}
	d := &identityData{base: base{Title: iv.Name, Nav: "identities", Crumbs: identityCrumbs(iv, ""),
		Tabs: identityTabs(iv, "Overview")}, Identity: iv}
	if v.r.URL.Query().Get("created") != "" {
		d.Flash = "Managed identity '" + iv.Name + "' was created."
	}
	return v.show(h, http.StatusOK, "identity", d)
}

// confirmDeleteIdentity answers GET .../identities/{name}/delete.
func (h *Handler) confirmDeleteIdentity(v *visit) error {
	iv, err := h.readIdentity(v)
	if err != nil {
		return err
	}
	return v.show(h, http.StatusOK, "identity-delete", &identityData{
		base:     base{Title: "Delete " + iv.Name, Nav: "identities", Crumbs: identityCrumbs(iv, "Delete")},
		Identity: iv,
	})
}

// deleteIdentity answers POST .../identities/{name}/delete.
func (h *Handler) deleteIdentity(v *visit) error {
	sub, rg, name := v.r.PathValue("sub"), v.r.PathValue("rg"), v.r.PathValue("name")
	if err := h.call(v.r.Context(), v.p, http.MethodDelete, identityPath(sub, rg, name), apiVersionIdentity, nil, nil, nil); err != nil {
		return err
	}
	http.Redirect(v.w, v.r, "/portal/identities?"+url.Values{"subscription": {sub}, "deleted": {name}}.Encode(), http.StatusSeeOther)
	return nil
}

// roleRow is one role assignment of an identity.
type roleRow struct {
	Role, RoleID, Scope, Description string
}

// rolesData is an identity's role assignments.
type rolesData struct {
	base
	Identity    identityView
	Rows        []roleRow
	Unavailable string
}

// roleAssignments answers GET .../identities/{name}/role-assignments: the
// assignments the API lists for the identity's principal in the
// subscription.
func (h *Handler) roleAssignments(v *visit) error {
	iv, err := h.readIdentity(v)
	if err != nil {
		return err
	}
	d := &rolesData{base: base{Title: iv.Name + " · Role assignments", Nav: "identities",
		Crumbs: identityCrumbs(iv, "Role assignments"), Tabs: identityTabs(iv, "Role assignments")}, Identity: iv}
	ctx := v.r.Context()
	authz := subscriptionPath(iv.Sub) + "/providers/Microsoft.Authorization"
	assignments, err := list[roleAssignmentJSON](ctx, h, v.p, authz+"/roleAssignments", apiVersionAuthorization,
		url.Values{"$filter": {"principalId eq '" + iv.PrincipalID + "'"}})
	if err != nil {
		ae, ok := asAPIError(err)
		if !ok {
			return err
		}
		if ae.Status != http.StatusNotFound && ae.Code != "InvalidResourceType" && ae.Code != "NoRegisteredProviderFound" {
			return err
		}
		d.Unavailable = "This server does not serve role assignments yet (" + ae.Code + ")."
		return v.show(h, http.StatusOK, "roles", d)
	}
	names := map[string]string{} // keyed by lower-cased role definition GUID
	if defs, err := list[roleDefinitionJSON](ctx, h, v.p, authz+"/roleDefinitions", apiVersionAuthorization, nil); err == nil {
		for _, def := range defs {
			names[strings.ToLower(def.Name)] = def.Properties.RoleName
		}
	}
	for _, a := range assignments {
		guid := a.Properties.RoleDefinitionID[strings.LastIndex(a.Properties.RoleDefinitionID, "/")+1:]
		role := names[strings.ToLower(guid)]
		if role == "" {
			role = guid
		}
		d.Rows = append(d.Rows, roleRow{Role: role, RoleID: a.Properties.RoleDefinitionID, Scope: a.Properties.Scope,
			Description: a.Properties.Description})
	}
	return v.show(h, http.StatusOK, "roles", d)
}
