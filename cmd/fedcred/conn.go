package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedcred/fedcred/internal/client"
	"github.com/fedcred/fedcred/internal/config"
)

// Environment variables the client commands read.
const (
	envServer       = "FEDCRED_SERVER"
	envTenantID     = "FEDCRED_TENANT_ID"
	envClientID     = "FEDCRED_CLIENT_ID"
	envClientSecret = "FEDCRED_CLIENT_SECRET"
	envCAFile       = "FEDCRED_CA_FILE"
	envSubscription = "FEDCRED_SUBSCRIPTION_ID"
	envDataDir      = "FEDCRED_DATA_DIR"
	envConfigDir    = "FEDCRED_CONFIG_DIR"
)

// profileFile is the file 'fedcred login' writes in the config directory.
// It has admin.json's shape (config.Admin): how to reach and sign in to one
// server.
const profileFile = "profile.json"

// maxSettingsBytes bounds profile.json and admin.json.
const maxSettingsBytes = 1 << 20

// userAgent is what the CLI sends to the server.
const userAgent = "fedcred-cli"

// conn is where a command's settings came from, and the settings.
type conn struct {
	config.Admin
	// Source names where the server URL came from.
	Source string
}

// configDir is where the profile lives: FEDCRED_CONFIG_DIR, else the
// user's config directory.
func (a *app) configDir() (string, error) {
	if d := a.getenv(envConfigDir); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find config directory (set %s): %w", envConfigDir, err)
	}
	return filepath.Join(d, "fedcred"), nil
}

func (a *app) profilePath() (string, error) {
	d, err := a.configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, profileFile), nil
}

// dataDir is the local server's data directory: --data-dir,
// FEDCRED_DATA_DIR, or the default.
func (a *app) dataDir() string {
	return first(a.flags.dataDir, a.getenv(envDataDir), config.DefaultDataDir())
}

// resolve finds the server and credentials: flags and environment first,
// then the stored profile, then a local server's admin.json. The profile and
// admin.json only fill in settings for the server they name, so a secret is
// never sent to a server it was not issued by.
func (a *app) resolve() (conn, error) {
	c := conn{Admin: config.Admin{
		Server:         first(a.flags.server, a.getenv(envServer)),
		TenantID:       first(a.flags.tenant, a.getenv(envTenantID)),
		ClientID:       a.getenv(envClientID),
		ClientSecret:   a.getenv(envClientSecret),
		CAFile:         first(a.flags.caFile, a.getenv(envCAFile)),
		SubscriptionID: first(a.flags.subscription, a.getenv(envSubscription)),
	}}
	switch {
	case a.flags.server != "":
		c.Source = "--server"
	case c.Server != "":
		c.Source = envServer
	}

	profilePath, err := a.profilePath()
	if err != nil {
		return conn{}, err
	}
	adminPath := filepath.Join(a.dataDir(), config.AdminFile)
	type fallback struct {
		path     string
		settings config.Admin
	}
	var (
		fallbacks  []fallback
		unreadable string
	)
	for _, path := range []string{profilePath, adminPath} {
		s, err := readSettings(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case errors.Is(err, fs.ErrPermission):
			unreadable += fmt.Sprintf(" (%s is not readable: is the server run by another user?)", path)
			continue
		case err != nil:
			return conn{}, err
		}
		if s.CAFile != "" && !filepath.IsAbs(s.CAFile) {
			s.CAFile = filepath.Join(filepath.Dir(path), s.CAFile)
		}
		fallbacks = append(fallbacks, fallback{path, s})
	}

	if c.Server == "" {
		for _, f := range fallbacks {
			if f.settings.Server != "" {
				c.Server, c.Source = f.settings.Server, f.path
				break
			}
		}
	}
	if c.Server == "" {
		return conn{}, fmt.Errorf("no fedcred server to talk to: run 'fedcred serve' on this machine (its %s is looked for in %s), "+
			"sign in with 'fedcred login --server URL ...', or set %s%s", config.AdminFile, a.dataDir(), envServer, unreadable)
	}
	for _, f := range fallbacks {
		s := f.settings
		if !sameServer(s.Server, c.Server) {
			continue
		}
		c.TenantID = first(c.TenantID, s.TenantID)
		c.CAFile = first(c.CAFile, s.CAFile)
		c.SubscriptionID = first(c.SubscriptionID, s.SubscriptionID)
		if c.ClientID == "" && c.ClientSecret == "" {
			c.ClientID, c.ClientSecret = s.ClientID, s.ClientSecret
		}
	}
	return c, nil
}

// readSettings reads a profile.json or admin.json.
func readSettings(path string) (config.Admin, error) {
	var s config.Admin
	f, err := os.Open(path)
	if err != nil {
		return s, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSettingsBytes+1))
	if err != nil {
		return s, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxSettingsBytes {
		return s, fmt.Errorf("read %s: larger than %d bytes", path, maxSettingsBytes)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("read %s: %w", path, err)
	}
	return s, nil
}

// writeProfile stores settings at path with mode 0600, in a directory of
// mode 0700, replacing the file atomically.
func writeProfile(path string, s config.Admin) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create config directory: %w", err)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode profile: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".profile-*.json")
	if err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write profile: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write profile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	return nil
}

// sameServer compares server URLs, ignoring case and a trailing slash.
func sameServer(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}

// first returns the first non-empty value.
func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// newClient builds an API client for c.
func (a *app) newClient(c conn) (*client.Client, error) {
	return client.New(client.Options{
		Server:       c.Server,
		TenantID:     c.TenantID,
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		CAFile:       c.CAFile,
		UserAgent:    userAgent,
		Now:          a.now,
	})
}

// session is a management API client and the subscription commands act in.
type session struct {
	conn   conn
	client *client.Client
}

// session resolves the settings and builds a client.
func (a *app) session() (*session, error) {
	c, err := a.resolve()
	if err != nil {
		return nil, err
	}
	cl, err := a.newClient(c)
	if err != nil {
		return nil, err
	}
	return &session{conn: c, client: cl}, nil
}

// subscription is the subscription to act in: the one configured, else the
// only one the caller can see.
func (s *session) subscription(ctx context.Context) (string, error) {
	if s.conn.SubscriptionID != "" {
		return s.conn.SubscriptionID, nil
	}
	subs, err := s.client.ListSubscriptions(ctx)
	if err != nil {
		return "", err
	}
	if len(subs) != 1 {
		return "", fmt.Errorf("no subscription chosen and %d are visible: pass --subscription or set %s", len(subs), envSubscription)
	}
	s.conn.SubscriptionID = subs[0].SubscriptionID
	return s.conn.SubscriptionID, nil
}
