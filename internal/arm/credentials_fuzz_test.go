package arm

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzValidateCredential decodes a federated identity credential's PUT body
// and validates it under a name, as putCredential does. It never panics; a
// refusal is a 400 with an ARM error code; what it accepts is what the
// token service can match safely: an absolute https issuer without user
// information, query or fragment, one non-empty audience, no value over
// the limit, no wildcard, no control character.
func FuzzValidateCredential(f *testing.F) {
	const good = `{"properties":{"issuer":"https://oidc.example/tenant/cluster/","subject":"system:serviceaccount:ns:sa","audiences":["api://AzureADTokenExchange"]}}`
	for _, seed := range []struct{ name, body string }{
		{"pets-ai", good},
		{"pets-ai", `{"properties":{"issuer":"https://127.0.0.1:8443/","subject":"s","audiences":["a"]}}`},
		{"pets-ai", `{"properties":{"issuer":"https://user:pw@oidc.example/","subject":"s","audiences":["a"]}}`},
		{"pets-ai", `{"properties":{"issuer":"https://oidc.example/?q#f","subject":"s","audiences":["a"]}}`},
		{"pets-ai", `{"properties":{"issuer":"http://169.254.169.254/","subject":"s","audiences":["a"]}}`},
		{"pets-ai", `{"properties":{"issuer":" https://oidc.example/","subject":"s*","audiences":["a","b"]}}`},
		{"pets-ai", `{"properties":{"issuer":"https://oidc.example/","subject":"s\u0000","audiences":[""]}}`},
		{"pets-ai", `{"properties":{"issuer":"https://oidc.example/","subject":"s","audiences":["a"],"claimsMatchingExpression":{"value":"x"}}}`},
		{"pets-ai", `{"properties":{"issuer":["https://oidc.example/"],"subject":1,"audiences":"a"}}`},
		{"pets-ai", `{"properties":null}`},
		{"pets-ai", `[]`},
		{"x", good},
		{"../etc", good},
		{"pets-ai", `{"properties":{"issuer":"https://` + strings.Repeat("a", 600) + `/","subject":"s","audiences":["a"]}}`},
	} {
		f.Add(seed.name, seed.body)
	}
	f.Fuzz(func(t *testing.T, name, body string) {
		var b credentialBody
		var spec credentialSpec
		err := decodeJSON([]byte(body), &b)
		if err == nil {
			spec, err = validateCredential(name, b)
		}
		if err != nil {
			var e *apiError
			if !errors.As(err, &e) || e.status != http.StatusBadRequest || e.code == "" || e.message == "" {
				t.Fatalf("refusal %#v is not a 400 with an ARM error", err)
			}
			return
		}
		if !credentialNamePattern.MatchString(name) {
			t.Fatalf("accepted the name %q", name)
		}
		u, perr := url.Parse(spec.issuer)
		switch {
		case perr != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
			t.Fatalf("accepted the issuer %q", spec.issuer)
		case strings.ContainsFunc(spec.issuer, unicode.IsSpace):
			t.Fatalf("accepted the issuer %q with white space", spec.issuer)
		case strings.TrimSpace(spec.subject) == "" || spec.audience == "":
			t.Fatalf("accepted an empty subject or audience: %+v", spec)
		}
		for _, v := range []string{spec.issuer, spec.subject, spec.audience} {
			if utf8.RuneCountInString(v) > maxCredentialValue || strings.Contains(v, "*") || strings.ContainsFunc(v, unicode.IsControl) {
				t.Fatalf("accepted the value %q", v)
			}
		}
	})
}
