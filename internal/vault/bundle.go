package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/fedcred/fedcred/internal/store"
)

// recoveryLevel is the deletion recovery level of every secret: deleting
// purges at once.
const recoveryLevel = "Purgeable"

// attributes is Key Vault's SecretAttributes; times are unix seconds.
type attributes struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
}

// secretBundle is Key Vault's SecretBundle. Value is nil where Key Vault
// sends none (updates, deletions).
type secretBundle struct {
	Value       *string           `json:"value,omitempty"`
	ID          string            `json:"id"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Attributes  attributes        `json:"attributes"`
}

// deletedSecretBundle is Key Vault's DeletedSecretBundle.
type deletedSecretBundle struct {
	secretBundle
	RecoveryID         string `json:"recoveryId"`
	DeletedDate        int64  `json:"deletedDate"`
	ScheduledPurgeDate int64  `json:"scheduledPurgeDate"`
}

// secretItem is Key Vault's SecretItem, one entry of a list.
type secretItem struct {
	ID          string            `json:"id"`
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Attributes  attributes        `json:"attributes"`
}

// listResult is Key Vault's SecretListResult; NextLink is null on the last
// page.
type listResult struct {
	Value    []secretItem `json:"value"`
	NextLink *string      `json:"nextLink"`
}

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	u := t.Unix()
	return &u
}

func attributesOf(s store.Secret) attributes {
	return attributes{
		Enabled:       s.Enabled,
		NotBefore:     unixPtr(s.NotBefore),
		Expires:       unixPtr(s.Expires),
		Created:       s.CreatedAt.Unix(),
		Updated:       s.UpdatedAt.Unix(),
		RecoveryLevel: recoveryLevel,
	}
}

// vaultURI is the data-plane URL of the call's vault, ending in a slash: the
// vault's own host when the request came by host name (HostSuffix), else
// <PublicURL>/vaults/<name>/.
func (h *Handler) vaultURI(c *call) string {
	if c.base != "" {
		return c.base
	}
	return VaultURI(h.publicURL, c.vault.Name)
}

// bundleOf is the bundle of one secret version, without its value.
func (h *Handler) bundleOf(c *call, s store.Secret) secretBundle {
	return secretBundle{
		ID:          h.vaultURI(c) + "secrets/" + s.Name + "/" + s.Version,
		ContentType: s.ContentType,
		Tags:        s.Tags,
		Attributes:  attributesOf(s),
	}
}

// itemOf is the list entry of a secret version; withVersion says whether
// its id names the version (version lists) or only the secret (secret lists).
func (h *Handler) itemOf(c *call, s store.Secret, withVersion bool) secretItem {
	id := h.vaultURI(c) + "secrets/" + s.Name
	if withVersion {
		id += "/" + s.Version
	}
	return secretItem{ID: id, ContentType: s.ContentType, Tags: s.Tags, Attributes: attributesOf(s)}
}

// Input bounds. Key Vault's own limits are those for values and tags.
const (
	maxValueBytes       = 25 << 10
	maxContentTypeBytes = 255
	maxTags             = 15
	maxTagNameBytes     = 512
	maxTagValueBytes    = 256
	maxUnixTime         = 253402300799 // 9999-12-31T23:59:59Z
)

// attributesIn is the writable part of SecretAttributes in a request; the
// read-only fields (created, updated, recoveryLevel) are ignored.
type attributesIn struct {
	Enabled   *bool  `json:"enabled"`
	NotBefore *int64 `json:"nbf"`
	Expires   *int64 `json:"exp"`
}

// setParams is Key Vault's SecretSetParameters.
type setParams struct {
	Value       *string           `json:"value"`
	ContentType *string           `json:"contentType"`
	Tags        map[string]string `json:"tags"`
	Attributes  *attributesIn     `json:"attributes"`
}

// updateParams is Key Vault's SecretUpdateParameters.
type updateParams struct {
	ContentType *string           `json:"contentType"`
	Tags        map[string]string `json:"tags"`
	Attributes  *attributesIn     `json:"attributes"`
}

func (p *setParams) validate() error {
	if p.Value == nil {
		return errBadParameter("The request body has no 'value': a secret value is required.")
	}
	if len(*p.Value) > maxValueBytes {
		return errBadParameter(fmt.Sprintf("The secret value is %d bytes; the maximum is %d bytes.", len(*p.Value), maxValueBytes))
	}
	return validateMetadata(p.ContentType, p.Tags, p.Attributes)
}

func (p *updateParams) validate() error {
	return validateMetadata(p.ContentType, p.Tags, p.Attributes)
}

func validateMetadata(contentType *string, tags map[string]string, a *attributesIn) error {
	if contentType != nil && len(*contentType) > maxContentTypeBytes {
		return errBadParameter(fmt.Sprintf("The content type is longer than %d bytes.", maxContentTypeBytes))
	}
	if len(tags) > maxTags {
		return errBadParameter(fmt.Sprintf("A secret has at most %d tags; the request has %d.", maxTags, len(tags)))
	}
	for k, v := range tags {
		if k == "" || len(k) > maxTagNameBytes {
			return errBadParameter(fmt.Sprintf("A tag name is 1 to %d bytes long.", maxTagNameBytes))
		}
		if len(v) > maxTagValueBytes {
			return errBadParameter(fmt.Sprintf("The value of tag '%s' is longer than %d bytes.", clip(k), maxTagValueBytes))
		}
	}
	if a != nil {
		for name, t := range map[string]*int64{"nbf": a.NotBefore, "exp": a.Expires} {
			if t != nil && (*t < 0 || *t > maxUnixTime) {
				return errBadParameter(fmt.Sprintf("The attribute '%s' is not a unix time from 0 to %d.", name, int64(maxUnixTime)))
			}
		}
	}
	return nil
}

// timePtr converts a unix time from a request.
func timePtr(u *int64) *time.Time {
	if u == nil {
		return nil
	}
	t := time.Unix(*u, 0).UTC()
	return &t
}

// decodeBody reads the request body, at most maxBodyBytes, and decodes it,
// one JSON object, into v. Error messages never quote the body: it may
// hold a secret value.
func decodeBody(r *http.Request, v any) error {
	if r.ContentLength > maxBodyBytes {
		return errBodyTooLarge()
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return &apiError{status: http.StatusBadRequest, code: "BadParameter",
			message: "The request body could not be read.", cause: err}
	}
	if len(data) > maxBodyBytes {
		return errBodyTooLarge()
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errBadParameter("The request body is empty: a JSON object is required.")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return errBadParameter("The request body is not valid: " + jsonErrorDetail(err) + ".")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errBadParameter(fmt.Sprintf("The request body is not valid: unexpected data after the JSON object at offset %d.",
			dec.InputOffset()))
	}
	return nil
}

func errBodyTooLarge() *apiError {
	return errBadParameter(fmt.Sprintf("The request body is larger than %d bytes.", maxBodyBytes))
}

// jsonErrorDetail describes a decoding error without quoting the input.
func jsonErrorDetail(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at offset %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "a JSON object is required"
		}
		return fmt.Sprintf("the field '%s' must be a %s", typ.Field, jsonTypeName(typ.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	}
	return "malformed JSON"
}

// jsonTypeName names a Go kind as JSON would.
func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "map", "struct":
		return "object"
	case "int64", "int", "int32":
		return "whole number"
	}
	return kind
}
