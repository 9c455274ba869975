package arm

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
)

func TestCredentials_Lifecycle(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.createIdentity("rg", "id1")
	path := credentialPath("rg", "id1", "Fic-One")

	var created credentialJSON
	env.call(http.MethodPut, path, ficBody(testIssuer, "system:serviceaccount:ns:sa", testAudience)).
		wantStatus(t, http.StatusCreated).decode(t, &created)
	want := credentialJSON{
		ID:   identityPath("rg", "id1") + "/federatedIdentityCredentials/Fic-One",
		Name: "Fic-One",
		Type: "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
		Properties: credentialProperties{
			Issuer: testIssuer, Subject: "system:serviceaccount:ns:sa", Audiences: []string{testAudience},
		},
	}
	if created.ID != want.ID || created.Name != want.Name || created.Type != want.Type ||
		created.Properties.Issuer != want.Properties.Issuer || created.Properties.Subject != want.Properties.Subject ||
		strings.Join(created.Properties.Audiences, ",") != testAudience {
		t.Fatalf("created = %+v\nwant %+v", created, want)
	}

	t.Run("visible at once", func(t *testing.T) {
		var got credentialJSON
		env.call(http.MethodGet, path, nil).wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Properties.Subject != "system:serviceaccount:ns:sa" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("update to its own values", func(t *testing.T) {
		env.call(http.MethodPut, path, ficBody(testIssuer, "system:serviceaccount:ns:sa", testAudience)).wantStatus(t, http.StatusOK)
	})
	t.Run("update through another casing keeps the name", func(t *testing.T) {
		var got credentialJSON
		env.call(http.MethodPut, credentialPath("rg", "id1", "fic-one"), ficBody(testIssuer, "system:serviceaccount:ns:other", testAudience)).
			wantStatus(t, http.StatusOK).decode(t, &got)
		if got.Name != "Fic-One" || got.Properties.Subject != "system:serviceaccount:ns:other" {
			t.Errorf("updated = %+v", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		env.call(http.MethodDelete, path, nil).wantStatus(t, http.StatusOK)
		env.call(http.MethodGet, path, nil).wantError(t, http.StatusNotFound, "ResourceNotFound",
			"The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/id1/Fic-One' under resource group 'rg' was not found.")
		env.call(http.MethodDelete, path, nil).wantStatus(t, http.StatusNoContent)
	})
}

func TestCredentials_Validation(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.createIdentity("rg", "id1")
	env.mustCreate(credentialPath("rg", "id1", "existing"), ficBody(testIssuer, "system:serviceaccount:ns:taken", testAudience))

	const (
		msgEmpty       = "Federated Identity Credential from HTTP body has empty properties"
		msgMustSpecify = "The request format was unexpected. Federated Identity Credential must specify 'issuer', 'subject' and 'audience'."
		msgOneAudience = "Federated identity credentials must have exactly one audience."
		msgWildcard    = "Wildcard characters aren't supported in any federated identity credential property value."
		msgDuplicate   = "Issuer and subject combination already exists for this Managed Identity."
	)
	props := func(p map[string]any) map[string]any { return map[string]any{"properties": p} }
	valid := func(issuer, subject, audience string) map[string]any { return ficBody(issuer, subject, audience) }
	long := func(n int) string { return strings.Repeat("a", n) }

	tests := []struct {
		name    string
		ficName string
		body    any
		rawBody string
		status  int
		code    string
		message string
		target  string
	}{
		// name
		{name: "name too short", ficName: "ab", body: valid(testIssuer, "s", testAudience), status: 400, code: "BadRequest", message: "Federated Identity Credential name 'ab' is invalid."},
		{name: "name starts with underscore", ficName: "_abc", body: valid(testIssuer, "s", testAudience), status: 400, code: "BadRequest", message: "Federated Identity Credential name '_abc' is invalid."},
		{name: "name starts with hyphen", ficName: "-abc", body: valid(testIssuer, "s", testAudience), status: 400, code: "BadRequest", message: "Federated Identity Credential name '-abc' is invalid."},
		{name: "name with dot", ficName: "ab.c", body: valid(testIssuer, "s", testAudience), status: 400, code: "BadRequest", message: "Federated Identity Credential name 'ab.c' is invalid."},
		{name: "name with padding as azwi makes it", ficName: "abc%3D", body: valid(testIssuer, "s", testAudience), status: 400, code: "BadRequest", message: "Federated Identity Credential name 'abc=' is invalid."},
		{name: "name of 121 characters", ficName: long(121), body: valid(testIssuer, "s", testAudience), status: 400, code: "BadRequest", message: "Federated Identity Credential name '" + long(121) + "' is invalid."},
		{name: "name of 120 characters", ficName: long(120), body: valid(testIssuer, "s120", testAudience), status: 201},
		{name: "name of 3 characters with hyphen and underscore", ficName: "a-_", body: valid(testIssuer, "s3", testAudience), status: 201},
		// missing parts
		{name: "no body", ficName: "fic", rawBody: " ", status: 400, code: "BadRequest", message: msgEmpty},
		{name: "no properties", ficName: "fic", body: map[string]any{"name": "fic"}, status: 400, code: "BadRequest", message: msgEmpty},
		{name: "null properties", ficName: "fic", rawBody: `{"properties":null}`, status: 400, code: "BadRequest", message: msgEmpty},
		{name: "empty properties", ficName: "fic", body: props(map[string]any{}), status: 400, code: "BadRequest", message: msgEmpty},
		{name: "no issuer", ficName: "fic", body: props(map[string]any{"subject": "s", "audiences": []string{testAudience}}), status: 400, code: "BadRequest", message: msgMustSpecify},
		{name: "empty issuer", ficName: "fic", body: valid("", "s", testAudience), status: 400, code: "BadRequest", message: msgMustSpecify},
		{name: "no subject", ficName: "fic", body: props(map[string]any{"issuer": testIssuer, "audiences": []string{testAudience}}), status: 400, code: "BadRequest", message: msgMustSpecify},
		{name: "blank subject", ficName: "fic", body: valid(testIssuer, "  ", testAudience), status: 400, code: "BadRequest", message: msgMustSpecify},
		{name: "no audiences", ficName: "fic", body: props(map[string]any{"issuer": testIssuer, "subject": "s"}), status: 400, code: "BadRequest", message: msgMustSpecify},
		{name: "empty audience", ficName: "fic", body: valid(testIssuer, "s", ""), status: 400, code: "BadRequest", message: msgMustSpecify},
		// audiences
		{name: "zero audiences", ficName: "fic", body: props(map[string]any{"issuer": testIssuer, "subject": "s", "audiences": []string{}}), status: 400, code: "BadRequest", message: msgOneAudience, target: "properties.audiences"},
		{name: "two audiences", ficName: "fic", body: ficBody(testIssuer, "s", testAudience, "api://other"), status: 400, code: "BadRequest", message: msgOneAudience},
		{name: "audience as a string", ficName: "fic", rawBody: `{"properties":{"issuer":"` + testIssuer + `","subject":"s","audiences":"api://x"}}`, status: 400, code: "InvalidRequestContent"},
		{name: "audience value is not enforced", ficName: "fic-aud", body: valid(testIssuer, "s-aud", "api://AzureADTokenExchange-Modified"), status: 201},
		// lengths
		{name: "issuer of 601 characters", ficName: "fic", body: valid("https://x.test/"+long(586), "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer of 600 characters", ficName: "fic-600i", body: valid("https://x.test/"+long(585), "s", testAudience), status: 201},
		{name: "subject of 601 characters", ficName: "fic", body: valid(testIssuer, long(601), testAudience), status: 400, code: "BadRequest", target: "properties.subject"},
		{name: "subject of 600 characters", ficName: "fic-600s", body: valid(testIssuer, long(600), testAudience), status: 201},
		{name: "audience of 601 characters", ficName: "fic", body: valid(testIssuer, "s", long(601)), status: 400, code: "BadRequest", target: "properties.audiences"},
		{name: "multibyte subject of 600 characters", ficName: "fic-600u", body: valid(testIssuer, strings.Repeat("ü", 600), testAudience), status: 201},
		// wildcards
		{name: "wildcard in subject", ficName: "fic", body: valid(testIssuer, "system:serviceaccount:ns:*", testAudience), status: 400, code: "BadRequest", message: msgWildcard, target: "properties.subject"},
		{name: "wildcard in issuer", ficName: "fic", body: valid("https://*.example.test/", "s", testAudience), status: 400, code: "BadRequest", message: msgWildcard, target: "properties.issuer"},
		{name: "wildcard in audience", ficName: "fic", body: valid(testIssuer, "s", "api://*"), status: 400, code: "BadRequest", message: msgWildcard, target: "properties.audiences"},
		// issuer form
		{name: "http issuer", ficName: "fic", body: valid("http://oidc.example.test/", "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer without scheme", ficName: "fic", body: valid("oidc.example.test/x", "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer with upper-case scheme", ficName: "fic", body: valid("HTTPS://oidc.example.test/", "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer without host", ficName: "fic", body: valid("https:///path", "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer with query", ficName: "fic", body: valid("https://oidc.example.test/?a=b", "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer with empty query", ficName: "fic", body: valid("https://oidc.example.test/?", "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer with fragment", ficName: "fic", body: valid("https://oidc.example.test/#x", "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer with user info", ficName: "fic", body: valid("https://user@oidc.example.test/", "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer with trailing space", ficName: "fic", body: valid(testIssuer+" ", "s", testAudience), status: 400, code: "BadRequest",
			message: "The issuer '" + testIssuer + " ' is invalid: it must not have leading or trailing whitespace.", target: "properties.issuer"},
		{name: "issuer with leading space", ficName: "fic", body: valid(" "+testIssuer, "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer with inner space", ficName: "fic", body: valid("https://oidc.example.test/a b", "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer with trailing newline", ficName: "fic", body: valid(testIssuer+"\n", "s", testAudience), status: 400, code: "BadRequest", target: "properties.issuer"},
		{name: "issuer with port and no trailing slash", ficName: "fic-port", body: valid("https://127.0.0.1:8443/oidc/t/c", "s-port", testAudience), status: 201},
		// control characters
		{name: "control character in subject", ficName: "fic", body: valid(testIssuer, "system:serviceaccount:ns:sa\x00", testAudience), status: 400, code: "BadRequest", target: "properties.subject"},
		// flexible credentials
		{name: "claims matching expression", ficName: "fic", body: props(map[string]any{"issuer": testIssuer, "audiences": []string{testAudience},
			"claimsMatchingExpression": map[string]any{"languageVersion": 1, "value": "claims['sub'] matches 'x'"}}),
			status: 400, code: "BadRequest", target: "properties.claimsMatchingExpression"},
		{name: "null claims matching expression is absent", ficName: "fic-nullcme", rawBody: `{"properties":{"issuer":"` + testIssuer + `","subject":"s-cme","audiences":["a"],"claimsMatchingExpression":null}}`, status: 201},
		// uniqueness
		{name: "duplicate issuer and subject", ficName: "fic", body: valid(testIssuer, "system:serviceaccount:ns:taken", testAudience), status: 400, code: "BadRequest", message: msgDuplicate},
		{name: "same subject with another issuer", ficName: "fic-oi", body: valid("https://other.example.test/", "system:serviceaccount:ns:taken", testAudience), status: 201},
		{name: "subject differing only in case is another subject", ficName: "fic-case", body: valid(testIssuer, "system:serviceaccount:ns:TAKEN", testAudience), status: 201},
		{name: "issuer differing by a trailing slash is another issuer", ficName: "fic-slash", body: valid(strings.TrimSuffix(testIssuer, "/"), "system:serviceaccount:ns:taken", testAudience), status: 201},
		// malformed JSON
		{name: "malformed json", ficName: "fic", rawBody: `{"properties":{`, status: 400, code: "InvalidRequestContent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := credentialPath("rg", "id1", tt.ficName)
			var r result
			if tt.rawBody != "" {
				r = env.raw(http.MethodPut, path+"?api-version="+testAPIVersion, adminToken, strings.NewReader(tt.rawBody))
			} else {
				r = env.call(http.MethodPut, path, tt.body)
			}
			if tt.code == "" {
				r.wantStatus(t, tt.status)
				return
			}
			r.wantError(t, tt.status, tt.code, tt.message)
			if tt.target != "" {
				if got := r.cloudErr(t).Target; got != tt.target {
					t.Errorf("target = %q, want %q", got, tt.target)
				}
			}
			if tt.status == 400 && tt.code == "BadRequest" {
				// a refused write stores nothing
				env.call(http.MethodGet, path, nil).wantStatus(t, http.StatusNotFound)
			}
		})
	}
}

func TestCredentials_UpdateIntoDuplicateIsRefused(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.createIdentity("rg", "id1")
	env.mustCreate(credentialPath("rg", "id1", "fic1"), ficBody(testIssuer, "sub-1", testAudience))
	env.mustCreate(credentialPath("rg", "id1", "fic2"), ficBody(testIssuer, "sub-2", testAudience))
	env.call(http.MethodPut, credentialPath("rg", "id1", "fic2"), ficBody(testIssuer, "sub-1", testAudience)).
		wantError(t, http.StatusBadRequest, "BadRequest", "Issuer and subject combination already exists for this Managed Identity.")
	var got credentialJSON
	env.call(http.MethodGet, credentialPath("rg", "id1", "fic2"), nil).wantStatus(t, http.StatusOK).decode(t, &got)
	if got.Properties.Subject != "sub-2" {
		t.Errorf("refused update changed the credential: %+v", got)
	}
	// The same pair on another identity is fine.
	env.createIdentity("rg", "id2")
	env.mustCreate(credentialPath("rg", "id2", "fic1"), ficBody(testIssuer, "sub-1", testAudience))
}

func TestCredentials_ParentMissing(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	const msgParent = "The parent user-assigned identity doesn't exist."
	tests := []struct {
		name    string
		method  string
		path    string
		body    any
		code    string
		message string
	}{
		{name: "put", method: http.MethodPut, path: credentialPath("rg", "ghost", "fic1"), body: ficBody(testIssuer, "s", testAudience), code: "ParentResourceNotFound", message: msgParent},
		{name: "get", method: http.MethodGet, path: credentialPath("rg", "ghost", "fic1"), code: "ParentResourceNotFound", message: msgParent},
		{name: "list", method: http.MethodGet, path: identityPath("rg", "ghost") + "/federatedIdentityCredentials", code: "ParentResourceNotFound", message: msgParent},
		{name: "delete", method: http.MethodDelete, path: credentialPath("rg", "ghost", "fic1"), code: "ParentResourceNotFound", message: msgParent},
		{name: "put in missing group", method: http.MethodPut, path: credentialPath("nogroup", "ghost", "fic1"), body: ficBody(testIssuer, "s", testAudience),
			code: "ResourceGroupNotFound", message: "Resource group 'nogroup' could not be found."},
		{name: "list in missing group", method: http.MethodGet, path: identityPath("nogroup", "ghost") + "/federatedIdentityCredentials", code: "ResourceGroupNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env.call(tt.method, tt.path, tt.body).wantError(t, http.StatusNotFound, tt.code, tt.message)
		})
	}
}

func TestCredentials_EntraLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		entraLimits bool
		creates     int
		wantRefused bool
	}{
		{name: "cap of 20 with entra limits", entraLimits: true, creates: 21, wantRefused: true},
		{name: "no cap by default", entraLimits: false, creates: 25, wantRefused: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t, func(c *Config) { c.EntraLimits = tt.entraLimits })
			env.createGroup("rg")
			env.createIdentity("rg", "id1")
			for i := range tt.creates {
				r := env.call(http.MethodPut, credentialPath("rg", "id1", fmt.Sprintf("fic-%02d", i)), ficBody(testIssuer, fmt.Sprintf("sub-%02d", i), testAudience))
				if tt.wantRefused && i >= 20 {
					r.wantError(t, http.StatusBadRequest, "BadRequest", "The managed identity already has the maximum of 20 federated identity credentials.")
					continue
				}
				r.wantStatus(t, http.StatusCreated)
			}
			if tt.wantRefused {
				// Updating one of the 20 is still allowed.
				env.call(http.MethodPut, credentialPath("rg", "id1", "fic-00"), ficBody(testIssuer, "sub-new", testAudience)).wantStatus(t, http.StatusOK)
			}
		})
	}
}

// TestCredentials_ConcurrentWrites fires distinct PUTs at one identity at
// once: Entra answers some of them 409; here all must succeed.
func TestCredentials_ConcurrentWrites(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.createIdentity("rg", "id1")
	const n = 30
	var wg sync.WaitGroup
	statuses := make([]int, n)
	bodies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPut,
				env.srv.URL+credentialPath("rg", "id1", fmt.Sprintf("fic-%02d", i))+"?api-version="+testAPIVersion,
				strings.NewReader(fmt.Sprintf(`{"properties":{"issuer":%q,"subject":"system:serviceaccount:ns:sa-%02d","audiences":[%q]}}`, testIssuer, i, testAudience)))
			if err != nil {
				bodies[i] = err.Error()
				return
			}
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := env.srv.Client().Do(req)
			if err != nil {
				bodies[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusCreated {
			t.Errorf("PUT fic-%02d: status %d %s", i, s, bodies[i])
		}
	}
	var page listResult[credentialJSON]
	env.call(http.MethodGet, identityPath("rg", "id1")+"/federatedIdentityCredentials", nil).wantStatus(t, http.StatusOK).decode(t, &page)
	if len(page.Value) != n {
		t.Fatalf("listed %d credentials, want %d", len(page.Value), n)
	}
	for i, v := range page.Value {
		if want := fmt.Sprintf("fic-%02d", i); v.Name != want {
			t.Errorf("value[%d] = %s, want %s", i, v.Name, want)
		}
	}
}

// TestCredentials_ConcurrentDuplicates races PUTs of one issuer and subject
// under different names: exactly one may win.
func TestCredentials_ConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.createIdentity("rg", "id1")
	const n = 10
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPut,
				env.srv.URL+credentialPath("rg", "id1", fmt.Sprintf("dup-%02d", i))+"?api-version="+testAPIVersion,
				strings.NewReader(fmt.Sprintf(`{"properties":{"issuer":%q,"subject":"same","audiences":[%q]}}`, testIssuer, testAudience)))
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := env.srv.Client().Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	sort.Ints(statuses)
	created, refused := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusBadRequest:
			refused++
		}
	}
	if created != 1 || refused != n-1 {
		t.Errorf("statuses = %v, want one 201 and %d 400", statuses, n-1)
	}
}

func TestCredentials_Paging(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.createGroup("rg")
	env.createIdentity("rg", "id1")
	const total = 250
	for i := range total {
		env.mustCreate(credentialPath("rg", "id1", fmt.Sprintf("fic-%03d", i)), ficBody(testIssuer, fmt.Sprintf("sub-%03d", i), testAudience))
	}
	listPath := identityPath("rg", "id1") + "/federatedIdentityCredentials"

	t.Run("explicit top", func(t *testing.T) {
		t.Parallel()
		var names []string
		var sizes []int
		r := env.call(http.MethodGet, listPath+"?api-version=2022-01-31-preview&$top=100", nil)
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			var page listResult[credentialJSON]
			r.wantStatus(t, http.StatusOK).decode(t, &page)
			sizes = append(sizes, len(page.Value))
			for _, v := range page.Value {
				names = append(names, v.Name)
			}
			if page.NextLink == "" {
				break
			}
			u, err := url.Parse(page.NextLink)
			if err != nil {
				t.Fatalf("nextLink %q: %v", page.NextLink, err)
			}
			q := u.Query()
			if q.Get("api-version") != "2022-01-31-preview" || q.Get("$top") != "100" || q.Get("$skiptoken") == "" {
				t.Errorf("nextLink %q does not keep api-version and $top", page.NextLink)
			}
			if !strings.HasPrefix(page.NextLink, testPublicURL+listPath+"?") {
				t.Errorf("nextLink %q is not an absolute URL of this list", page.NextLink)
			}
			r = env.follow(page.NextLink)
		}
		if fmt.Sprint(sizes) != "[100 100 50]" {
			t.Errorf("page sizes = %v, want [100 100 50]", sizes)
		}
		if len(names) != total {
			t.Fatalf("listed %d, want %d", len(names), total)
		}
		for i, n := range names {
			if want := fmt.Sprintf("fic-%03d", i); n != want {
				t.Fatalf("names[%d] = %s, want %s", i, n, want)
			}
		}
	})
	t.Run("default page size", func(t *testing.T) {
		t.Parallel()
		var page listResult[credentialJSON]
		env.call(http.MethodGet, listPath, nil).wantStatus(t, http.StatusOK).decode(t, &page)
		if len(page.Value) != defaultPageSize || page.NextLink == "" || strings.Contains(page.NextLink, "$top") {
			t.Errorf("got %d items, nextLink %q", len(page.Value), page.NextLink)
		}
	})
	t.Run("top above the maximum is capped", func(t *testing.T) {
		t.Parallel()
		var page listResult[credentialJSON]
		env.call(http.MethodGet, listPath+"?api-version=1&$top=5000", nil).wantStatus(t, http.StatusOK).decode(t, &page)
		if len(page.Value) != total || page.NextLink != "" {
			t.Errorf("got %d items, nextLink %q", len(page.Value), page.NextLink)
		}
	})
	t.Run("skipToken in camel case as in the reference", func(t *testing.T) {
		t.Parallel()
		var first listResult[credentialJSON]
		env.call(http.MethodGet, listPath+"?api-version=1&$top=2", nil).wantStatus(t, http.StatusOK).decode(t, &first)
		u, _ := url.Parse(first.NextLink)
		token := u.Query().Get("$skiptoken")
		var second listResult[credentialJSON]
		env.call(http.MethodGet, listPath+"?api-version=1&$top=2&$skipToken="+token, nil).wantStatus(t, http.StatusOK).decode(t, &second)
		if len(second.Value) != 2 || second.Value[0].Name != "fic-002" {
			t.Errorf("second page = %+v", second.Value)
		}
	})
	t.Run("invalid paging parameters", func(t *testing.T) {
		t.Parallel()
		otherList := identityPath("rg", "id2") + "/federatedIdentityCredentials"
		var first listResult[credentialJSON]
		env.call(http.MethodGet, listPath+"?api-version=1&$top=1", nil).wantStatus(t, http.StatusOK).decode(t, &first)
		u, _ := url.Parse(first.NextLink)
		foreignToken := u.Query().Get("$skiptoken")
		env.createIdentity("rg", "id2")
		for _, q := range []string{"$top=0", "$top=-1", "$top=abc", "$skiptoken=%21%21", "$skiptoken=" + foreignToken} {
			path := listPath
			if strings.Contains(q, foreignToken) {
				path = otherList
			}
			env.call(http.MethodGet, path+"?api-version=1&"+q, nil).wantError(t, http.StatusBadRequest, "InvalidQueryParameterValue", "")
		}
	})
}
