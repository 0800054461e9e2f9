package gupshup

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Enterprise parameter encryption (encrdata).
//
// Gupshup's documents say only that the parameters are encrypted "using AES
// 256-bit encryption" with a key Gupshup generates for the account, and sent
// base64-encoded in encrdata; they do not name the block mode, the IV or the
// alphabet. Public client code for the Gateway uses AES-256-GCM with a random
// 12-byte IV written before the ciphertext, the 16-byte GCM tag after it (as
// Java's Cipher.doFinal and Go's Seal both produce it), and URL-safe base64
// of the whole, which is what the project's API notes settle on. GCM also
// gives the receiver tamper detection, which CBC would not. The mode lives
// only in sealParams and openParams, so that if an account turns out to need
// another one, nothing else changes.

// ErrAESKeySize is returned (wrapped) when an encrdata key is not 32 bytes.
// The message gives the length only, never the key.
var ErrAESKeySize = errors.New("gupshup: the AES-256 key must be 32 bytes")

// gcmIVSize is the IV length GCM is designed for; other lengths are hashed
// into one, which some peers do not implement.
const gcmIVSize = 12

// EncryptParams encrypts params, as one query string, into the value of the
// Gateway's encrdata parameter: URL-safe base64 (padded) of IV, ciphertext
// and GCM tag. A fresh random IV is drawn for every call, so the same
// parameters never encrypt to the same text.
func EncryptParams(key []byte, params url.Values) (string, error) {
	iv := make([]byte, gcmIVSize)
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("gupshup: encrdata IV: %w", err)
	}
	return sealParams(key, iv, []byte(params.Encode()))
}

// DecryptParams reverses EncryptParams: it checks the GCM tag, so a changed
// byte or a wrong key is an error, and parses the plaintext as a query
// string. It accepts the standard base64 alphabet and missing padding too,
// since a peer's encoder may differ in those details.
func DecryptParams(key []byte, encrdata string) (url.Values, error) {
	plain, err := openParams(key, encrdata)
	if err != nil {
		return nil, err
	}
	v, err := url.ParseQuery(string(plain))
	if err != nil {
		return nil, errors.New("gupshup: encrdata: the decrypted text is not a query string")
	}
	return v, nil
}

// ParseAESKey reads an account key the way it is usually stored: 64 hex
// digits, standard or URL-safe base64 of 32 bytes, or 32 raw characters.
// Errors never quote the input.
func ParseAESKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	switch {
	case len(s) == 2*aesKeySize:
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	case len(s) == aesKeySize:
		return []byte(s), nil
	default:
		if k, err := decodeBase64Lenient(s); err == nil && len(k) == aesKeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: give 64 hex digits, base64 of 32 bytes or 32 characters (got %d characters)", ErrAESKeySize, len(s))
}

const aesKeySize = 32

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != aesKeySize {
		return nil, fmt.Errorf("%w, got %d", ErrAESKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("gupshup: AES: %w", err)
	}
	return cipher.NewGCM(block)
}

// sealParams is the one place that knows the encrdata layout:
// base64url(iv || ciphertext || tag). Tests call it with a fixed IV to pin
// the format.
func sealParams(key, iv, plaintext []byte) (string, error) {
	aead, err := newGCM(key)
	if err != nil {
		return "", err
	}
	if len(iv) != aead.NonceSize() {
		return "", fmt.Errorf("gupshup: encrdata IV must be %d bytes, got %d", aead.NonceSize(), len(iv))
	}
	out := make([]byte, 0, len(iv)+len(plaintext)+aead.Overhead())
	out = append(out, iv...)
	out = aead.Seal(out, iv, plaintext, nil)
	return base64.URLEncoding.EncodeToString(out), nil
}

func openParams(key []byte, encrdata string) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	raw, err := decodeBase64Lenient(strings.TrimSpace(encrdata))
	if err != nil {
		return nil, errors.New("gupshup: encrdata is not base64")
	}
	if len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("gupshup: encrdata is too short (%d bytes) to hold an IV and a tag", len(raw))
	}
	iv, sealed := raw[:aead.NonceSize()], raw[aead.NonceSize():]
	plain, err := aead.Open(nil, iv, sealed, nil)
	if err != nil {
		// GCM cannot tell a wrong key from a changed byte, and saying
		// more would help an attacker only.
		return nil, errors.New("gupshup: encrdata does not decrypt: wrong key or altered data")
	}
	return plain, nil
}

// decodeBase64Lenient accepts both alphabets, with or without padding.
func decodeBase64Lenient(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}
