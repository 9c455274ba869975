// Package remoteissuer fetches, checks and caches the signing keys of OIDC
// issuers fedcred does not host: EKS, GKE, AKS and self-managed clusters,
// CI systems. The token service asks for an issuer's keys only after the
// assertion's iss has matched one of the client's federated credentials, so
// fetches only ever go to issuers an administrator configured.
//
// # Fetching
//
// The discovery document is fetched from
// strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration",
// which is how Entra treats a trailing slash: the AKS issuer
// "https://eastus.oic.prod-aks.azure.com/{tenant}/{uuid}/" and an issuer
// without a slash such as "https://token.actions.githubusercontent.com"
// both give ".../.well-known/openid-configuration". The document's issuer
// must equal the configured issuer exactly, slash included, as Kubernetes
// and go-oidc require; a mismatch that is only the slash is called out in
// the error. The JWKS is fetched from the document's jwks_uri (never built
// from the issuer: AKS documents a jwks_uri on another path), which must be
// https.
//
// Of the JWKS, the first 100 entries are considered (Entra stores no more)
// and of those kept: RSA keys of at least 2048 bits and EC keys on P-256 or
// P-384, whose use is "sig" or absent (RFC 7517 lets it be omitted, and
// real issuers do), whose key_ops, if present, include "verify", and whose
// alg, if present, fits the key. Symmetric keys are refused. An entry that
// carries private key material is refused as well, although its public
// part could be extracted: a published private key lets anyone sign tokens
// as the issuer, so nothing it signed proves anything. The rest of the set
// stays usable, and a warning naming the kids is logged (never the key).
// A set with no usable key is an error.
//
// # The guard
//
// Every fetch is a request to a URL that came from outside, so every fetch
// passes one guard, a security boundary against server-side request
// forgery:
//
//   - only https, unless Config.AllowHTTP; never a redirect from https to
//     http; no user info in URLs;
//   - the dialer resolves the host itself (Config.Resolver), drops every
//     refused address and dials the remaining ones by IP, so the address
//     checked is the address connected to and a second DNS answer (DNS
//     rebinding) cannot slip in; a socket Control hook re-checks the
//     address at connect time;
//   - refused: loopback, private (RFC 1918, ULA fc00::/7), link-local
//     (169.254/16 with the 169.254.169.254 metadata address, fe80::/10),
//     carrier-grade NAT 100.64/10, multicast, unspecified, broadcast,
//     reserved and documentation blocks, and the IPv4-mapped, NAT64 and
//     6to4 forms of these; unless the address lies in
//     Config.AllowedNetworks;
//   - redirects: at most 3, each target re-checked by the same rules;
//   - no proxy: a proxy from the environment would be dialled instead of
//     the issuer and so defeat the address check. A caller-supplied
//     http.Client contributes TLS settings only; its transport is cloned
//     and its proxy and dial functions replaced;
//   - only a 200 answer with a JSON media type (application/json,
//     application/jwk-set+json or another application/*+json, parameters
//     allowed); bodies capped at Config.MaxDocumentBytes (Content-Length
//     checked first, then an io.LimitReader one byte past the cap detects
//     overflow); each fetch bounded by Config.FetchTimeout and response
//     headers by 64 KiB.
//
// # Caching
//
// A Cache keeps one entry per issuer, at most Config.MaxIssuers, evicting
// the least recently used. The model is go-oidc's RemoteKeySet, with what it
// lacks (lifetimes, failure handling, a bound) added:
//
//   - one fetch per issuer in flight; callers that need its result wait for
//     it or for their own ctx, and the fetch does not depend on the ctx of
//     the caller that started it;
//   - lifetime from Cache-Control max-age (the shorter of the discovery
//     document's and the JWKS's; no-store and no-cache count as 0) clamped
//     to [MinTTL, MaxTTL], else DefaultTTL. A refresh fetches both
//     documents, so a moved jwks_uri is followed;
//   - a kid not among the cached keys refetches, at most once per
//     MinRefreshInterval per issuer, so a storm of random kids costs one
//     fetch per interval; a failed fetch is likewise retried at most once
//     per interval, its error answered from memory meanwhile;
//   - keys past their lifetime are still returned at once while a refetch
//     runs in the background (the token path does not wait on the network),
//     and Run refreshes issuers used since their last fetch shortly before
//     their lifetime ends;
//   - when fetches fail, the last good keys are served until MaxStale after
//     the last successful fetch (24h by default: Entra keeps rotated-out
//     keys for 24h); then Keys fails with the fetch's error.
//
// Errors wrap ErrUnreachable, ErrBadDiscovery or ErrBadKeys with detail;
// the token service maps them to AADSTS90061 and AADSTS900612. Check runs
// the same fetches uncached and reports each step for `fedcred issuer
// check`. Nothing here sees a token; logs carry issuer URLs and kids only.
package remoteissuer
