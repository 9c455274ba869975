package attack

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/fedcred/fedcred/internal/server"
)

// wantThrottled checks a 429 in the token service's shape (AADSTS90055)
// and returns its Retry-After.
func wantThrottled(t *testing.T, res tokenResult) time.Duration {
	t.Helper()
	wantRefused(t, res, http.StatusTooManyRequests, "temporarily_unavailable", 90055, "There are too many incoming requests.")
	return retryAfter(t, res.response)
}

func retryAfter(t *testing.T, res response) time.Duration {
	t.Helper()
	secs, err := strconv.Atoi(res.header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 60 {
		t.Fatalf("Retry-After %q, want whole seconds", res.header.Get("Retry-After"))
	}
	return time.Duration(secs) * time.Second
}

func testRateLimits(t *testing.T, s *suite) {
	t.Run("per source address: 429 with Retry-After, then recovery", func(t *testing.T) {
		t.Parallel()
		// One request every two seconds, four at once, from any one address.
		e := s.start(t, server.Config{RateLimitPerAddress: 0.5, RateLimitPerAddressBurst: 4})
		flood := url.Values{"grant_type": {"client_credentials"}, "client_id": {"flood"}, "scope": {vaultScope}, "client_secret": {"x"}}.Encode()
		var throttled tokenResult
		for i := range 20 {
			res := e.postToken(t, flood, nil)
			if res.status == http.StatusTooManyRequests {
				throttled = res
				if i < 4 {
					t.Fatalf("throttled after %d requests, within the burst of 4", i)
				}
				break
			}
			wantRefused(t, res, http.StatusBadRequest, "unauthorized_client", 700016, "")
		}
		if throttled.status == 0 {
			t.Fatal("20 requests at once were never throttled")
		}
		wait := wantThrottled(t, throttled)
		// The management API answers in ARM's shape.
		res := e.armCall(t, "", "GET", e.subURL+"/resourcegroups?api-version=2021-04-01", nil)
		wantARMError(t, res, http.StatusTooManyRequests, "TooManyRequests")
		retryAfter(t, res)
		// Health checks are never limited.
		if res := e.armCall(t, "", "GET", "/healthz", nil); res.status != http.StatusOK {
			t.Errorf("/healthz while throttled: %d", res.status)
		}
		time.Sleep(wait)
		wantRefused(t, e.postToken(t, flood, nil), http.StatusBadRequest, "unauthorized_client", 700016, "")
	})

	t.Run("per client: 429 with Retry-After, then recovery", func(t *testing.T) {
		t.Parallel()
		// One token every two seconds, three at once, per client.
		e := s.start(t, server.Config{RateLimitPerClient: 0.5, RateLimitPerClientBurst: 3})
		wrong := url.Values{"grant_type": {"client_credentials"}, "client_id": {e.admin.ClientID}, "scope": {vaultScope}, "client_secret": {"guess"}}.Encode()
		// Refused requests naming the client cost it nothing: nobody can
		// lock a client out by naming it.
		for range 20 {
			wantRefused(t, e.postToken(t, wrong, nil), http.StatusUnauthorized, "invalid_client", 7000215, "")
		}
		for i := range 3 {
			if res := e.secretToken(t, vaultScope); res.accessToken == "" {
				t.Fatalf("token %d within the burst: %d %s", i, res.status, res.body)
			}
		}
		wait := wantThrottled(t, e.secretToken(t, vaultScope))
		time.Sleep(wait)
		if res := e.secretToken(t, vaultScope); res.accessToken == "" {
			t.Fatalf("after Retry-After: %d %s", res.status, res.body)
		}
	})

	t.Run("per client on the management API: 429 with Retry-After, then recovery", func(t *testing.T) {
		t.Parallel()
		e := s.start(t, server.Config{RateLimitPerClient: 0.5, RateLimitPerClientBurst: 3})
		token := e.adminToken(t)
		list := e.subURL + "/resourcegroups?api-version=2021-04-01"
		// Calls with a forged token naming the admin cost the admin nothing.
		forged := craft(t, map[string]any{"alg": "RS256", "kid": "x"}, map[string]any{"tid": e.admin.TenantID, "appid": e.admin.ClientID}, rs256(newRSA(t)))
		for range 10 {
			wantARMError(t, e.armCall(t, forged, "GET", list, nil), http.StatusUnauthorized, "AuthenticationFailed")
		}
		for i := range 3 {
			if res := e.armCall(t, token, "GET", list, nil); res.status != http.StatusOK {
				t.Fatalf("call %d within the burst: %d %s", i, res.status, res.body)
			}
		}
		res := e.armCall(t, token, "GET", list, nil)
		wantARMError(t, res, http.StatusTooManyRequests, "TooManyRequests")
		time.Sleep(retryAfter(t, res))
		if res := e.armCall(t, token, "GET", list, nil); res.status != http.StatusOK {
			t.Fatalf("after Retry-After: %d %s", res.status, res.body)
		}
	})
}
