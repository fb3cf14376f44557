package cni

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Names of what Install puts on a node.
const (
	// ConfListName sorts before any other config in /etc/cni/net.d, so the runtime picks it.
	ConfListName = "10-knetlab.conflist"
	// KubeconfigName is the plugin's kubeconfig for the kubernetes datastore, next to the config.
	KubeconfigName = "knetlab-kubeconfig"
	// NetworkName is the network's name, Calico's, so handles read like Calico's.
	NetworkName = "k8s-pod-network"
)

// Installation is what the agent installs on its node for the runtime: the plugin binary in
// the CNI bin directory, and the network config list (with the kubernetes datastore, its
// kubeconfig) in the CNI config directory.
type Installation struct {
	BinDir  string // e.g. /opt/cni/bin
	ConfDir string // e.g. /etc/cni/net.d
	// Executable is the binary to install as knetlab-cni: knetlab itself, which acts as the
	// plugin when run under that name.
	Executable string
	NodeName   string
	// Datastore of the plugin's network config. For the kubernetes type, Kubeconfig is
	// written to ConfDir/KubeconfigName and Datastore.Kubeconfig set to that path.
	Datastore          DatastoreConf
	DatastoreEndpoints []string
	Kubeconfig         []byte
	MTU                int // 0: the plugin follows vxlan.calico's MTU
}

// Install writes the plugin, the kubeconfig and the config list, each atomically (a temporary
// file in the same directory, then a rename), in that order: the runtime declares the node's
// network ready as soon as a config list appears, so everything it names must be there first.
// Running it again replaces the files in place; a runtime never sees a half-written one.
func (in Installation) Install() error {
	if in.NodeName == "" {
		return fmt.Errorf("install the CNI plugin: no node name")
	}
	src, err := os.Open(in.Executable)
	if err != nil {
		return fmt.Errorf("install the CNI plugin: %w", err)
	}
	defer src.Close()
	plugin := filepath.Join(in.BinDir, PluginType)
	if err := writeAtomic(plugin, 0o755, func(w io.Writer) error { _, err := io.Copy(w, src); return err }); err != nil {
		return fmt.Errorf("install the CNI plugin: %w", err)
	}
	if in.Datastore.Backend() == DatastoreKubernetes {
		if len(in.Kubeconfig) == 0 {
			return fmt.Errorf("install the CNI plugin: the kubernetes datastore needs a kubeconfig for the plugin")
		}
		in.Datastore.Kubeconfig = filepath.Join(in.ConfDir, KubeconfigName)
		// 0600: it holds the service account's token.
		if err := writeAtomic(in.Datastore.Kubeconfig, 0o600, bytesWriter(in.Kubeconfig)); err != nil {
			return fmt.Errorf("install the CNI plugin's kubeconfig: %w", err)
		}
	}
	list, err := in.ConfList()
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(in.ConfDir, ConfListName), 0o644, bytesWriter(list)); err != nil {
		return fmt.Errorf("install the CNI network config: %w", err)
	}
	return nil
}

// ConfList is the network config list the runtime reads: one knetlab-cni plugin, CNI 1.0.0.
func (in Installation) ConfList() ([]byte, error) {
	conf := map[string]any{
		"type":     PluginType,
		"nodeName": in.NodeName,
	}
	if in.Datastore.Backend() == DatastoreKubernetes {
		conf["datastore"] = DatastoreConf{Type: DatastoreKubernetes, Kubeconfig: filepath.Join(in.ConfDir, KubeconfigName)}
	} else {
		conf["datastoreEndpoints"] = in.DatastoreEndpoints
		if in.Datastore.EtcdTLS().IsSet() {
			conf["datastore"] = DatastoreConf{EtcdCertFile: in.Datastore.EtcdCertFile, EtcdKeyFile: in.Datastore.EtcdKeyFile,
				EtcdCACertFile: in.Datastore.EtcdCACertFile}
		}
	}
	if in.MTU != 0 {
		conf["mtu"] = in.MTU
	}
	data, err := json.MarshalIndent(map[string]any{
		"cniVersion": "1.0.0",
		"name":       NetworkName,
		"plugins":    []any{conf},
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("network config: %w", err)
	}
	return append(data, '\n'), nil
}

func bytesWriter(data []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(data); return err }
}

// writeAtomic writes path through a temporary file in its directory and a rename. The
// temporary name starts with a dot and has no .conf/.conflist/.json ending, so a runtime
// scanning the directory never loads it.
func writeAtomic(path string, mode os.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
