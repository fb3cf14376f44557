package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/ui"
)

type podFlags struct {
	provider  string
	namespace string
	node      string
	replace   bool
}

func newPodCmd(s *ui.Streams, reg *provider.Registry) *cobra.Command {
	f := &podFlags{}
	c := &cobra.Command{
		Use:   "pod",
		Short: "Add, delete and list pods of a netns lab (knetlab runs the CNI plugin as a runtime does)",
		Long: `pod manages the pods of a lab deployed by the netns provider. knetlab acts as the container
runtime: a pod is a network namespace wired by knetlab's CNI plugin, which is run exactly as
kubelet's runtime runs it (CNI_* environment, network config on stdin) inside the pod's node.
knetlab exec <lab> <pod> -- CMD runs a command inside a pod.`,
		Example: `  sudo knetlab pod add calico-overlay web --node k01-worker3
  sudo knetlab pod list calico-overlay
  sudo knetlab exec calico-overlay web -- ip addr
  sudo knetlab pod del calico-overlay web`,
	}
	c.AddCommand(newPodAddCmd(s, reg, f), newPodDelCmd(s, reg, f), newPodListCmd(s, reg, f))
	c.PersistentFlags().StringVar(&f.provider, "provider", provider.Default, "lab provider (only netns runs pods itself)")
	return c
}

// runtime is the --provider, which must run pods itself.
func (f *podFlags) runtime(reg *provider.Registry) (provider.PodRuntime, error) {
	p, err := reg.Get(f.provider)
	if err != nil {
		return nil, err
	}
	rt, ok := p.(provider.PodRuntime)
	if !ok {
		return nil, exitcode.Usagef("the %s provider's pods are Kubernetes pods: create them with kubectl", p.Name())
	}
	return rt, nil
}

func newPodAddCmd(s *ui.Streams, reg *provider.Registry, f *podFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "add <lab> <name> --node <node>",
		Short: "Create a pod on a node through the CNI plugin (idempotent; --replace moves it from another node)",
		Long: `add creates a pod on a node through the CNI plugin. The name must be what Kubernetes accepts
(an RFC 1123 subdomain of at most 253 characters; the namespace an RFC 1123 label of at most 63);
anything else is refused before any namespace is touched. A pod name lives once per lab: adding
it again on the same node changes nothing, on another node is refused (exit 2) unless --replace
moves it. An ADD that fails is rolled back: no sandbox, veth or address is left.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.node == "" {
				return exitcode.Usagef("which node? knetlab pod add %s %s --node <node>", args[0], args[1])
			}
			rt, err := f.runtime(reg)
			if err != nil {
				return err
			}
			pod, err := rt.AddPod(cmd.Context(), args[0], lab.Pod{Name: args[1], Namespace: f.namespace, Node: f.node}, provider.AddPodOptions{Replace: f.replace})
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "pod %s/%s on %s: %s via %s (netns %s)\n", pod.Namespace, pod.Name, pod.Node, pod.IP, pod.HostIface, pod.NetNS)
			return nil
		},
	}
	c.Flags().StringVar(&f.node, "node", "", "the node the pod runs on")
	c.Flags().StringVarP(&f.namespace, "namespace", "n", "default", "the pod's Kubernetes namespace")
	c.Flags().BoolVar(&f.replace, "replace", false, "move the pod if it runs on another node (without it, that is refused: a pod name lives once per lab)")
	return c
}

func newPodDelCmd(s *ui.Streams, reg *provider.Registry, f *podFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "del <lab> <name>",
		Short: "Delete a pod (CNI DEL, then its namespace); deleting what is not there succeeds",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := f.runtime(reg)
			if err != nil {
				return err
			}
			found, err := rt.DeletePod(cmd.Context(), args[0], f.namespace, args[1])
			if err != nil {
				return err
			}
			if !found {
				fmt.Fprintf(s.Out, "pod %s/%s: not there, nothing to delete\n", f.namespace, args[1])
				return nil
			}
			fmt.Fprintf(s.Out, "pod %s/%s deleted\n", f.namespace, args[1])
			return nil
		},
	}
	c.Flags().StringVarP(&f.namespace, "namespace", "n", "default", "the pod's Kubernetes namespace")
	return c
}

func newPodListCmd(s *ui.Streams, reg *provider.Registry, f *podFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list <lab>",
		Short: "List a lab's pods: node, address, host interface, network namespace",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt, err := f.runtime(reg)
			if err != nil {
				return err
			}
			pods, err := rt.Pods(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var rows [][]string
			for _, p := range pods {
				rows = append(rows, []string{p.Namespace + "/" + p.Name, p.Node, p.IP, p.HostIface, p.NetNS})
			}
			s.Table([]string{"POD", "NODE", "IP", "HOST IFACE", "NETNS"}, rows)
			return nil
		},
	}
}
