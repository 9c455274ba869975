package federation

import (
	"errors"
	"strings"
	"testing"

	"github.com/fedcred/fedcred/internal/store"
)

const (
	aksIssuer = "https://fedcred.test/oidc/72f988bf-86f1-41af-91ab-2d7cd011db47/5f1a2b3c-0000-4000-8000-000000000001/"
	defAud    = "api://AzureADTokenExchange"
	subject   = "system:serviceaccount:payments:api"
)

func fic(name, issuer, subject string, audiences ...string) store.FederatedCredential {
	return store.FederatedCredential{
		SubscriptionID: "sub", ResourceGroup: "rg", IdentityName: "id",
		Name: name, Issuer: issuer, Subject: subject, Audiences: audiences,
	}
}

func TestCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		got, want string
		wantDiff  Diff
	}{
		{name: "identical", got: "a/b/", want: "a/b/", wantDiff: Equal},
		{name: "assertion lacks trailing slash", got: "https://x/i", want: "https://x/i/", wantDiff: TrailingSlash},
		{name: "assertion has extra trailing slash", got: "https://x/i/", want: "https://x/i", wantDiff: TrailingSlash},
		{name: "case only", got: "System:ServiceAccount:a:b", want: "system:serviceaccount:a:b", wantDiff: Case},
		{name: "case and slash", got: "HTTPS://X/i", want: "https://x/i/", wantDiff: CaseAndSlash},
		{name: "surrounding whitespace", got: " https://x/i/\t", want: "https://x/i/", wantDiff: Whitespace},
		{name: "two trailing slashes are different", got: "https://x/i", want: "https://x/i//", wantDiff: Different},
		{name: "unrelated", got: "a", want: "b", wantDiff: Different},
		{name: "empty versus value", got: "", want: "b", wantDiff: Different},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Compare(tt.got, tt.want); got != tt.wantDiff {
				t.Errorf("Compare(%q, %q) = %v, want %v", tt.got, tt.want, got, tt.wantDiff)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	good := fic("payments-api", aksIssuer, subject, defAud)
	other := fic("batch", aksIssuer, "system:serviceaccount:batch:runner", defAud)
	github := fic("gh-main", "https://token.actions.githubusercontent.com", "repo:o/r:ref:refs/heads/main", defAud)

	tests := []struct {
		name        string
		assertion   Assertion
		creds       []store.FederatedCredential
		wantMatch   string // name of the matched credential; "" when refused
		wantCode    Code
		wantClosest string
		wantField   string
		wantDiff    Diff
		wantExplain []string // substrings of the explanation
		notExplain  []string // substrings that must not appear
	}{
		{
			name:      "exact match",
			assertion: Assertion{Issuer: aksIssuer, Subject: subject, Audiences: []string{defAud}},
			creds:     []store.FederatedCredential{github, other, good},
			wantMatch: "payments-api",
		},
		{
			name:      "audience array containing the credential audience",
			assertion: Assertion{Issuer: aksIssuer, Subject: subject, Audiences: []string{"https://kubernetes.default.svc", defAud}},
			creds:     []store.FederatedCredential{good},
			wantMatch: "payments-api",
		},
		{
			name:      "first of two matching credentials wins",
			assertion: Assertion{Issuer: aksIssuer, Subject: subject, Audiences: []string{defAud}},
			creds:     []store.FederatedCredential{fic("first", aksIssuer, subject, defAud), fic("second", aksIssuer, subject, defAud)},
			wantMatch: "first",
		},
		{
			name:        "no credentials at all",
			assertion:   Assertion{Issuer: aksIssuer, Subject: subject, Audiences: []string{defAud}},
			wantCode:    CodeIssuerNotFound,
			wantField:   "issuer",
			wantExplain: []string{"has no federated identity credentials"},
		},
		{
			name:        "issuer lacks the trailing slash",
			assertion:   Assertion{Issuer: strings.TrimSuffix(aksIssuer, "/"), Subject: subject, Audiences: []string{defAud}},
			creds:       []store.FederatedCredential{github, good},
			wantCode:    CodeIssuerNotFound,
			wantClosest: "payments-api",
			wantField:   "issuer",
			wantDiff:    TrailingSlash,
			wantExplain: []string{"'payments-api'", "differs only by a trailing slash", "the credential's ends in '/'"},
			notExplain:  []string{aksIssuer},
		},
		{
			name:        "issuer differs only in case",
			assertion:   Assertion{Issuer: strings.ToUpper(aksIssuer), Subject: subject, Audiences: []string{defAud}},
			creds:       []store.FederatedCredential{good},
			wantCode:    CodeIssuerNotFound,
			wantClosest: "payments-api",
			wantField:   "issuer",
			wantDiff:    Case,
			wantExplain: []string{"differs only in case"},
			notExplain:  []string{aksIssuer},
		},
		{
			name:        "issuer with surrounding whitespace",
			assertion:   Assertion{Issuer: " " + aksIssuer, Subject: subject, Audiences: []string{defAud}},
			creds:       []store.FederatedCredential{good},
			wantCode:    CodeIssuerNotFound,
			wantClosest: "payments-api",
			wantField:   "issuer",
			wantDiff:    Whitespace,
			wantExplain: []string{"whitespace"},
		},
		{
			name:      "unrelated issuer but subject and audience match a credential",
			assertion: Assertion{Issuer: "https://elsewhere.example/", Subject: subject, Audiences: []string{defAud}},
			creds:     []store.FederatedCredential{github, good},
			// Before the signature is checked nothing about the subject or
			// audience may be disclosed, so no credential is pointed at.
			wantCode:    CodeIssuerNotFound,
			wantField:   "issuer",
			wantDiff:    Equal,
			wantExplain: []string{"no federated identity credential of this identity has this issuer"},
			notExplain:  []string{"payments-api", "subject", "audience", aksIssuer},
		},
		{
			name:        "unrelated issuer and nothing close",
			assertion:   Assertion{Issuer: "https://elsewhere.example/", Subject: "x", Audiences: []string{defAud}},
			creds:       []store.FederatedCredential{github, good},
			wantCode:    CodeIssuerNotFound,
			wantField:   "issuer",
			wantDiff:    Equal,
			wantExplain: []string{"no federated identity credential of this identity has this issuer"},
			notExplain:  []string{"2", aksIssuer, "github"},
		},
		{
			name:        "empty issuer never matches a credential",
			assertion:   Assertion{Issuer: "", Subject: subject, Audiences: []string{defAud}},
			creds:       []store.FederatedCredential{fic("blank", "", subject, defAud)},
			wantCode:    CodeIssuerNotFound,
			wantClosest: "blank",
			wantField:   "issuer",
		},
		{
			name:        "subject differs only in case",
			assertion:   Assertion{Issuer: aksIssuer, Subject: "system:serviceaccount:Payments:api", Audiences: []string{defAud}},
			creds:       []store.FederatedCredential{other, good},
			wantCode:    CodeSubjectCaseMismatch,
			wantClosest: "payments-api",
			wantField:   "subject",
			wantDiff:    Case,
			wantExplain: []string{"'payments-api'", "differs only in case", "'" + subject + "'"},
		},
		{
			name:        "subject unknown picks the credential sharing the most",
			assertion:   Assertion{Issuer: aksIssuer, Subject: "system:serviceaccount:payments:worker", Audiences: []string{defAud}},
			creds:       []store.FederatedCredential{other, good},
			wantCode:    CodeSubjectNotFound,
			wantClosest: "payments-api",
			wantField:   "subject",
			wantDiff:    Different,
			wantExplain: []string{"subject 'system:serviceaccount:payments:worker' is not the credential's."},
			notExplain:  []string{subject},
		},
		{
			name:        "subject with a trailing slash is 700213 not 7002138",
			assertion:   Assertion{Issuer: aksIssuer, Subject: subject + "/", Audiences: []string{defAud}},
			creds:       []store.FederatedCredential{good},
			wantCode:    CodeSubjectNotFound,
			wantClosest: "payments-api",
			wantField:   "subject",
			wantDiff:    TrailingSlash,
			wantExplain: []string{"differs only by a trailing slash"},
		},
		{
			name:        "subject case and slash is 700213",
			assertion:   Assertion{Issuer: aksIssuer, Subject: strings.ToUpper(subject) + "/", Audiences: []string{defAud}},
			creds:       []store.FederatedCredential{good},
			wantCode:    CodeSubjectNotFound,
			wantClosest: "payments-api",
			wantField:   "subject",
			wantDiff:    CaseAndSlash,
		},
		{
			name:        "missing subject",
			assertion:   Assertion{Issuer: aksIssuer, Audiences: []string{defAud}},
			creds:       []store.FederatedCredential{good},
			wantCode:    CodeSubjectNotFound,
			wantClosest: "payments-api",
			wantField:   "subject",
			wantDiff:    Different,
		},
		{
			name:        "subject matching only a credential of another issuer",
			assertion:   Assertion{Issuer: aksIssuer, Subject: github.Subject, Audiences: []string{defAud}},
			creds:       []store.FederatedCredential{github, good},
			wantCode:    CodeSubjectNotFound,
			wantClosest: "payments-api",
			wantField:   "subject",
			wantDiff:    Different,
		},
		{
			name:        "audience is the default token audience",
			assertion:   Assertion{Issuer: aksIssuer, Subject: subject, Audiences: []string{"https://kubernetes.default.svc.cluster.local"}},
			creds:       []store.FederatedCredential{good},
			wantCode:    CodeAudienceNotFound,
			wantClosest: "payments-api",
			wantField:   "audience",
			wantDiff:    Different,
			wantExplain: []string{"audience 'https://kubernetes.default.svc.cluster.local' is not the credential's 'api://AzureADTokenExchange'"},
		},
		{
			name:        "audience differs only in case",
			assertion:   Assertion{Issuer: aksIssuer, Subject: subject, Audiences: []string{"api://azureadtokenexchange"}},
			creds:       []store.FederatedCredential{good},
			wantCode:    CodeAudienceNotFound,
			wantClosest: "payments-api",
			wantField:   "audience",
			wantDiff:    Case,
			wantExplain: []string{"differs only in case", "'api://AzureADTokenExchange'"},
		},
		{
			name:        "several audiences none matching",
			assertion:   Assertion{Issuer: aksIssuer, Subject: subject, Audiences: []string{"a", "b"}},
			creds:       []store.FederatedCredential{good},
			wantCode:    CodeAudienceNotFound,
			wantClosest: "payments-api",
			wantField:   "audience",
			wantDiff:    Different,
			wantExplain: []string{"audiences 'a', 'b' do not include the credential's 'api://AzureADTokenExchange'"},
		},
		{
			name:        "no audience",
			assertion:   Assertion{Issuer: aksIssuer, Subject: subject},
			creds:       []store.FederatedCredential{good},
			wantCode:    CodeAudienceNotFound,
			wantClosest: "payments-api",
			wantField:   "audience",
			wantDiff:    Different,
			wantExplain: []string{"the assertion has no audience"},
		},
		{
			name:        "credential without audiences never matches",
			assertion:   Assertion{Issuer: aksIssuer, Subject: subject, Audiences: []string{""}},
			creds:       []store.FederatedCredential{fic("no-aud", aksIssuer, subject)},
			wantCode:    CodeAudienceNotFound,
			wantClosest: "no-aud",
			wantField:   "audience",
			wantDiff:    Different,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Match(tt.assertion, tt.creds)
			if tt.wantMatch != "" {
				if err != nil {
					t.Fatalf("Match: %v", err)
				}
				if got.Name != tt.wantMatch {
					t.Fatalf("matched %q, want %q", got.Name, tt.wantMatch)
				}
				return
			}
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("Match = %+v, %v; want a *Refusal", got, err)
			}
			if got.Name != "" {
				t.Errorf("refusal returned credential %q", got.Name)
			}
			if r.Code != tt.wantCode || r.Closest != tt.wantClosest || r.Field != tt.wantField {
				t.Errorf("refusal = {Code:%d Closest:%q Field:%q}, want {Code:%d Closest:%q Field:%q}",
					r.Code, r.Closest, r.Field, tt.wantCode, tt.wantClosest, tt.wantField)
			}
			if tt.wantClosest != "" && r.Diff != tt.wantDiff {
				t.Errorf("Diff = %v, want %v", r.Diff, tt.wantDiff)
			}
			explain := r.Explanation()
			for _, s := range tt.wantExplain {
				if !strings.Contains(explain, s) {
					t.Errorf("explanation %q lacks %q", explain, s)
				}
			}
			for _, s := range tt.notExplain {
				if strings.Contains(explain, s) {
					t.Errorf("explanation %q discloses %q", explain, s)
				}
			}
			if !strings.Contains(r.Error(), "AADSTS") {
				t.Errorf("Error() = %q, want the AADSTS code", r.Error())
			}
		})
	}
}

func TestMatchIssuer(t *testing.T) {
	t.Parallel()
	a := fic("a", aksIssuer, "s1", defAud)
	b := fic("b", "https://other/", "s2", defAud)
	c := fic("c", aksIssuer, "s3", defAud)
	got, err := MatchIssuer(Assertion{Issuer: aksIssuer}, []store.FederatedCredential{a, b, c})
	if err != nil {
		t.Fatalf("MatchIssuer: %v", err)
	}
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "c" {
		t.Fatalf("MatchIssuer = %v, want [a c] in order", got)
	}
	_, err = MatchIssuer(Assertion{Issuer: aksIssuer + "x"}, []store.FederatedCredential{b})
	var r *Refusal
	if !errors.As(err, &r) || r.Code != CodeIssuerNotFound {
		t.Fatalf("MatchIssuer with unknown issuer = %v, want 700211 refusal", err)
	}
}

func TestSharedEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{name: "identical", a: "abc", b: "abc", want: 3},
		{name: "prefix and suffix", a: "ns:api", b: "ns:web-api", want: 6},
		{name: "nothing shared", a: "abc", b: "xyz", want: 0},
		{name: "overlap is not counted twice", a: "aa", b: "aaa", want: 2},
		{name: "empty", a: "", b: "abc", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sharedEnds(tt.a, tt.b); got != tt.want {
				t.Errorf("sharedEnds(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
