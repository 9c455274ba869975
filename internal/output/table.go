package output

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tableSkipped reports the fields az leaves out of tables.
func tableSkipped(key string) bool {
	return key == "id" || key == "type" || key == "etag"
}

// headerPadding is how much wider than its header a column is at least, as
// in the tables az prints (python-tabulate's minimum padding).
const headerPadding = 2

// writeTable writes az's automatic table: for each object (or the single
// value), its scalar fields except id, type and etag, under headers that are
// the field names with a capital first letter. Columns appear in the order
// first seen, each object's fields sorted; numeric columns, headers included,
// align right.
func writeTable(w io.Writer, v any) error {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	var columns []string
	seen := map[string]bool{}
	rows := make([]map[string]any, 0, len(items))
	for _, item := range items {
		row := tableRow(item)
		for _, c := range row.order {
			if !seen[c] {
				seen[c] = true
				columns = append(columns, c)
			}
		}
		rows = append(rows, row.cells)
	}
	if len(columns) == 0 {
		return nil
	}

	widths := make([]int, len(columns))
	numeric := make([]bool, len(columns))
	for i, c := range columns {
		widths[i] = utf8.RuneCountInString(c) + headerPadding
		numeric[i] = true
	}
	text := make([][]string, len(rows))
	for j, row := range rows {
		text[j] = make([]string, len(columns))
		for i, c := range columns {
			val, ok := row[c]
			if !ok {
				continue
			}
			text[j][i] = cell(val)
			widths[i] = max(widths[i], utf8.RuneCountInString(text[j][i]))
			if _, isNum := val.(float64); !isNum {
				numeric[i] = false
			}
		}
	}

	bw := bufio.NewWriter(w)
	line := func(cells []string, alignRight []bool) {
		var b strings.Builder
		for i, s := range cells {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
			if alignRight[i] {
				b.WriteString(pad + s)
			} else {
				b.WriteString(s + pad)
			}
		}
		bw.WriteString(strings.TrimRightFunc(b.String(), unicode.IsSpace))
		bw.WriteByte('\n')
	}
	rules := make([]string, len(columns))
	for i := range columns {
		rules[i] = strings.Repeat("-", widths[i])
	}
	line(columns, numeric)
	line(rules, numeric)
	for _, cells := range text {
		line(cells, numeric)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// row is one table row: its column names in order, and their values.
type row struct {
	order []string
	cells map[string]any
}

// tableRow picks the columns of one item.
func tableRow(item any) row {
	r := row{cells: map[string]any{}}
	add := func(name string, v any) {
		r.order = append(r.order, name)
		r.cells[name] = v
	}
	switch item := item.(type) {
	case map[string]any:
		for _, k := range sortedKeys(item) {
			v := item[k]
			if tableSkipped(k) || v == nil {
				continue
			}
			switch v.(type) {
			case map[string]any, []any:
				continue
			}
			add(capitalize(k), v)
		}
	case []any:
		for i, v := range item {
			add("Column"+strconv.Itoa(i+1), v)
		}
	case nil:
	default:
		add("Result", item)
	}
	return r
}

func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}
