package render

import (
	"bytes"
	"fmt"
	"sort"
	"text/template"

	"github.com/knetlab/knetlab/internal/lab"
)

// SwitchAccessPort is one switch port as the startup config declares it.
type SwitchAccessPort struct {
	Interface   string // EOS name, e.g. Ethernet1
	Description string // "Connection to <node>": switch.ports checks that it names the node
	VLAN        int
}

// SwitchSVI is one VLAN interface with its gateway address.
type SwitchSVI struct {
	Interface string // e.g. Vlan10
	Address   string // e.g. 10.10.10.1/24
}

// SwitchStartup is everything the cEOS startup config says, in the order EOS prints it.
type SwitchStartup struct {
	Header   string
	Hostname string
	VLANs    []lab.VLAN
	Ports    []SwitchAccessPort
	SVIs     []SwitchSVI
}

// BuildSwitchStartup is the lab switch's startup config as a structure: VLANs by ID, access
// ports by port number, one SVI per VLAN.
func BuildSwitchStartup(l *lab.Lab) (SwitchStartup, error) {
	if l.Switch == nil {
		return SwitchStartup{}, fmt.Errorf("lab %s has no switch", l.Name)
	}
	sw := SwitchStartup{Hostname: l.Switch.Name}
	sw.VLANs = append(sw.VLANs, l.Switch.VLANs...)
	sort.Slice(sw.VLANs, func(i, j int) bool { return sw.VLANs[i].ID < sw.VLANs[j].ID })
	for _, v := range sw.VLANs {
		sw.SVIs = append(sw.SVIs, SwitchSVI{Interface: v.SVI(), Address: v.GatewayPrefix().String()})
	}
	for _, n := range switchPortOrder(l.Nodes) {
		if n.SwitchPort == "" {
			continue
		}
		if _, ok := l.VLAN(n.VLAN); !ok {
			return SwitchStartup{}, fmt.Errorf("node %s: VLAN %d is not one of switch %s's VLANs", n.Name, n.VLAN, l.Switch.Name)
		}
		sw.Ports = append(sw.Ports, SwitchAccessPort{
			Interface:   lab.EOSPort(n.SwitchPort),
			Description: "Connection to " + n.Name,
			VLAN:        n.VLAN,
		})
	}
	return sw, nil
}

// eosStartup is the startup config in EOS syntax. Management0 takes its address by DHCP and
// eAPI (http-commands) is enabled so knetlab's switch collector can log in as admin.
// "service routing protocols model multi-agent" is what current cEOS releases expect.
var eosStartup = template.Must(template.New("eos").Parse(`{{ .Header -}}
!
hostname {{ .Hostname }}
username admin privilege 15 role network-admin secret admin
!
service routing protocols model multi-agent
!
{{- range .VLANs }}
vlan {{ .ID }}
   name {{ .Name }}
!
{{- end }}
{{- range .Ports }}
interface {{ .Interface }}
   description {{ .Description }}
   switchport mode access
   switchport access vlan {{ .VLAN }}
!
{{- end }}
interface Management0
   ip address dhcp
!
{{- range .SVIs }}
interface {{ .Interface }}
   ip address {{ .Address }}
   no shutdown
!
{{- end }}
ip routing
!
management api http-commands
   no shutdown
!
end
`))

// SwitchConfig renders the cEOS startup config.
func SwitchConfig(l *lab.Lab) ([]byte, error) {
	sw, err := BuildSwitchStartup(l)
	if err != nil {
		return nil, err
	}
	sw.Header = header(l, "!", "cEOS startup config of "+l.Switch.Name)
	var b bytes.Buffer
	if err := eosStartup.Execute(&b, sw); err != nil {
		return nil, fmt.Errorf("EOS template: %w", err)
	}
	return b.Bytes(), nil
}
