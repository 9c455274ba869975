package tlsca

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultReloadInterval is how often, at most, Reloader looks at its
// files.
const DefaultReloadInterval = 5 * time.Second

// errNoCertificate is returned while no certificate could be loaded yet.
var errNoCertificate = errors.New("no serving certificate loaded")

// ReloaderConfig configures a Reloader.
type ReloaderConfig struct {
	CertFile string // PEM certificate chain, leaf first
	KeyFile  string // PEM private key
	// Interval is how often, at most, the files are looked at; default
	// DefaultReloadInterval.
	Interval time.Duration
	Now      func() time.Time // defaults to time.Now
	Logger   *slog.Logger     // defaults to discarding
}

// Reloader serves the certificate pair in two files and reads them
// again when either changes (size or modification time, as when
// cert-manager or the kubelet updates a mounted Secret), looking at most
// once per interval. A pair that fails to load leaves the previous one in
// service. Its GetCertificate goes in tls.Config.
type Reloader struct {
	certFile, keyFile string
	interval          time.Duration
	now               func() time.Time
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	loaded  [2]fileStamp // stamps of the files cert was read from
	checked time.Time    // last look at the files
	lastErr error        // why the last look did not load a pair, or nil
}

// fileStamp is what tells that a file changed.
type fileStamp struct {
	modTime time.Time
	size    int64
}

// NewReloader returns a reloader of the pair in cfg; it reads the files
// on first use.
func NewReloader(cfg ReloaderConfig) (*Reloader, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("certificate and key files are required")
	}
	r := &Reloader{certFile: cfg.CertFile, keyFile: cfg.KeyFile, interval: cfg.Interval, now: cfg.Now, log: cfg.Logger}
	if r.interval <= 0 {
		r.interval = DefaultReloadInterval
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// GetCertificate returns the current certificate, for tls.Config.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.current()
}

// Ready returns nil once a certificate is loaded, else why not.
func (r *Reloader) Ready() error {
	_, err := r.current()
	return err
}

// current returns the certificate after looking at the files if the
// interval has passed.
func (r *Reloader) current() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if r.checked.IsZero() || now.Sub(r.checked) >= r.interval || now.Before(r.checked) {
		r.checked = now
		r.reloadLocked()
	}
	if r.cert == nil {
		if r.lastErr != nil {
			return nil, fmt.Errorf("%w: %w", errNoCertificate, r.lastErr)
		}
		return nil, errNoCertificate
	}
	return r.cert, nil
}

// reloadLocked reads the pair if either file changed since it was loaded.
func (r *Reloader) reloadLocked() {
	stamps, err := r.stamps()
	if err == nil && r.cert != nil && stamps == r.loaded {
		return
	}
	var pair tls.Certificate
	if err == nil {
		pair, err = r.readPair()
	}
	if err != nil {
		if r.lastErr == nil || r.lastErr.Error() != err.Error() {
			r.log.Warn("serving certificate not (re)loaded", "cert_file", r.certFile, "key_file", r.keyFile, "keeping_previous", r.cert != nil, "err", err)
		}
		r.lastErr = err
		return
	}
	r.cert, r.loaded, r.lastErr = &pair, stamps, nil
	if leaf := pair.Leaf; leaf != nil {
		r.log.Info("serving certificate loaded", "cert_file", r.certFile, "subject", leaf.Subject.String(),
			"dns_names", leaf.DNSNames, "not_after", leaf.NotAfter)
	}
}

// stamps stats both files.
func (r *Reloader) stamps() ([2]fileStamp, error) {
	var s [2]fileStamp
	for i, name := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return s, fmt.Errorf("stat certificate file: %w", err)
		}
		s[i] = fileStamp{modTime: fi.ModTime(), size: fi.Size()}
	}
	return s, nil
}

// readPair reads and parses both files.
func (r *Reloader) readPair() (tls.Certificate, error) {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read private key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse certificate pair: %w", err)
	}
	return pair, nil
}
