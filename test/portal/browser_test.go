package portal

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/fedcred/fedcred/internal/config"
)

// screenshotsDir is where FEDCRED_UPDATE_SCREENSHOTS=1 writes the
// README's screenshots.
const screenshotsDir = "../../docs/screenshots"

// chromium finds Debian's chromium. Without one the browser tests are
// skipped, except on CI, where they must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is required on CI: the test command (.ci/run) installs Debian's chromium package")
	}
	t.Skip("chromium is not installed (apt-get install chromium); skipping the browser tests")
	return ""
}

// spkiHash is the base64 SHA-256 of the server certificate's public key, for
// --ignore-certificate-errors-spki-list: Chromium then trusts that one key
// and no other certificate error.
func spkiHash(t *testing.T, dataDir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, config.TLSCertFile))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("tls.crt holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// problems collects what a page must not do: console errors, uncaught
// exceptions, failed requests and error responses the test did not expect.
type problems struct {
	mu       sync.Mutex // guards the fields below
	list     []string
	urls     map[network.RequestID]string // keyed by request ID
	expected []*regexp.Regexp             // URLs whose 4xx answers are expected
}

func (p *problems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) expect(urlPattern string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expected = append(p.expected, regexp.MustCompile(urlPattern))
}

func (p *problems) isExpected(u string) bool {
	for _, re := range p.expected {
		if re.MatchString(u) {
			return true
		}
	}
	return false
}

// listen is the chromedp listener: it runs on the tab's reader goroutine and
// only records.
func (p *problems) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			p.add("console.%s: %s", ev.Type, strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		p.add("uncaught exception: %s", msg)
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			p.mu.Lock()
			expected := p.isExpected(ev.Entry.URL)
			p.mu.Unlock()
			if !expected {
				p.add("browser log error (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
	case *network.EventRequestWillBeSent:
		p.mu.Lock()
		p.urls[ev.RequestID] = ev.Request.URL
		p.mu.Unlock()
	case *network.EventLoadingFailed:
		p.mu.Lock()
		u := p.urls[ev.RequestID]
		p.mu.Unlock()
		if !ev.Canceled {
			p.add("request failed: %s %s %s", u, ev.ErrorText, ev.BlockedReason)
		}
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			p.mu.Lock()
			expected := p.isExpected(ev.Response.URL)
			p.mu.Unlock()
			if !expected {
				p.add("HTTP %d for %s", ev.Response.Status, ev.Response.URL)
			}
		}
	}
}

func (p *problems) check(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.list {
		t.Error(s)
	}
}

// browser is a headless Chromium tab on the portal.
type browser struct {
	t        *testing.T
	ctx      context.Context
	problems *problems
	shots    bool
}

func newBrowser(t *testing.T, s *server) *browser {
	t.Helper()
	exe := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // root, in a container
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("ignore-certificate-errors-spki-list", spkiHash(t, s.dataDir)),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	p := &problems{urls: map[network.RequestID]string{}}
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithListener(p.listen))
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, problems: p, shots: os.Getenv("FEDCRED_UPDATE_SCREENSHOTS") == "1"}
}

// do runs actions, failing the test with what step did not work.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.dump()
		b.t.Fatalf("%s: %v", step, err)
	}
}

// dump logs where the tab is and what it shows, and the problems so far.
func (b *browser) dump() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), 5*time.Second)
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 3000)`))
	b.t.Logf("page state (%v):\n%s", err, state)
	b.problems.check(b.t)
}

// text reads the text of the element with id.
func (b *browser) text(id string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		b.t.Fatalf("read #%s: %v", id, err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression for a string.
func (b *browser) eval(expr string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// waitText waits until the element with id contains want. It polls from
// Go, so a navigation under way (which ends the page's JavaScript context)
// only delays it.
func (b *browser) waitText(id, want string) {
	b.t.Helper()
	expr := fmt.Sprintf(`(() => { const e = document.getElementById(%q); return e ? e.textContent : "(no element)"; })()`, id)
	deadline := time.Now().Add(10 * time.Second)
	got := ""
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		cancel()
		if err == nil {
			got = s
			if strings.Contains(s, want) {
				return
			}
		}
		if time.Now().After(deadline) {
			b.dump()
			b.t.Fatalf("#%s never contained %q; it has %q (last error %v)", id, want, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot writes docs/screenshots/name.png when asked to.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if !b.shots {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshotsDir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotsDir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// checkLabels fails when a visible form control has no label a screen
// reader can read.
func (b *browser) checkLabels(page string) {
	b.t.Helper()
	unlabelled := b.eval(`Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, output'))
		.filter(e => e.closest('[hidden]') === null)
		.filter(e => e.labels.length === 0 && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
		.map(e => e.id || e.name).join(',')`)
	if unlabelled != "" {
		b.t.Errorf("%s: controls without a label: %s", page, unlabelled)
	}
}

// TestBrowserJourney is the portal's main path in a real browser: sign in
// with the one-time link, create an identity (seeing a bad name refused as
// it is typed), add a Kubernetes federated credential whose subject is
// derived as the namespace and service account are typed, run "Try it" to
// a token, delete the credential and see "Try it" refused, and find both in
// the identity's audit tab.
func TestBrowserJourney(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.cli("group", "create", "-n", "rg1")
	s.cli("aks", "create", "-n", "cluster1", "-g", "rg1", "--enable-oidc-issuer", "--enable-workload-identity")
	issuerURL := strings.TrimSpace(s.cli("aks", "show", "-n", "cluster1", "-g", "rg1", "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv"))
	b := newBrowser(t, s)

	// Sign in with the link `fedcred portal --no-browser` prints.
	link := s.signInLink()
	b.do("open the sign-in link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("sign-in")))
	b.checkLabels("sign-in")
	b.screenshot("sign-in")
	b.do("sign in", chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("create-identity")))
	if got := b.eval(`document.cookie`); strings.Contains(got, "fedcred_session") {
		t.Errorf("the session cookie is readable from JavaScript: %q", got)
	}

	// Create an identity; a bad name is refused as it is typed.
	b.do("open the create form", chromedp.Click(chromedp.ID("create-identity")), chromedp.WaitVisible(chromedp.ID("name")))
	b.checkLabels("create identity")
	b.do("type a bad name", chromedp.SendKeys(chromedp.ID("name"), "ab"))
	b.waitText("name-error", "must be 3 to 128 characters long")
	if got := b.eval(`document.getElementById('name').getAttribute('aria-invalid') || ''`); got != "true" {
		t.Errorf("the bad name is not marked aria-invalid: %q", got)
	}
	b.do("submit the bad name", chromedp.Click(chromedp.ID("submit")))
	if got := b.eval(`document.activeElement.id`); got != "name" {
		t.Errorf("after a refused submit the focus is on #%s, want #name", got)
	}
	b.screenshot("identity-create-validation")
	b.do("type a good name", chromedp.SendKeys(chromedp.ID("name"), "-svc-identity"))
	b.waitText("name-error", "")
	if got := b.text("name-error"); got != "" {
		t.Errorf("the good name still shows %q", got)
	}
	b.do("create the identity", chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("client-id")))
	b.waitText("main", "Managed identity 'ab-svc-identity' was created.")
	identityURL := b.eval(`location.origin + location.pathname`)
	clientID := b.text("client-id")
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(clientID) {
		t.Fatalf("overview shows client ID %q", clientID)
	}
	if got := b.eval(`String(document.querySelectorAll('button.copy:not([hidden])').length)`); got != "5" {
		t.Errorf("%s copy buttons are shown on the overview, want 5", got)
	}
	b.do("copy the client ID", chromedp.Click(chromedp.CSS(`button[data-copy="client-id"]`)))
	b.waitText("live", "Client ID")
	b.screenshot("identity-overview")

	// Add a Kubernetes federated credential.
	b.do("open the credentials blade", chromedp.Click(chromedp.CSS(`.tabs a[href$="/federated-credentials"]`)),
		chromedp.WaitVisible(chromedp.ID("add-credential")))
	b.do("open the add form", chromedp.Click(chromedp.ID("add-credential")), chromedp.WaitVisible(chromedp.ID("namespace")))
	b.checkLabels("add credential")
	if got, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("cluster-issuer"))); got != issuerURL {
		t.Errorf("the cluster issuer chosen is %q, want cluster1's %q", got, issuerURL)
	}
	b.do("type namespace and service account",
		chromedp.SendKeys(chromedp.ID("namespace"), "pets"),
		chromedp.SendKeys(chromedp.ID("service-account"), "ai-svc"),
	)
	if got := b.eval(`document.getElementById('derived-subject').value`); got != "system:serviceaccount:pets:ai-svc" {
		t.Errorf("derived subject shown = %q", got)
	}
	if got := b.eval(`String(document.getElementById('audience').readOnly)`); got != "true" {
		t.Errorf("the audience is editable before 'Edit audience': readOnly=%s", got)
	}
	b.do("name the credential", chromedp.SendKeys(chromedp.ID("name"), "pets-ai"))
	b.do("edit the audience", chromedp.Click(chromedp.ID("edit-audience")), chromedp.WaitVisible(chromedp.ID("audience-warning")))
	if got := b.eval(`document.activeElement.id + ' ' + document.getElementById('audience').readOnly`); got != "audience false" {
		t.Errorf("after 'Edit audience': %q, want the audience focused and editable", got)
	}
	b.screenshot("credential-add")
	b.do("add the credential", chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("credentials")))
	b.waitText("main", "Federated credential 'pets-ai' was added.")
	b.waitText("credentials", "system:serviceaccount:pets:ai-svc")
	b.waitText("credentials", issuerURL)
	b.screenshot("credentials")
	credentialsURL := b.eval(`location.origin + location.pathname`)

	// Try it: a token for pets/ai-svc is exchanged for a Key Vault token.
	b.do("open Try it", chromedp.Click(chromedp.CSS(`.tabs a[href^="/portal/try-it"]`)), chromedp.WaitVisible(chromedp.ID("run")))
	b.checkLabels("try it")
	tryIt := func() {
		b.t.Helper()
		b.do("fill Try it",
			chromedp.Evaluate[chromedp.Void](`document.getElementById('try-namespace').value = ''`),
			chromedp.SendKeys(chromedp.ID("try-namespace"), "pets"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('try-service-account').value = ''`),
			chromedp.SendKeys(chromedp.ID("try-service-account"), "ai-svc"),
			chromedp.Click(chromedp.ID("run")),
			chromedp.WaitVisible(chromedp.ID("result")),
		)
	}
	tryIt()
	b.waitText("result-success", "Token issued.")
	claims := b.text("access-claims")
	for _, want := range []string{`"aud": "https://vault.azure.net"`, `"appid": "` + clientID + `"`, `"idtyp": "app"`} {
		if !strings.Contains(claims, want) {
			t.Errorf("access token claims lack %s:\n%s", want, claims)
		}
	}
	b.screenshot("try-it-success")

	// Delete the credential: Try it is refused from the next request on.
	b.do("back to the credentials", chromedp.Navigate(credentialsURL), chromedp.WaitVisible(chromedp.ID("credentials")))
	b.do("delete the credential", chromedp.Click(chromedp.CSS(`a[aria-label="Delete pets-ai"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm-delete")))
	b.do("confirm", chromedp.Click(chromedp.ID("confirm-delete")), chromedp.WaitVisible(chromedp.ID("no-credentials")))
	b.waitText("main", "Federated credential 'pets-ai' was deleted.")
	b.do("open Try it again", chromedp.Click(chromedp.CSS(`.tabs a[href^="/portal/try-it"]`)), chromedp.WaitVisible(chromedp.ID("run")))
	tryIt()
	b.waitText("result-refused", "AADSTS7002")
	code := b.text("refusal-code")
	if !strings.HasPrefix(code, "AADSTS700211") && !strings.HasPrefix(code, "AADSTS700213") {
		t.Errorf("refusal code = %q, want AADSTS700211 or AADSTS700213", code)
	}
	b.screenshot("try-it-refused")

	// The identity's audit tab: both runs of Try it, newest first, with the
	// changes made to the identity and its credential.
	if got := b.eval(`document.getElementById('result-audit') ? document.getElementById('result-audit').pathname : ''`); !strings.HasSuffix(got, "/identities/ab-svc-identity/audit") {
		t.Errorf("the Try it result links %q, want the identity's audit tab", got)
	}
	b.do("open the identity", chromedp.Navigate(identityURL), chromedp.WaitVisible(chromedp.ID("client-id")))
	b.do("open the audit tab", chromedp.Click(chromedp.CSS(`.tabs a[href$="/audit"]`)), chromedp.WaitVisible(chromedp.ID("audit-filters")))
	b.checkLabels("audit")
	const tokenRows = `Array.from(document.querySelectorAll('#audit-events tr[data-kind^="token."]')).map(r => r.dataset.kind).join(',')`
	for deadline := time.Now().Add(15 * time.Second); ; {
		// Token events are written by a background writer: refresh until
		// they are in.
		if got := b.eval(tokenRows); got == "token.refused,token.issued" {
			break
		} else if time.Now().After(deadline) {
			b.dump()
			t.Fatalf("the audit tab shows token events %q, want the refusal and then the token", got)
		}
		time.Sleep(200 * time.Millisecond)
		b.do("refresh the audit tab", chromedp.Click(chromedp.ID("refresh")), chromedp.WaitVisible(chromedp.ID("audit-filters")))
	}
	refusedRow := b.eval(`document.querySelector('#audit-events tr[data-kind="token.refused"]').innerText`)
	if !strings.Contains(refusedRow, strings.Fields(code)[0]) || !strings.Contains(refusedRow, "https://vault.azure.net") {
		t.Errorf("the refusal's row lacks the code %s or the resource: %q", strings.Fields(code)[0], refusedRow)
	}
	issuedRow := b.eval(`document.querySelector('#audit-events tr[data-kind="token.issued"]').innerText`)
	if !strings.Contains(issuedRow, "pets-ai (matched)") || !strings.Contains(issuedRow, "https://vault.azure.net") ||
		!regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`).MatchString(issuedRow) {
		t.Errorf("the token's row lacks its credential, resource or correlation ID: %q", issuedRow)
	}
	changes := `Array.from(document.querySelectorAll('#audit-events tr[data-kind^="resource."]')).map(r => r.dataset.kind + ' ' + r.cells[4].innerText).join(',')`
	if got := b.eval(changes); got != "resource.delete Federated credential,resource.write Federated credential,resource.write Identity" {
		t.Errorf("the audit tab's changes: %q", got)
	}
	b.screenshot("identity-audit")
	b.do("show oldest first", chromedp.SetValue(chromedp.ID("audit-order"), "oldest"), chromedp.Click(chromedp.ID("apply-filters")),
		chromedp.WaitReady(chromedp.CSS(`#audit-order option[value="oldest"][selected]`)))
	if got := b.eval(`Array.from(document.querySelectorAll('#audit-events tbody tr')).map(r => r.dataset.kind).join(',')`); got !=
		"resource.write,resource.write,token.issued,resource.delete,token.refused" {
		t.Errorf("oldest first: %q", got)
	}

	// The cluster, and the issuer check.
	b.do("open the clusters", chromedp.Click(chromedp.CSS(`.sidenav a[href="/portal/clusters"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/clusters/cluster1"]`)))
	b.do("open cluster1", chromedp.Click(chromedp.CSS(`a[href$="/clusters/cluster1"]`)), chromedp.WaitVisible(chromedp.ID("check-issuer")))
	b.screenshot("cluster")
	b.do("check the issuer", chromedp.Click(chromedp.ID("check-issuer")), chromedp.WaitVisible(chromedp.ID("checks")))
	if got := b.eval(`String(document.querySelectorAll('#checks li.fail').length) + '/' + document.querySelectorAll('#checks li').length`); got != "0/5" {
		t.Errorf("issuer checks failed/total = %s, want 0/5", got)
	}
	b.waitText("main", `"jwks_uri": "`+issuerURL+`openid/v1/jwks"`)
	b.screenshot("check-issuer")

	// The identity list, with search.
	b.do("open the identities", chromedp.Click(chromedp.CSS(`.sidenav a[href="/portal/identities"]`)),
		chromedp.WaitVisible(chromedp.ID("q")), chromedp.SendKeys(chromedp.ID("q"), "svc\n"))
	b.waitText("main", "1 managed identity matching “svc”")
	b.screenshot("identities")

	// Keyboard: the skip link is the first stop and leads to the content.
	b.do("tab to the skip link", chromedp.KeyEvent("\t"))
	if got := b.eval(`document.activeElement.className`); got != "skip-link" {
		t.Errorf("the first Tab stop is %q, want the skip link", got)
	}
	b.problems.check(t)
}
