package portal

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fedcred/fedcred/internal/arm"
	"github.com/fedcred/fedcred/internal/store"
)

// Cookie names. The __Host- prefix makes browsers insist on Secure, Path=/
// and no Domain, so no other host can set or read them.
const (
	sessionCookie = "__Host-fedcred_session"
	signInCookie  = "__Host-fedcred_signin"
)

// secretBytes is the size of sign-in codes, session IDs and the sign-in
// form's CSRF value: 256 bits.
const secretBytes = 32

// touchInterval is how stale a session's LastSeenAt may get before a request
// records a new one, so that most requests do not write.
const touchInterval = time.Minute

// maxOutstandingCodes bounds the live sign-in codes.
const maxOutstandingCodes = 1000

// pruneBatch bounds how many expired codes or sessions one prune deletes.
const pruneBatch = 500

// csrfField is the form field of the CSRF token.
const csrfField = "csrf"

// newSecret returns a fresh random value, base64url without padding.
func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// validSecret reports whether s has the shape newSecret gives.
func validSecret(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == secretBytes
}

// hashSecret is the store key of a code or session ID: its hex SHA-256.
func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// csrfToken is the CSRF token of a session: an HMAC of a fixed label keyed
// with the session ID, so only who holds the cookie can know it, every
// replica computes the same, and nothing needs storing.
func csrfToken(sessionID string) string {
	m := hmac.New(sha256.New, []byte(sessionID))
	m.Write([]byte("fedcred portal csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// equalSecret compares two secrets in constant time.
func equalSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func principalOf(p store.PortalPrincipal) arm.Principal {
	return arm.Principal{ObjectID: p.ObjectID, ClientID: p.ClientID, TenantID: p.TenantID, Type: p.Type}
}

// session is a signed-in visitor.
type session struct {
	id  string // the raw session ID from the cookie
	rec store.PortalSession
}

// visit is one request of a signed-in visitor to a page.
type visit struct {
	w http.ResponseWriter
	r *http.Request
	s *session
	p arm.Principal
}

// pageFunc serves a page to a signed-in visitor. A returned *apiError is
// shown as the API's refusal; any other error as an internal failure.
type pageFunc func(v *visit) error

// signedIn wraps a page: without a live session it answers the sign-in
// notice (401); on POST it refuses (403) a request from another site or
// without the session's CSRF token.
func (h *Handler) signedIn(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s, reason, err := h.lookupSession(r)
		if err != nil {
			h.internalError(w, r, err)
			return
		}
		if s == nil {
			if reason != "" {
				clearCookie(w, sessionCookie)
			}
			h.renderSignInRequired(w, r, reason)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !h.sameOrigin(r) {
				h.renderForbidden(w, r, "The form was sent from another site.")
				return
			}
			if err := r.ParseForm(); err != nil {
				h.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
				return
			}
			if !equalSecret(r.PostForm.Get(csrfField), csrfToken(s.id)) {
				h.renderForbidden(w, r, "The form's security token is missing or does not match your session. Reload the page and try again.")
				return
			}
		}
		v := &visit{w: w, r: r, s: s, p: principalOf(s.rec.Principal)}
		if err := fn(v); err != nil {
			if ae, ok := asAPIError(err); ok {
				h.renderAPIError(v, ae)
				return
			}
			h.internalError(w, r, err)
		}
	})
}

// sameOrigin reports whether a state-changing request came from the portal
// itself: Sec-Fetch-Site, when sent, must be same-origin, and Origin, when
// sent, must be the public URL's origin or the origin the request was
// addressed to. Browsers send "Origin: null" for the portal's own forms,
// since its pages ask for no referrer; the CSRF token decides those.
func (h *Handler) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return true
	}
	return strings.EqualFold(origin, h.origin) || strings.EqualFold(origin, "https://"+r.Host)
}

// lookupSession finds the request's live session. Without one, reason says
// why a cookie was refused ("" when there was none).
func (h *Handler) lookupSession(r *http.Request) (*session, string, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, "", nil
	}
	if !validSecret(c.Value) {
		return nil, "Your session is not valid.", nil
	}
	ctx := r.Context()
	key := hashSecret(c.Value)
	var rec store.PortalSession
	err = h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		rec, err = store.Get[store.PortalSession](ctx, tx, key)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, "Your session has ended.", nil
	case err != nil:
		return nil, "", fmt.Errorf("read session: %w", err)
	}
	now := h.now().UTC()
	if !now.Before(rec.ExpiresAt) || !now.Before(rec.LastSeenAt.Add(h.cfg.IdleTimeout)) {
		h.endSession(ctx, key)
		return nil, "Your session has expired.", nil
	}
	if now.Sub(rec.LastSeenAt) >= touchInterval {
		err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
			cur, err := store.Get[store.PortalSession](ctx, tx, key)
			if err != nil {
				return err
			}
			cur.LastSeenAt = now
			return store.Put(ctx, tx, cur)
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.log.WarnContext(ctx, "record portal session use", "err", err)
		}
		rec.LastSeenAt = now
	}
	return &session{id: c.Value, rec: rec}, "", nil
}

// endSession deletes a session by its key; a failure is logged.
func (h *Handler) endSession(ctx context.Context, key string) {
	err := h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		return store.Delete[store.PortalSession](ctx, tx, key)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.log.WarnContext(ctx, "delete portal session", "err", err)
	}
}

// setCookie sets a __Host- cookie for maxAge.
func setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: int(maxAge / time.Second),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// clearCookie removes a __Host- cookie.
func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// signInLink is the answer of POST /portal/api/sign-in-links.
type signInLink struct {
	URL       string `json:"url"`
	ExpiresIn int    `json:"expiresIn"`
}

// createSignInLink answers POST /portal/api/sign-in-links: for the principal
// the bearer token names, a one-time sign-in link.
func (h *Handler) createSignInLink(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Use POST.")
		return
	}
	p, err := h.cfg.Authenticate(r)
	if err != nil {
		if errors.Is(err, arm.ErrUnauthenticated) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeJSONError(w, http.StatusUnauthorized, "AuthenticationFailed",
				"Authentication failed. Send a bearer token for the management API, as 'fedcred portal' does.")
			return
		}
		h.log.ErrorContext(r.Context(), "authenticate sign-in link request", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "InternalServerError", "The server encountered an internal error. Please retry the request.")
		return
	}
	if p.ObjectID == "" {
		writeJSONError(w, http.StatusForbidden, "AuthorizationFailed", "The token names no principal.")
		return
	}
	code, err := newSecret()
	if err != nil {
		h.internalJSON(w, r, err)
		return
	}
	now := h.now().UTC()
	rec := store.PortalSignInCode{
		Hash:      hashSecret(code),
		Principal: store.PortalPrincipal{ObjectID: p.ObjectID, ClientID: p.ClientID, TenantID: p.TenantID, Type: p.Type},
		CreatedAt: now,
		ExpiresAt: now.Add(h.cfg.SignInLifetime),
	}
	errTooMany := errors.New("too many outstanding sign-in links")
	err = h.cfg.Store.Update(r.Context(), func(tx store.Tx) error {
		live, err := pruneCodes(r.Context(), tx, now)
		if err != nil {
			return err
		}
		if live >= maxOutstandingCodes {
			return errTooMany
		}
		return store.Create(r.Context(), tx, rec)
	})
	if errors.Is(err, errTooMany) {
		writeJSONError(w, http.StatusTooManyRequests, "TooManyRequests", "Too many sign-in links are outstanding; wait a few minutes.")
		return
	}
	if err != nil {
		h.internalJSON(w, r, fmt.Errorf("store sign-in code: %w", err))
		return
	}
	h.log.InfoContext(r.Context(), "portal sign-in link issued", "object_id", p.ObjectID, "client_id", p.ClientID)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(signInLink{
		URL:       h.publicURL + SignInPath + "?code=" + url.QueryEscape(code),
		ExpiresIn: int(h.cfg.SignInLifetime / time.Second),
	})
}

// pruneCodes deletes expired sign-in codes and counts the live ones.
func pruneCodes(ctx context.Context, tx store.Tx, now time.Time) (live int, err error) {
	codes, err := store.List[store.PortalSignInCode](ctx, tx, "", "", 0)
	if err != nil {
		return 0, fmt.Errorf("list sign-in codes: %w", err)
	}
	deleted := 0
	for _, c := range codes {
		if now.Before(c.ExpiresAt) {
			live++
			continue
		}
		if deleted < pruneBatch {
			if err := store.Delete[store.PortalSignInCode](ctx, tx, c.Key()); err != nil {
				return 0, fmt.Errorf("delete sign-in code: %w", err)
			}
			deleted++
		}
	}
	return live, nil
}

// pruneSessions deletes sessions that have ended.
func pruneSessions(ctx context.Context, tx store.Tx, now time.Time, idle time.Duration) error {
	sessions, err := store.List[store.PortalSession](ctx, tx, "", "", 0)
	if err != nil {
		return fmt.Errorf("list sessions: %w", err)
	}
	deleted := 0
	for _, s := range sessions {
		if deleted == pruneBatch {
			break
		}
		if now.Before(s.ExpiresAt) && now.Before(s.LastSeenAt.Add(idle)) {
			continue
		}
		if err := store.Delete[store.PortalSession](ctx, tx, s.Key()); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
		deleted++
	}
	return nil
}

// signInData is the sign-in confirmation page.
type signInData struct {
	base
	Code        string
	Form        string // the double-submit CSRF value
	SignInAs    store.PortalPrincipal
	ExpiresAt   time.Time
	Unavailable string // why the link cannot be used
}

// errCodeUnusable means a sign-in code is unknown, used or expired.
var errCodeUnusable = errors.New("sign-in code unusable")

// signInPage answers GET /portal/sign-in?code=...: a confirmation page whose
// form trades the code for a session.
func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	code := r.URL.Query().Get("code")
	d := signInData{base: base{Title: "Sign in"}}
	if !validSecret(code) {
		d.Unavailable = "This sign-in link is incomplete or damaged. Run 'fedcred portal' for a new one."
		h.render(w, r, http.StatusBadRequest, "signin", &d)
		return
	}
	ctx := r.Context()
	var rec store.PortalSignInCode
	err := h.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		rec, err = store.Get[store.PortalSignInCode](ctx, tx, hashSecret(code))
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && !h.now().Before(rec.ExpiresAt)):
		d.Unavailable = "This sign-in link has been used or has expired. Run 'fedcred portal' for a new one."
		h.render(w, r, http.StatusUnauthorized, "signin", &d)
		return
	case err != nil:
		h.internalError(w, r, fmt.Errorf("read sign-in code: %w", err))
		return
	}
	form, err := newSecret()
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	setCookie(w, signInCookie, form, h.cfg.SignInLifetime)
	d.Code, d.Form, d.SignInAs, d.ExpiresAt = code, form, rec.Principal, rec.ExpiresAt
	h.render(w, r, http.StatusOK, "signin", &d)
}

// signIn answers POST /portal/sign-in: it uses up the code and starts a
// session.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !h.sameOrigin(r) {
		h.renderForbidden(w, r, "The sign-in form was sent from another site.")
		return
	}
	if err := r.ParseForm(); err != nil {
		h.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	c, err := r.Cookie(signInCookie)
	if err != nil || !validSecret(c.Value) || !equalSecret(r.PostForm.Get(csrfField), c.Value) {
		h.renderForbidden(w, r, "The sign-in form's security token is missing or does not match. Open the sign-in link again.")
		return
	}
	code := r.PostForm.Get("code")
	d := signInData{base: base{Title: "Sign in"}}
	if !validSecret(code) {
		d.Unavailable = "This sign-in link is incomplete or damaged. Run 'fedcred portal' for a new one."
		h.render(w, r, http.StatusBadRequest, "signin", &d)
		return
	}
	id, err := newSecret()
	if err != nil {
		h.internalError(w, r, err)
		return
	}
	ctx := r.Context()
	now := h.now().UTC()
	err = h.cfg.Store.Update(ctx, func(tx store.Tx) error {
		rec, err := store.Get[store.PortalSignInCode](ctx, tx, hashSecret(code))
		if errors.Is(err, store.ErrNotFound) {
			return errCodeUnusable
		}
		if err != nil {
			return fmt.Errorf("read sign-in code: %w", err)
		}
		if err := store.Delete[store.PortalSignInCode](ctx, tx, rec.Key()); err != nil {
			return fmt.Errorf("use sign-in code: %w", err)
		}
		if !now.Before(rec.ExpiresAt) {
			return errCodeUnusable
		}
		if err := pruneSessions(ctx, tx, now, h.cfg.IdleTimeout); err != nil {
			return err
		}
		return store.Create(ctx, tx, store.PortalSession{
			Hash: hashSecret(id), Principal: rec.Principal,
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(h.cfg.SessionLifetime),
		})
	})
	if errors.Is(err, errCodeUnusable) {
		// The expired code was not deleted (the transaction rolled back);
		// the next prune removes it.
		d.Unavailable = "This sign-in link has been used or has expired. Run 'fedcred portal' for a new one."
		h.render(w, r, http.StatusUnauthorized, "signin", &d)
		return
	}
	if err != nil {
		h.internalError(w, r, fmt.Errorf("start session: %w", err))
		return
	}
	if old, err := r.Cookie(sessionCookie); err == nil && validSecret(old.Value) {
		h.endSession(ctx, hashSecret(old.Value))
	}
	clearCookie(w, signInCookie)
	setCookie(w, sessionCookie, id, h.cfg.SessionLifetime)
	http.Redirect(w, r, "/portal/identities", http.StatusSeeOther)
}

// signOut ends the session.
func (h *Handler) signOut(v *visit) error {
	h.endSession(v.r.Context(), hashSecret(v.s.id))
	clearCookie(v.w, sessionCookie)
	http.Redirect(v.w, v.r, "/portal/signed-out", http.StatusSeeOther)
	return nil
}

// signedOutPage says the visitor signed out.
func (h *Handler) signedOutPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "signedout", &base{Title: "Signed out"})
}

// writeJSONError writes an ARM-shaped error body.
func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func (h *Handler) internalJSON(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "portal request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeJSONError(w, http.StatusInternalServerError, "InternalServerError", "The server encountered an internal error. Please retry the request.")
}
