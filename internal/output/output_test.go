package output

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Format
		wantErr bool
	}{
		{name: "json", in: "json", want: JSON},
		{name: "jsonc", in: "jsonc", want: JSONC},
		{name: "tsv", in: "tsv", want: TSV},
		{name: "table", in: "table", want: Table},
		{name: "none", in: "none", want: None},
		{name: "upper case is accepted", in: "TSV", want: TSV},
		{name: "unknown format", in: "yaml", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFormat(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseFormat(%q) = %q, want error", tt.in, got)
				}
				if !strings.Contains(err.Error(), "json, jsonc, tsv, table, none") {
					t.Errorf("error %q does not list the allowed values", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseFormat(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNewRejectsInvalidQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string
	}{
		{name: "unclosed bracket", query: "[?name=='a'"},
		{name: "dangling dot", query: "properties."},
		{name: "empty filter", query: "[?]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New("json", tt.query); err == nil {
				t.Fatalf("New(json, %q) succeeded, want error", tt.query)
			}
		})
	}
}

// identity is an ARM identity as the server returns it, for the tests below.
func identity(name, clientID string) map[string]any {
	return map[string]any{
		"id":       "/subscriptions/sub1/resourcegroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name,
		"name":     name,
		"type":     "Microsoft.ManagedIdentity/userAssignedIdentities",
		"location": "eastus",
		"tags":     map[string]any{"env": "dev"},
		"properties": map[string]any{
			"clientId":    clientID,
			"principalId": "p-" + name,
			"tenantId":    "t1",
		},
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	two := []any{
		map[string]any{"name": "a", "location": "eastus", "count": 3, "enabled": true, "id": "/x/a", "audiences": []string{"x", "y"}},
		map[string]any{"name": "bb", "location": "westeurope", "count": 12, "enabled": false, "id": "/x/bb", "extra": "only here"},
	}
	tests := []struct {
		name   string
		format string
		query  string
		value  any
		want   string
	}{
		{
			name:   "json sorts keys, indents by two and keeps html and unicode as is",
			format: "json",
			value:  map[string]any{"b": "<tag>&", "a": []any{1, 2.5}, "c": map[string]any{}, "d": []any{}, "e": "café", "f": nil},
			want:   "{\n  \"a\": [\n    1,\n    2.5\n  ],\n  \"b\": \"<tag>&\",\n  \"c\": {},\n  \"d\": [],\n  \"e\": \"café\",\n  \"f\": null\n}\n",
		},
		{
			name:   "json of a scalar query result is a quoted JSON string",
			format: "json",
			query:  "properties.clientId",
			value:  identity("id1", "c-1"),
			want:   "\"c-1\"\n",
		},
		{
			name:   "a null query result prints nothing",
			format: "json",
			query:  "properties.missing",
			value:  identity("id1", "c-1"),
			want:   "",
		},
		{
			name:   "a null result prints nothing in table format either",
			format: "table",
			value:  nil,
			want:   "",
		},
		{
			name:   "jsonc colours keys, strings and other scalars",
			format: "jsonc",
			value:  map[string]any{"k": "v", "n": 1, "b": true},
			want: "{\n  \x1b[94m\"b\"\x1b[0m: \x1b[36mtrue\x1b[0m,\n  \x1b[94m\"k\"\x1b[0m: \x1b[32m\"v\"\x1b[0m,\n" +
				"  \x1b[94m\"n\"\x1b[0m: \x1b[36m1\x1b[0m\n}\n",
		},
		{
			name:   "tsv prints a scalar query result raw",
			format: "tsv",
			query:  "properties.clientId",
			value:  identity("id1", "c-1"),
			want:   "c-1\n",
		},
		{
			name:   "tsv prints one object per line in key order, lists as their length",
			format: "tsv",
			value:  two,
			want:   "2\t3\tTrue\t/x/a\teastus\ta\n12\tFalse\tonly here\t/x/bb\twesteurope\tbb\n",
		},
		{
			name:   "tsv prints a nested object as an empty field",
			format: "tsv",
			value:  map[string]any{"a": "x", "b": map[string]any{"c": 1}, "d": "y"},
			want:   "x\t\ty\n",
		},
		{
			name:   "tsv of a list of scalars prints one per line",
			format: "tsv",
			query:  "[].name",
			value:  two,
			want:   "a\nbb\n",
		},
		{
			name:   "tsv of a multiselect list prints the selected fields of each object",
			format: "tsv",
			query:  "[].[name, location]",
			value:  two,
			want:   "a\teastus\nbb\twesteurope\n",
		},
		{
			name:   "tsv prints null as an empty field",
			format: "tsv",
			value:  map[string]any{"a": nil, "b": "x"},
			want:   "\tx\n",
		},
		{
			name:   "table shows scalar fields except id and type, numbers aligned right",
			format: "table",
			value:  two,
			want: "  Count  Enabled    Location    Name    Extra\n" +
				"-------  ---------  ----------  ------  ---------\n" +
				"      3  True       eastus      a\n" +
				"     12  False      westeurope  bb      only here\n",
		},
		{
			name:   "table of one object has one row",
			format: "table",
			value:  map[string]any{"name": "rg1", "location": "eastus", "type": "Microsoft.Resources/resourceGroups", "properties": map[string]any{"provisioningState": "Succeeded"}},
			want:   "Location    Name\n----------  ------\neastus      rg1\n",
		},
		{
			name:   "table of scalars has a Result column",
			format: "table",
			query:  "[].name",
			value:  two,
			want:   "Result\n--------\na\nbb\n",
		},
		{
			name:   "table of an empty list prints nothing",
			format: "table",
			value:  []any{},
			want:   "",
		},
		{
			name:   "json of an empty list prints []",
			format: "json",
			value:  []any{},
			want:   "[]\n",
		},
		{
			name:   "query filters and projects",
			format: "json",
			query:  "[?location=='westeurope'].{n: name, c: count}",
			value:  two,
			want:   "[\n  {\n    \"c\": 12,\n    \"n\": \"bb\"\n  }\n]\n",
		},
		{
			name:   "none prints nothing",
			format: "none",
			value:  two,
			want:   "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := New(tt.format, tt.query)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			var b bytes.Buffer
			if err := r.Render(&b, tt.value); err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("Render output:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

func TestRenderTableOfLists(t *testing.T) {
	t.Parallel()
	r, err := New("table", "[].[name, location]")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	value := []any{map[string]any{"name": "a", "location": "eastus"}, map[string]any{"name": "bb", "location": "westeurope"}}
	if err := r.Render(&b, value); err != nil {
		t.Fatal(err)
	}
	want := "Column1    Column2\n---------  ----------\na          eastus\nbb         westeurope\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string
		value any
	}{
		{name: "value that does not marshal", value: map[string]any{"c": make(chan int)}},
		{name: "query that fails on the data", query: "abs(name)", value: map[string]any{"name": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := New("json", tt.query)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := r.Render(&b, tt.value); err == nil {
				t.Fatalf("Render succeeded with output %q, want error", b.String())
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderReportsWriteErrors(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"json", "jsonc", "tsv", "table"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			r, err := New(format, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Render(failingWriter{}, map[string]any{"name": "x"}); err == nil {
				t.Fatal("Render to a failing writer succeeded")
			}
		})
	}
}

func TestFlattenResource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      any
		want    map[string]any
		wantErr bool
	}{
		{
			name: "identity properties move to the top level and resourceGroup comes from the id",
			in:   identity("id1", "c-1"),
			want: map[string]any{
				"id":            "/subscriptions/sub1/resourcegroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
				"name":          "id1",
				"type":          "Microsoft.ManagedIdentity/userAssignedIdentities",
				"location":      "eastus",
				"tags":          map[string]any{"env": "dev"},
				"clientId":      "c-1",
				"principalId":   "p-id1",
				"tenantId":      "t1",
				"resourceGroup": "rg1",
			},
		},
		{
			name: "nested properties stay nested below the first level",
			in: map[string]any{
				"id":         "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c",
				"name":       "c",
				"properties": map[string]any{"oidcIssuerProfile": map[string]any{"enabled": true, "issuerUrl": "https://x/"}},
			},
			want: map[string]any{
				"id":                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c",
				"name":              "c",
				"oidcIssuerProfile": map[string]any{"enabled": true, "issuerUrl": "https://x/"},
				"resourceGroup":     "rg",
			},
		},
		{
			name: "a top-level member wins over a property of the same name",
			in:   map[string]any{"name": "outer", "properties": map[string]any{"name": "inner", "x": 1}},
			want: map[string]any{"name": "outer", "x": float64(1)},
		},
		{
			name: "null properties disappear",
			in:   map[string]any{"name": "n", "properties": nil},
			want: map[string]any{"name": "n"},
		},
		{
			name: "properties that are not an object stay as they are",
			in:   map[string]any{"name": "n", "properties": "odd"},
			want: map[string]any{"name": "n", "properties": "odd"},
		},
		{
			name: "an id outside a resource group adds no resourceGroup",
			in:   map[string]any{"id": "/subscriptions/s/providers/Microsoft.Foo/bars/resourceGroups"},
			want: map[string]any{"id": "/subscriptions/s/providers/Microsoft.Foo/bars/resourceGroups"},
		},
		{
			name: "a resourceGroup the server sent is kept",
			in:   map[string]any{"id": "/subscriptions/s/resourceGroups/rg/x", "resourceGroup": "RG"},
			want: map[string]any{"id": "/subscriptions/s/resourceGroups/rg/x", "resourceGroup": "RG"},
		},
		{
			name: "a struct is flattened through its JSON form",
			in: struct {
				ID         string `json:"id"`
				Properties struct {
					Issuer string `json:"issuer"`
				} `json:"properties"`
			}{ID: "/subscriptions/s/resourceGroups/g/p/i/f", Properties: struct {
				Issuer string `json:"issuer"`
			}{Issuer: "https://iss/"}},
			want: map[string]any{"id": "/subscriptions/s/resourceGroups/g/p/i/f", "issuer": "https://iss/", "resourceGroup": "g"},
		},
		{name: "a list is not a resource", in: []any{1}, wantErr: true},
		{name: "a string is not a resource", in: "x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FlattenResource(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("FlattenResource = %v, want error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FlattenResource =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestFlattenResources(t *testing.T) {
	t.Parallel()
	got, err := FlattenResources([]map[string]any{identity("a", "c-a"), identity("b", "c-b")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0]["clientId"] != "c-a" || got[1]["clientId"] != "c-b" || got[1]["resourceGroup"] != "rg1" {
		t.Fatalf("FlattenResources = %v", got)
	}
	empty, err := FlattenResources([]map[string]any(nil))
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("FlattenResources(nil) = %#v, %v; want an empty non-nil list", empty, err)
	}
	if _, err := FlattenResources([]any{"not an object"}); err == nil {
		t.Fatal("FlattenResources of a string succeeded")
	}
}

func TestAddResourceGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      any
		want    map[string]any
		wantErr bool
	}{
		{
			name: "properties stay nested and resourceGroup comes from the id",
			in: map[string]any{"id": "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv", "name": "kv",
				"properties": map[string]any{"vaultUri": "https://h/vaults/kv/"}},
			want: map[string]any{"id": "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv", "name": "kv",
				"properties": map[string]any{"vaultUri": "https://h/vaults/kv/"}, "resourceGroup": "rg1"},
		},
		{
			name: "a resourceGroup the server sent is kept",
			in:   map[string]any{"id": "/subscriptions/s/resourceGroups/rg1/x", "resourceGroup": "RG1"},
			want: map[string]any{"id": "/subscriptions/s/resourceGroups/rg1/x", "resourceGroup": "RG1"},
		},
		{
			name: "an id outside a resource group adds nothing",
			in:   map[string]any{"id": "/subscriptions/s", "properties": nil},
			want: map[string]any{"id": "/subscriptions/s", "properties": nil},
		},
		{name: "a list is not a resource", in: []any{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := AddResourceGroup(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("AddResourceGroup = %v, want error", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AddResourceGroup = %#v, %v\nwant %#v", got, err, tt.want)
			}
		})
	}
}

func TestAddResourceGroups(t *testing.T) {
	t.Parallel()
	got, err := AddResourceGroups([]map[string]any{{"id": "/subscriptions/s/resourceGroups/a/x"}, {"id": "/subscriptions/s/resourceGroups/b/y"}})
	if err != nil || len(got) != 2 || got[0]["resourceGroup"] != "a" || got[1]["resourceGroup"] != "b" {
		t.Fatalf("AddResourceGroups = %v, %v", got, err)
	}
	empty, err := AddResourceGroups([]int(nil))
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("AddResourceGroups(nil) = %#v, %v; want an empty non-nil list", empty, err)
	}
	if _, err := AddResourceGroups([]any{"x"}); err == nil {
		t.Fatal("AddResourceGroups of a string succeeded")
	}
}

func TestPlainTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, format, query string
		want                bool
	}{
		{name: "table without a query", format: "table", want: true},
		{name: "table with a query", format: "table", query: "[].name"},
		{name: "json", format: "json"},
		{name: "tsv", format: "tsv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := New(tt.format, tt.query)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.PlainTable(); got != tt.want {
				t.Errorf("PlainTable() = %v, want %v", got, tt.want)
			}
		})
	}
}
