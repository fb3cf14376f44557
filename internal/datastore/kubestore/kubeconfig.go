package kubestore

import (
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig renders a kubeconfig equivalent to cfg, with the CA and the bearer token inlined.
// The agent writes one for the CNI plugin: the plugin runs on the node, outside the agent's pod,
// where the service account's files are not mounted. The token is read now; a rotated token
// needs the kubeconfig written again (the agent refreshes it).
func Kubeconfig(cfg *rest.Config) ([]byte, error) {
	ca := cfg.TLSClientConfig.CAData
	if len(ca) == 0 && cfg.TLSClientConfig.CAFile != "" {
		data, err := os.ReadFile(cfg.TLSClientConfig.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig for the CNI plugin: CA: %w", err)
		}
		ca = data
	}
	token := cfg.BearerToken
	if cfg.BearerTokenFile != "" {
		// The file is the current token; BearerToken is what was read at start.
		data, err := os.ReadFile(cfg.BearerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig for the CNI plugin: token: %w", err)
		}
		token = string(data)
	}
	const name = "knetlab"
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: ca, InsecureSkipTLSVerify: cfg.TLSClientConfig.Insecure}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token,
		ClientCertificateData: cfg.TLSClientConfig.CertData, ClientKeyData: cfg.TLSClientConfig.KeyData,
		ClientCertificate: cfg.TLSClientConfig.CertFile, ClientKey: cfg.TLSClientConfig.KeyFile}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig for the CNI plugin: %w", err)
	}
	return data, nil
}
