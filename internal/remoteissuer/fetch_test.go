package remoteissuer

import (
	"strings"
	"testing"
	"time"
)

func TestMaxAge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		values    []string
		want      time.Duration
		wantFound bool
	}{
		{name: "absent"},
		{name: "kube-apiserver form", values: []string{"public, max-age=3600"}, want: time.Hour, wantFound: true},
		{name: "upper case and spaces", values: []string{"Public , MAX-AGE = 60"}, want: time.Minute, wantFound: true},
		{name: "quoted", values: []string{`max-age="120"`}, want: 2 * time.Minute, wantFound: true},
		{name: "zero", values: []string{"max-age=0"}, want: 0, wantFound: true},
		{name: "no-store", values: []string{"no-store"}, want: 0, wantFound: true},
		{name: "no-cache wins over max-age", values: []string{"max-age=600, no-cache"}, want: 0, wantFound: true},
		{name: "negative ignored", values: []string{"max-age=-5"}},
		{name: "garbage ignored", values: []string{"max-age=soon"}},
		{name: "s-maxage ignored", values: []string{"s-maxage=60"}},
		{name: "in a second header", values: []string{"public", "max-age=30"}, want: 30 * time.Second, wantFound: true},
		{name: "huge value does not overflow", values: []string{"max-age=99999999999999999"}, want: (1 << 32) * time.Second, wantFound: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, found := maxAge(tc.values)
			if got != tc.want || found != tc.wantFound {
				t.Errorf("maxAge(%q) = %v, %v; want %v, %v", tc.values, got, found, tc.want, tc.wantFound)
			}
		})
	}
}

func TestIsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		contentType string
		want        bool
	}{
		{contentType: "application/json", want: true},
		{contentType: "application/json; charset=utf-8", want: true},
		{contentType: "Application/JSON", want: true},
		{contentType: "application/jwk-set+json", want: true},
		{contentType: "application/jwk-set+json; charset=UTF-8", want: true},
		{contentType: "application/jwk+json", want: true},
		{contentType: "text/json", want: false},
		{contentType: "text/html", want: false},
		{contentType: "application/octet-stream", want: false},
		{contentType: "", want: false},
		{contentType: "application/json;;", want: false},
		{contentType: "application/jsonx", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.contentType, func(t *testing.T) {
			t.Parallel()
			if got := isJSON(tc.contentType); got != tc.want {
				t.Errorf("isJSON(%q) = %v, want %v", tc.contentType, got, tc.want)
			}
		})
	}
}

func TestDiscoveryURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		issuer    string
		allowHTTP bool
		want      string
		wantErr   string
	}{
		{name: "AKS form with a trailing slash", issuer: "https://eastus.oic.prod-aks.azure.com/t/u/",
			want: "https://eastus.oic.prod-aks.azure.com/t/u/.well-known/openid-configuration"},
		{name: "without a trailing slash", issuer: "https://token.actions.githubusercontent.com",
			want: "https://token.actions.githubusercontent.com/.well-known/openid-configuration"},
		{name: "host with a slash", issuer: "https://accounts.example/",
			want: "https://accounts.example/.well-known/openid-configuration"},
		{name: "only one trailing slash is trimmed", issuer: "https://issuer.example/x//",
			want: "https://issuer.example/x//.well-known/openid-configuration"},
		{name: "http refused", issuer: "http://issuer.example/", wantErr: `scheme "http" refused`},
		{name: "http allowed", issuer: "http://issuer.example/", allowHTTP: true,
			want: "http://issuer.example/.well-known/openid-configuration"},
		{name: "other scheme refused even with http allowed", issuer: "ftp://issuer.example/", allowHTTP: true, wantErr: `scheme "ftp" refused`},
		{name: "relative", issuer: "/oidc/", wantErr: "refused"},
		{name: "no host", issuer: "https:///path", wantErr: "not an absolute URL"},
		{name: "user info", issuer: "https://user:pw@issuer.example/", wantErr: "user info refused"},
		{name: "query", issuer: "https://issuer.example/?tenant=x", wantErr: "query or fragment"},
		{name: "fragment", issuer: "https://issuer.example/#x", wantErr: "query or fragment"},
		{name: "bad port", issuer: "https://issuer.example:99999/", wantErr: "bad port"},
		{name: "not a URL", issuer: "https://[::1/", wantErr: "not a URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := discoveryURL(tc.issuer, tc.allowHTTP)
			if tc.wantErr != "" {
				wantErr(t, err, ErrUnreachable, tc.wantErr)
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("error %q leaks the URL's password", err)
				}
				return
			}
			wantErr(t, err, nil)
			if got != tc.want {
				t.Errorf("discoveryURL(%q) = %q, want %q", tc.issuer, got, tc.want)
			}
		})
	}
}
