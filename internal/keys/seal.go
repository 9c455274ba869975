package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// KEKSize is the size in bytes of a key-encryption key (AES-256).
const KEKSize = 32

// sealVersion prefixes every sealed blob, so the format can change later.
const sealVersion byte = 1

// Sealer encrypts secrets at rest with a key-encryption key (AES-256-GCM).
// The associated data binds a sealed blob to what it belongs to, so a blob
// copied onto another record does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key-encryption key.
func NewSealer(kek []byte) (*Sealer, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("key-encryption key is %d bytes, want %d", len(kek), KEKSize)
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("create cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("create gcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, plaintext, aad), nil
}

// Open decrypts a blob made by Seal with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, errors.New("open sealed data: malformed")
	}
	pt, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, errors.New("open sealed data: wrong key-encryption key or tampered data")
	}
	return pt, nil
}

// LoadOrCreateKEK reads the key-encryption key at path, creating it (mode
// 0600) with fresh random bytes if the file does not exist.
func LoadOrCreateKEK(path string) ([]byte, error) {
	kek, err := os.ReadFile(path)
	if err == nil {
		if len(kek) != KEKSize {
			return nil, fmt.Errorf("key-encryption key %s is %d bytes, want %d", path, len(kek), KEKSize)
		}
		return kek, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read key-encryption key: %w", err)
	}
	kek = make([]byte, KEKSize)
	if _, err := rand.Read(kek); err != nil {
		return nil, fmt.Errorf("generate key-encryption key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another replica created it first
			return LoadOrCreateKEK(path)
		}
		return nil, fmt.Errorf("create key-encryption key: %w", err)
	}
	if _, err := f.Write(kek); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key-encryption key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write key-encryption key: %w", err)
	}
	return kek, nil
}
