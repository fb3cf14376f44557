package cni

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/knetlab/knetlab/internal/datastore"
)

// Allocator hands out pod addresses from a node's blocks, keyed by handle so that a retried
// ADD gets the same address and DEL can release without knowing it.
type Allocator interface {
	// Allocate returns the address held by handle, allocating one from node's blocks if the
	// handle holds none. attrs describe the owner (namespace, pod, node), as Calico records.
	Allocate(ctx context.Context, node, handle string, attrs map[string]string) (netip.Addr, error)
	// Release frees whatever handle holds; a handle that holds nothing is not an error.
	Release(ctx context.Context, handle string) error
}

// ErrDatastoreUnavailable marks allocator errors that a retry may cure; the plugin reports
// them with CNI code 11 ("try again later") so that the runtime retries.
var ErrDatastoreUnavailable = errors.New("datastore unavailable")

// Timeout bounds one plugin invocation's datastore work.
const Timeout = 30 * time.Second

// SupportedVersions are the CNI spec versions the plugin speaks.
var SupportedVersions = version.PluginSupports("1.0.0", "1.1.0")

// Plugin is the CNI plugin; NewAllocator opens the IPAM for a network config.
type Plugin struct {
	NewAllocator func(conf *NetConf) (Allocator, error)
	// Stdout receives ADD's result (the runtime reads it); nil means os.Stdout.
	Stdout io.Writer
}

// Funcs wires the plugin into skel.PluginMainFuncs.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: p.Add, Del: p.Del, Check: p.Check}
}

// Handle is the IPAM handle of a pod's address: "<network>.<containerID>", as Calico names it.
func Handle(network, containerID string) string { return network + "." + containerID }

type invocation struct {
	conf  *NetConf
	alloc Allocator
	log   *slog.Logger
	close func()
}

func (p *Plugin) start(args *skel.CmdArgs, command string) (*invocation, error) {
	conf, err := ParseConfig(args.StdinData)
	if err != nil {
		return nil, err
	}
	inv := &invocation{conf: conf, log: slog.New(slog.DiscardHandler), close: func() {}}
	if conf.LogFile != "" {
		f, err := os.OpenFile(conf.LogFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, types.NewError(types.ErrIOFailure, "cannot open the log file", fmt.Sprintf("%s: %v; fix logFile in the network config", conf.LogFile, err))
		}
		inv.log = slog.New(slog.NewJSONHandler(f, nil))
		inv.close = func() { f.Close() }
	}
	inv.log = inv.log.With("command", command, "containerID", args.ContainerID, "netns", args.Netns, "node", conf.NodeName)
	if p.NewAllocator == nil {
		inv.close()
		return nil, types.NewError(types.ErrInternal, "no IPAM configured", "this build of knetlab-cni has no allocator")
	}
	alloc, err := p.NewAllocator(conf)
	if err != nil {
		inv.close()
		return nil, allocatorError("cannot reach the IPAM", err)
	}
	inv.alloc = alloc
	return inv, nil
}

// allocatorError classifies an allocator failure into a CNI error code.
func allocatorError(msg string, err error) *types.Error {
	var cniErr *types.Error
	if errors.As(err, &cniErr) {
		return cniErr
	}
	// datastore.ErrUnavailable: the IPAM passes the store's own verdict up unchanged.
	if errors.Is(err, ErrDatastoreUnavailable) || errors.Is(err, datastore.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return types.NewError(types.ErrTryAgainLater, msg, err.Error())
	}
	return types.NewError(types.ErrInternal, msg, err.Error())
}

// Add allocates an address and wires the pod (CNI ADD).
func (p *Plugin) Add(args *skel.CmdArgs) (err error) {
	inv, err := p.start(args, "ADD")
	if err != nil {
		return err
	}
	defer inv.close()
	defer func() { logResult(inv.log, err) }()

	pod, err := parsePodID(args.Args)
	if err != nil {
		return err
	}
	podNS, err := ns.GetNS(args.Netns)
	if err != nil {
		return types.NewError(types.ErrInvalidEnvironmentVariables, "cannot open CNI_NETNS", fmt.Sprintf("%s: %v", args.Netns, err))
	}
	defer podNS.Close()

	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	handle := Handle(inv.conf.Name, args.ContainerID)
	attrs := map[string]string{"namespace": pod.Namespace, "pod": pod.Name, "node": inv.conf.NodeName}
	podIP, err := inv.alloc.Allocate(ctx, inv.conf.NodeName, handle, attrs)
	if err != nil {
		return allocatorError(fmt.Sprintf("cannot allocate an address on %s", inv.conf.NodeName), err)
	}
	w := &wiring{hostVeth: HostVethName(pod), podIf: args.IfName, podIP: podIP, mtu: podMTU(inv.conf)}
	if err := wirePod(podNS, w); err != nil {
		// Leave nothing behind: the runtime will call ADD again or give up.
		_ = unwirePod(args.Netns, args.IfName, w.hostVeth)
		if relErr := inv.alloc.Release(ctx, handle); relErr != nil {
			inv.log.Warn("release after failed ADD", "err", relErr)
		}
		return types.NewError(types.ErrInternal, "cannot wire the pod", err.Error())
	}
	inv.log.Info("pod wired", "pod", pod.Namespace+"/"+pod.Name, "ip", podIP, "hostVeth", w.hostVeth, "mtu", w.mtu)

	result := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: w.hostVeth, Mac: HostVethMAC.String(), Mtu: w.mtu},
			{Name: args.IfName, Mac: w.podMAC, Mtu: w.mtu, Sandbox: args.Netns},
		},
		IPs: []*current.IPConfig{{
			Interface: current.Int(1),
			Address:   net.IPNet{IP: podIP.AsSlice(), Mask: net.CIDRMask(32, 32)},
			Gateway:   PodGateway.AsSlice(),
		}},
		Routes: []*types.Route{{Dst: net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, GW: PodGateway.AsSlice()}},
	}
	out, err := result.GetAsVersion(inv.conf.CNIVersion)
	if err != nil {
		return types.NewError(types.ErrIncompatibleCNIVersion, "cannot express the result", err.Error())
	}
	if p.Stdout != nil {
		return out.PrintTo(p.Stdout)
	}
	return out.Print()
}

// Del unwires the pod and releases its address (CNI DEL). Deleting what is not there, or
// deleting twice, succeeds: runtimes call DEL liberally.
func (p *Plugin) Del(args *skel.CmdArgs) (err error) {
	inv, err := p.start(args, "DEL")
	if err != nil {
		return err
	}
	defer inv.close()
	defer func() { logResult(inv.log, err) }()

	// Without the pod's name the host end cannot be named; deleting the pod end (when the
	// namespace still exists) removes the pair all the same.
	hostVeth := ""
	if pod, err := parsePodID(args.Args); err == nil {
		hostVeth = HostVethName(pod)
	}
	if err := unwirePod(args.Netns, args.IfName, hostVeth); err != nil {
		return types.NewError(types.ErrInternal, "cannot remove the pod's interfaces", err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := inv.alloc.Release(ctx, Handle(inv.conf.Name, args.ContainerID)); err != nil {
		return allocatorError("cannot release the pod's address", err)
	}
	return nil
}

// Check verifies that the pod is still wired as ADD left it (CNI CHECK).
func (p *Plugin) Check(args *skel.CmdArgs) (err error) {
	inv, err := p.start(args, "CHECK")
	if err != nil {
		return err
	}
	defer inv.close()
	defer func() { logResult(inv.log, err) }()

	prev, err := inv.conf.prevResult()
	if err != nil {
		return err
	}
	pod, err := parsePodID(args.Args)
	if err != nil {
		return err
	}
	if len(prev.IPs) != 1 {
		return types.NewError(types.ErrInvalidNetworkConfig, "prevResult must hold exactly one IP", fmt.Sprint(prev.IPs))
	}
	podIP, ok := netip.AddrFromSlice(prev.IPs[0].Address.IP)
	if !ok {
		return types.NewError(types.ErrInvalidNetworkConfig, "prevResult IP is not an address", prev.IPs[0].Address.String())
	}
	podNS, err := ns.GetNS(args.Netns)
	if err != nil {
		return types.NewError(types.ErrInvalidEnvironmentVariables, "cannot open CNI_NETNS", fmt.Sprintf("%s: %v", args.Netns, err))
	}
	defer podNS.Close()
	mtu := 0
	for _, i := range prev.Interfaces {
		if i.Sandbox != "" && i.Name == args.IfName {
			mtu = i.Mtu
		}
	}
	w := wiring{hostVeth: HostVethName(pod), podIf: args.IfName, podIP: podIP.Unmap(), mtu: mtu}
	if err := checkWiring(podNS, w); err != nil {
		return types.NewError(types.ErrInternal, "pod wiring check failed", err.Error())
	}
	return nil
}

func logResult(log *slog.Logger, err error) {
	if err != nil {
		log.Error("failed", "err", err)
		return
	}
	log.Debug("done")
}
