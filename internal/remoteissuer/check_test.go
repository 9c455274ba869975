package remoteissuer

import (
	"crypto/elliptic"
	"fmt"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	d := startIssuerd(t)
	rsaPriv := newRSA(t, 2048)
	good := publicJWK(t, rsaPriv.Public(), "good", "RS256")
	ec := publicJWK(t, newEC(t, elliptic.P256()).Public(), "ec", "ES256")
	mixed := fmt.Sprintf(`{"keys":[%s,%s,%s,%s,%s]}`,
		mustJSON(t, good),
		mustJSON(t, privateJWK(t, rsaPriv, "leaked")),
		mustJSON(t, map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
		mustJSON(t, ec),
		mustJSON(t, with(ec, "kid", "good")),
	)

	type keyWant struct {
		kid     string
		usable  bool
		problem string
	}
	tests := []struct {
		name         string
		setup        func(iss string) issuerSetup
		slash        bool
		noAllowList  bool
		sentinel     error
		wantJWKSURI  bool
		wantKeys     []keyWant
		wantFindings []Finding // each must appear (by substring of Text, and OK)
	}{
		{
			name:  "healthy AKS issuer",
			setup: func(string) issuerSetup { return issuerSetup{JWKS: docSetup{CacheControl: "public, max-age=3600"}} },
			slash: true, wantJWKSURI: true,
			wantKeys: []keyWant{{usable: true}},
			wantFindings: []Finding{
				{OK: true, Text: "the issuer ends in a slash (the AKS form)"},
				{OK: true, Text: "fetched the discovery document from https://127.0.0.1:"},
				{OK: true, Text: "the document's issuer equals the configured issuer exactly"},
				{OK: true, Text: "fetched the JWKS from"},
				{OK: true, Text: "all 1 keys are usable"},
				{OK: true, Text: "cached for 1h0m0s (Cache-Control max-age"},
			},
		},
		{
			name:  "issuer without a trailing slash and no max-age",
			setup: func(string) issuerSetup { return issuerSetup{Form: "noslash"} },
			slash: false, wantJWKSURI: true,
			wantKeys: []keyWant{{usable: true}},
			wantFindings: []Finding{
				{OK: true, Text: "the discovery URL is https://127.0.0.1:"},
				{OK: true, Text: "no Cache-Control max-age: the keys would be cached for the default 1h0m0s"},
			},
		},
		{
			name:  "mixed key set",
			setup: func(string) issuerSetup { return issuerSetup{JWKS: docSetup{Body: mixed}} },
			slash: true, wantJWKSURI: true,
			wantKeys: []keyWant{
				{kid: "good", usable: true},
				{kid: "leaked", problem: "private key material"},
				{kid: "hmac", problem: "symmetric key"},
				{kid: "ec", usable: true},
				{kid: "good", usable: true},
			},
			wantFindings: []Finding{
				{OK: false, Text: "3 of 5 keys are usable"},
				{OK: false, Text: `publishes private key material (kids ["leaked"])`},
				{OK: false, Text: `kids ["good"] name more than one usable key`},
			},
		},
		{
			name: "algorithms without RS256",
			setup: func(iss string) issuerSetup {
				return issuerSetup{Discovery: docSetup{Body: fmt.Sprintf(
					`{"issuer":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["ES256"]}`,
					iss, strings.TrimSuffix(iss, "/")+"/openid/v1/jwks")}}
			},
			slash: true, wantJWKSURI: true,
			wantKeys:     []keyWant{{usable: true}},
			wantFindings: []Finding{{OK: false, Text: `["ES256"] lacks RS256`}},
		},
		{
			name:     "issuer differs by the trailing slash",
			setup:    func(string) issuerSetup { return issuerSetup{Form: "noslash"} },
			slash:    true,
			sentinel: ErrBadDiscovery, wantJWKSURI: true,
			wantFindings: []Finding{
				{OK: true, Text: "fetched the discovery document"},
				{OK: false, Text: "they differ only in the trailing slash"},
			},
		},
		{
			name:        "refused address",
			slash:       true,
			noAllowList: true,
			sentinel:    ErrUnreachable,
			wantFindings: []Finding{
				{OK: false, Text: "fetching the discovery document failed: issuer unreachable: get https://127.0.0.1:"},
				{OK: false, Text: "127.0.0.1 (loopback)"},
			},
		},
		{
			name: "no usable key",
			setup: func(string) issuerSetup {
				return issuerSetup{JWKS: docSetup{Body: `{"keys":[{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}]}`}}
			},
			slash: true, sentinel: ErrBadKeys, wantJWKSURI: true,
			wantKeys: []keyWant{{kid: "hmac", problem: "symmetric key"}},
			wantFindings: []Finding{
				{OK: false, Text: "0 of 1 keys are usable"},
				{OK: false, Text: "the JWKS cannot be used: bad signing keys"},
			},
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := fmt.Sprintf("/check-%d", i)
			iss := d.issuer(prefix, tc.slash)
			if tc.setup != nil {
				d.configure(t, prefix, tc.setup(iss))
			}
			cfg := d.config(nil, nil)
			if tc.noAllowList {
				cfg.AllowedNetworks = nil
			}

			r, err := Check(t.Context(), cfg, iss)
			wantErr(t, err, tc.sentinel)
			if r.Issuer != iss || r.DiscoveryURL != strings.TrimSuffix(iss, "/")+wellKnown {
				t.Errorf("report names issuer %q and discovery URL %q", r.Issuer, r.DiscoveryURL)
			}
			if wantURI := d.base("127.0.0.1") + prefix + "/openid/v1/jwks"; tc.wantJWKSURI && r.JWKSURI != wantURI {
				t.Errorf("jwks uri = %q, want %q", r.JWKSURI, wantURI)
			} else if !tc.wantJWKSURI && r.JWKSURI != "" {
				t.Errorf("jwks uri = %q, want none", r.JWKSURI)
			}
			if len(r.Keys) != len(tc.wantKeys) {
				t.Fatalf("report has %d keys, want %d: %+v", len(r.Keys), len(tc.wantKeys), r.Keys)
			}
			for i, w := range tc.wantKeys {
				k := r.Keys[i]
				if k.Usable != w.usable || (w.kid != "" && k.KID != w.kid) || !strings.Contains(k.Problem, w.problem) || (w.usable && k.Problem != "") {
					t.Errorf("key %d = %+v, want kid %q usable %v problem %q", i, k, w.kid, w.usable, w.problem)
				}
			}
			for _, w := range tc.wantFindings {
				if !hasFinding(r.Findings, w) {
					t.Errorf("no finding %+v among:\n%s", w, findingsText(r.Findings))
				}
			}
			if tc.sentinel == nil {
				for _, f := range r.Findings {
					if !f.OK && !strings.HasPrefix(f.Text, "warning: ") && !strings.Contains(f.Text, "keys are usable") {
						t.Errorf("a successful check has the failing finding %q", f.Text)
					}
				}
			} else if last := r.Findings[len(r.Findings)-1]; last.OK {
				t.Errorf("a failed check ends with the passing finding %q", last.Text)
			}
		})
	}
}

func hasFinding(fs []Finding, want Finding) bool {
	for _, f := range fs {
		if f.OK == want.OK && strings.Contains(f.Text, want.Text) {
			return true
		}
	}
	return false
}

func findingsText(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  ok=%v %s\n", f.OK, f.Text)
	}
	return b.String()
}
