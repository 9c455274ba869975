package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

func graphError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message}})
}

func graphNotFound(w http.ResponseWriter, id string) {
	graphError(w, 404, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
}

// fakeGUID makes the fake's IDs: GUIDs whose first group says what they
// are (a = application ID, o = object ID, s = service principal, g = grant).
func fakeGUID(kind byte, n int) string {
	return fmt.Sprintf("%c0000000-0000-0000-0000-%012d", kind, n)
}

// graph serves the application API under /v1.0: applications (create,
// list with $filter identifierUris/any, get by object ID or
// (appId='...'), delete), each application's service principal
// (servicePrincipals(appId='...')) and app role assignments to it.
func (f *fakeServer) graph(w http.ResponseWriter, r *http.Request, body []byte) {
	p := strings.TrimPrefix(r.URL.Path, "/v1.0/")
	byAppID := regexp.MustCompile(`^(applications|servicePrincipals)\(appId='([^']*)'\)$`)
	switch {
	case p == "applications" && r.Method == http.MethodPost:
		f.createApp(w, body)
	case p == "applications" && r.Method == http.MethodGet:
		f.listApps(w, r)
	case byAppID.MatchString(p) && r.Method == http.MethodGet:
		m := byAppID.FindStringSubmatch(p)
		app := f.findApp("appId", m[2])
		switch {
		case app == nil:
			graphNotFound(w, m[2])
		case m[1] == "applications":
			writeJSON(w, 200, app)
		default:
			writeJSON(w, 200, map[string]any{"id": app["spId"], "appId": app["appId"], "displayName": app["displayName"], "appRoles": app["appRoles"]})
		}
	case strings.HasPrefix(p, "applications/"):
		id := strings.TrimPrefix(p, "applications/")
		app := f.findApp("id", id)
		switch {
		case app == nil:
			graphNotFound(w, id)
		case r.Method == http.MethodGet:
			writeJSON(w, 200, app)
		case r.Method == http.MethodDelete:
			f.apps = slices.DeleteFunc(f.apps, func(a map[string]any) bool { return a["id"] == id })
			w.WriteHeader(http.StatusNoContent)
		default:
			graphError(w, 405, "Request_BadRequest", "Method not allowed.")
		}
	case strings.HasPrefix(p, "servicePrincipals/") && strings.HasSuffix(p, "/appRoleAssignedTo"):
		sp := strings.TrimSuffix(strings.TrimPrefix(p, "servicePrincipals/"), "/appRoleAssignedTo")
		app := f.findApp("spId", sp)
		if app == nil {
			graphNotFound(w, sp)
			return
		}
		if r.Method == http.MethodPost {
			f.assignAppRole(w, body, app)
			return
		}
		out := []map[string]any{}
		for _, g := range f.appGrants {
			if g["resourceId"] == sp {
				out = append(out, g)
			}
		}
		writeJSON(w, 200, map[string]any{"value": out})
	default:
		graphError(w, 400, "BadRequest", "Resource not found for the segment '"+p+"'.")
	}
}

func (f *fakeServer) findApp(field, value string) map[string]any {
	for _, a := range f.apps {
		if strings.EqualFold(a[field].(string), value) {
			return a
		}
	}
	return nil
}

func (f *fakeServer) createApp(w http.ResponseWriter, body []byte) {
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil || len(in) != 3 || in["displayName"] == nil || in["identifierUris"] == nil || in["appRoles"] == nil {
		graphError(w, 400, "Request_BadRequest", "Invalid application: "+string(body))
		return
	}
	for _, u := range in["identifierUris"].([]any) {
		for _, a := range f.apps {
			if slices.Contains(a["identifierUris"].([]any), u) {
				graphError(w, 400, "Request_BadRequest", "Another object with the same value for property identifierUris already exists.")
				return
			}
		}
	}
	f.serial++
	app := map[string]any{
		"id": fakeGUID('0', f.serial), "appId": fakeGUID('a', f.serial), "spId": fakeGUID('5', f.serial),
		"displayName": in["displayName"], "identifierUris": in["identifierUris"], "appRoles": in["appRoles"],
		"signInAudience": "AzureADMyOrg", "createdDateTime": "2026-01-02T03:04:05Z",
	}
	f.apps = append(f.apps, app)
	writeJSON(w, 201, app)
}

func (f *fakeServer) listApps(w http.ResponseWriter, r *http.Request) {
	apps := f.apps
	if filter := r.URL.Query().Get("$filter"); filter != "" {
		m := regexp.MustCompile(`^identifierUris/any\(x:x eq '([^']*)'\)$`).FindStringSubmatch(filter)
		if m == nil {
			graphError(w, 400, "Request_UnsupportedQuery", "Unsupported query: "+filter)
			return
		}
		apps = nil
		for _, a := range f.apps {
			if slices.Contains(a["identifierUris"].([]any), any(m[1])) {
				apps = append(apps, a)
			}
		}
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	start = min(start, len(apps))
	end := min(start+fakePageSize, len(apps))
	page := map[string]any{"value": append([]map[string]any{}, apps[start:end]...)}
	if end < len(apps) {
		page["@odata.nextLink"] = f.srv.URL + "/v1.0/applications?$skiptoken=" + strconv.Itoa(end)
	}
	writeJSON(w, 200, page)
}

func (f *fakeServer) assignAppRole(w http.ResponseWriter, body []byte, app map[string]any) {
	var in map[string]string
	if err := json.Unmarshal(body, &in); err != nil || len(in) != 3 || in["resourceId"] != app["spId"] || in["principalId"] == "" {
		graphError(w, 400, "Request_BadRequest", "Invalid app role assignment: "+string(body))
		return
	}
	found := false
	for _, role := range app["appRoles"].([]any) {
		found = found || role.(map[string]any)["id"] == in["appRoleId"]
	}
	if !found {
		graphError(w, 400, "Request_BadRequest", "Permission being assigned was not found on application")
		return
	}
	f.serial++
	g := map[string]any{
		"id": fakeGUID('9', f.serial), "principalId": in["principalId"], "principalType": "ServicePrincipal",
		"resourceId": in["resourceId"], "resourceDisplayName": app["displayName"], "appRoleId": in["appRoleId"],
		"createdDateTime": "2026-01-02T03:04:05Z",
	}
	f.appGrants = append(f.appGrants, g)
	writeJSON(w, 201, g)
}
