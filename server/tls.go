package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Certificate file names looked up in Options.CertDir.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
)

// certSource serves the certificate for each handshake: from CertDir,
// reloaded when either file changes, or a self-signed one.
type certSource struct {
	dir string

	mu       sync.Mutex
	cert     *tls.Certificate
	modTimes [2]time.Time
	checked  time.Time
}

func newCertSource(dir string) (*certSource, error) {
	cs := &certSource{dir: dir}
	if dir == "" {
		c, err := selfSigned("optel-metrics")
		if err != nil {
			return nil, err
		}
		cs.cert = c
		return cs, nil
	}
	if _, err := cs.load(); err != nil {
		return nil, err
	}
	return cs, nil
}

// load (re)reads the pair if a file changed since the last read.
func (cs *certSource) load() (*tls.Certificate, error) {
	crt, key := filepath.Join(cs.dir, CertFile), filepath.Join(cs.dir, KeyFile)
	var mt [2]time.Time
	for i, p := range []string{crt, key} {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("metrics certificate: %w (--metrics-cert-dir must hold %s and %s)", err, CertFile, KeyFile)
		}
		mt[i] = st.ModTime()
	}
	if cs.cert != nil && mt == cs.modTimes {
		return cs.cert, nil
	}
	pair, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		return nil, fmt.Errorf("load metrics certificate from %s: %w", cs.dir, err)
	}
	cs.cert, cs.modTimes = &pair, mt
	return cs.cert, nil
}

func (cs *certSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.dir == "" || time.Since(cs.checked) < time.Second {
		return cs.cert, nil
	}
	cs.checked = time.Now()
	c, err := cs.load()
	if err != nil && cs.cert != nil {
		return cs.cert, nil // keep serving the last good pair during a rotation
	}
	return c, err
}

func selfSigned(cn string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate self-signed key: %w", err)
	}
	host, _ := os.Hostname()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", host},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create self-signed certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func tlsConfig(cs *certSource, http2 bool) *tls.Config {
	protos := []string{"http/1.1"}
	if http2 {
		protos = []string{"h2", "http/1.1"}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cs.GetCertificate, NextProtos: protos}
}
