// Package output renders command results the way the az CLI does: a JMESPath
// --query applied to the JSON form of the result, then one of the formats
// json, jsonc, tsv, table or none.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/jmespath/go-jmespath"
)

// Format is an output format named by -o/--output.
type Format string

// The output formats az offers and fedcred supports.
const (
	JSON  Format = "json"  // indented JSON with sorted keys (the default)
	JSONC Format = "jsonc" // JSON coloured for a terminal
	TSV   Format = "tsv"   // tab-separated values, one object per line
	Table Format = "table" // a header and a row per object, scalar fields only
	None  Format = "none"  // nothing
)

// FormatNames returns the accepted format names in the order help texts show them.
func FormatNames() []string {
	return []string{string(JSON), string(JSONC), string(TSV), string(Table), string(None)}
}

// ParseFormat checks a format name; case does not matter.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case JSON, JSONC, TSV, Table, None:
		return f, nil
	}
	return "", fmt.Errorf("invalid output format %q: allowed values: %s", s, strings.Join(FormatNames(), ", "))
}

// Renderer writes results in one format after applying an optional query.
// Build it with New before doing any work, so a bad --query or -o fails first.
type Renderer struct {
	format Format
	query  *jmespath.JMESPath
}

// New checks the format name and compiles the JMESPath query ("" for none).
func New(format, query string) (*Renderer, error) {
	f, err := ParseFormat(format)
	if err != nil {
		return nil, err
	}
	r := &Renderer{format: f}
	if strings.TrimSpace(query) != "" {
		q, err := jmespath.Compile(query)
		if err != nil {
			return nil, fmt.Errorf("invalid jmespath query %q: %w", query, err)
		}
		r.query = q
	}
	return r, nil
}

// PlainTable reports whether the output is a table without a query: the
// case in which az prints some lists as a table of chosen columns
// (az role assignment list: Principal, Role, Scope).
func (r *Renderer) PlainTable() bool { return r.format == Table && r.query == nil }

// Render writes v, which must marshal to JSON, to w. Like az, a result that
// is null (after the query) prints nothing in every format.
func (r *Renderer) Render(w io.Writer, v any) error {
	data, err := generic(v)
	if err != nil {
		return err
	}
	if r.query != nil {
		data, err = r.query.Search(data)
		if err != nil {
			return fmt.Errorf("evaluate query: %w", err)
		}
	}
	if data == nil {
		return nil
	}
	switch r.format {
	case JSON:
		return writeJSON(w, data, false)
	case JSONC:
		return writeJSON(w, data, true)
	case TSV:
		return writeTSV(w, data)
	case Table:
		return writeTable(w, data)
	default:
		return nil
	}
}

// generic turns v into the values encoding/json decodes into an interface:
// map[string]any, []any, string, float64, bool and nil. JMESPath and the
// writers work on that form.
func generic(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode result: %w", err)
	}
	return out, nil
}
