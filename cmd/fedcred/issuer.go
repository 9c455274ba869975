package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/keys"
	"github.com/fedcred/fedcred/internal/remoteissuer"
	"github.com/fedcred/fedcred/internal/trust"
)

// Limits on the files the issuer commands read.
const (
	maxJWKSFileBytes       = trust.MaxJWKSBytes
	maxSigningKeyFileBytes = 64 << 10
	maxIssuerCAFileBytes   = 1 << 20
)

// privateNetworks are what check --allow-private lets through: loopback,
// RFC 1918 and IPv6 unique local addresses.
func privateNetworks() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func (a *app) newIssuerCommand() *cobra.Command {
	cmd := groupCommand("issuer", "Trust issuers fedcred does not host: upload their keys, publish rotations, check remote ones",
		`  fedcred issuer create --name private1 --issuer https://oidc.private.example/ --jwks-file jwks.json
  fedcred issuer check https://oidc.prod-aks.azure.com/TENANT/UID/`)
	cmd.Long = `Federated credentials may name any https issuer. fedcred fetches the keys of an issuer it does not
host from the issuer's discovery document, through a guard that refuses private addresses. An issuer
fedcred cannot reach, such as a private cluster, is trusted by uploading its JWKS instead: a trusted
issuer. Its keys are never fetched, and the cluster can publish its own rotations with publish-keys.`
	a.addClientFlags(cmd)
	cmd.AddCommand(
		a.newIssuerCreateCommand(),
		a.newIssuerUpdateCommand(),
		a.newIssuerShowCommand(),
		a.newIssuerListCommand(),
		a.newIssuerDeleteCommand(),
		a.newIssuerPublishKeysCommand(),
		a.newIssuerCheckCommand(),
	)
	return cmd
}

// readBounded reads a file of at most limit bytes.
func readBounded(path, what string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s %s is larger than %d bytes", what, path, limit)
	}
	return data, nil
}

// readJWKSFile reads and checks a JWKS file, so that a mistake is reported
// before anything is sent.
func readJWKSFile(path string) (json.RawMessage, error) {
	data, err := readBounded(path, "JWKS file", maxJWKSFileBytes)
	if err != nil {
		return nil, err
	}
	jwks, err := trust.ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return jwks.Raw, nil
}

func (a *app) newIssuerCreateCommand() *cobra.Command {
	var name, issuerURL, jwksFile string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Trust an issuer fedcred cannot reach, by its uploaded JWKS",
		Long: `Trust an issuer by uploading its JSON web key set (a trusted issuer). Use it for issuers fedcred
cannot reach, such as private clusters: tokens of the issuer are then verified with these keys,
which are never fetched over the network. --jwks-file is required: an issuer fedcred can reach
needs no trusted issuer at all, since federated credentials may name any https issuer and its
keys are fetched from its discovery document.

The JWKS must hold public RSA (2048 bits or more) or EC P-256/P-384 signing keys, each with a
unique kid, at most 100 keys, and no private key material. On Kubernetes:
  kubectl get --raw /openid/v1/jwks > jwks.json`,
		Example: `  kubectl get --raw /openid/v1/jwks > jwks.json
  fedcred issuer create --name private1 --issuer "$(kubectl get --raw /.well-known/openid-configuration | jq -r .issuer)" --jwks-file jwks.json`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the trusted issuer")
	cmd.Flags().StringVar(&issuerURL, "issuer", "", "the issuer URL, exactly as its tokens carry it in iss (a trailing slash counts)")
	cmd.Flags().StringVar(&jwksFile, "jwks-file", "", "JSON file of the issuer's JWKS (required: see above)")
	required(cmd, "name", "issuer", "jwks-file")
	cmd.RunE = a.action(func(ctx context.Context) error {
		jwks, err := readJWKSFile(jwksFile)
		if err != nil {
			return err
		}
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		ti, err := s.client.PutTrustedIssuer(ctx, sub, name, issuerURL, jwks)
		if err != nil {
			return err
		}
		return a.renderResource(ti)
	})
	return cmd
}

func (a *app) newIssuerUpdateCommand() *cobra.Command {
	var name, jwksFile string
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Replace the uploaded JWKS of a trusted issuer",
		Long: `Replace the keys of a trusted issuer with a new JWKS, as an administrator. A cluster can also
publish its own rotations, with its current signing key instead of fedcred credentials: see
'fedcred issuer publish-keys'.`,
		Example: `  fedcred issuer update --name private1 --jwks-file jwks.json`,
		Args:    cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the trusted issuer")
	cmd.Flags().StringVar(&jwksFile, "jwks-file", "", "JSON file of the issuer's new JWKS")
	required(cmd, "name", "jwks-file")
	cmd.RunE = a.action(func(ctx context.Context) error {
		jwks, err := readJWKSFile(jwksFile)
		if err != nil {
			return err
		}
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		cur, err := s.client.GetTrustedIssuer(ctx, sub, name)
		if err != nil {
			return err
		}
		ti, err := s.client.PutTrustedIssuer(ctx, sub, name, cur.Properties.Issuer, jwks)
		if err != nil {
			return err
		}
		return a.renderResource(ti)
	})
	return cmd
}

func (a *app) newIssuerShowCommand() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a trusted issuer with its keys",
		Example: `  fedcred issuer show --name private1
  fedcred issuer show --name private1 --query "keys[].kid" -o tsv`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the trusted issuer")
	required(cmd, "name")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		ti, err := s.client.GetTrustedIssuer(ctx, sub, name)
		if err != nil {
			return err
		}
		return a.renderResource(ti)
	})
	return cmd
}

func (a *app) newIssuerListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the trusted issuers of the subscription",
		Example: `  fedcred issuer list -o table
  fedcred issuer list --query "[].{name: name, issuer: issuer}"`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		items, err := s.client.ListTrustedIssuers(ctx, sub)
		if err != nil {
			return err
		}
		return renderResources(a, items)
	})
	return cmd
}

func (a *app) newIssuerDeleteCommand() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     "delete",
		Short:   "Delete a trusted issuer: its tokens are no longer verified with its keys",
		Example: `  fedcred issuer delete --name private1`,
		Args:    cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the trusted issuer")
	required(cmd, "name")
	addYesFlag(cmd)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, sub, err := a.subscriptionSession(ctx)
		if err != nil {
			return err
		}
		return s.client.DeleteTrustedIssuer(ctx, sub, name)
	})
	return cmd
}

func (a *app) newIssuerPublishKeysCommand() *cobra.Command {
	var name, jwksFile, keyFile, kid, issuerURL, audience string
	cmd := &cobra.Command{
		Use:   "publish-keys",
		Short: "Publish a cluster's new keys, proven with its current signing key",
		Long: `Replace the keys of a trusted issuer on behalf of the cluster itself, for a script or a cron job on
a private cluster whose service-account signing keys rotate. No fedcred credentials are needed:
the call is authenticated by a short-lived proof token signed locally with the cluster's current
private signing key (--signing-key-file, PEM: PKCS#1, PKCS#8 or SEC 1), which fedcred must trust
for the issuer now. Publish the new JWKS while it still holds the current key (Kubernetes keeps the
old and the new key published during a rotation); the next rotation is then proven with the new key.

Without --issuer, the issuer URL and the proof's audience are read from the trusted issuer, which
needs fedcred credentials. With --issuer, nothing but the proof is sent, and the audience is the
server URL followed by the trusted issuer's resource ID (override with --audience when the server's
public URL differs from --server). --kid defaults to the key ID kube-apiserver gives the key:
base64url(SHA-256(DER public key)). The private key never leaves this machine.`,
		Example: `  kubectl get --raw /openid/v1/jwks > jwks.json
  fedcred issuer publish-keys --name private1 --jwks-file jwks.json \
    --signing-key-file /etc/kubernetes/pki/sa.key --issuer https://oidc.private.example/ --subscription SUB`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", "name of the trusted issuer")
	cmd.Flags().StringVar(&jwksFile, "jwks-file", "", "JSON file of the new JWKS")
	cmd.Flags().StringVar(&keyFile, "signing-key-file", "", "PEM file of the cluster's current private signing key")
	cmd.Flags().StringVar(&kid, "kid", "", "key ID of the signing key in the trusted JWKS (default: kube-apiserver's key ID of the key)")
	cmd.Flags().StringVar(&issuerURL, "issuer", "", "the issuer URL (default: read from the trusted issuer, which needs credentials)")
	cmd.Flags().StringVar(&audience, "audience", "", "the proof's audience (default: the trusted issuer's publishKeysAudience)")
	required(cmd, "name", "jwks-file", "signing-key-file")
	cmd.RunE = a.action(func(ctx context.Context) error {
		jwks, err := readJWKSFile(jwksFile)
		if err != nil {
			return err
		}
		key, err := readSigningKey(keyFile)
		if err != nil {
			return err
		}
		if kid == "" {
			if kid, err = keys.KeyID(key.Public()); err != nil { // kube-apiserver's key ID
				return fmt.Errorf("compute key ID: %w", err)
			}
		}
		s, err := a.session()
		if err != nil {
			return err
		}
		sub, err := s.subscription(ctx)
		if err != nil {
			return err
		}
		if issuerURL == "" {
			ti, err := s.client.GetTrustedIssuer(ctx, sub, name)
			if err != nil {
				return err
			}
			issuerURL = ti.Properties.Issuer
			audience = first(audience, ti.Properties.PublishKeysAudience)
		}
		if audience == "" {
			if audience, err = s.client.TrustedIssuerAudience(sub, name); err != nil {
				return err
			}
		}
		proof, err := trust.SignProof(trust.ProofRequest{
			Key: key, KeyID: kid, Issuer: issuerURL, Audience: audience, JTI: uuid.NewString(), Now: a.now(),
		})
		if err != nil {
			return err
		}
		ti, err := s.client.PublishTrustedIssuerKeys(ctx, sub, name, proof, jwks)
		if err != nil {
			return err
		}
		return a.renderResource(ti)
	})
	return cmd
}

// readSigningKey reads a PEM private key: PKCS#1 or PKCS#8 RSA, SEC 1 or
// PKCS#8 EC.
func readSigningKey(path string) (crypto.Signer, error) {
	data, err := readBounded(path, "signing key file", maxSigningKeyFileBytes)
	if err != nil {
		return nil, err
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%s holds no PEM private key (RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY)", path)
		}
		var key any
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: the %s block does not parse", path, block.Type)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("%s: %T keys cannot sign proofs (RSA and EC keys can)", path, key)
	}
}

func (a *app) newIssuerCheckCommand() *cobra.Command {
	var allowPrivate, allowHTTP bool
	var caFile string
	cmd := &cobra.Command{
		Use:   "check URL",
		Short: "Check from this machine that an issuer can be trusted by fetching its keys",
		Long: `Fetch the issuer's discovery document and JWKS from this machine, with the rules and the guard
fedcred's server applies, and say what was found: the discovery URL, whether the document's issuer
is the URL exactly (a trailing slash counts), whether its jwks_uri is https, which keys are usable.
It exits 1 when the issuer cannot be used. '!' lines are warnings, which do not fail the check.

Private and loopback addresses are refused, as by the server, unless --allow-private (which
'fedcred serve --remote-issuer-allowed-networks' corresponds to). --ca-file here names the CA of
the issuer, not of the fedcred server: this command does not talk to fedcred.`,
		Example: `  fedcred issuer check https://token.actions.githubusercontent.com
  fedcred issuer check https://oidc.private.example/ --allow-private --ca-file issuer-ca.pem
  fedcred issuer check https://oidc.private.example/ -o json`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVar(&allowPrivate, "allow-private", false, "allow loopback and private addresses (127.0.0.0/8, ::1, 10/8, 172.16/12, 192.168/16, fc00::/7)")
	cmd.Flags().BoolVar(&allowHTTP, "allow-http", false, "allow http issuer and jwks_uri URLs (development only)")
	cmd.Flags().StringVar(&caFile, "ca-file", "", "PEM file of the CAs to trust for the issuer instead of the system roots")
	cmd.RunE = func(c *cobra.Command, args []string) error {
		return a.action(func(ctx context.Context) error {
			cfg := remoteissuer.Config{AllowHTTP: allowHTTP}
			if allowPrivate {
				cfg.AllowedNetworks = privateNetworks()
			}
			if caFile != "" {
				hc, err := issuerHTTPClient(caFile)
				if err != nil {
					return err
				}
				cfg.Client = hc
			}
			report, err := remoteissuer.Check(ctx, cfg, args[0])
			if c.Flags().Changed("output") || a.flags.query != "" {
				if rerr := a.render(report); rerr != nil {
					return rerr
				}
			} else {
				writeReport(a.stdout, report)
			}
			if err != nil {
				return fmt.Errorf("the issuer %s cannot be used: %w", args[0], err)
			}
			return nil
		})(c, args)
	}
	return cmd
}

// writeReport prints a check report in plain words: ✓ for a passed step,
// ✗ for a failure, ! for a warning, then the keys.
func writeReport(w io.Writer, r remoteissuer.Report) {
	for _, f := range r.Findings {
		text, warning := strings.CutPrefix(f.Text, "warning: ")
		switch {
		case f.OK:
			fmt.Fprintf(w, "✓ %s\n", text)
		case warning:
			fmt.Fprintf(w, "! %s\n", text)
		default:
			fmt.Fprintf(w, "✗ %s\n", text)
		}
	}
	if len(r.Keys) == 0 {
		return
	}
	fmt.Fprintf(w, "keys:\n")
	for _, k := range r.Keys {
		var parts []string
		for _, p := range []string{k.Kty, k.Alg, k.Use} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		desc := strings.Join(parts, " ")
		if k.Usable {
			fmt.Fprintf(w, "  ✓ kid %q (%s)\n", k.KID, desc)
		} else {
			fmt.Fprintf(w, "  ✗ kid %q (%s): %s\n", k.KID, desc, k.Problem)
		}
	}
}

// issuerHTTPClient trusts the CAs of caFile for the issuer checked.
func issuerHTTPClient(caFile string) (*http.Client, error) {
	pemData, err := readBounded(caFile, "CA file", maxIssuerCAFileBytes)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, nil
}
