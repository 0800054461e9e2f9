package gupshup

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var encryptTestKey = bytes.Repeat([]byte{0x42}, 32)

func encryptTestParams() url.Values {
	return url.Values{
		"method":        {"SendMessage"},
		"password":      {"p@ss word&=?"},
		"send_to":       {"919999999999"},
		"msg":           {"Héllo | wörld ✓\nline two"},
		"v":             {"1.1"},
		"auth_scheme":   {"plain"},
		"format":        {"json"},
		"channel":       {"WHATSAPP"},
		"data_encoding": {"Unicode_text"},
	}
}

func TestEncryptParamsRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		params url.Values
	}{
		{"send", encryptTestParams()},
		{"empty", url.Values{}},
		{"repeated key", url.Values{"a": {"1", "2"}}},
		{"long", url.Values{"msg": {strings.Repeat("x", 5000)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := EncryptParams(encryptTestKey, tt.params)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecryptParams(encryptTestKey, enc)
			if err != nil {
				t.Fatal(err)
			}
			if got.Encode() != tt.params.Encode() {
				t.Fatalf("round trip changed the parameters:\n got %s\nwant %s", got.Encode(), tt.params.Encode())
			}
		})
	}
}

func TestEncryptParamsURLSafe(t *testing.T) {
	alphabet := regexp.MustCompile(`^[A-Za-z0-9_-]+=*$`)
	// Many encryptions, so that '+' and '/' would have had every chance to appear.
	for i := 0; i < 200; i++ {
		enc, err := EncryptParams(encryptTestKey, encryptTestParams())
		if err != nil {
			t.Fatal(err)
		}
		if !alphabet.MatchString(enc) {
			t.Fatalf("encrdata %q is not URL-safe base64", enc)
		}
		if url.QueryEscape(enc) != strings.ReplaceAll(enc, "=", "%3D") {
			t.Fatalf("encrdata %q needs escaping beyond its padding", enc)
		}
	}
}

func TestEncryptParamsFreshIV(t *testing.T) {
	a, err := EncryptParams(encryptTestKey, encryptTestParams())
	if err != nil {
		t.Fatal(err)
	}
	b, err := EncryptParams(encryptTestKey, encryptTestParams())
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two encryptions of the same parameters are equal: the IV is not random")
	}
	ra, _ := base64.URLEncoding.DecodeString(a)
	rb, _ := base64.URLEncoding.DecodeString(b)
	if bytes.Equal(ra[:gcmIVSize], rb[:gcmIVSize]) {
		t.Fatal("two encryptions share an IV")
	}
}

func TestDecryptParamsRejects(t *testing.T) {
	enc, err := EncryptParams(encryptTestKey, encryptTestParams())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.URLEncoding.DecodeString(enc)
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		return base64.URLEncoding.EncodeToString(b)
	}
	otherKey := bytes.Repeat([]byte{0x43}, 32)
	tests := []struct {
		name     string
		key      []byte
		encrdata string
	}{
		{"flipped IV byte", encryptTestKey, flip(0)},
		{"flipped ciphertext byte", encryptTestKey, flip(gcmIVSize + 3)},
		{"flipped tag byte", encryptTestKey, flip(len(raw) - 1)},
		{"truncated", encryptTestKey, base64.URLEncoding.EncodeToString(raw[:len(raw)-1])},
		{"too short", encryptTestKey, base64.URLEncoding.EncodeToString(raw[:gcmIVSize+15])},
		{"wrong key", otherKey, enc},
		{"not base64", encryptTestKey, "not*base64!"},
		{"empty", encryptTestKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := DecryptParams(tt.key, tt.encrdata)
			if err == nil {
				t.Fatalf("DecryptParams accepted it: %v", v)
			}
			if strings.Contains(err.Error(), "p@ss") {
				t.Fatalf("error leaks plaintext: %v", err)
			}
		})
	}
}

func TestEncryptKeyLength(t *testing.T) {
	secretish := bytes.Repeat([]byte("K"), 64)
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		key := secretish[:n]
		_, err := EncryptParams(key, encryptTestParams())
		if !errors.Is(err, ErrAESKeySize) {
			t.Errorf("EncryptParams with a %d-byte key: got %v, want ErrAESKeySize", n, err)
		}
		_, derr := DecryptParams(key, "AAAA")
		if !errors.Is(derr, ErrAESKeySize) {
			t.Errorf("DecryptParams with a %d-byte key: got %v, want ErrAESKeySize", n, derr)
		}
		for _, e := range []error{err, derr} {
			if n > 0 && e != nil && strings.Contains(e.Error(), string(key[:min(n, 8)])) {
				t.Errorf("key-length error quotes the key: %v", e)
			}
		}
	}
}

// The vectors pin the wire format, base64url(iv || ciphertext || tag), so
// that a refactoring cannot drift from what the Gateway decrypts. The first
// is test case 15 of the GCM specification (McGrew and Viega); the second
// was computed with an independent AES-GCM implementation.
func TestSealParamsVectors(t *testing.T) {
	hexb := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name           string
		key, iv, plain []byte
		want           string
	}{
		{
			name:  "GCM spec test case 15",
			key:   hexb("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
			iv:    hexb("cafebabefacedbaddecaf888"),
			plain: hexb("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"),
			want: base64.URLEncoding.EncodeToString(hexb("cafebabefacedbaddecaf888" +
				"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad" +
				"b094dac5d93471bdec1a502270e3cc6c")),
		},
		{
			name: "opt-in parameters",
			key:  hexb("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
			iv:   hexb("a0a1a2a3a4a5a6a7a8a9aaab"),
			plain: []byte(url.Values{
				"method": {"OPT_IN"}, "password": {"s3cr/t?"}, "phone_number": {"919999999999"},
				"v": {"1.1"}, "auth_scheme": {"plain"}, "format": {"json"}, "channel": {"WHATSAPP"},
			}.Encode()),
			want: "oKGio6Slpqeoqaqrh20IRRq4YdcHCOLudxahtx6KOnjz2SwJ8DNxzj7_JkCCJmGZwFA-XCuhbrtmFKWUIm8uJwbtVS4VAUIQggDkw8fL6h1UmJfTl5DaKsm66YmLLdvMqq_8JYAAU_jU6HCtvr0SkjqXtqKn4j9287XcBhUYCxhPhcSCZxqOVEImPz6v",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sealParams(tt.key, tt.iv, tt.plain)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("sealParams:\n got %s\nwant %s", got, tt.want)
			}
			plain, err := openParams(tt.key, tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(plain, tt.plain) {
				t.Fatalf("openParams gave %q", plain)
			}
		})
	}
	if _, err := sealParams(encryptTestKey, make([]byte, 16), nil); err == nil {
		t.Fatal("sealParams accepted a 16-byte IV")
	}
}

func TestDecryptParamsLenientBase64(t *testing.T) {
	enc, err := EncryptParams(encryptTestKey, encryptTestParams())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.URLEncoding.DecodeString(enc)
	for name, s := range map[string]string{
		"standard alphabet": base64.StdEncoding.EncodeToString(raw),
		"no padding":        base64.RawURLEncoding.EncodeToString(raw),
		"surrounding space": " " + enc + "\n",
	} {
		if _, err := DecryptParams(encryptTestKey, s); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseAESKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xab, 0xcd}, 16)
	good := map[string]string{
		"hex":        hex.EncodeToString(key),
		"base64":     base64.StdEncoding.EncodeToString(key),
		"base64url":  base64.RawURLEncoding.EncodeToString(key),
		"raw":        strings.Repeat("k", 32),
		"hex spaced": " " + hex.EncodeToString(key) + "\n",
	}
	for name, s := range good {
		k, err := ParseAESKey(s)
		if err != nil || len(k) != 32 {
			t.Errorf("%s: ParseAESKey = %d bytes, %v", name, len(k), err)
		}
	}
	for _, s := range []string{"", "abcd", strings.Repeat("z", 64), base64.StdEncoding.EncodeToString(key[:16])} {
		_, err := ParseAESKey(s)
		if !errors.Is(err, ErrAESKeySize) {
			t.Errorf("ParseAESKey(%d chars) = %v, want ErrAESKeySize", len(s), err)
			continue
		}
		if len(s) >= 4 && strings.Contains(err.Error(), s[:4]) {
			t.Errorf("ParseAESKey error quotes its input: %v", err)
		}
	}
}
