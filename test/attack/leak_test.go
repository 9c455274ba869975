package attack

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Shapes of material that must never be written to a log or an error body,
// whoever it belongs to.
var leakPatterns = []struct {
	what string
	re   *regexp.Regexp
}{
	{"a PEM block", regexp.MustCompile(`-----BEGIN [A-Z ]+-----`)},
	{"a private key", regexp.MustCompile(`PRIVATE KEY`)},
	{"a signed JWT", regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}`)},
	{"a private JWK member", regexp.MustCompile(`"(d|p|q|dp|dq|qi)"\s*:\s*"[A-Za-z0-9_-]{20,}"`)},
}

// scan returns every leak in text, which came from where: registered
// secrets, or the signature of a registered token, and leakPatterns.
func scan(where, text string, secrets map[string]string) []string {
	var leaks []string
	for value, what := range secrets {
		switch {
		case strings.Contains(text, value):
			leaks = append(leaks, fmt.Sprintf("%s holds %s", where, what))
		case strings.Count(value, ".") == 2:
			if sig := value[strings.LastIndex(value, ".")+1:]; len(sig) >= 16 && strings.Contains(text, sig) {
				leaks = append(leaks, fmt.Sprintf("%s holds the signature of %s", where, what))
			}
		}
	}
	for _, p := range leakPatterns {
		if m := p.re.FindString(text); m != "" {
			leaks = append(leaks, fmt.Sprintf("%s holds %s: %.40s...", where, p.what, m))
		}
	}
	return leaks
}

func testNoLeaks(t *testing.T, s *suite) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Run("the scan finds a planted leak", func(t *testing.T) {
		secrets := map[string]string{"s3cr3t-value-123": "a planted secret", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg": "a planted token"}
		for _, text := range []string{
			"msg=x secret=s3cr3t-value-123",
			"sig=c2lnbmF0dXJlLW9mLXRoZS10b2tlbg",
			"-----BEGIN RSA PRIVATE KEY-----",
			`{"kty":"RSA","d":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
			"token=eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJ4eHh4In0.AAAAAAAAAAAAAAAAAAAAAA",
		} {
			if len(scan("planted", text, secrets)) == 0 {
				t.Errorf("the scan misses %q", text)
			}
		}
	})
	// Something was produced, so the scan means something (the suite run
	// whole gives some 200 error answers and 100 secrets).
	if len(s.errors) == 0 || len(s.secrets) == 0 {
		t.Fatalf("only %d error bodies and %d secrets to scan", len(s.errors), len(s.secrets))
	}
	var leaks []string
	for i, l := range s.logs {
		text := l.String()
		if len(text) == 0 {
			t.Errorf("server %d logged nothing", i)
		}
		leaks = append(leaks, scan(fmt.Sprintf("the log of server %d", i), text, s.secrets)...)
	}
	for _, x := range s.errors {
		var b strings.Builder
		b.Write(x.body)
		for k, vs := range x.header {
			b.WriteString("\n" + k + ": " + strings.Join(vs, ", "))
		}
		leaks = append(leaks, scan(fmt.Sprintf("the %d answer to %.80s", x.status, x.request), b.String(), s.secrets)...)
	}
	for _, l := range leaks {
		t.Error(l)
	}
	t.Logf("scanned %d logs and %d error answers for %d secrets", len(s.logs), len(s.errors), len(s.secrets))
}
