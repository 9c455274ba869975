// Command fedcred is self-hosted workload identity federation that speaks
// Microsoft Entra Workload ID's protocols. `fedcred serve` runs the server;
// the other commands are its CLI, shaped like az: resource groups, managed
// identities and their federated credentials, clusters and their OIDC
// issuers, role definitions and assignments, key vaults and their secrets,
// applications and their app roles, and tokens.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
