package output

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// writeTSV writes one line per object of a list (or for a single value),
// as az does: an object's values in key order, a list's items in order,
// separated by tabs. Inside a line, a nested list prints as its length and a
// nested object as an empty field, so columns stay aligned across lines.
func writeTSV(w io.Writer, v any) error {
	bw := bufio.NewWriter(w)
	rows, ok := v.([]any)
	if !ok {
		rows = []any{v}
	}
	for _, row := range rows {
		for i, field := range fields(row) {
			if i > 0 {
				bw.WriteByte('\t')
			}
			bw.WriteString(cell(field))
		}
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// fields splits one TSV row into its values.
func fields(row any) []any {
	switch row := row.(type) {
	case map[string]any:
		keys := sortedKeys(row)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = row[k]
		}
		return out
	case []any:
		return row
	default:
		return []any{row}
	}
}

// cell renders one value of a TSV line or a table cell.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		if v {
			return "True"
		}
		return "False"
	case float64:
		return formatNumber(v)
	case []any:
		return strconv.Itoa(len(v))
	case map[string]any:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
