// Package portal is fedcred's web UI, served at /portal/: the Azure portal's
// managed-identity and federated-credential blades, the clusters and their
// OIDC issuers, a "Try it" page that runs a token exchange, and an
// identity's role assignments and audit trail.
//
// # No logic of its own
//
// The portal never reads or writes resources itself. Every read and write is
// a request to the management API handler, made in-process with the
// signed-in principal in the request's context (Config.WithPrincipal), so
// what a principal may see and change is exactly what the API's RBAC allows,
// and what the portal shows is the API's answer: its JSON, or its ARM error
// next to the field the error names. "Try it" likewise calls the token
// service in-process and shows its access token decoded, or its AADSTS
// refusal with fedcred's explanation; "Check issuer" fetches a cluster's
// discovery document and JWKS from the issuer endpoints. An identity's
// Audit tab reads the audit API (Config.Audit) the same way, as the
// signed-in principal, so it needs Fedcred/auditEvents/read: it merges the
// token events of the identity's client ID with the changes whose target is
// the identity or its federated credentials, and pages them newest or
// oldest first (see audit.go).
//
// # Sign-in
//
// There is no password. `fedcred portal` asks POST /portal/api/sign-in-links,
// with the CLI's management bearer token, for a one-time link: a 256-bit
// random code, stored hashed, valid once for five minutes. Opening the link
// shows a confirmation page whose form (CSRF-protected with a double-submit
// cookie) trades the code for a session. The session ID lives only in the
// __Host-fedcred_session cookie (HttpOnly, Secure, SameSite=Strict, Path=/);
// the store holds its hash, so every replica sharing the store knows the
// session. Sessions end after eight hours, or sooner when idle.
//
// # Browser defences
//
// Every response carries a strict Content-Security-Policy (scripts and
// styles only from the portal's own embedded files, no inline code), nosniff,
// no-referrer and frame-ancestors 'none'. Every POST form carries a CSRF token
// derived from the session ID and compared in constant time, and a POST whose
// Origin or Sec-Fetch-Site says it came from another site is refused. Pages
// are rendered on the server with html/template and work without JavaScript;
// the small embedded script adds live validation, the derived subject shown
// as it is typed, and copy buttons.
package portal
