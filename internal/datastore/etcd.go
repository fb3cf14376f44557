package datastore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// EtcdConfig says how to reach the lab's etcd.
type EtcdConfig struct {
	Endpoints   []string      // e.g. https://172.18.0.2:2379
	DialTimeout time.Duration // 0: 5s
	Prefix      string        // key prefix; "": DefaultPrefix
	// Dialer opens the connection to an endpoint; nil means a plain TCP dial. A client outside
	// the lab's namespaces (knetlab deploy, verify) dials from inside one, because the lab's
	// addresses are reachable nowhere else.
	Dialer func(ctx context.Context, addr string) (net.Conn, error)
	// TLS are the client's certificate, key and the CA of the server: needed for https
	// endpoints (a lab's etcd requires a client certificate), refused for http ones.
	TLS ClientTLS
}

// ClientTLS are the files of a client of a datastore served over mutual TLS.
type ClientTLS struct {
	CertFile string
	KeyFile  string
	CAFile   string
}

// IsSet reports whether any file is given.
func (c ClientTLS) IsSet() bool { return c.CertFile != "" || c.KeyFile != "" || c.CAFile != "" }

// Config loads the files into a TLS client configuration that presents the certificate and
// trusts only the CA.
func (c ClientTLS) Config() (*tls.Config, error) {
	if c.CertFile == "" || c.KeyFile == "" || c.CAFile == "" {
		return nil, errors.New("datastore TLS needs a client certificate, its key and the CA certificate")
	}
	pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("datastore client certificate: %w", err)
	}
	caPEM, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("datastore CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("datastore CA %s: no PEM certificate in it", c.CAFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, MinVersion: tls.VersionTLS12}, nil
}

// checkEndpoints refuses a mix the connection would get wrong: https without TLS files (the
// server would refuse the client), http with them (they would silently go unused).
func checkEndpoints(endpoints []string, t ClientTLS) error {
	for _, ep := range endpoints {
		switch {
		case strings.HasPrefix(ep, "https://") && !t.IsSet():
			return fmt.Errorf("datastore endpoint %s is https but no client certificate is given", ep)
		case !strings.HasPrefix(ep, "https://") && t.IsSet():
			return fmt.Errorf("datastore endpoint %s is not https but TLS files are given", ep)
		}
	}
	return nil
}

// Etcd is the Store on etcd v3. Create is a transaction guarded by CreateRevision == 0,
// Update and Delete by ModRevision == the caller's revision.
type Etcd struct {
	client *clientv3.Client
	prefix string
}

var _ Store = (*Etcd)(nil)

// NewEtcd connects to etcd and checks that it answers before returning, so a wrong endpoint
// fails here with a clear message rather than at the first write.
func NewEtcd(ctx context.Context, cfg EtcdConfig) (*Etcd, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, fmt.Errorf("connect to datastore: no etcd endpoint given")
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if err := checkEndpoints(cfg.Endpoints, cfg.TLS); err != nil {
		return nil, fmt.Errorf("connect to datastore: %w", err)
	}
	var tlsConfig *tls.Config
	if cfg.TLS.IsSet() {
		var err error
		if tlsConfig, err = cfg.TLS.Config(); err != nil {
			return nil, fmt.Errorf("connect to datastore %v: %w", cfg.Endpoints, err)
		}
	}
	var dialOpts []grpc.DialOption
	if cfg.Dialer != nil {
		dialOpts = append(dialOpts, grpc.WithContextDialer(cfg.Dialer))
	}
	client, err := clientv3.New(clientv3.Config{
		TLS:         tlsConfig,
		DialOptions: dialOpts,
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		Context:     ctx,
		// The client's own logs would interleave with the CLI's output; errors reach the
		// caller as values instead.
		Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to datastore %v: %w", cfg.Endpoints, err)
	}
	probe, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if _, err := client.Get(probe, prefix, clientv3.WithCountOnly()); err != nil {
		client.Close()
		return nil, fmt.Errorf("connect to datastore %v: %w: %w (is the lab's datastore running? `knetlab status` shows it)",
			cfg.Endpoints, ErrUnavailable, err)
	}
	return &Etcd{client: client, prefix: prefix}, nil
}

func (e *Etcd) key(kind Kind, name string) string { return e.prefix + string(kind) + "/" + name }

func (e *Etcd) kindPrefix(kind Kind) string { return e.prefix + string(kind) + "/" }

// Get implements Store.
func (e *Etcd) Get(ctx context.Context, kind Kind, name string) (Record, error) {
	if err := checkName(kind, name); err != nil {
		return Record{}, err
	}
	resp, err := e.client.Get(ctx, e.key(kind, name))
	if err != nil {
		return Record{}, requestError("get", kind, name, err)
	}
	if len(resp.Kvs) == 0 {
		return Record{}, fmt.Errorf("get %s %q: %w", kind, name, ErrNotFound)
	}
	kv := resp.Kvs[0]
	return Record{Name: name, Value: kv.Value, Revision: kv.ModRevision}, nil
}

// List implements Store. etcd returns keys in byte order, which is name order within a kind.
func (e *Etcd) List(ctx context.Context, kind Kind) ([]Record, int64, error) {
	if err := checkKind(kind); err != nil {
		return nil, 0, err
	}
	prefix := e.kindPrefix(kind)
	resp, err := e.client.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, requestError("list", kind, "", err)
	}
	out := make([]Record, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, Record{
			Name:     strings.TrimPrefix(string(kv.Key), prefix),
			Value:    kv.Value,
			Revision: kv.ModRevision,
		})
	}
	return out, resp.Header.Revision, nil
}

// Create implements Store.
func (e *Etcd) Create(ctx context.Context, kind Kind, name string, value []byte) (int64, error) {
	if err := checkName(kind, name); err != nil {
		return 0, err
	}
	key := e.key(kind, name)
	resp, err := e.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(value))).
		Commit()
	if err != nil {
		return 0, requestError("create", kind, name, err)
	}
	if !resp.Succeeded {
		return 0, fmt.Errorf("create %s %q: %w", kind, name, ErrExists)
	}
	return resp.Header.Revision, nil
}

// Update implements Store. The else branch reads the key in the same transaction, so a failed
// compare says whether the object changed or disappeared without a second round trip.
func (e *Etcd) Update(ctx context.Context, kind Kind, name string, value []byte, rev int64) (int64, error) {
	if err := checkName(kind, name); err != nil {
		return 0, err
	}
	key := e.key(kind, name)
	resp, err := e.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpPut(key, string(value))).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return 0, requestError("update", kind, name, err)
	}
	if !resp.Succeeded {
		return 0, e.failedCompare("update", kind, name, rev, resp)
	}
	return resp.Header.Revision, nil
}

// Delete implements Store.
func (e *Etcd) Delete(ctx context.Context, kind Kind, name string, rev int64) error {
	if err := checkName(kind, name); err != nil {
		return err
	}
	key := e.key(kind, name)
	resp, err := e.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpDelete(key)).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).
		Commit()
	if err != nil {
		return requestError("delete", kind, name, err)
	}
	if !resp.Succeeded {
		return e.failedCompare("delete", kind, name, rev, resp)
	}
	return nil
}

// requestError wraps a failed etcd request, marking the failures a retry may cure.
func requestError(op string, kind Kind, name string, err error) error {
	what := fmt.Sprintf("%s %s", op, kind)
	if name != "" {
		what += fmt.Sprintf(" %q", name)
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w (is the lab's datastore running? `knetlab status` shows it)", what, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, rpctypes.ErrNoLeader) {
		return true
	}
	// etcd's errors and gRPC's carry a status code.
	var coded interface{ Code() codes.Code }
	if errors.As(err, &coded) {
		return coded.Code() == codes.Unavailable || coded.Code() == codes.DeadlineExceeded
	}
	c := status.Code(err)
	return c == codes.Unavailable || c == codes.DeadlineExceeded
}

func (e *Etcd) failedCompare(op string, kind Kind, name string, rev int64, resp *clientv3.TxnResponse) error {
	if rs := resp.Responses; len(rs) == 1 && rs[0].GetResponseRange() != nil && rs[0].GetResponseRange().Count == 0 {
		return fmt.Errorf("%s %s %q: %w", op, kind, name, ErrNotFound)
	}
	return fmt.Errorf("%s %s %q at revision %d: %w (re-read it and retry)", op, kind, name, rev, ErrConflict)
}

// Watch implements Store.
func (e *Etcd) Watch(ctx context.Context, kind Kind, afterRev int64) (<-chan Event, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	prefix := e.kindPrefix(kind)
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithPrevKV()}
	if afterRev > 0 {
		opts = append(opts, clientv3.WithRev(afterRev+1))
	}
	// RequireLeader makes the watch fail instead of hanging when the datastore loses quorum.
	wch := e.client.Watch(clientv3.WithRequireLeader(ctx), prefix, opts...)
	out := make(chan Event)
	go func() {
		defer close(out)
		send := func(ev Event) bool {
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for resp := range wch {
			if err := resp.Err(); err != nil {
				send(Event{Type: EventError, Err: fmt.Errorf("watch %s: %w (list again and watch from the new revision)", kind, err)})
				return
			}
			for _, ev := range resp.Events {
				event := Event{Name: strings.TrimPrefix(string(ev.Kv.Key), prefix), Revision: ev.Kv.ModRevision}
				switch ev.Type {
				case clientv3.EventTypePut:
					event.Type, event.Value = EventPut, ev.Kv.Value
				case clientv3.EventTypeDelete:
					event.Type = EventDelete
					if ev.PrevKv != nil {
						event.Value = ev.PrevKv.Value
					}
				}
				if !send(event) {
					return
				}
			}
		}
		if ctx.Err() == nil {
			send(Event{Type: EventError, Err: fmt.Errorf("watch %s: the datastore closed the watch", kind)})
		}
	}()
	return out, nil
}

// Close implements Store.
func (e *Etcd) Close() error { return e.client.Close() }
