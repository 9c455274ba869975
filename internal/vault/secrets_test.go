package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/store"
)

var hexVersionRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestSetSecret_ReturnsBundle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exp, nbf := testNow.Add(48*time.Hour).Unix(), testNow.Add(-time.Hour).Unix()
	r := e.do("PUT", secretPath("pets-kv", "secrets", "openai-key"), officerToken, map[string]any{
		"value": "sk-123", "contentType": "text/plain", "tags": map[string]string{"team": "pets"},
		"attributes": map[string]any{"enabled": true, "exp": exp, "nbf": nbf},
	})
	if r.status != http.StatusOK {
		t.Fatalf("status = %d: %s", r.status, r.raw)
	}
	version := versionOf(t, r.body)
	if !hexVersionRE.MatchString(version) {
		t.Errorf("version = %q, want 32 hex digits", version)
	}
	want := map[string]any{
		"value":       "sk-123",
		"id":          testPublicURL + "/vaults/pets-kv/secrets/openai-key/" + version,
		"contentType": "text/plain",
		"tags":        map[string]any{"team": "pets"},
		"attributes": map[string]any{
			"enabled": true, "exp": float64(exp), "nbf": float64(nbf),
			"created": float64(testNow.Unix()), "updated": float64(testNow.Unix()),
			"recoveryLevel": "Purgeable", "recoverableDays": float64(0),
		},
	}
	got, _ := json.Marshal(r.body)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(got, wantJSON) {
		t.Errorf("bundle = %s\nwant     %s", got, wantJSON)
	}
	if r.header.Get("x-ms-request-id") == "" || r.header.Get("x-ms-keyvault-service-version") == "" {
		t.Errorf("response headers %v lack x-ms-request-id or x-ms-keyvault-service-version", r.header)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestSetSecret_Defaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.set("pets-kv", "plain", map[string]any{"value": ""})
	if b["value"] != "" {
		t.Errorf("value = %v, want the empty string", b["value"])
	}
	attrs := b["attributes"].(map[string]any)
	if attrs["enabled"] != true {
		t.Errorf("enabled = %v, want true by default", attrs["enabled"])
	}
	for _, absent := range []string{"exp", "nbf"} {
		if _, ok := attrs[absent]; ok {
			t.Errorf("attribute %s present without being set: %v", absent, attrs)
		}
	}
	for _, absent := range []string{"contentType", "tags"} {
		if _, ok := b[absent]; ok {
			t.Errorf("%s present without being set: %v", absent, b)
		}
	}
}

func TestGetSecret_LatestAndByVersion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v1 := versionOf(t, e.set("pets-kv", "db-password", map[string]any{"value": "first", "contentType": "one"}))
	e.clock.Advance(time.Minute)
	v2 := versionOf(t, e.set("pets-kv", "db-password", map[string]any{"value": "second"}))
	if v1 == v2 {
		t.Fatalf("two sets made the same version %s", v1)
	}
	tests := []struct {
		name      string
		path      string
		wantValue string
		wantID    string
	}{
		{name: "latest without trailing slash", path: secretPath("pets-kv", "secrets", "db-password"), wantValue: "second", wantID: v2},
		{name: "latest with trailing slash", path: secretPath("pets-kv", "secrets", "db-password", ""), wantValue: "second", wantID: v2},
		{name: "name in other case", path: secretPath("pets-kv", "secrets", "DB-Password"), wantValue: "second", wantID: v2},
		{name: "vault name in other case", path: secretPath("Pets-KV", "secrets", "db-password"), wantValue: "second", wantID: v2},
		{name: "first version", path: secretPath("pets-kv", "secrets", "db-password", v1), wantValue: "first", wantID: v1},
		{name: "second version", path: secretPath("pets-kv", "secrets", "db-password", v2), wantValue: "second", wantID: v2},
		{name: "version in upper case", path: secretPath("pets-kv", "secrets", "db-password", strings.ToUpper(v1)), wantValue: "first", wantID: v1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.do("GET", tc.path, userToken, nil)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d: %s", r.status, r.raw)
			}
			if r.body["value"] != tc.wantValue {
				t.Errorf("value = %v, want %q", r.body["value"], tc.wantValue)
			}
			if want := testPublicURL + "/vaults/pets-kv/secrets/db-password/" + tc.wantID; r.body["id"] != want {
				t.Errorf("id = %v, want %s", r.body["id"], want)
			}
		})
	}
}

func TestSetSecret_LatestWhenClockStandsStill(t *testing.T) {
	t.Parallel()
	e := newEnv(t) // the clock does not move between the sets
	var last string
	for i, value := range []string{"a", "b", "c", "d"} {
		last = versionOf(t, e.set("pets-kv", "frozen", map[string]any{"value": value}))
		r := e.do("GET", secretPath("pets-kv", "secrets", "frozen"), officerToken, nil)
		if r.body["value"] != value || versionOf(t, r.body) != last {
			t.Fatalf("after set %d, latest = %v (%v), want %q (%s)", i, r.body["value"], r.body["id"], value, last)
		}
	}
	// Also when the clock steps back.
	e.clock.Advance(-time.Hour)
	last = versionOf(t, e.set("pets-kv", "frozen", map[string]any{"value": "after step back"}))
	r := e.do("GET", secretPath("pets-kv", "secrets", "frozen"), officerToken, nil)
	if r.body["value"] != "after step back" || versionOf(t, r.body) != last {
		t.Fatalf("after the clock stepped back, latest = %v", r.body)
	}
}

func TestSetSecret_NameKeepsFirstCasing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.set("pets-kv", "MySecret", map[string]any{"value": "one"})
	e.clock.Advance(time.Second)
	b := e.set("pets-kv", "mysecret", map[string]any{"value": "two"})
	if id := b["id"].(string); !strings.Contains(id, "/secrets/MySecret/") {
		t.Errorf("id = %s, want the first casing MySecret", id)
	}
	r := e.do("GET", secretPath("pets-kv", "secrets", "MYSECRET"), officerToken, nil)
	if r.body["value"] != "two" {
		t.Errorf("latest = %v, want two", r.body["value"])
	}
	if n := e.countVersions("pets-kv", "mysecret"); n != 2 {
		t.Errorf("stored versions = %d, want 2", n)
	}
}

func TestSetSecret_SecretsOfVaultsAreSeparate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.set("pets-kv", "shared-name", map[string]any{"value": "pets"})
	r := e.do("GET", secretPath("other-kv", "secrets", "shared-name"), groupUserToken, nil)
	r.expectError(t, http.StatusNotFound, "SecretNotFound", "")
}

func TestGetSecret_NotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := versionOf(t, e.set("pets-kv", "exists", map[string]any{"value": "x"}))
	e.set("pets-kv", "exists-too", map[string]any{"value": "x"})
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		secret string
	}{
		{name: "latest of a missing secret", method: "GET", path: secretPath("pets-kv", "secrets", "missing"), secret: "missing"},
		{name: "prefix of an existing name", method: "GET", path: secretPath("pets-kv", "secrets", "exist"), secret: "exist"},
		{name: "missing version of an existing secret", method: "GET",
			path: secretPath("pets-kv", "secrets", "exists", "0123456789abcdef0123456789abcdef"), secret: "exists"},
		{name: "version of another secret", method: "GET", path: secretPath("pets-kv", "secrets", "exists-too", v), secret: "exists-too"},
		{name: "malformed version", method: "GET", path: secretPath("pets-kv", "secrets", "exists", "not_a_version"), secret: "exists"},
		{name: "overlong version", method: "GET", path: secretPath("pets-kv", "secrets", "exists", strings.Repeat("a", 65)), secret: "exists"},
		{name: "update of a missing secret", method: "PATCH", path: secretPath("pets-kv", "secrets", "missing", ""),
			body: map[string]any{"contentType": "x"}, secret: "missing"},
		{name: "update of a missing version", method: "PATCH",
			path: secretPath("pets-kv", "secrets", "exists", "0123456789abcdef0123456789abcdef"), body: map[string]any{}, secret: "exists"},
		{name: "delete of a missing secret", method: "DELETE", path: secretPath("pets-kv", "secrets", "missing"), secret: "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.do(tc.method, tc.path, officerToken, tc.body)
			r.expectError(t, http.StatusNotFound, "SecretNotFound", "")
			want := "A secret with (name/id) " + tc.secret + " was not found in this key vault. If you recently deleted " +
				"this secret you may be able to recover it using the correct recovery command. For help resolving this " +
				"issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
			if r.message() != want {
				t.Errorf("message = %q\nwant      %q", r.message(), want)
			}
		})
	}
}

func TestGetSecret_Disabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.set("pets-kv", "off", map[string]any{"value": "hidden", "attributes": map[string]any{"enabled": false}})
	if b["value"] != "hidden" || b["attributes"].(map[string]any)["enabled"] != false {
		t.Fatalf("set of a disabled secret answered %v", b)
	}
	v := versionOf(t, b)
	for _, path := range []string{secretPath("pets-kv", "secrets", "off"), secretPath("pets-kv", "secrets", "off", v)} {
		r := e.do("GET", path, officerToken, nil)
		want := `{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}`
		if r.status != http.StatusForbidden || string(r.raw) != want {
			t.Errorf("GET %s = %d %s\nwant 403 %s", path, r.status, r.raw, want)
		}
		if strings.Contains(string(r.raw), "hidden") {
			t.Errorf("disabled secret's value in the answer: %s", r.raw)
		}
	}
	// Its metadata stays readable, and enabling it gives the value back.
	r := e.do("GET", secretPath("pets-kv", "secrets", "off", "versions"), readerToken, nil)
	if r.status != http.StatusOK || len(r.body["value"].([]any)) != 1 {
		t.Fatalf("versions of a disabled secret = %d %s", r.status, r.raw)
	}
	r = e.do("PATCH", secretPath("pets-kv", "secrets", "off", v), officerToken, map[string]any{"attributes": map[string]any{"enabled": true}})
	if r.status != http.StatusOK {
		t.Fatalf("enable = %d %s", r.status, r.raw)
	}
	r = e.do("GET", secretPath("pets-kv", "secrets", "off"), userToken, nil)
	if r.status != http.StatusOK || r.body["value"] != "hidden" {
		t.Fatalf("GET after enabling = %d %s", r.status, r.raw)
	}
}

func TestGetSecret_ExpiryIsNotEnforced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.set("pets-kv", "old", map[string]any{"value": "v", "attributes": map[string]any{
		"exp": testNow.Add(-time.Hour).Unix(), "nbf": testNow.Add(-2 * time.Hour).Unix()}})
	e.set("pets-kv", "future", map[string]any{"value": "v", "attributes": map[string]any{"nbf": testNow.Add(time.Hour).Unix()}})
	for _, name := range []string{"old", "future"} {
		if r := e.do("GET", secretPath("pets-kv", "secrets", name), userToken, nil); r.status != http.StatusOK {
			t.Errorf("GET %s = %d %s, want 200 (exp and nbf are informational for secrets)", name, r.status, r.raw)
		}
	}
}

func TestSetSecret_InvalidInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	manyTags := map[string]string{}
	for i := range 16 {
		manyTags[strings.Repeat("t", i+1)] = "v"
	}
	tests := []struct {
		name    string
		secret  string
		body    any
		wantMsg string // a part of the message
	}{
		{name: "underscore in name", secret: "bad_name", body: map[string]any{"value": "x"}, wantMsg: "secret name"},
		{name: "dot in name", secret: "bad.name", body: map[string]any{"value": "x"}, wantMsg: "secret name"},
		{name: "name of 128 characters", secret: strings.Repeat("n", 128), body: map[string]any{"value": "x"}, wantMsg: "secret name"},
		{name: "no value", secret: "s", body: map[string]any{"contentType": "x"}, wantMsg: "'value'"},
		{name: "null value", secret: "s", body: `{"value":null}`, wantMsg: "'value'"},
		{name: "value one byte over 25 KiB", secret: "s", body: map[string]any{"value": strings.Repeat("v", 25*1024+1)}, wantMsg: "25600"},
		{name: "body over 64 KiB", secret: "s", body: map[string]any{"value": "x", "contentType": strings.Repeat("c", 64*1024)}, wantMsg: "65536"},
		{name: "empty body", secret: "s", body: "", wantMsg: "empty"},
		{name: "malformed JSON", secret: "s", body: `{"value":"sup3r-secret`, wantMsg: "not valid"},
		{name: "syntax error", secret: "s", body: `{"value":"sup3r-secret",}`, wantMsg: "offset"},
		{name: "data after the object", secret: "s", body: `{"value":"x"} {"value":"y"}`, wantMsg: "after the JSON object"},
		{name: "array body", secret: "s", body: `["sup3r-secret"]`, wantMsg: "JSON object is required"},
		{name: "number value", secret: "s", body: `{"value":12345}`, wantMsg: "'value' must be a string"},
		{name: "string enabled", secret: "s", body: `{"value":"x","attributes":{"enabled":"yes"}}`, wantMsg: "enabled"},
		{name: "fractional exp", secret: "s", body: `{"value":"x","attributes":{"exp":1.5}}`, wantMsg: "exp"},
		{name: "negative exp", secret: "s", body: map[string]any{"value": "x", "attributes": map[string]any{"exp": -1}}, wantMsg: "'exp'"},
		{name: "nbf past year 9999", secret: "s", body: map[string]any{"value": "x", "attributes": map[string]any{"nbf": int64(1) << 40}}, wantMsg: "'nbf'"},
		{name: "16 tags", secret: "s", body: map[string]any{"value": "x", "tags": manyTags}, wantMsg: "15 tags"},
		{name: "tag value over 256 bytes", secret: "s", body: map[string]any{"value": "x", "tags": map[string]string{"k": strings.Repeat("v", 257)}}, wantMsg: "tag 'k'"},
		{name: "tag name over 512 bytes", secret: "s", body: map[string]any{"value": "x", "tags": map[string]string{strings.Repeat("k", 513): "v"}}, wantMsg: "tag name"},
		{name: "empty tag name", secret: "s", body: map[string]any{"value": "x", "tags": map[string]string{"": "v"}}, wantMsg: "tag name"},
		{name: "content type over 255 bytes", secret: "s", body: map[string]any{"value": "x", "contentType": strings.Repeat("c", 256)}, wantMsg: "content type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.do("PUT", secretPath("pets-kv", "secrets", tc.secret), officerToken, tc.body)
			r.expectError(t, http.StatusBadRequest, "BadParameter", "")
			if !strings.Contains(r.message(), tc.wantMsg) {
				t.Errorf("message = %q, want it to mention %q", r.message(), tc.wantMsg)
			}
			if strings.Contains(string(r.raw), "sup3r") {
				t.Errorf("the answer quotes the body: %s", r.raw)
			}
		})
	}
	if n := e.countVersions("pets-kv", "s"); n != 0 {
		t.Errorf("refused sets stored %d versions", n)
	}
	if strings.Contains(e.logs.String(), "sup3r") {
		t.Errorf("the log quotes a refused body: %s", e.logs.String())
	}
}

func TestSetSecret_LimitsAreInclusive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tags := map[string]string{}
	for i := range 15 {
		tags[strings.Repeat("k", 498+i)] = strings.Repeat("v", 256)
	}
	b := e.set("pets-kv", strings.Repeat("N", 127), map[string]any{
		"value": strings.Repeat("v", 25*1024), "contentType": strings.Repeat("c", 255), "tags": tags,
	})
	if len(b["value"].(string)) != 25*1024 {
		t.Errorf("value of %d bytes came back as %d", 25*1024, len(b["value"].(string)))
	}
	// Unknown and read-only fields are ignored, as Key Vault ignores them.
	e.set("pets-kv", "extra", map[string]any{"value": "x", "kid": "k", "managed": true,
		"attributes": map[string]any{"created": 1, "recoveryLevel": "Recoverable"}})
}

func TestUpdateSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v1 := versionOf(t, e.set("pets-kv", "api", map[string]any{
		"value": "one", "contentType": "text/plain", "tags": map[string]string{"a": "1"}}))
	e.clock.Advance(time.Minute)
	v2 := versionOf(t, e.set("pets-kv", "api", map[string]any{
		"value": "two", "contentType": "text/plain", "tags": map[string]string{"a": "2"},
		"attributes": map[string]any{"exp": testNow.Add(time.Hour).Unix()}}))
	e.clock.Advance(time.Minute)

	t.Run("by version changes only that version", func(t *testing.T) {
		r := e.do("PATCH", secretPath("pets-kv", "secrets", "api", v1), officerToken, map[string]any{
			"contentType": "application/json", "tags": map[string]string{"b": "x"},
			"attributes": map[string]any{"nbf": testNow.Unix()}})
		if r.status != http.StatusOK {
			t.Fatalf("status = %d %s", r.status, r.raw)
		}
		if _, ok := r.body["value"]; ok {
			t.Errorf("update answered the value: %s", r.raw)
		}
		attrs := r.body["attributes"].(map[string]any)
		if r.body["contentType"] != "application/json" || r.body["tags"].(map[string]any)["b"] != "x" ||
			r.body["tags"].(map[string]any)["a"] != nil || attrs["nbf"] != float64(testNow.Unix()) ||
			attrs["updated"] != float64(testNow.Add(2*time.Minute).Unix()) || attrs["created"] != float64(testNow.Unix()) {
			t.Errorf("bundle = %s", r.raw)
		}
		if versionOf(t, r.body) != v1 {
			t.Errorf("id = %v, want version %s", r.body["id"], v1)
		}
		other := e.do("GET", secretPath("pets-kv", "secrets", "api", v2), officerToken, nil)
		if other.body["contentType"] != "text/plain" || other.body["value"] != "two" {
			t.Errorf("the other version changed: %s", other.raw)
		}
		got := e.do("GET", secretPath("pets-kv", "secrets", "api", v1), officerToken, nil)
		if got.body["value"] != "one" {
			t.Errorf("update changed the value: %s", got.raw)
		}
	})
	t.Run("latest with trailing slash, absent fields kept", func(t *testing.T) {
		r := e.do("PATCH", secretPath("pets-kv", "secrets", "api", ""), officerToken, map[string]any{
			"attributes": map[string]any{"enabled": false}})
		if r.status != http.StatusOK || versionOf(t, r.body) != v2 {
			t.Fatalf("PATCH latest = %d %s, want version %s", r.status, r.raw, v2)
		}
		attrs := r.body["attributes"].(map[string]any)
		if attrs["enabled"] != false || attrs["exp"] != float64(testNow.Add(time.Hour).Unix()) ||
			r.body["contentType"] != "text/plain" || r.body["tags"].(map[string]any)["a"] != "2" {
			t.Errorf("bundle = %s", r.raw)
		}
		e.do("GET", secretPath("pets-kv", "secrets", "api"), officerToken, nil).expectError(t, http.StatusForbidden, "Forbidden", "SecretDisabled")
	})
	t.Run("empty tags clear them", func(t *testing.T) {
		r := e.do("PATCH", secretPath("pets-kv", "secrets", "api", v2), officerToken, map[string]any{"tags": map[string]string{}})
		if _, ok := r.body["tags"]; r.status != http.StatusOK || ok {
			t.Errorf("PATCH tags {} = %d %s, want no tags", r.status, r.raw)
		}
	})
	t.Run("invalid input", func(t *testing.T) {
		for _, body := range []any{`{"contentType":`, `[]`, map[string]any{"attributes": map[string]any{"exp": -5}},
			map[string]any{"contentType": strings.Repeat("c", 256)}, ""} {
			r := e.do("PATCH", secretPath("pets-kv", "secrets", "api", v2), officerToken, body)
			r.expectError(t, http.StatusBadRequest, "BadParameter", "")
		}
	})
}

func TestDeleteSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.set("pets-kv", "gone", map[string]any{"value": "one"})
	e.clock.Advance(time.Minute)
	latest := versionOf(t, e.set("pets-kv", "gone", map[string]any{"value": "two", "contentType": "ct", "tags": map[string]string{"k": "v"}}))
	e.set("pets-kv", "kept", map[string]any{"value": "stays"})
	e.clock.Advance(time.Minute)

	r := e.do("DELETE", secretPath("pets-kv", "secrets", "gone"), officerToken, nil)
	if r.status != http.StatusOK {
		t.Fatalf("DELETE = %d %s", r.status, r.raw)
	}
	deleted := float64(testNow.Add(2 * time.Minute).Unix())
	uri := testPublicURL + "/vaults/pets-kv/"
	if r.body["recoveryId"] != uri+"deletedsecrets/gone" || r.body["deletedDate"] != deleted ||
		r.body["scheduledPurgeDate"] != deleted || r.body["id"] != uri+"secrets/gone/"+latest ||
		r.body["contentType"] != "ct" || r.body["tags"].(map[string]any)["k"] != "v" ||
		r.body["attributes"].(map[string]any)["recoveryLevel"] != "Purgeable" {
		t.Errorf("deleted bundle = %s", r.raw)
	}
	if _, ok := r.body["value"]; ok {
		t.Errorf("deleted bundle carries the value: %s", r.raw)
	}
	if n := e.countVersions("pets-kv", "gone"); n != 0 {
		t.Errorf("%d versions left after delete, want all purged", n)
	}
	e.do("GET", secretPath("pets-kv", "secrets", "gone"), officerToken, nil).expectError(t, http.StatusNotFound, "SecretNotFound", "")
	e.do("DELETE", secretPath("pets-kv", "secrets", "gone"), officerToken, nil).expectError(t, http.StatusNotFound, "SecretNotFound", "")
	if r := e.do("GET", secretPath("pets-kv", "secrets", "kept"), officerToken, nil); r.body["value"] != "stays" {
		t.Errorf("another secret was touched: %s", r.raw)
	}

	for _, tc := range []struct{ method, path string }{
		{method: "GET", path: secretPath("pets-kv", "deletedsecrets", "gone")},
		{method: "DELETE", path: secretPath("pets-kv", "deletedsecrets", "gone")},
		{method: "POST", path: secretPath("pets-kv", "deletedsecrets", "gone", "recover")},
	} {
		r := e.do(tc.method, tc.path, officerToken, nil)
		r.expectError(t, http.StatusNotFound, "DeletedSecretNotFound", "")
	}
	r = e.do("GET", secretPath("pets-kv", "deletedsecrets"), officerToken, nil)
	if r.status != http.StatusOK || !bytes.Equal(r.raw, []byte(`{"value":[],"nextLink":null}`)) {
		t.Errorf("deleted secrets list = %d %s", r.status, r.raw)
	}

	// The name can be set again at once: nothing is kept soft-deleted.
	if b := e.set("pets-kv", "gone", map[string]any{"value": "three"}); b["value"] != "three" {
		t.Errorf("set after delete = %v", b)
	}
}

func TestSecretValue_SealedAtRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const plain = "correct-horse-battery-staple"
	v := versionOf(t, e.set("pets-kv", "sealed", map[string]any{"value": plain}))
	s, raw := e.rawSecret("pets-kv", "sealed", v)
	for _, leak := range []string{plain, base64.StdEncoding.EncodeToString([]byte(plain)), "horse"} {
		if bytes.Contains(raw, []byte(leak)) {
			t.Errorf("stored document contains %q: %s", leak, raw)
		}
	}
	if bytes.Contains(s.SealedValue, []byte(plain)) || len(s.SealedValue) < len(plain) {
		t.Errorf("sealed value %x is not a sealed blob of the value", s.SealedValue)
	}
	got, err := e.sealer.Open(s.SealedValue, []byte("secret:pets-kv/sealed/"+v))
	if err != nil || string(got) != plain {
		t.Fatalf("Open with the documented associated data = %q, %v", got, err)
	}
	if strings.Contains(e.logs.String(), plain) {
		t.Errorf("the value is in the log: %s", e.logs.String())
	}
}

func TestSecretValue_MovedBlobDoesNotOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const plain = "only-for-source"
	src := versionOf(t, e.set("pets-kv", "source", map[string]any{"value": plain}))
	e.clock.Advance(time.Second)
	srcV2 := versionOf(t, e.set("pets-kv", "source", map[string]any{"value": "source-two"}))
	dst := versionOf(t, e.set("pets-kv", "target", map[string]any{"value": "target-value"}))
	r := e.do("PUT", secretPath("other-kv", "secrets", "source"), otherVaultToken, map[string]any{"value": "other-vault"})
	if r.status != http.StatusOK {
		t.Fatalf("set in other-kv = %d %s", r.status, r.raw)
	}
	dstOther := versionOf(t, r.body)
	srcSecret, _ := e.rawSecret("pets-kv", "source", src)

	tests := []struct {
		name          string
		vault, secret string
		version       string
		token         string
	}{
		{name: "onto another secret", vault: "pets-kv", secret: "target", version: dst, token: officerToken},
		{name: "onto another version of the same secret", vault: "pets-kv", secret: "source", version: srcV2, token: officerToken},
		{name: "onto the same name in another vault", vault: "other-kv", secret: "source", version: dstOther, token: groupUserToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rec, _ := e.rawSecret(tc.vault, tc.secret, tc.version)
			rec.SealedValue = srcSecret.SealedValue
			if err := e.store.Update(ctx, func(tx store.Tx) error { return store.Put(ctx, tx, rec) }); err != nil {
				t.Fatal(err)
			}
			r := e.do("GET", secretPath(tc.vault, "secrets", tc.secret, tc.version), tc.token, nil)
			r.expectError(t, http.StatusInternalServerError, "InternalError", "")
			if strings.Contains(string(r.raw), plain) {
				t.Errorf("moved blob opened: %s", r.raw)
			}
		})
	}
	if r := e.do("GET", secretPath("pets-kv", "secrets", "source", src), officerToken, nil); r.body["value"] != plain {
		t.Errorf("the original record no longer opens: %s", r.raw)
	}
	if strings.Contains(e.logs.String(), plain) {
		t.Errorf("the value is in the log: %s", e.logs.String())
	}
}
