// Package calico holds the words of Calico's API that the lab model, the datastore, the
// dataplane and the verify engine all use, so that each spells them once. It is a leaf: it
// imports nothing of knetlab, so the product and the judge can share it without depending on
// each other. What a word means for routing stays with each user: internal/dataplane programs it
// and verify/expect demands it, apart.
package calico

// EncapMode is an IPPool's vxlanMode or ipipMode, spelled as Calico spells it. The empty mode is
// an unset field, which Calico treats as Never.
type EncapMode string

// The encapsulation modes of an IPPool.
const (
	EncapNever       EncapMode = "Never"
	EncapAlways      EncapMode = "Always"
	EncapCrossSubnet EncapMode = "CrossSubnet"
)

// Valid reports whether m is one of Calico's spellings. The empty mode is not; callers that
// accept an unset field check for "" first.
func (m EncapMode) Valid() bool {
	switch m {
	case EncapNever, EncapAlways, EncapCrossSubnet:
		return true
	}
	return false
}

// OrNever returns m, or Never when m is unset, as Calico reads an absent mode.
func (m EncapMode) OrNever() EncapMode {
	if m == "" {
		return EncapNever
	}
	return m
}
