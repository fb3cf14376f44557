package netnslab

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/provider/netnslab/journal"
)

// Names of a lab's kernel objects. Every namespace of a lab is "knl.<lab>.<member>": lab, node
// and switch names are DNS labels ([a-z0-9-], internal/lab), so the '.' that separates them can
// occur in none of them and no two labs can ever share a name (lab "cx" with node "ab-k01" is
// knl.cx.ab-k01, lab "cx-ab" with node "k01" is knl.cx-ab.k01). A pod's sandbox is
// "knl.<lab>.pod.<hash>", which no node namespace can be (node names have no '.'). Everything
// else a lab creates lives inside its own namespaces (bridges, veths, cali… host ends) or under
// its own state directory (<root>/<lab>), so it cannot meet another lab's either.
const (
	namespacePrefix = "knl."
	podMember       = "pod."
	// ownerAliasPrefix starts the alias knetlab gives the lo of every namespace it creates:
	// "knetlab lab <lab>", its ownership mark. It travels with the namespace (no state file can
	// get out of step with it), `ip -n <ns> link show lo` shows it, and a deploy reads it before
	// it adopts a namespace that exists already.
	ownerAliasPrefix = "knetlab lab "
)

// NamespaceName is the namespace of one member (node, switch, "network") of a lab.
func NamespaceName(labName, member string) string {
	return namespacePrefix + labName + "." + member
}

// PodNamespaceName is the named network namespace of a pod: knl.<lab>.pod.<8 hex of
// SHA-1("<namespace>/<name>")>, fixed for a pod so a repair finds it again.
func PodNamespaceName(labName, namespace, name string) string {
	sum := sha1.Sum([]byte(namespace + "/" + name))
	return NamespaceName(labName, podMember+hex.EncodeToString(sum[:])[:8])
}

// labNamespacePrefix starts the name of every namespace of labName, and of no other lab's.
func labNamespacePrefix(labName string) string { return namespacePrefix + labName + "." }

// namespaceOwner reads the ownership mark of a namespace: the lab named by its lo's alias, ""
// when it has none (a namespace knetlab did not make, or one a killed deploy made but had not
// marked yet).
func namespaceOwner(h netns.NsHandle) (string, error) {
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		return "", err
	}
	defer nl.Close()
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return "", err
	}
	owner, _ := strings.CutPrefix(lo.Attrs().Alias, ownerAliasPrefix)
	if owner == lo.Attrs().Alias {
		return "", nil
	}
	return owner, nil
}

// markOwner gives a namespace's lo the ownership mark of labName; it reports whether it changed it.
func markOwner(nl *netlink.Handle, labName string) (bool, error) {
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return false, err
	}
	if lo.Attrs().Alias == ownerAliasPrefix+labName {
		return false, nil
	}
	return true, nl.LinkSetAlias(lo, ownerAliasPrefix+labName)
}

// checkAdoptable refuses an existing namespace that another lab, or nobody knetlab knows, owns:
// one marked for another lab, or an unmarked one that labName's record does not list (its
// record is written ahead of every namespace it creates, so an unlisted one is not its own).
// An absent namespace is fine.
func checkAdoptable(name, labName string, recorded bool) error {
	if inspectNamespace(name) != nsPresent {
		return nil
	}
	h, err := openNamespace(name)
	if err != nil {
		return err
	}
	defer h.Close()
	owner, err := namespaceOwner(h)
	if err != nil {
		return fmt.Errorf("namespace %s: read its owner: %w", name, err)
	}
	switch {
	case owner == labName, owner == "" && recorded:
		return nil
	case owner != "":
		return exitcode.Usagef("namespace %s belongs to lab %s (the alias of its lo says %q): lab %s will not adopt it; knetlab destroy %s removes it",
			name, owner, ownerAliasPrefix+owner, labName, owner)
	}
	return exitcode.Usagef("namespace %s exists but lab %s did not create it (no knetlab owner mark, not in its record): remove it (ip netns del %s) if it is a leftover",
		name, labName, name)
}

// checkOwnership refuses, before deploy records or touches anything, a lab whose namespaces
// (members and pods) exist already and are not its own (checkAdoptable); it names every one.
func checkOwnership(l *lab.Lab, rec *journal.Lab) error {
	t, err := newTopology(l, BridgePerVLAN) // names do not depend on the VLAN mode
	if err != nil {
		return nil // Deploy reports the topology's problem itself
	}
	names := t.namespaceNames()
	for _, p := range l.Pods {
		names = append(names, PodNamespaceName(l.Name, p.Namespace, p.Name))
	}
	var refusals []string
	for _, ns := range rec.Namespaces {
		if !strings.HasPrefix(ns.Name, labNamespacePrefix(l.Name)) {
			return exitcode.Usagef("lab %s was deployed by an older knetlab, whose namespace names (%s) two labs could share: knetlab deploy --reconfigure %s rebuilds it under knl.%s.*",
				l.Name, ns.Name, l.Name, l.Name)
		}
	}
	for _, n := range names {
		recorded := slices.ContainsFunc(rec.Namespaces, func(x journal.Namespace) bool { return x.Name == n })
		if err := checkAdoptable(n, l.Name, recorded); err != nil {
			if exitcode.Code(err) != exitcode.Usage {
				return err
			}
			refusals = append(refusals, err.Error())
		}
	}
	if len(refusals) > 0 {
		return exitcode.Usagef("deploy %s: %s", l.Name, strings.Join(refusals, "\n  "))
	}
	return nil
}

// ownedByAnother says whether namespace name carries another lab's ownership mark, which a
// destroy of labName must leave alone even when labName's definition names it.
func ownedByAnother(name, labName string) bool {
	h, err := openNamespace(name)
	if err != nil {
		return false
	}
	defer h.Close()
	owner, err := namespaceOwner(h)
	return err == nil && owner != "" && owner != labName
}
