package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// KEKSize is the size in bytes of a key-encryption key (AES-256).
const KEKSize = 32

// sealVersion prefixes every sealed blob, so the format can change later.
// Version 2 blobs are: version (1 byte) | KEK ID (8 bytes) | nonce | ciphertext.
const sealVersion byte = 2

// kekIDSize is the length of the KEK identifier stored in each blob.
const kekIDSize = 8

// ErrUnknownKEK is returned when a blob was sealed with a key-encryption
// key the Sealer does not hold.
var ErrUnknownKEK = errors.New("sealed with a key-encryption key this server does not have")

// Sealer encrypts secrets at rest with a key-encryption key (AES-256-GCM).
// The associated data binds a sealed blob to what it belongs to, so a blob
// copied onto another record does not open. A Sealer seals with its primary
// key and opens blobs sealed with the primary or any previous key, which is
// how the key-encryption key is rotated: start with the new key as primary
// and the old one as previous, re-seal everything, then drop the old key.
type Sealer struct {
	primary kek
	all     map[[kekIDSize]byte]cipher.AEAD
}

type kek struct {
	id   [kekIDSize]byte
	aead cipher.AEAD
}

func newKEK(b []byte) (kek, error) {
	if len(b) != KEKSize {
		return kek{}, fmt.Errorf("key-encryption key is %d bytes, want %d", len(b), KEKSize)
	}
	block, err := aes.NewCipher(b)
	if err != nil {
		return kek{}, fmt.Errorf("create cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return kek{}, fmt.Errorf("create gcm: %w", err)
	}
	sum := sha256.Sum256(append([]byte("fedcred kek id\x00"), b...))
	var k kek
	copy(k.id[:], sum[:kekIDSize])
	k.aead = aead
	return k, nil
}

// NewSealer returns a Sealer that seals with primary and also opens blobs
// sealed with any of previous. Keys are 32 bytes.
func NewSealer(primary []byte, previous ...[]byte) (*Sealer, error) {
	p, err := newKEK(primary)
	if err != nil {
		return nil, err
	}
	s := &Sealer{primary: p, all: map[[kekIDSize]byte]cipher.AEAD{p.id: p.aead}}
	for _, b := range previous {
		k, err := newKEK(b)
		if err != nil {
			return nil, fmt.Errorf("previous %w", err)
		}
		s.all[k.id] = k.aead
	}
	return s, nil
}

// Seal encrypts plaintext bound to aad with the primary key.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, s.primary.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	out := make([]byte, 0, 1+kekIDSize+len(nonce)+len(plaintext)+s.primary.aead.Overhead())
	out = append(out, sealVersion)
	out = append(out, s.primary.id[:]...)
	out = append(out, nonce...)
	return s.primary.aead.Seal(out, nonce, plaintext, aad), nil
}

// Open decrypts a blob made by Seal with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	aead, body, err := s.split(sealed)
	if err != nil {
		return nil, err
	}
	n := aead.NonceSize()
	pt, err := aead.Open(nil, body[:n], body[n:], aad)
	if err != nil {
		return nil, errors.New("open sealed data: wrong key-encryption key or tampered data")
	}
	return pt, nil
}

// Current reports whether a blob is sealed with the primary key.
func (s *Sealer) Current(sealed []byte) bool {
	return len(sealed) > 1+kekIDSize && sealed[0] == sealVersion && bytes.Equal(sealed[1:1+kekIDSize], s.primary.id[:])
}

// Reseal opens a blob and seals it again with the primary key.
func (s *Sealer) Reseal(sealed, aad []byte) ([]byte, error) {
	pt, err := s.Open(sealed, aad)
	if err != nil {
		return nil, err
	}
	return s.Seal(pt, aad)
}

func (s *Sealer) split(sealed []byte) (cipher.AEAD, []byte, error) {
	if len(sealed) < 1+kekIDSize || sealed[0] != sealVersion {
		return nil, nil, errors.New("open sealed data: malformed")
	}
	var id [kekIDSize]byte
	copy(id[:], sealed[1:1+kekIDSize])
	aead, ok := s.all[id]
	if !ok {
		return nil, nil, fmt.Errorf("open sealed data: %w", ErrUnknownKEK)
	}
	body := sealed[1+kekIDSize:]
	if len(body) < aead.NonceSize()+aead.Overhead() {
		return nil, nil, errors.New("open sealed data: malformed")
	}
	return aead, body, nil
}

// LoadKEK reads a key-encryption key file.
func LoadKEK(path string) ([]byte, error) {
	kek, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key-encryption key: %w", err)
	}
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("key-encryption key %s is %d bytes, want %d", path, len(kek), KEKSize)
	}
	return kek, nil
}

// LoadOrCreateKEK reads the key-encryption key at path, creating it (mode
// 0600) with fresh random bytes if the file does not exist.
func LoadOrCreateKEK(path string) ([]byte, error) {
	kek, err := LoadKEK(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kek, err
	}
	kek = make([]byte, KEKSize)
	if _, err := rand.Read(kek); err != nil {
		return nil, fmt.Errorf("generate key-encryption key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another replica created it first
			return LoadKEK(path)
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
