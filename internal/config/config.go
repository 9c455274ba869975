// Package config holds fedcred's file locations and the names of the files
// the server writes into its data directory.
package config

import (
	"os"
	"path/filepath"
)

// Files the server keeps in its data directory.
const (
	AdminFile    = "admin.json" // admin service principal credentials (0600)
	CACertFile   = "ca.crt"     // local CA certificate clients trust
	CAKeyFile    = "ca.key"     // local CA private key (0600)
	TLSCertFile  = "tls.crt"    // server certificate issued by the local CA
	TLSKeyFile   = "tls.key"    // server private key (0600)
	KEKFile      = "kek"        // key-encryption key sealing private keys (0600)
	DatabaseFile = "fedcred.db" // SQLite database
)

// DefaultListenAddr is where the server listens unless told otherwise.
const DefaultListenAddr = "127.0.0.1:8443"

// DefaultDataDir is the server's data directory when neither --data-dir nor
// FEDCRED_DATA_DIR names one: $XDG_DATA_HOME/fedcred, else
// ~/.local/share/fedcred, else ./fedcred-data.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "fedcred")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "fedcred")
	}
	return "fedcred-data"
}

// Admin is the content of admin.json: what a client on the same machine needs
// to reach and sign in to the server.
type Admin struct {
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
	Server         string `json:"server"`
	CAFile         string `json:"caFile"`
}
