package federation

import (
	"fmt"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// Code is the AADSTS number of a refusal.
type Code int

// The refusals Entra gives when no federated credential matches.
const (
	// CodeIssuerNotFound: no credential of the identity has the assertion's issuer.
	CodeIssuerNotFound Code = 700211
	// CodeAudienceNotFound: a credential has the issuer and subject, none has a
	// matching audience.
	CodeAudienceNotFound Code = 700212
	// CodeSubjectNotFound: credentials have the issuer, none has the subject.
	CodeSubjectNotFound Code = 700213
	// CodeSubjectCaseMismatch: a credential with the issuer has the subject
	// when compared case-insensitively, but not case-sensitively.
	CodeSubjectCaseMismatch Code = 7002138
)

// Assertion is what matching reads from a presented token.
type Assertion struct {
	Issuer    string   // iss
	Subject   string   // sub
	Audiences []string // aud; a JWT string aud is a one-element list
}

// Refusal says why an assertion matched no credential. It is returned as an
// error by Match and MatchIssuer.
type Refusal struct {
	// Code is the AADSTS case that applies.
	Code Code
	// Assertion is what was presented.
	Assertion Assertion
	// Credentials is how many credentials were considered.
	Credentials int
	// Closest is the name of the credential that came closest, "" if none did.
	Closest string
	// Field is the claim that differed on Closest: "issuer", "subject" or "audience".
	Field string
	// Diff is how that claim differed on Closest.
	Diff Diff
	// Want is Closest's value of Field (its first audience for "audience").
	Want string
}

// Error implements error.
func (r *Refusal) Error() string {
	return fmt.Sprintf("no matching federated credential (AADSTS%d): %s", int(r.Code), r.Explanation())
}

// Explanation is a one-sentence account of the closest credential and what
// differed, fit to append to the client-facing error. It never quotes a
// credential's issuer (see the package documentation).
func (r *Refusal) Explanation() string {
	if r.Credentials == 0 {
		return "the identity has no federated identity credentials."
	}
	if r.Closest == "" {
		switch r.Field {
		case "issuer":
			return "no federated identity credential of this identity has this issuer."
		default:
			return "no federated identity credential came close."
		}
	}
	head := fmt.Sprintf("closest federated identity credential '%s': ", r.Closest)
	switch r.Field {
	case "issuer":
		return head + "issuer " + r.Diff.phrase("issuer", r.Assertion.Issuer) + "."
	case "subject":
		if r.Diff == Different {
			// The credential's subject is quoted only for near misses: for a
			// public issuer anyone holds a validly signed token, so a full
			// quote would disclose every configured subject.
			return head + fmt.Sprintf("subject '%s' is not the credential's.", r.Assertion.Subject)
		}
		return head + fmt.Sprintf("subject %s (the credential's is '%s').", r.Diff.phrase("subject", r.Assertion.Subject), r.Want)
	case "audience":
		if r.Diff == Different {
			return head + fmt.Sprintf("issuer and subject match, but %s the credential's '%s'.", describeAudiences(r.Assertion.Audiences), r.Want)
		}
		return head + fmt.Sprintf("issuer and subject match, but the audience %s (the credential's is '%s').", r.Diff.phrase("audience", r.Assertion.Audiences[0]), r.Want)
	}
	return head + "it does not match."
}

func describeAudiences(auds []string) string {
	switch len(auds) {
	case 0:
		return "the assertion has no audience, so it does not match"
	case 1:
		return fmt.Sprintf("audience '%s' is not", auds[0])
	}
	return fmt.Sprintf("audiences '%s' do not include", strings.Join(auds, "', '"))
}

// Diff is how a presented value relates to a credential's value.
type Diff int

// The ways a value can differ, nearest first.
const (
	Equal         Diff = iota // identical
	Whitespace                // equal once leading and trailing whitespace is trimmed
	TrailingSlash             // equal but for one trailing '/'
	Case                      // equal when compared case-insensitively
	CaseAndSlash              // equal case-insensitively but for one trailing '/'
	Different                 // none of the above
	diffCount
)

// String names the difference.
func (d Diff) String() string {
	switch d {
	case Equal:
		return "equal"
	case Whitespace:
		return "whitespace"
	case TrailingSlash:
		return "trailing slash"
	case Case:
		return "case"
	case CaseAndSlash:
		return "case and trailing slash"
	}
	return "different"
}

// phrase describes the difference for a field; got is the presented value.
func (d Diff) phrase(field, got string) string {
	switch d {
	case Whitespace:
		return "differs only by leading or trailing whitespace in the assertion"
	case TrailingSlash:
		if strings.HasSuffix(got, "/") {
			return "differs only by a trailing slash: the assertion's ends in '/' and the credential's does not"
		}
		return "differs only by a trailing slash: the credential's ends in '/' and the assertion's does not"
	case Case:
		return "differs only in case"
	case CaseAndSlash:
		return "differs only in case and by a trailing slash"
	}
	return "is not the credential's " + field
}

// Compare says how got (presented) relates to want (a credential's value).
func Compare(got, want string) Diff {
	switch {
	case got == want:
		return Equal
	case strings.TrimSpace(got) == want:
		return Whitespace
	case got+"/" == want || got == want+"/":
		return TrailingSlash
	case strings.EqualFold(got, want):
		return Case
	case strings.EqualFold(got+"/", want) || strings.EqualFold(got, want+"/"):
		return CaseAndSlash
	}
	return Different
}

// MatchIssuer returns the credentials whose issuer is exactly issuer, in
// order, or a *Refusal with CodeIssuerNotFound. It reads nothing but its
// arguments, so it can run before the assertion's signature is checked.
func MatchIssuer(a Assertion, creds []store.FederatedCredential) ([]store.FederatedCredential, error) {
	var out []store.FederatedCredential
	for _, c := range creds {
		if c.Issuer != "" && c.Issuer == a.Issuer {
			out = append(out, c)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	r := &Refusal{Code: CodeIssuerNotFound, Assertion: a, Credentials: len(creds), Field: "issuer"}
	// The caller has proved nothing yet (the signature is checked after
	// this), so only an issuer that differs by a near miss is pointed at,
	// and the subject and audience play no part.
	best, bestDiff := -1, Different
	for i, c := range creds {
		if d := Compare(a.Issuer, c.Issuer); d < bestDiff {
			best, bestDiff = i, d
		}
	}
	if best >= 0 {
		r.Closest = creds[best].Name
		r.Diff = Compare(a.Issuer, creds[best].Issuer)
	}
	return nil, r
}

// Match returns the first credential whose issuer, subject and audience all
// match the assertion exactly, or a *Refusal naming the AADSTS case and the
// closest credential.
func Match(a Assertion, creds []store.FederatedCredential) (store.FederatedCredential, error) {
	byIssuer, err := MatchIssuer(a, creds)
	if err != nil {
		return store.FederatedCredential{}, err
	}
	var bySubject []store.FederatedCredential
	for _, c := range byIssuer {
		if c.Subject != "" && c.Subject == a.Subject {
			bySubject = append(bySubject, c)
		}
	}
	if len(bySubject) == 0 {
		return store.FederatedCredential{}, subjectRefusal(a, byIssuer, len(creds))
	}
	for _, c := range bySubject {
		if hasAudience(a.Audiences, c.Audiences) {
			return c, nil
		}
	}
	return store.FederatedCredential{}, audienceRefusal(a, bySubject, len(creds))
}

func subjectRefusal(a Assertion, byIssuer []store.FederatedCredential, total int) *Refusal {
	r := &Refusal{Code: CodeSubjectNotFound, Assertion: a, Credentials: total, Field: "subject"}
	best, bestDiff, bestShared := 0, diffCount, -1
	for i, c := range byIssuer {
		d := Compare(a.Subject, c.Subject)
		shared := sharedEnds(a.Subject, c.Subject)
		if hasAudience(a.Audiences, c.Audiences) {
			shared++ // tie-break towards a credential whose audience also fits
		}
		if d < bestDiff || (d == bestDiff && shared > bestShared) {
			best, bestDiff, bestShared = i, d, shared
		}
	}
	c := byIssuer[best]
	r.Closest, r.Diff, r.Want = c.Name, bestDiff, c.Subject
	if bestDiff == Case {
		r.Code = CodeSubjectCaseMismatch
	}
	return r
}

func audienceRefusal(a Assertion, bySubject []store.FederatedCredential, total int) *Refusal {
	r := &Refusal{Code: CodeAudienceNotFound, Assertion: a, Credentials: total, Field: "audience"}
	best, bestDiff := 0, diffCount
	for i, c := range bySubject {
		for _, want := range c.Audiences {
			for _, got := range a.Audiences {
				if d := Compare(got, want); d < bestDiff {
					best, bestDiff = i, d
				}
			}
		}
	}
	c := bySubject[best]
	r.Closest, r.Diff = c.Name, Different
	if len(c.Audiences) > 0 {
		r.Want = c.Audiences[0]
	}
	if len(a.Audiences) == 1 && bestDiff < Different {
		r.Diff = bestDiff
	}
	return r
}

// hasAudience reports whether any presented audience is one of the
// credential's.
func hasAudience(presented, credential []string) bool {
	for _, want := range credential {
		if want == "" {
			continue
		}
		for _, got := range presented {
			if got == want {
				return true
			}
		}
	}
	return false
}

// sharedEnds is the length of the common prefix plus the common suffix of a
// and b, a linear-time stand-in for edit distance.
func sharedEnds(a, b string) int {
	n := min(len(a), len(b))
	p := 0
	for p < n && a[p] == b[p] {
		p++
	}
	s := 0
	for s < n-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	return p + s
}
