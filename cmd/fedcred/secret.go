package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/fedcred/fedcred/internal/client"
)

// maxSecretFileBytes bounds the file of 'secret set --file': Key Vault
// takes values of up to 25 KiB.
const maxSecretFileBytes = 25 << 10

// secretTimeLayout is how az prints secret times (Python's isoformat of a
// UTC datetime).
const secretTimeLayout = "2006-01-02T15:04:05-07:00"

// fileEncodingTag is the tag az sets on a secret read from a file, naming
// how the file's bytes became the value.
const fileEncodingTag = "file-encoding"

// secretEncodings are the values of --encoding.
func secretEncodings() []string { return []string{"utf-8", "ascii", "base64", "hex"} }

func (a *app) newSecretCommand() *cobra.Command {
	cmd := groupCommand("secret", "Manage the secrets of a key vault",
		`  fedcred keyvault secret set --vault-name kv1 -n db-password --file password.txt
  fedcred keyvault secret show --vault-name kv1 -n db-password --query value -o tsv`)
	cmd.AddCommand(a.newSecretSetCommand(), a.newSecretShowCommand(), a.newSecretListCommand(), a.newSecretDeleteCommand())
	return cmd
}

// secretRef names a secret: --vault-name and -n.
type secretRef struct {
	vault, name string
}

func (r *secretRef) addFlags(cmd *cobra.Command, withName bool) {
	cmd.Flags().StringVar(&r.vault, "vault-name", "", "name of the key vault")
	required(cmd, "vault-name")
	if withName {
		cmd.Flags().StringVarP(&r.name, "name", "n", "", "name of the secret")
		required(cmd, "name")
	}
}

// vaultURI finds the vault's data-plane URL among the subscription's
// vaults.
func (r *secretRef) vaultURI(ctx context.Context, a *app) (*session, string, error) {
	s, sub, err := a.subscriptionSession(ctx)
	if err != nil {
		return nil, "", err
	}
	uri, err := s.client.VaultURI(ctx, sub, r.vault)
	if err != nil {
		return nil, "", err
	}
	return s, uri, nil
}

func (a *app) newSecretSetCommand() *cobra.Command {
	var (
		ref                          secretRef
		value, file, encoding, ctype string
		tags                         []string
	)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Create a secret, or add a new version of it",
		Long: `Create a secret, or add a new version to it. The value comes from --value or from --file; prefer
--file (or --value "$(cat FILE)" at most), since a value typed on the command line stays in the
shell's history and is visible to other users in the process list. With --file, --encoding says
how the file's bytes become the value (az's file-encoding tag records it). The value is never
printed: 'fedcred keyvault secret show' prints it.`,
		Example: `  fedcred keyvault secret set --vault-name kv1 -n db-password --file password.txt
  fedcred keyvault secret set --vault-name kv1 -n tls-key --file key.der --encoding base64 --content-type application/x-pkcs12
  fedcred keyvault secret set --vault-name kv1 -n greeting --value hello --tags env=dev --tags team=core`,
		Args: cobra.NoArgs,
	}
	ref.addFlags(cmd, true)
	cmd.Flags().StringVar(&value, "value", "", "value of the secret (visible in shell history: prefer --file)")
	cmd.Flags().StringVarP(&file, "file", "f", "", "file holding the value of the secret")
	cmd.Flags().StringVarP(&encoding, "encoding", "e", "utf-8", "how the file becomes the value: "+strings.Join(secretEncodings(), ", "))
	cmd.Flags().StringVar(&ctype, "content-type", "", "content type of the value, e.g. text/plain")
	cmd.Flags().StringArrayVar(&tags, "tags", nil, "tag KEY=VALUE (repeatable)")
	cmd.MarkFlagsOneRequired("value", "file")
	cmd.MarkFlagsMutuallyExclusive("value", "file")
	cmd.RunE = a.action(func(ctx context.Context) error {
		tagMap, err := parseTags(tags)
		if err != nil {
			return err
		}
		if cmd.Flags().Changed("encoding") && file == "" {
			return usageErrorf("--encoding is used with --file")
		}
		if file != "" {
			if value, err = readSecretFile(file, encoding); err != nil {
				return err
			}
			if _, ok := tagMap[fileEncodingTag]; !ok {
				tagMap[fileEncodingTag] = strings.ToLower(encoding)
			}
		}
		if len(tagMap) == 0 {
			tagMap = nil
		}
		s, uri, err := ref.vaultURI(ctx, a)
		if err != nil {
			return err
		}
		b, err := s.client.SetSecret(ctx, uri, ref.name, client.SecretSetParameters{Value: value, ContentType: ctype, Tags: tagMap})
		if err != nil {
			return err
		}
		return a.render(secretOutput(uri, ref.name, *b, false))
	})
	return cmd
}

// parseTags reads --tags KEY=VALUE (or KEY, for an empty value).
func parseTags(tags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, t := range tags {
		k, v, _ := strings.Cut(t, "=")
		if strings.TrimSpace(k) == "" {
			return nil, usageErrorf("--tags %q has no key: use KEY=VALUE", t)
		}
		out[k] = v
	}
	return out, nil
}

// readSecretFile reads a secret's value from a file, as az does with
// --file and --encoding.
func readSecretFile(path, encoding string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	if len(data) > maxSecretFileBytes {
		return "", fmt.Errorf("read secret file: %s is larger than %d bytes, the most a secret holds", path, maxSecretFileBytes)
	}
	switch strings.ToLower(encoding) {
	case "utf-8":
		if !utf8.Valid(data) {
			return "", fmt.Errorf("read secret file: %s is not UTF-8 text: use --encoding base64 or hex", path)
		}
		return string(data), nil
	case "ascii":
		for _, c := range data {
			if c >= utf8.RuneSelf {
				return "", fmt.Errorf("read secret file: %s is not ASCII text: use --encoding base64 or hex", path)
			}
		}
		return string(data), nil
	case "base64":
		return base64.StdEncoding.EncodeToString(data), nil
	case "hex":
		return hex.EncodeToString(data), nil
	}
	return "", usageErrorf("--encoding %q is not one of %s", encoding, strings.Join(secretEncodings(), ", "))
}

func (a *app) newSecretShowCommand() *cobra.Command {
	var (
		ref     secretRef
		version string
	)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show a secret, with its value",
		Example: `  fedcred keyvault secret show --vault-name kv1 -n db-password --query value -o tsv
  fedcred keyvault secret show --vault-name kv1 -n db-password --version 0123456789abcdef0123456789abcdef`,
		Args: cobra.NoArgs,
	}
	ref.addFlags(cmd, true)
	cmd.Flags().StringVar(&version, "version", "", "version of the secret (default: the latest)")
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, uri, err := ref.vaultURI(ctx, a)
		if err != nil {
			return err
		}
		b, err := s.client.GetSecret(ctx, uri, ref.name, version)
		if err != nil {
			return err
		}
		return a.render(secretOutput(uri, ref.name, *b, true))
	})
	return cmd
}

func (a *app) newSecretListCommand() *cobra.Command {
	var ref secretRef
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the secrets of a key vault, without their values",
		Example: `  fedcred keyvault secret list --vault-name kv1 -o table
  fedcred keyvault secret list --vault-name kv1 --query "[].name" -o tsv`,
		Args: cobra.NoArgs,
	}
	ref.addFlags(cmd, false)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, uri, err := ref.vaultURI(ctx, a)
		if err != nil {
			return err
		}
		items, err := s.client.ListSecrets(ctx, uri)
		if err != nil {
			return err
		}
		out := make([]map[string]any, 0, len(items))
		for _, it := range items {
			out = append(out, map[string]any{
				"attributes":  attributesOutput(it.Attributes),
				"contentType": nullIfEmpty(it.ContentType),
				"id":          it.ID,
				"managed":     it.Managed,
				"name":        secretNameOf(uri, it.ID, ""),
				"tags":        it.Tags,
			})
		}
		return a.render(out)
	})
	return cmd
}

func (a *app) newSecretDeleteCommand() *cobra.Command {
	var ref secretRef
	cmd := &cobra.Command{
		Use:     "delete",
		Short:   "Delete a secret with all its versions",
		Example: `  fedcred keyvault secret delete --vault-name kv1 -n db-password`,
		Args:    cobra.NoArgs,
	}
	ref.addFlags(cmd, true)
	cmd.RunE = a.action(func(ctx context.Context) error {
		s, uri, err := ref.vaultURI(ctx, a)
		if err != nil {
			return err
		}
		d, err := s.client.DeleteSecret(ctx, uri, ref.name)
		if err != nil {
			return err
		}
		m := secretOutput(uri, ref.name, d.SecretBundle, false)
		m["recoveryId"] = nullIfEmpty(d.RecoveryID)
		m["deletedDate"] = isoTime(d.DeletedDate)
		m["scheduledPurgeDate"] = isoTime(d.ScheduledPurgeDate)
		return a.render(m)
	})
	return cmd
}

// secretOutput is a secret as az prints it; the value only when asked for.
func secretOutput(vaultURI, name string, b client.SecretBundle, withValue bool) map[string]any {
	m := map[string]any{
		"attributes":  attributesOutput(b.Attributes),
		"contentType": nullIfEmpty(b.ContentType),
		"id":          b.ID,
		"kid":         nullIfEmpty(b.Kid),
		"managed":     b.Managed,
		"name":        secretNameOf(vaultURI, b.ID, name),
		"tags":        b.Tags,
	}
	if withValue {
		m["value"] = b.Value
	}
	return m
}

// attributesOutput prints a secret's attributes as az does, times as ISO
// 8601 in UTC.
func attributesOutput(at client.SecretAttributes) map[string]any {
	return map[string]any{
		"created":         isoTime(at.Created),
		"enabled":         at.Enabled,
		"expires":         isoTime(at.Expires),
		"notBefore":       isoTime(at.NotBefore),
		"recoverableDays": at.RecoverableDays,
		"recoveryLevel":   nullIfEmpty(at.RecoveryLevel),
		"updated":         isoTime(at.Updated),
	}
}

// isoTime prints Unix seconds as az does, or null.
func isoTime(sec *int64) any {
	if sec == nil {
		return nil
	}
	return time.Unix(*sec, 0).UTC().Format(secretTimeLayout)
}

// nullIfEmpty is s, or null when s is empty (az prints absent strings as
// null).
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// secretNameOf reads a secret's name from its ID,
// {vaultURI}secrets/{name}[/{version}]; fallback when the ID is not under
// the vault's URL.
func secretNameOf(vaultURI, id, fallback string) string {
	v, err1 := url.Parse(vaultURI)
	u, err2 := url.Parse(id)
	if err1 != nil || err2 != nil {
		return fallback
	}
	rest, ok := strings.CutPrefix(u.Path, strings.TrimSuffix(v.Path, "/")+"/secrets/")
	if !ok || rest == "" {
		return fallback
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}
