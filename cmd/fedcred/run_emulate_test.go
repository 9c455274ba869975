package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRunEmulateNeedsTrust(t *testing.T) {
	t.Parallel()
	c := newCLI(t, nil)
	errOut := c.fail(exitUsage, "run", "--emulate-login-host", "--no-trust-env", "--cluster", "c1", "-g", "rg1",
		"--namespace", "ns", "--service-account", "sa", "--", "true")
	if !strings.Contains(errOut, "drop --no-trust-env") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestOverrideReplacesVariables(t *testing.T) {
	t.Parallel()
	got := override([]string{"A=1", "HTTPS_PROXY=http://corp:3128", "B=2"}, map[string]string{"HTTPS_PROXY": "http://127.0.0.1:1", "C": "3"})
	slices.Sort(got)
	want := []string{"A=1", "B=2", "C=3", "HTTPS_PROXY=http://127.0.0.1:1"}
	if !slices.Equal(got, want) {
		t.Errorf("override = %v, want %v", got, want)
	}
}

// fakeUpstreamProxy is an HTTP proxy that answers CONNECT with status and,
// on 200, echoes what the tunnel carries. It reports each request's
// Proxy-Authorization header.
func fakeUpstreamProxy(t *testing.T, status int) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	auth := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil || req.Method != http.MethodConnect {
					return
				}
				auth <- req.Header.Get("Proxy-Authorization")
				fmt.Fprintf(c, "HTTP/1.1 %d %s\r\n\r\n", status, http.StatusText(status))
				if status == http.StatusOK {
					io.Copy(c, br)
				}
			}()
		}
	}()
	return ln.Addr().String(), auth
}

func TestDialThroughProxy(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer

	t.Run("a tunnel through the upstream proxy, with its credentials", func(t *testing.T) {
		addr, auth := fakeUpstreamProxy(t, http.StatusOK)
		conn, err := dialThroughProxy(ctx, &d, &url.URL{Scheme: "http", Host: addr, User: url.UserPassword("me", "pw")}, "example.com:443")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "ping")
		buf := make([]byte, 4)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
			t.Errorf("tunnel echoed %q, %v", buf, err)
		}
		if got, want := <-auth, "Basic "+base64.StdEncoding.EncodeToString([]byte("me:pw")); got != want {
			t.Errorf("Proxy-Authorization %q, want %q", got, want)
		}
	})
	t.Run("the upstream proxy refuses", func(t *testing.T) {
		addr, _ := fakeUpstreamProxy(t, http.StatusForbidden)
		_, err := dialThroughProxy(ctx, &d, &url.URL{Scheme: "http", Host: addr}, "example.com:443")
		if err == nil || !strings.Contains(err.Error(), "refused example.com:443") {
			t.Errorf("err %v, want the refusal", err)
		}
	})
	t.Run("only http proxies chain", func(t *testing.T) {
		_, err := dialThroughProxy(ctx, &d, &url.URL{Scheme: "socks5", Host: "127.0.0.1:1"}, "example.com:443")
		if err == nil || !strings.Contains(err.Error(), "only http://") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("an unreachable proxy", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if _, err := dialThroughProxy(ctx, &d, &url.URL{Scheme: "http", Host: addr}, "example.com:443"); err == nil || !strings.Contains(err.Error(), "dial proxy") {
			t.Errorf("err %v", err)
		}
	})
}
