package graph

import (
	"net/http"
	"strings"
	"unicode"
)

// maxFilterLength bounds a $filter expression.
const maxFilterLength = 2048

// filterValues are an object's filterable properties, keyed by lower-cased
// property name.
type filterValues struct {
	scalars     map[string]string
	collections map[string][]string
}

// filterFields names the properties a $filter may use on one resource type.
type filterFields struct {
	resource    string          // e.g. "Application", for messages
	scalars     map[string]bool // lower-cased names usable with eq / startswith
	collections map[string]bool // lower-cased names usable with any(x:x eq '...')
}

// predicate is a parsed $filter.
type predicate func(filterValues) bool

// parseFilter parses the supported subset of OData $filter:
//
//	expr    := term ("and" term)*
//	term    := "(" expr ")"
//	         | prop "eq" string
//	         | "startswith" "(" prop "," string ")"
//	         | coll "/" "any" "(" var ":" var "eq" string ")"
//
// String literals are single-quoted; a quote inside is written twice. Comparisons ignore
// case, as directory string comparisons do. An empty filter matches all.
func parseFilter(s string, fields filterFields) (predicate, error) {
	if strings.TrimSpace(s) == "" {
		return func(filterValues) bool { return true }, nil
	}
	if len(s) > maxFilterLength {
		return nil, errFilter("the filter is longer than %d characters.", maxFilterLength)
	}
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks, fields: fields}
	pred, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if !p.done() {
		return nil, errFilter("unexpected '%s'.", clip(p.peek().text))
	}
	return pred, nil
}

func errFilter(format string, args ...any) *apiError {
	e := badRequest("Invalid filter clause: "+format, args...)
	e.code = codeSegmentBadRequest
	return e
}

func errFilterProperty(property, resource string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: codeUnsupportedQuery,
		message: "Unsupported or invalid query filter clause specified for property '" + clip(property) + "' of resource '" + resource + "'."}
}

type tokenKind int

const (
	tokIdent tokenKind = iota + 1
	tokString
	tokPunct
)

type token struct {
	kind tokenKind
	text string
}

func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.IndexByte("(),/:", c) >= 0:
			toks = append(toks, token{tokPunct, string(c)})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, errFilter("unterminated string literal.")
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{tokString, b.String()})
			i = j + 1
		case c < 0x80 && (unicode.IsLetter(rune(c)) || c == '_'):
			j := i
			for j < len(s) && s[j] < 0x80 && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_') {
				j++
			}
			toks = append(toks, token{tokIdent, s[i:j]})
			i = j
		default:
			return nil, errFilter("unexpected character '%c'.", c)
		}
	}
	return toks, nil
}

type filterParser struct {
	toks   []token
	pos    int
	fields filterFields
}

// maxFilterDepth bounds parenthesis nesting.
const maxFilterDepth = 16

func (p *filterParser) done() bool { return p.pos >= len(p.toks) }

func (p *filterParser) peek() token {
	if p.done() {
		return token{}
	}
	return p.toks[p.pos]
}

func (p *filterParser) next() token {
	t := p.peek()
	p.pos++
	return t
}

func (p *filterParser) expect(kind tokenKind, text string) (token, error) {
	t := p.next()
	if t.kind != kind || (text != "" && !strings.EqualFold(t.text, text)) {
		want := text
		if want == "" {
			want = map[tokenKind]string{tokIdent: "a name", tokString: "a string literal"}[kind]
		}
		if t.kind == 0 {
			return t, errFilter("expected %s at the end.", want)
		}
		return t, errFilter("expected %s, found '%s'.", want, clip(t.text))
	}
	return t, nil
}

func (p *filterParser) expr(depth int) (predicate, error) {
	if depth > maxFilterDepth {
		return nil, errFilter("nested too deeply.")
	}
	first, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	terms := []predicate{first}
	for t := p.peek(); t.kind == tokIdent && strings.EqualFold(t.text, "and"); t = p.peek() {
		p.next()
		next, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		terms = append(terms, next)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return func(v filterValues) bool {
		for _, t := range terms {
			if !t(v) {
				return false
			}
		}
		return true
	}, nil
}

func (p *filterParser) term(depth int) (predicate, error) {
	t := p.next()
	switch {
	case t.kind == tokPunct && t.text == "(":
		inner, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokPunct, ")"); err != nil {
			return nil, err
		}
		return inner, nil
	case t.kind == tokIdent && strings.EqualFold(t.text, "startswith") && p.peek().text == "(":
		p.next()
		prop, err := p.scalar()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokPunct, ","); err != nil {
			return nil, err
		}
		lit, err := p.expect(tokString, "")
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokPunct, ")"); err != nil {
			return nil, err
		}
		want := strings.ToLower(lit.text)
		return func(v filterValues) bool {
			return strings.HasPrefix(strings.ToLower(v.scalars[prop]), want)
		}, nil
	case t.kind == tokIdent && p.peek().text == "/":
		return p.any(t.text)
	case t.kind == tokIdent:
		p.pos--
		prop, err := p.scalar()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokIdent, "eq"); err != nil {
			return nil, err
		}
		lit, err := p.expect(tokString, "")
		if err != nil {
			return nil, err
		}
		return func(v filterValues) bool { return strings.EqualFold(v.scalars[prop], lit.text) }, nil
	case t.kind == 0:
		return nil, errFilter("expected a clause at the end.")
	}
	return nil, errFilter("unexpected '%s'.", clip(t.text))
}

// scalar reads a property name usable with eq and startswith.
func (p *filterParser) scalar() (string, error) {
	t, err := p.expect(tokIdent, "")
	if err != nil {
		return "", err
	}
	name := strings.ToLower(t.text)
	if !p.fields.scalars[name] {
		return "", errFilterProperty(t.text, p.fields.resource)
	}
	return name, nil
}

// any parses "coll/any(x:x eq 'v')" after coll.
func (p *filterParser) any(coll string) (predicate, error) {
	name := strings.ToLower(coll)
	if !p.fields.collections[name] {
		return nil, errFilterProperty(coll, p.fields.resource)
	}
	p.next() // "/"
	if _, err := p.expect(tokIdent, "any"); err != nil {
		return nil, err
	}
	if _, err := p.expect(tokPunct, "("); err != nil {
		return nil, err
	}
	v, err := p.expect(tokIdent, "")
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tokPunct, ":"); err != nil {
		return nil, err
	}
	if _, err := p.expect(tokIdent, v.text); err != nil {
		return nil, err
	}
	if _, err := p.expect(tokIdent, "eq"); err != nil {
		return nil, err
	}
	lit, err := p.expect(tokString, "")
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tokPunct, ")"); err != nil {
		return nil, err
	}
	return func(fv filterValues) bool {
		for _, s := range fv.collections[name] {
			if strings.EqualFold(s, lit.text) {
				return true
			}
		}
		return false
	}, nil
}
