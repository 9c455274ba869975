package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/output"
)

// action is the body of a client command. It checks --output and --query
// before anything happens, so a typo in them has no side effect.
func (a *app) action(body func(ctx context.Context) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if err := checkRequiredNotEmpty(cmd); err != nil {
			return err
		}
		r, err := output.New(a.flags.output, a.flags.query)
		if err != nil {
			return usageError{err}
		}
		a.out = r
		return body(cmd.Context())
	}
}

// render prints a command's result in the chosen format.
func (a *app) render(v any) error {
	return a.out.Render(a.stdout, v)
}

// renderResource prints one ARM resource flattened the way az prints it.
func (a *app) renderResource(v any) error {
	m, err := output.FlattenResource(v)
	if err != nil {
		return err
	}
	return a.render(m)
}

// renderResources prints a list of ARM resources flattened.
func renderResources[T any](a *app, items []T) error {
	list, err := output.FlattenResources(items)
	if err != nil {
		return err
	}
	return a.render(list)
}

// renderOrTable prints v, or table instead when the output is a table
// without a query, as az does for the lists it has table transformers for.
func (a *app) renderOrTable(v any, table func() any) error {
	if a.out.PlainTable() {
		return a.render(table())
	}
	return a.render(v)
}
