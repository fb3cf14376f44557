package datastore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// ServeConfig describes the lab's embedded etcd.
type ServeConfig struct {
	// DataDir holds etcd's WAL and snapshots, under the lab's state directory. Required.
	DataDir string
	// ClientURL is where agents and CNI plugins connect: in a lab, the control-plane node's
	// management address, e.g. https://172.18.0.2:2379 inside that node's namespace.
	// Port 0 picks a free port (tests); Server.ClientURL reports the real one.
	ClientURL string
	// PeerURL is raft's listener. A one-member cluster has no peers, so it stays on loopback.
	// "": http://127.0.0.1:2380.
	PeerURL string
	// Name is the member name. "": "knetlab".
	Name string
	// LogFile receives etcd's logs, which would otherwise flood the terminal.
	// "": <DataDir>/etcd.log.
	LogFile string
	// LogLevel is etcd's zap level: debug, info, warn, error. "": warn.
	LogLevel string
	// ReadyTimeout bounds the wait for etcd to serve. 0: 15s.
	ReadyTimeout time.Duration
	// TLS, when set, serves clients over https and requires a client certificate signed by
	// TLS.ClientCA; ClientURL must then be https. Unset: plain http, for tests only.
	TLS ServerTLS
	// UnsafeNoFsync skips fsync on writes. Only for throwaway datastores (tests, benchmarks):
	// a host crash can then lose acknowledged writes.
	UnsafeNoFsync bool
}

// ServerTLS are the files of a datastore that serves clients over mutual TLS.
type ServerTLS struct {
	CertFile string // the server certificate, naming the client URL's address
	KeyFile  string
	ClientCA string // the CA client certificates must chain to
}

func (t ServerTLS) set() bool { return t.CertFile != "" || t.KeyFile != "" || t.ClientCA != "" }

// Server is a running embedded etcd.
type Server struct {
	etcd      *embed.Etcd
	clientURL string
	logFile   string
}

// Serve starts an embedded etcd and returns once it serves clients, or with an error naming the
// log file when it does not within ReadyTimeout.
func Serve(ctx context.Context, cfg ServeConfig) (*Server, error) {
	ecfg, logFile, err := embedConfig(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("datastore: create data directory: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
		return nil, fmt.Errorf("datastore: create log directory: %w", err)
	}
	e, err := embed.StartEtcd(ecfg)
	if err != nil {
		return nil, fmt.Errorf("datastore: start etcd on %s: %w (see %s; is the address assigned in this namespace and the port free?)",
			cfg.ClientURL, err, logFile)
	}
	timeout := cfg.ReadyTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("datastore: etcd failed while starting: %w (see %s)", err, logFile)
	case <-timer.C:
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("datastore: etcd not ready after %s (see %s)", timeout, logFile)
	case <-ctx.Done():
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("datastore: start etcd: %w", ctx.Err())
	}
	clientURL := ecfg.ListenClientUrls[0]
	// Report the port the kernel chose when the caller asked for port 0.
	clientURL.Host = e.Clients[0].Addr().String()
	return &Server{etcd: e, clientURL: clientURL.String(), logFile: logFile}, nil
}

func embedConfig(cfg ServeConfig) (*embed.Config, string, error) {
	if cfg.DataDir == "" {
		return nil, "", errors.New("datastore: no data directory given")
	}
	if cfg.ClientURL == "" {
		return nil, "", errors.New("datastore: no client URL given (e.g. https://172.18.0.2:2379)")
	}
	if cfg.PeerURL == "" {
		cfg.PeerURL = "http://127.0.0.1:2380"
	}
	if cfg.Name == "" {
		cfg.Name = "knetlab"
	}
	if cfg.LogFile == "" {
		cfg.LogFile = filepath.Join(cfg.DataDir, "etcd.log")
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	client, err := parseClientURL(cfg.ClientURL, cfg.TLS)
	if err != nil {
		return nil, "", err
	}
	peer, err := parseHTTPURL("peer", cfg.PeerURL)
	if err != nil {
		return nil, "", err
	}
	ecfg := embed.NewConfig()
	ecfg.Name = cfg.Name
	ecfg.Dir = cfg.DataDir
	if cfg.TLS.set() {
		ecfg.ClientTLSInfo = transport.TLSInfo{
			CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile, TrustedCAFile: cfg.TLS.ClientCA,
			ClientCertAuth: true,
		}
	}
	ecfg.ListenClientUrls = []url.URL{*client}
	ecfg.AdvertiseClientUrls = []url.URL{*client}
	ecfg.ListenPeerUrls = []url.URL{*peer}
	ecfg.AdvertisePeerUrls = []url.URL{*peer}
	ecfg.InitialCluster = cfg.Name + "=" + peer.String()
	ecfg.InitialClusterToken = "knetlab-" + cfg.Name
	ecfg.Logger = "zap"
	ecfg.LogLevel = cfg.LogLevel
	ecfg.LogOutputs = []string{cfg.LogFile}
	ecfg.UnsafeNoFsync = cfg.UnsafeNoFsync
	// A one-member cluster only ever elects itself; with etcd's defaults (100 ms ticks, 1 s
	// election timeout) that wait is ~0.5 s of every lab deploy, with these ~70 ms.
	ecfg.TickMs = 10
	ecfg.ElectionMs = 100
	// IPAM blocks are rewritten on every pod add and delete; keep one hour of history for
	// watchers that reconnect, and let etcd drop the rest.
	ecfg.AutoCompactionMode = "periodic"
	ecfg.AutoCompactionRetention = "1h"
	return ecfg, cfg.LogFile, nil
}

// parseClientURL checks the client URL against the TLS files: https needs all three, http none.
func parseClientURL(raw string, t ServerTLS) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Port() == "" {
		return nil, fmt.Errorf("datastore: client URL %q: want https://<address>:<port>", raw)
	}
	switch {
	case u.Scheme == "https" && (t.CertFile == "" || t.KeyFile == "" || t.ClientCA == ""):
		return nil, fmt.Errorf("datastore: client URL %q needs a server certificate, its key and the client CA", raw)
	case u.Scheme == "http" && t.set():
		return nil, fmt.Errorf("datastore: client URL %q is plain http but TLS files are given: use https", raw)
	}
	return u, nil
}

func parseHTTPURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Hostname() == "" || u.Port() == "" {
		return nil, fmt.Errorf("datastore: %s URL %q: want http://<address>:<port>", what, raw)
	}
	return u, nil
}

// ClientURL is the URL clients connect to, with the real port.
func (s *Server) ClientURL() string { return s.clientURL }

// LogFile is where etcd writes its logs.
func (s *Server) LogFile() string { return s.logFile }

// Err reports a fatal error of the running server.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Close stops etcd and waits for it to release its data directory and ports.
func (s *Server) Close() error {
	s.etcd.Close()
	return nil
}

// RunDaemon runs the lab's datastore until ctx is done (the daemon received SIGTERM) or etcd
// fails, and stops it cleanly either way.
func RunDaemon(ctx context.Context, cfg ServeConfig) error {
	srv, err := Serve(ctx, cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	select {
	case <-ctx.Done():
		return nil
	case err := <-srv.Err():
		if err == nil {
			return errors.New("datastore: etcd stopped unexpectedly (see " + srv.LogFile() + ")")
		}
		return fmt.Errorf("datastore: etcd failed: %w (see %s)", err, srv.LogFile())
	}
}
