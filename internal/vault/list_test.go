package vault

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// listPage is a decoded list answer.
type listPage struct {
	Value []struct {
		ID          string            `json:"id"`
		ContentType string            `json:"contentType"`
		Tags        map[string]string `json:"tags"`
		Attributes  map[string]any    `json:"attributes"`
		Value       *string           `json:"value"`
	} `json:"value"`
	NextLink *string `json:"nextLink"`
}

// listAll follows nextLink from path and returns every page.
func (e *env) listAll(path, token string) []listPage {
	e.t.Helper()
	var pages []listPage
	for range 100 {
		r := e.do("GET", path, token, nil)
		if r.status != http.StatusOK {
			e.t.Fatalf("GET %s = %d %s", path, r.status, r.raw)
		}
		if !strings.Contains(string(r.raw), `"nextLink":`) {
			e.t.Fatalf("page without nextLink: %s", r.raw)
		}
		var p listPage
		if err := json.Unmarshal(r.raw, &p); err != nil {
			e.t.Fatal(err)
		}
		pages = append(pages, p)
		if p.NextLink == nil {
			return pages
		}
		next, ok := strings.CutPrefix(*p.NextLink, testPublicURL+"/")
		if !ok {
			e.t.Fatalf("nextLink %q is not under the public URL", *p.NextLink)
		}
		path = "/" + next
	}
	e.t.Fatal("more than 100 pages")
	return nil
}

func TestListSecrets_Paging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.h.scanBatch = 2 // so that pages and secrets straddle the store reads
	names := []string{"alpha", "Bravo", "charlie", "delta", "echo", "foxtrot", "golf"}
	latest := map[string]string{} // name → content type of its latest version
	for i, name := range names {
		for v := range i%3 + 1 {
			ct := fmt.Sprintf("%s-v%d", name, v)
			e.set("pets-kv", name, map[string]any{"value": "x", "contentType": ct, "tags": map[string]string{"n": name}})
			latest[name] = ct
			e.clock.Advance(time.Second)
		}
	}
	tests := []struct {
		name      string
		query     string
		wantSizes []int
	}{
		{name: "three per page", query: "&maxresults=3", wantSizes: []int{3, 3, 1}},
		{name: "one per page", query: "&maxresults=1", wantSizes: []int{1, 1, 1, 1, 1, 1, 1}},
		{name: "page size equal to the count", query: "&maxresults=7", wantSizes: []int{7}},
		{name: "default page size", query: "", wantSizes: []int{7}},
		{name: "largest page size", query: "&maxresults=25", wantSizes: []int{7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pages := e.listAll(secretPath("pets-kv", "secrets")+tc.query, readerToken)
			var sizes []int
			var got []string
			for _, p := range pages {
				sizes = append(sizes, len(p.Value))
				for _, it := range p.Value {
					name, ok := strings.CutPrefix(it.ID, testPublicURL+"/vaults/pets-kv/secrets/")
					if !ok || strings.Contains(name, "/") {
						t.Fatalf("item id %q is not <vaultUri>secrets/<name>", it.ID)
					}
					got = append(got, name)
					if it.ContentType != latest[name] || it.Tags["n"] != name {
						t.Errorf("item %s = %+v, want the latest version's metadata %s", name, it, latest[name])
					}
					if it.Value != nil {
						t.Errorf("item %s carries a value", name)
					}
					if it.Attributes["enabled"] != true || it.Attributes["recoveryLevel"] != "Purgeable" || it.Attributes["created"] == nil {
						t.Errorf("item %s attributes = %v", name, it.Attributes)
					}
				}
			}
			if !slices.Equal(sizes, tc.wantSizes) {
				t.Errorf("page sizes = %v, want %v", sizes, tc.wantSizes)
			}
			if want := []string{"alpha", "Bravo", "charlie", "delta", "echo", "foxtrot", "golf"}; !slices.Equal(got, want) {
				t.Errorf("names = %v, want %v", got, want)
			}
		})
	}
}

func TestListSecrets_NextLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, name := range []string{"a", "b", "c"} {
		e.set("pets-kv", name, map[string]any{"value": "x"})
	}
	r := e.do("GET", "/vaults/pets-kv/secrets?api-version=2026-04-01&maxresults=2", readerToken, nil)
	var p listPage
	if err := json.Unmarshal(r.raw, &p); err != nil || p.NextLink == nil {
		t.Fatalf("first page = %s, %v", r.raw, err)
	}
	u, err := url.Parse(*p.NextLink)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme+"://"+u.Host+u.Path != testPublicURL+"/vaults/pets-kv/secrets" {
		t.Errorf("nextLink %s is not the vault's secrets URL", *p.NextLink)
	}
	q := u.Query()
	if q.Get("api-version") != "2026-04-01" || q.Get("maxresults") != "2" || q.Get("$skiptoken") == "" {
		t.Errorf("nextLink query %v lacks api-version, maxresults or $skiptoken", q)
	}
	if !strings.Contains(u.RawQuery, "$skiptoken=") {
		t.Errorf("nextLink %s does not spell $skiptoken as Key Vault does", *p.NextLink)
	}
}

func TestListSecrets_Empty(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.set("pets-kv", "not-in-other", map[string]any{"value": "x"})
	r := e.do("GET", secretPath("other-kv", "secrets"), groupUserToken, nil)
	if r.status != http.StatusOK || string(r.raw) != `{"value":[],"nextLink":null}` {
		t.Errorf("empty vault list = %d %s", r.status, r.raw)
	}
}

func TestListSecrets_InvalidPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name  string
		path  string
		query string
	}{
		{name: "maxresults zero", path: "secrets", query: "&maxresults=0"},
		{name: "maxresults over 25", path: "secrets", query: "&maxresults=26"},
		{name: "maxresults not a number", path: "secrets", query: "&maxresults=ten"},
		{name: "maxresults negative", path: "secrets", query: "&maxresults=-1"},
		{name: "skiptoken not base64", path: "secrets", query: "&$skiptoken=***"},
		{name: "skiptoken not a name", path: "secrets", query: "&$skiptoken=" + "Li4vLi4v"},
		{name: "versions maxresults over 25", path: "secrets/s/versions", query: "&maxresults=100"},
		{name: "versions skiptoken not a version", path: "secrets/s/versions", query: "&$skiptoken=" + "LS0t"},
		{name: "deleted maxresults zero", path: "deletedsecrets", query: "&maxresults=0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.do("GET", secretPath("pets-kv", tc.path)+tc.query, officerToken, nil)
			r.expectError(t, http.StatusBadRequest, "BadParameter", "")
		})
	}
}

func TestListVersions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var want []string
	for i := range 5 {
		b := e.set("pets-kv", "rotated", map[string]any{"value": fmt.Sprint(i), "attributes": map[string]any{"enabled": i != 2}})
		want = append(want, versionOf(t, b))
		e.clock.Advance(time.Minute)
	}
	e.set("pets-kv", "rotated-other", map[string]any{"value": "x"}) // a name with the same prefix
	e.set("pets-kv", "rotate", map[string]any{"value": "x"})
	pages := e.listAll(secretPath("pets-kv", "secrets", "rotated", "versions")+"&maxresults=2", readerToken)
	var sizes []int
	var got []string
	disabled := 0
	for _, p := range pages {
		sizes = append(sizes, len(p.Value))
		for _, it := range p.Value {
			v, ok := strings.CutPrefix(it.ID, testPublicURL+"/vaults/pets-kv/secrets/rotated/")
			if !ok {
				t.Fatalf("version id %q is not <vaultUri>secrets/rotated/<version>", it.ID)
			}
			if it.Value != nil {
				t.Errorf("version %s carries a value", v)
			}
			if it.Attributes["enabled"] == false {
				disabled++
			}
			got = append(got, v)
		}
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Errorf("page sizes = %v, want [2 2 1]", sizes)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("versions = %v, want %v in version order", got, want)
	}
	if disabled != 1 {
		t.Errorf("%d disabled versions listed, want 1", disabled)
	}

	r := e.do("GET", secretPath("pets-kv", "secrets", "never-set", "versions"), readerToken, nil)
	if r.status != http.StatusOK || string(r.raw) != `{"value":[],"nextLink":null}` {
		t.Errorf("versions of a missing secret = %d %s", r.status, r.raw)
	}
}
