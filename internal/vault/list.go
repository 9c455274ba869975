package vault

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// Page sizes, as Key Vault bounds maxresults.
const (
	defaultPageSize = 25
	maxPageSize     = 25
)

// defaultScanBatch is how many secret versions a list reads from the store
// at a time.
const defaultScanBatch = 200

// page is a list request's paging: its size and where the previous page
// ended ("" for the first page).
type page struct {
	size  int
	after string
}

// pageOf reads maxresults and $skiptoken. A skip token is the base64url
// encoding of the last item of the previous page (a lower-cased secret name
// or a version ID), which must match valid.
func pageOf(r *http.Request, valid *regexp.Regexp) (page, error) {
	q := r.URL.Query()
	p := page{size: defaultPageSize}
	if v := q.Get("maxresults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return page{}, errBadParameter(fmt.Sprintf("The value '%s' of maxresults is invalid: it must be an integer from 1 to %d.",
				clip(v), maxPageSize))
		}
		p.size = n
	}
	if t := q.Get("$skiptoken"); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil || !valid.Match(b) {
			return page{}, errBadParameter("The $skiptoken is invalid: pass the nextLink of the previous page as it is.")
		}
		p.after = string(b)
	}
	return p, nil
}

// nextLink is the absolute URL of the page after last, under path (relative
// to the vault URI), keeping the request's api-version and the page size.
func (h *Handler) nextLink(r *http.Request, c *call, path string, p page, last string) *string {
	s := h.vaultURI(c) + path + "?api-version=" + url.QueryEscape(r.URL.Query().Get("api-version")) +
		"&$skiptoken=" + base64.RawURLEncoding.EncodeToString([]byte(last)) +
		"&maxresults=" + strconv.Itoa(p.size)
	return &s
}

// listSecrets answers GET secrets: the latest version of each secret, by
// lower-cased name.
func (h *Handler) listSecrets(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := pageOf(r, secretNameRE)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var latest []store.Secret
	var more bool
	if err := h.store.View(ctx, func(tx store.Tx) error {
		latest, more, err = latestVersions(ctx, tx, c.vault.Name, p, h.scanBatch)
		return err
	}); err != nil {
		return fmt.Errorf("list secrets: %w", err)
	}
	res := listResult{Value: make([]secretItem, 0, len(latest))}
	for _, s := range latest {
		res.Value = append(res.Value, h.itemOf(c, s, false))
	}
	if more {
		res.NextLink = h.nextLink(r, c, "secrets", p, strings.ToLower(latest[len(latest)-1].Name))
	}
	h.writeJSON(w, r, http.StatusOK, res)
	return nil
}

// latestVersions reads the latest version of up to p.size secrets of vault
// whose lower-cased names sort after p.after, and whether more follow. It
// scans the vault's versions in key order, scanBatch at a time; the versions
// of one secret are adjacent in that order.
func latestVersions(ctx context.Context, tx store.Tx, vault string, p page, scanBatch int) ([]store.Secret, bool, error) {
	prefix := store.VaultSecretsPrefix(vault)
	start := ""
	if p.after != "" {
		// Past every version of the secret p.after: version IDs are letters
		// and digits, all of which sort before "~".
		start = store.SecretPrefix(vault, p.after) + "~"
	}
	var out, cur []store.Secret // cur: the versions of the secret being read
	for {
		batch, err := store.List[store.Secret](ctx, tx, prefix, start, scanBatch)
		if err != nil {
			return nil, false, err
		}
		for _, s := range batch {
			if len(cur) > 0 && !strings.EqualFold(cur[0].Name, s.Name) {
				out = append(out, latestOf(cur))
				cur = cur[:0]
				if len(out) == p.size {
					return out, true, nil
				}
			}
			cur = append(cur, s)
		}
		if len(batch) < scanBatch {
			break
		}
		start = batch[len(batch)-1].Key()
	}
	if len(cur) > 0 {
		out = append(out, latestOf(cur))
	}
	return out, false, nil
}

// listVersions answers GET secrets/<name>/versions: every version of the
// secret, by version ID, without values. A secret without versions has an
// empty list.
func (h *Handler) listVersions(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := pageOf(r, versionRE)
	if err != nil {
		return err
	}
	ctx := r.Context()
	prefix := store.SecretPrefix(c.vault.Name, c.name)
	after := ""
	if p.after != "" {
		after = prefix + strings.ToLower(p.after)
	}
	var versions []store.Secret
	if err := h.store.View(ctx, func(tx store.Tx) error {
		versions, err = store.List[store.Secret](ctx, tx, prefix, after, p.size+1)
		return err
	}); err != nil {
		return fmt.Errorf("list secret versions: %w", err)
	}
	more := len(versions) > p.size
	versions = versions[:min(len(versions), p.size)]
	res := listResult{Value: make([]secretItem, 0, len(versions))}
	for _, s := range versions {
		res.Value = append(res.Value, h.itemOf(c, s, true))
	}
	if more {
		res.NextLink = h.nextLink(r, c, "secrets/"+c.name+"/versions", p, strings.ToLower(versions[len(versions)-1].Version))
	}
	h.writeJSON(w, r, http.StatusOK, res)
	return nil
}

// listDeletedSecrets answers GET deletedsecrets: always empty, since
// deleting purges.
func (h *Handler) listDeletedSecrets(w http.ResponseWriter, r *http.Request, _ *call) error {
	if _, err := pageOf(r, secretNameRE); err != nil {
		return err
	}
	h.writeJSON(w, r, http.StatusOK, listResult{Value: []secretItem{}})
	return nil
}
