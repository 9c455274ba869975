package attack

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/fedcred/fedcred/internal/config"
)

// testSecretsAtRest reads the database files the way someone who stole a
// backup would: the admin's client secret is not there, only its hash.
func testSecretsAtRest(t *testing.T, e *env) {
	t.Run("client secrets are stored hashed", func(t *testing.T) {
		t.Parallel()
		var db []byte
		for _, name := range []string{config.DatabaseFile, config.DatabaseFile + "-wal"} {
			data, err := os.ReadFile(filepath.Join(e.dir, name))
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			db = append(db, data...)
		}
		secret := []byte(e.admin.ClientSecret)
		if bytes.Contains(db, secret) {
			t.Fatal("the database holds the admin's client secret in clear")
		}
		sum := sha256.Sum256(secret)
		// The scan reads what the store wrote: the hash is there.
		if !bytes.Contains(db, []byte(base64.StdEncoding.EncodeToString(sum[:]))) && !bytes.Contains(db, sum[:]) &&
			!bytes.Contains(db, []byte(hex.EncodeToString(sum[:]))) {
			t.Fatal("the database holds neither the secret nor its SHA-256: the scan read the wrong files")
		}
	})
}
