package ratelimit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzClientKeys reads the client of arbitrary token requests and API
// calls: it never panics, keys stay bounded, and the token service reads
// exactly the body that was sent.
func FuzzClientKeys(f *testing.F) {
	f.Add("grant_type=client_credentials&client_id=c1&client_secret=s", "", "Bearer a.eyJ0aWQiOiJ0IiwiYXBwaWQiOiJhIn0.c")
	f.Add("client_id="+strings.Repeat("x", 300), "user%zz", "Bearer ...")
	f.Add("%zz&client_id=%00", "c1", "bearer a.eyJhcHBpZCI6WzFdfQ.c")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, body, basicUser, authorization string) {
		r := httptest.NewRequest(http.MethodPost, "/t/oauth2/v2.0/token", strings.NewReader(body))
		if basicUser != "" {
			r.SetBasicAuth(basicUser, "p")
		}
		key := tokenClientKey(r)
		if len(key) > maxKeyBytes {
			t.Fatalf("token client key of %d bytes", len(key))
		}
		got, err := io.ReadAll(r.Body)
		if err != nil || string(got) != body {
			t.Fatalf("the token service would read %q, not the %q sent (%v)", got, body, err)
		}
		api := httptest.NewRequest(http.MethodGet, "/subscriptions", nil)
		api.Header.Set("Authorization", authorization)
		if key := bearerClientKey(api); len(key) > maxKeyBytes {
			t.Fatalf("API client key of %d bytes", len(key))
		}
	})
}
