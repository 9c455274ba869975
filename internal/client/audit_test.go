package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"
)

// auditPages serves /{tenant}/fedcred/auditEvents from n events "e0".."e<n-1>",
// pageSize a page, continuing with $skiptoken=<index>; link builds nextLink
// from the next query string.
func auditPages(f *fakeAPI, n, pageSize int, link func(query string) string) {
	f.mux.HandleFunc("GET /{tenant}/fedcred/auditEvents", func(w http.ResponseWriter, r *http.Request) {
		start, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
		var value []map[string]any
		for i := start; i < min(start+pageSize, n); i++ {
			value = append(value, map[string]any{"id": fmt.Sprintf("e%d", i), "kind": "token.issued",
				"time": time.Date(2026, 11, 29, 10, 0, i, 0, time.UTC), "outcome": map[string]any{"result": "success", "status": 200}})
		}
		body := map[string]any{"value": value}
		if start+pageSize < n {
			q := r.URL.Query()
			q.Set("$skiptoken", strconv.Itoa(start+pageSize))
			body["nextLink"] = link(q.Encode())
		}
		writeJSON(w, http.StatusOK, body)
	})
}

func TestListAuditEvents_Query(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	auditPages(f, 1, 10, nil)
	c := f.client(nil)
	since := time.Date(2026, 11, 29, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	until := since.Add(time.Hour + time.Nanosecond)
	got, more, err := c.ListAuditEvents(context.Background(), AuditQuery{
		Since: since, Until: until, Kinds: []string{"token.refused", "keys.rotated"}, Actor: "a b",
		ClientID: "cid", Target: "/subscriptions/s/resourceGroups/rg", Outcome: "denied", Top: 5000,
	})
	if err != nil || more || len(got) != 1 || got[0].ID != "e0" || got[0].Outcome.Status != 200 {
		t.Fatalf("ListAuditEvents = %+v, %v, %v", got, more, err)
	}
	reqs := f.recorded()
	if len(reqs) != 1 || reqs[0].Path != "/"+testTenant+"/fedcred/auditEvents" {
		t.Fatalf("requests = %+v", reqs)
	}
	q, _ := url.ParseQuery(reqs[0].Query)
	want := url.Values{
		"since": {"2026-11-29T08:00:00Z"}, "until": {"2026-11-29T09:00:00.000000001Z"},
		"kind": {"token.refused,keys.rotated"}, "actor": {"a b"}, "clientId": {"cid"},
		"target": {"/subscriptions/s/resourceGroups/rg"}, "outcome": {"denied"}, "$top": {"1000"},
	}
	if q.Encode() != want.Encode() {
		t.Errorf("query = %s\nwant    %s", q.Encode(), want.Encode())
	}
}

func TestListAuditEvents_Paging(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		events   int
		pageSize int
		top      int
		want     int
		wantMore bool
	}{
		{name: "every page when top is not reached", events: 7, pageSize: 3, top: 100, want: 7, wantMore: false},
		{name: "stops inside a page at top", events: 7, pageSize: 3, top: 4, want: 4, wantMore: true},
		{name: "stops at the end of a page that has a next one", events: 7, pageSize: 3, top: 6, want: 6, wantMore: true},
		{name: "exactly the whole log", events: 6, pageSize: 3, top: 6, want: 6, wantMore: false},
		{name: "empty log", events: 0, pageSize: 3, top: 10, want: 0, wantMore: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAPI(t)
			auditPages(f, tt.events, tt.pageSize, func(q string) string { return f.srv.URL + "/" + testTenant + "/fedcred/auditEvents?" + q })
			got, more, err := f.client(nil).ListAuditEvents(context.Background(), AuditQuery{Top: tt.top})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			var want []string
			for i := range tt.want {
				want = append(want, fmt.Sprintf("e%d", i))
			}
			if !slices.Equal(ids, want) || more != tt.wantMore || got == nil {
				t.Errorf("got %v more %v, want %v more %v", ids, more, want, tt.wantMore)
			}
		})
	}
}

func TestListAuditEvents_NextLinkOnAnotherOriginStaysOnTheServer(t *testing.T) {
	t.Parallel()
	f := newFakeAPI(t)
	auditPages(f, 4, 2, func(q string) string { return "https://public.example/" + testTenant + "/fedcred/auditEvents?" + q })
	got, _, err := f.client(nil).ListAuditEvents(context.Background(), AuditQuery{Top: 10})
	if err != nil || len(got) != 4 {
		t.Fatalf("got %d events, err %v; want 4", len(got), err)
	}
	for _, r := range f.recorded() {
		if r.Auth == "" {
			t.Errorf("request %s without the token", r.Path)
		}
	}
}

func TestListAuditEvents_Errors(t *testing.T) {
	t.Parallel()
	t.Run("refused by the server", func(t *testing.T) {
		t.Parallel()
		f := newFakeAPI(t)
		f.mux.HandleFunc("GET /{tenant}/fedcred/auditEvents", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": map[string]string{"code": "AuthorizationFailed", "message": "no"}})
		})
		_, _, err := f.client(nil).ListAuditEvents(context.Background(), AuditQuery{Top: 1})
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || apiErr.Code != "AuthorizationFailed" {
			t.Errorf("err = %v, want the 403 APIError", err)
		}
	})
	t.Run("a nextLink that repeats", func(t *testing.T) {
		t.Parallel()
		f := newFakeAPI(t)
		f.mux.HandleFunc("GET /{tenant}/fedcred/auditEvents", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"value": []any{}, "nextLink": f.srv.URL + "/" + testTenant + "/fedcred/auditEvents?$skiptoken=x"})
		})
		if _, _, err := f.client(nil).ListAuditEvents(context.Background(), AuditQuery{Top: 10}); err == nil {
			t.Error("a repeating nextLink was followed forever or accepted")
		}
	})
	t.Run("bad arguments", func(t *testing.T) {
		t.Parallel()
		f := newFakeAPI(t)
		c, err := New(Options{Server: f.srv.URL, CAFile: f.ca.file})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ListAuditEvents(context.Background(), AuditQuery{Top: 1}); err == nil {
			t.Error("no tenant accepted")
		}
		if _, _, err := f.client(nil).ListAuditEvents(context.Background(), AuditQuery{}); err == nil {
			t.Error("top 0 accepted")
		}
		if n := len(f.recorded()); n != 0 {
			t.Errorf("%d requests sent for bad arguments", n)
		}
	})
}
