package remoteissuer

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Report is what Check found out about an issuer, for `fedcred issuer
// check`. Fields are filled as far as the check got.
type Report struct {
	Issuer       string    `json:"issuer"`
	DiscoveryURL string    `json:"discoveryUrl"`
	JWKSURI      string    `json:"jwksUri"`
	Keys         []KeyInfo `json:"keys"`
	Findings     []Finding `json:"findings"`
}

// Finding is one observation. OK is false for problems and for warnings;
// the text says which.
type Finding struct {
	OK   bool   `json:"ok"`
	Text string `json:"text"`
}

func (r *Report) ok(format string, args ...any) {
	r.Findings = append(r.Findings, Finding{OK: true, Text: fmt.Sprintf(format, args...)})
}

func (r *Report) fail(format string, args ...any) {
	r.Findings = append(r.Findings, Finding{OK: false, Text: fmt.Sprintf(format, args...)})
}

// Check fetches issuer's discovery document and JWKS afresh, through the
// same guard and with the same rules as a Cache built from cfg, and reports
// each step. It returns the report with an error wrapping ErrUnreachable,
// ErrBadDiscovery or ErrBadKeys when the issuer could not be used, the
// error a token exchange would meet; warnings alone leave the error nil.
// cfg.Logger is not used; the report carries everything.
func Check(ctx context.Context, cfg Config, issuer string) (Report, error) {
	r := Report{Issuer: issuer}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return r, err
	}
	f := newFetcher(cfg)

	durl, err := discoveryURL(issuer, cfg.AllowHTTP)
	if err != nil {
		r.fail("the issuer URL cannot be used: %v", err)
		return r, err
	}
	r.DiscoveryURL = durl
	if strings.HasSuffix(issuer, "/") {
		r.ok("the issuer ends in a slash (the AKS form); it is trimmed before %q is appended, so the discovery URL is %s", wellKnown, durl)
	} else {
		r.ok("the discovery URL is %s", durl)
	}

	dd, err := f.get(ctx, durl, mediaJSON, ErrBadDiscovery)
	if err != nil {
		r.fail("fetching the discovery document failed: %v", err)
		return r, err
	}
	r.ok("fetched the discovery document from %s (%d bytes, %s)", dd.url, len(dd.body), dd.contentType)
	doc, err := parseDiscovery(dd, issuer, f.guard)
	r.JWKSURI = doc.JWKSURI
	if err != nil {
		r.fail("the discovery document cannot be used: %v", err)
		return r, err
	}
	r.ok("the document's issuer equals the configured issuer exactly")
	checkAlgs(&r, doc.Algs)

	jd, err := f.get(ctx, doc.JWKSURI, acceptJWKSet, ErrBadKeys)
	if err != nil {
		r.fail("fetching the JWKS failed: %v", err)
		return r, err
	}
	r.ok("fetched the JWKS from %s (%d bytes, %s)", jd.url, len(jd.body), jd.contentType)
	ks, err := parseJWKS(jd)
	r.Keys = ks.infos
	checkKeys(&r, ks)
	if err != nil {
		r.fail("the JWKS cannot be used: %v", err)
		return r, err
	}

	ttl := f.ttl(dd, jd)
	if dd.hasMaxAge || jd.hasMaxAge {
		r.ok("the keys would be cached for %v (Cache-Control max-age, bounded to [%v, %v])", ttl, cfg.MinTTL, cfg.MaxTTL)
	} else {
		r.ok("no Cache-Control max-age: the keys would be cached for the default %v", ttl)
	}
	return r, nil
}

// checkAlgs warns when the discovery document lists signing algorithms and
// none of them is one the token service verifies.
func checkAlgs(r *Report, algs []string) {
	if len(algs) == 0 {
		return
	}
	accepted := append(rsaAlgs(), "ES256", "ES384")
	if slices.ContainsFunc(algs, func(a string) bool { return slices.Contains(accepted, a) }) {
		if !slices.Contains(algs, "RS256") {
			r.fail("warning: id_token_signing_alg_values_supported %q lacks RS256, the only algorithm Entra documents for external issuers", algs)
		}
		return
	}
	r.fail("warning: id_token_signing_alg_values_supported %q names none of the accepted algorithms (%s)", algs, strings.Join(accepted, ", "))
}

// checkKeys reports on the parsed key set.
func checkKeys(r *Report, ks keySet) {
	usable := 0
	seen := map[string]int{}
	for _, k := range ks.infos {
		if k.Usable {
			usable++
			seen[k.KID]++
		}
	}
	if len(ks.infos) > 0 {
		if usable == len(ks.infos) {
			r.ok("all %d keys are usable", usable)
		} else {
			r.fail("%d of %d keys are usable; the others are ignored (see their problems)", usable, len(ks.infos))
		}
	}
	if ks.total > maxKeys {
		r.fail("warning: the JWKS has %d keys; only the first %d are considered, as by Entra", ks.total, maxKeys)
	}
	if len(ks.private) > 0 {
		r.fail("warning: the JWKS publishes private key material (kids %q): anyone can sign tokens with those keys; rotate them now", ks.private)
	}
	if n := seen[""]; n > 0 {
		r.fail("warning: %d usable keys have no kid; tokens without a kid are tried against every key", n)
	}
	var dup []string
	for kid, n := range seen {
		if kid != "" && n > 1 {
			dup = append(dup, kid)
		}
	}
	if len(dup) > 0 {
		slices.Sort(dup)
		r.fail("warning: kids %q name more than one usable key", dup)
	}
}
