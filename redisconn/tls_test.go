package redisconn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/redisconn"
)

// pki is a private CA and a server certificate it signed for 127.0.0.1.
type pki struct {
	ca, cert, key string // PEM files
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "waqueue test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "redis"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	p := pki{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "server.pem"), key: filepath.Join(dir, "server.key")}
	write := func(path, typ string, der []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(p.ca, "CERTIFICATE", caDER)
	write(p.cert, "CERTIFICATE", srvDER)
	write(p.key, "EC PRIVATE KEY", keyDER)
	return p
}

func writeCA(t *testing.T) string { return newPKI(t).ca }

// TestTopologyTLS connects to a redis-server speaking TLS only on its TLS
// port, with a certificate from a private CA: ca_file verifies it, the
// system roots and another CA refuse it, insecure_skip_verify skips it.
func TestTopologyTLS(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	tlsPort := redistest.FreePort(t)
	redistest.Start(t, "--tls-port", strconv.Itoa(tlsPort), "--tls-cert-file", p.cert, "--tls-key-file", p.key,
		"--tls-ca-cert-file", p.ca, "--tls-auth-clients", "no")
	addr := "127.0.0.1:" + strconv.Itoa(tlsPort)
	tests := []struct {
		name, url string
		fail      string // "" for a working connection
	}{
		{"private CA", "rediss://" + addr + "?ca_file=" + p.ca, ""},
		{"skip verify", "rediss://" + addr + "?insecure_skip_verify=true", ""},
		{"system roots", "rediss://" + addr, "certificate signed by unknown authority"},
		{"another CA", "rediss://" + addr + "?ca_file=" + other.ca, "certificate signed by unknown authority"},
		{"plain text to the TLS port", "redis://" + addr, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt, err := redisconn.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			c := redisconn.Client(opt)
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = c.Set(ctx, "tls", "ok", 0).Err()
			switch {
			case strings.HasPrefix(tt.url, "redis://"):
				if err == nil {
					t.Fatal("plain text reached the TLS port")
				}
			case tt.fail == "" && err != nil:
				t.Fatalf("SET over TLS: %v", err)
			case tt.fail != "" && (err == nil || !strings.Contains(err.Error(), tt.fail)):
				t.Fatalf("SET over TLS: %v, want %q", err, tt.fail)
			}
		})
	}
}
