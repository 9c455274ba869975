package arm

import (
	"context"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"

	"github.com/fedcred/fedcred/internal/store"
)

// Page sizes.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
	maxSkipToken    = 4096
)

// pageRequest is a list call's paging: the page size and the store key the
// page starts after.
type pageRequest struct {
	top         int
	explicitTop bool
	after       string
}

// listResult is ARM's paged list body.
type listResult[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"nextLink,omitempty"`
}

// parsePage reads $top and $skiptoken. A skip token is the base64url store
// key of the previous page's last item; one that does not lie under prefix
// was not issued for this list and is refused.
func parsePage(q url.Values, prefix string) (pageRequest, error) {
	pr := pageRequest{top: defaultPageSize}
	if v := queryValue(q, "$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return pr, errInvalidQuery("$top", v, "it must be an integer greater than or equal to 1")
		}
		pr.top, pr.explicitTop = min(n, maxPageSize), true
	}
	if v := queryValue(q, "$skiptoken"); v != "" {
		key, err := base64.RawURLEncoding.DecodeString(v)
		if len(v) > maxSkipToken || err != nil || !strings.HasPrefix(string(key), prefix) {
			return pr, errInvalidQuery("$skiptoken", v, "it was not issued for this list")
		}
		pr.after = string(key)
	}
	return pr, nil
}

// listPage reads one page of the objects under prefix that keep accepts (nil
// keeps all). next is the key to continue after, "" on the last page.
func listPage[T store.Object](ctx context.Context, tx store.Tx, prefix string, pr pageRequest, keep func(T) bool) (items []T, next string, err error) {
	after := pr.after
	for {
		batch, err := store.List[T](ctx, tx, prefix, after, pr.top+1)
		if err != nil {
			return nil, "", err
		}
		for _, v := range batch {
			after = v.Key()
			if keep != nil && !keep(v) {
				continue
			}
			items = append(items, v)
			if len(items) > pr.top {
				return items[:pr.top], items[pr.top-1].Key(), nil
			}
		}
		if len(batch) <= pr.top {
			return items, "", nil
		}
	}
}

// nextLink is the absolute URL of the page after next, keeping api-version,
// $filter and an explicit $top.
func (h *Handler) nextLink(req *request, pr pageRequest, next string) string {
	if next == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(h.publicURL)
	b.WriteString(req.rt.path)
	b.WriteString("?api-version=")
	b.WriteString(url.QueryEscape(req.apiVersion))
	if f := queryValue(req.query, "$filter"); f != "" {
		b.WriteString("&$filter=")
		b.WriteString(url.QueryEscape(f))
	}
	if pr.explicitTop {
		b.WriteString("&$top=")
		b.WriteString(strconv.Itoa(pr.top))
	}
	b.WriteString("&$skiptoken=")
	b.WriteString(base64.RawURLEncoding.EncodeToString([]byte(next)))
	return b.String()
}

// pageOf renders a page.
func pageOf[T, J any](h *Handler, req *request, pr pageRequest, items []T, next string, render func(T) J) listResult[J] {
	out := listResult[J]{Value: make([]J, 0, len(items)), NextLink: h.nextLink(req, pr, next)}
	for _, v := range items {
		out.Value = append(out.Value, render(v))
	}
	return out
}
