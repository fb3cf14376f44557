package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/ui"
)

func newLabCmd(s *ui.Streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "lab",
		Short: "List the built-in labs and show what a lab is made of",
	}
	c.AddCommand(newLabListCmd(s), newLabShowCmd(s))
	return c
}

func newLabListCmd(s *ui.Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the labs of the built-in catalogue",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			labs, err := lab.All()
			if err != nil {
				return err
			}
			var rows [][]string
			for _, l := range labs {
				sw := "-"
				if l.Switch != nil {
					sw = l.Switch.Name + " (" + l.Switch.Kind + ")"
				}
				rows = append(rows, []string{l.Name, fmt.Sprintf("%02d %s", l.Lesson.Number, l.Lesson.Title), strconv.Itoa(len(l.Nodes)), sw})
			}
			s.Table([]string{"LAB", "LESSON", "NODES", "SWITCH"}, rows)
			return nil
		},
	}
}

type labShowFlags struct{ lab labFlag }

func newLabShowCmd(s *ui.Streams) *cobra.Command {
	f := &labShowFlags{}
	c := &cobra.Command{
		Use:   "show <lab>",
		Short: "Show a lab's addressing, switch ports and VLANs, pools and lesson",
		Example: `  knetlab lab show calico-overlay
  knetlab lab show --lab-file ./my-lab.yaml`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeLabs,
		RunE: func(_ *cobra.Command, args []string) error {
			l, err := lab.Resolve(argOr(args, 0), f.lab.file)
			if err != nil {
				return err
			}
			showLab(s, l)
			return nil
		},
	}
	f.lab.register(c)
	return c
}

func showLab(s *ui.Streams, l *lab.Lab) {
	s.Heading("%s — lesson %02d: %s", l.Name, l.Lesson.Number, l.Lesson.Title)
	if l.Lesson.Summary != "" {
		s.Text("", l.Lesson.Summary)
	}
	fmt.Fprintf(s.Out, "source: %s\n", l.Source)
	fmt.Fprintln(s.Out)

	c := l.Cluster
	s.Heading("Kind cluster %s", c.Name)
	s.Table([]string{"NODE IMAGE", "POD SUBNET", "SERVICE SUBNET", "MANAGEMENT"},
		[][]string{{c.NodeImage, c.PodSubnet.String(), c.ServiceSubnet.String(), c.ManagementSubnet.String()}})
	fmt.Fprintln(s.Out)

	s.Heading("Addressing")
	var rows [][]string
	for _, n := range l.Nodes {
		port, vlan, gw := "-", "-", "-"
		if l.Switch != nil {
			port = fmt.Sprintf("%s:%s (%s)", l.Switch.Name, n.SwitchPort, lab.EOSPort(n.SwitchPort))
			if v, ok := l.VLAN(n.VLAN); ok {
				vlan = fmt.Sprintf("%d %s", v.ID, v.Name)
				gw = v.Gateway.String()
			}
		}
		mgmt := "-"
		if n.Management.IsValid() {
			mgmt = n.Management.String()
		}
		rows = append(rows, []string{n.Name, string(n.Role), n.Interface, n.Address.String(), gw, port, vlan, mgmt})
	}
	s.Table([]string{"NODE", "ROLE", "IFACE", "ADDRESS", "GATEWAY", "SWITCH PORT", "VLAN", "ETH0 (MGMT)"}, rows)
	fmt.Fprintln(s.Out)

	if sw := l.Switch; sw != nil {
		s.Heading("Switch %s (%s, %s)", sw.Name, sw.Kind, sw.Image)
		rows = nil
		for _, v := range sw.VLANs {
			var ports []string
			for _, n := range l.Nodes {
				if n.VLAN == v.ID {
					ports = append(ports, lab.EOSPort(n.SwitchPort))
				}
			}
			rows = append(rows, []string{strconv.Itoa(v.ID), v.Name, v.Subnet.String(), v.SVI() + " " + v.GatewayPrefix().String(), strings.Join(ports, ",")})
		}
		s.Table([]string{"VLAN", "NAME", "SUBNET", "SVI", "ACCESS PORTS"}, rows)
		fmt.Fprintln(s.Out)
	}

	s.Heading("Calico %s pools", l.CNI.Calico.Version)
	rows = nil
	for _, p := range l.CNI.Pools {
		rows = append(rows, []string{p.Name, p.CIDR.String(), "/" + strconv.Itoa(p.BlockSize), string(p.VXLANMode), string(p.IPIPMode), strconv.FormatBool(p.NATOutgoing), p.NodeSelector})
	}
	s.Table([]string{"POOL", "CIDR", "BLOCK", "VXLAN", "IPIP", "NAT OUT", "SELECTOR"}, rows)
	if ad := l.CNI.Calico.NodeAddressAutodetectionV4; ad != nil {
		var cidrs []string
		for _, p := range ad.CIDRs {
			cidrs = append(cidrs, p.String())
		}
		s.Text("node address autodetection: ", "cidrs "+strings.Join(cidrs, ", "))
	}
	fmt.Fprintln(s.Out)

	if b := l.BGP; b != nil {
		mesh := "off"
		if b.NodeToNodeMesh {
			mesh = "on"
		}
		s.Heading("BGP: AS %d, node-to-node mesh %s", b.ASNumber, mesh)
		if len(b.Peers) > 0 {
			rows = nil
			for _, p := range b.Peers {
				addr := p.Address(l).String()
				if p.Reflector != "" {
					addr += " (reflector " + p.Reflector + ")"
				}
				rows = append(rows, []string{p.Name, addr, strconv.FormatUint(uint64(p.ASNumber), 10), p.NodeSelector})
			}
			s.Table([]string{"PEER", "ADDRESS", "AS", "NODES"}, rows)
		}
		if len(b.RouteReflectors) > 0 {
			rows = nil
			for _, rr := range b.RouteReflectors {
				c := rr.Clients
				rows = append(rows, []string{rr.Name, rr.Address.String(), strconv.FormatUint(uint64(rr.ASNumber), 10), rr.RouterID.String(), rr.ClusterID.String(),
					fmt.Sprintf("%s (%s, AS %d)", c.Prefix, c.PeerGroup, c.PeerAS), rr.Image})
			}
			s.Table([]string{"REFLECTOR", "ADDRESS", "AS", "ROUTER ID", "CLUSTER ID", "CLIENTS", "IMAGE"}, rows)
		}
		fmt.Fprintln(s.Out)
	}

	if len(l.Pods) > 0 {
		s.Heading("Test pods")
		rows = nil
		for _, p := range l.Pods {
			svc := "-"
			if p.Service != nil {
				svc = fmt.Sprintf("%s %s:%d", p.Service.Type, p.Service.Name, p.Service.Port)
			}
			rows = append(rows, []string{p.Namespace + "/" + p.Name, p.Node, p.Image, svc})
		}
		s.Table([]string{"POD", "NODE", "IMAGE", "SERVICE"}, rows)
		fmt.Fprintln(s.Out)
	}
	s.Text("checks: ", strings.Join(l.Checks, ", "))
}
