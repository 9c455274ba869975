package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fedcred/fedcred/internal/output"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line was wrong
)

// app is one invocation of the CLI: its environment, streams and clock, and
// the values of the flags every client command shares.
type app struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time

	flags globalFlags
	out   *output.Renderer
	// ran is set when a command's body starts: errors before it are usage
	// errors (flags, arguments), errors from it are failures unless marked
	// as usageError.
	ran bool
	// exitCode is the code a command asks the process to exit with when it
	// succeeded (fedcred run passes on its program's).
	exitCode int
}

// globalFlags are the flags of every client command.
type globalFlags struct {
	server       string
	tenant       string
	caFile       string
	subscription string
	dataDir      string
	query        string
	output       string
}

// usageError marks an error as the caller's mistake on the command line
// (exit 2), such as a flag value that does not parse.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf builds a usageError.
func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// run executes the command line args and returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	a := &app{getenv: getenv, stdout: stdout, stderr: stderr, now: time.Now}
	return a.run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) int {
	root := a.newRootCommand()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return a.exitCode
	}
	var ue usageError
	if !a.ran || errors.As(err, &ue) {
		fmt.Fprintf(a.stderr, "ERROR: %s\n", oneLine(err.Error()))
		fmt.Fprintf(a.stderr, "See '%s --help'.\n", cmd.CommandPath())
		return exitUsage
	}
	fmt.Fprintf(a.stderr, "ERROR: %s\n", a.describe(err))
	return exitError
}

func (a *app) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "fedcred",
		Short: "Self-hosted workload identity federation that speaks Entra Workload ID's protocols",
		Long: `fedcred lets workloads trade the tokens their cluster issues for access tokens, with no
secret anywhere, speaking Microsoft Entra Workload ID's protocols.

'fedcred serve' runs the server. The other commands are its CLI and mirror az: they find the
server through --server and friends, the FEDCRED_* environment variables, the profile that
'fedcred login' stores, or the admin.json that 'fedcred serve' writes in its data directory.`,
		Example: `  # Run a server, then use it from the same machine
  fedcred serve &
  fedcred group create -n rg1
  fedcred aks create -n c1 -g rg1 --enable-oidc-issuer
  fedcred identity create -n id1 -g rg1
  fedcred identity federated-credential create --name fic1 --identity-name id1 -g rg1 \
    --issuer "$(fedcred aks show -n c1 -g rg1 --query oidcIssuerProfile.issuerUrl -o tsv)" \
    --subject system:serviceaccount:default:app`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newServeCommand(),
		a.newLoginCommand(),
		a.newLogoutCommand(),
		a.newAccountCommand(),
		a.newGroupCommand(),
		a.newAKSCommand(),
		a.newIdentityCommand(),
		a.newIssuerCommand(),
		a.newRoleCommand(),
		a.newKeyVaultCommand(),
		a.newAppCommand(),
		a.newGetTokenCommand(),
		a.newAuditCommand(),
		a.newRunCommand(),
		a.newAZSetupCommand(),
		a.newPortalCommand(),
		newWebhookCommand(),
	)
	markRuns(root, a)
	return root
}

// markRuns wraps the body of every command so that a.ran tells whether
// cobra got as far as running it.
func markRuns(cmd *cobra.Command, a *app) {
	if body := cmd.RunE; body != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			a.ran = true
			return body(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		markRuns(sub, a)
	}
}

// addClientFlags gives a top-level client command (and so its
// subcommands) the shared flags.
func (a *app) addClientFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&a.flags.server, "server", "", "URL of the fedcred server [FEDCRED_SERVER]")
	f.StringVar(&a.flags.tenant, "tenant", "", "tenant ID [FEDCRED_TENANT_ID]")
	f.StringVar(&a.flags.caFile, "ca-file", "", "PEM file of the CA to trust for the server's certificate [FEDCRED_CA_FILE]")
	f.StringVar(&a.flags.subscription, "subscription", "", "subscription ID [FEDCRED_SUBSCRIPTION_ID]")
	f.StringVar(&a.flags.dataDir, "data-dir", "", "data directory of a local server, to find its admin.json [FEDCRED_DATA_DIR]")
	f.StringVar(&a.flags.query, "query", "", "JMESPath query applied to the output, as in az")
	f.StringVarP(&a.flags.output, "output", "o", string(output.JSON), "output format: "+strings.Join(output.FormatNames(), ", "))
}

// groupCommand is a command that only holds subcommands: without one it
// prints its help, and an unknown one is a usage error.
func groupCommand(use, short, example string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("'%s' is not a command of '%s'", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
}

// checkRequiredNotEmpty refuses a required flag given as "" (cobra only
// checks that it was given).
func checkRequiredNotEmpty(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Value.Type() != "string" || f.Value.String() != "" {
			return
		}
		if req := f.Annotations[cobra.BashCompOneRequiredFlag]; len(req) > 0 && req[0] == "true" {
			err = usageErrorf("--%s must not be empty", f.Name)
		}
	})
	return err
}

// required marks flags as required; it panics only on a misspelt name.
func required(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		if err := cmd.MarkFlagRequired(n); err != nil {
			panic(err)
		}
	}
}

// oneLine joins a multi-line message into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
