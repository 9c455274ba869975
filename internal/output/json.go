package output

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ANSI colours of the jsonc format.
const (
	colorKey    = "\x1b[94m"
	colorString = "\x1b[32m"
	colorOther  = "\x1b[36m"
	colorReset  = "\x1b[0m"
)

// writeJSON writes a generic value as az does: two-space indent, keys
// sorted, no HTML escaping, a final newline.
func writeJSON(w io.Writer, v any, color bool) error {
	bw := bufio.NewWriter(w)
	e := jsonWriter{w: bw, color: color}
	e.value(v, 0)
	bw.WriteByte('\n')
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

type jsonWriter struct {
	w     *bufio.Writer
	color bool
}

func (e jsonWriter) value(v any, depth int) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			e.w.WriteString("{}")
			return
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.w.WriteString("{\n")
		for i, k := range keys {
			e.indent(depth + 1)
			e.painted(colorKey, quote(k))
			e.w.WriteString(": ")
			e.value(v[k], depth+1)
			if i < len(keys)-1 {
				e.w.WriteByte(',')
			}
			e.w.WriteByte('\n')
		}
		e.indent(depth)
		e.w.WriteByte('}')
	case []any:
		if len(v) == 0 {
			e.w.WriteString("[]")
			return
		}
		e.w.WriteString("[\n")
		for i, item := range v {
			e.indent(depth + 1)
			e.value(item, depth+1)
			if i < len(v)-1 {
				e.w.WriteByte(',')
			}
			e.w.WriteByte('\n')
		}
		e.indent(depth)
		e.w.WriteByte(']')
	case string:
		e.painted(colorString, quote(v))
	case float64:
		e.painted(colorOther, formatNumber(v))
	case bool:
		e.painted(colorOther, strconv.FormatBool(v))
	case nil:
		e.painted(colorOther, "null")
	default:
		// Generic values are only the kinds above; anything else is encoded as is.
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte("null")
		}
		e.painted(colorOther, string(b))
	}
}

func (e jsonWriter) indent(depth int) {
	for range depth {
		e.w.WriteString("  ")
	}
}

func (e jsonWriter) painted(color, s string) {
	if e.color {
		e.w.WriteString(color)
		e.w.WriteString(s)
		e.w.WriteString(colorReset)
		return
	}
	e.w.WriteString(s)
}

// quote encodes s as a JSON string without HTML escaping.
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// formatNumber writes integral values without a fraction or exponent, as
// Python prints the integers az decodes.
func formatNumber(f float64) string {
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
