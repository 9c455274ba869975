package portal

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/fedcred/fedcred/internal/arm"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// asset is one embedded static file.
type asset struct {
	data        []byte
	contentType string
	version     string // a prefix of the content's SHA-256, for cache busting
}

// loadAssets reads the embedded static files.
func loadAssets() (map[string]asset, error) {
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("read portal assets: %w", err)
	}
	out := make(map[string]asset, len(entries))
	for _, e := range entries {
		data, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read portal asset %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(data)
		ct := mime.TypeByExtension(path.Ext(e.Name()))
		switch path.Ext(e.Name()) {
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		out[e.Name()] = asset{data: data, contentType: ct, version: hex.EncodeToString(sum[:6])}
	}
	return out, nil
}

// serveAsset answers GET /portal/static/{file}.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.PathValue("file")]
	if !ok {
		h.notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	if r.URL.Query().Get("v") == a.version {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", `"`+a.version+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}

// assetURL is the versioned URL of an embedded file.
func (h *Handler) assetURL(name string) (string, error) {
	a, ok := h.assets[name]
	if !ok {
		return "", fmt.Errorf("no portal asset %q", name)
	}
	return "/portal/static/" + name + "?v=" + a.version, nil
}

// parsePages parses each page in templates/ with the layout.
func (h *Handler) parsePages() (map[string]*template.Template, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("list portal pages: %w", err)
	}
	funcs := template.FuncMap{
		"asset": h.assetURL,
		"field": func(errs map[string]string, name string) string { return errs[name] },
		"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"join":  strings.Join,
		"copyItem": func(id, label, value string) copyItem {
			return copyItem{ID: id, Label: label, Value: value}
		},
		"wildcardMessage": func() string { return wildcardMessage },
		"defaultAudience": func() string { return DefaultAudience },
	}
	out := make(map[string]*template.Template, len(files))
	for _, file := range files {
		name := strings.TrimSuffix(path.Base(file), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", file)
		if err != nil {
			return nil, fmt.Errorf("parse portal page %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// copyItem is a value shown with a copy button.
type copyItem struct {
	ID, Label, Value string
}

// base is what every page shows around its content.
type base struct {
	Title string
	// Nav is the active navigation entry: identities, clusters or tryit.
	Nav       string
	Principal arm.Principal
	CSRF      string
	Crumbs    []crumb
	// Flash is a one-line confirmation of what just happened.
	Flash string
	// Error is the API's refusal, shown at the top.
	Error *apiError
	// Tabs are an identity's blades.
	Tabs []tab
}

// crumb is one breadcrumb; the last has no link.
type crumb struct {
	Label, URL string
}

// tab is one blade of a resource.
type tab struct {
	Label, URL string
	Current    bool
}

// pageData is implemented by every page's data through base.
type pageData interface{ page() *base }

func (b *base) page() *base { return b }

// fill sets the parts of base that come from the visit.
func (v *visit) fill(b *base) {
	b.Principal = v.p
	b.CSRF = csrfToken(v.s.id)
}

// render writes a page. Rendering goes to a buffer first, so a template
// failure is a clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, data pageData) {
	t, ok := h.pages[name]
	if !ok {
		h.internalError(w, r, fmt.Errorf("no portal page %q", name))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		h.log.ErrorContext(r.Context(), "render portal page", "page", name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "The page could not be rendered.")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// show renders a page for a signed-in visitor.
func (v *visit) show(h *Handler, status int, name string, data pageData) error {
	v.fill(data.page())
	h.render(v.w, v.r, status, name, data)
	return nil
}

// errorData is the error page.
type errorData struct {
	base
	Heading string
	Message string
	Status  int
}

// renderError writes the error page.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	h.render(w, r, status, "error", &errorData{base: base{Title: heading}, Heading: heading, Message: message, Status: status})
}

// renderForbidden refuses a form that failed the CSRF or origin check.
func (h *Handler) renderForbidden(w http.ResponseWriter, r *http.Request, message string) {
	h.renderError(w, r, http.StatusForbidden, "Request refused", message)
}

// renderAPIError shows the API's refusal of what a page needed, with the
// API's status.
func (h *Handler) renderAPIError(v *visit, ae *apiError) {
	d := &errorData{base: base{Title: headingFor(ae), Error: ae}, Heading: headingFor(ae), Status: ae.Status}
	v.fill(&d.base)
	h.render(v.w, v.r, ae.Status, "error", d)
}

// headingFor names a refusal in words.
func headingFor(ae *apiError) string {
	switch ae.Status {
	case http.StatusForbidden:
		return "You do not have access"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusUnauthorized:
		return "Not signed in"
	}
	return "The request failed"
}

// internalError logs err and answers 500 without its detail.
func (h *Handler) internalError(w http.ResponseWriter, r *http.Request, err error) {
	h.log.ErrorContext(r.Context(), "portal request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	h.renderError(w, r, http.StatusInternalServerError, "Something went wrong",
		"The server encountered an internal error. Please retry the request.")
}

// notFound answers an unknown portal path.
func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.renderError(w, r, http.StatusNotFound, "Page not found", "There is no portal page at this address.")
}

// signInRequiredData is the notice shown without a session.
type signInRequiredData struct {
	base
	Reason string
}

// renderSignInRequired answers a page request without a live session: 401
// and how to sign in.
func (h *Handler) renderSignInRequired(w http.ResponseWriter, r *http.Request, reason string) {
	h.render(w, r, http.StatusUnauthorized, "signinrequired", &signInRequiredData{base: base{Title: "Sign in"}, Reason: reason})
}
