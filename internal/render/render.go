// Package render turns a lab into the files a student can hand to containerlab, kind and
// Calico directly: the containerlab topology, the kind config, the Calico operator resources
// and the cEOS startup config.
package render

import (
	"errors"

	"github.com/knetlab/knetlab/internal/lab"
)

// File is one rendered file, with its path relative to the repository root.
type File struct {
	Path string // e.g. topologies/calico-overlay.clab.yaml, configs/calico-overlay/kind.yaml
	Data []byte
}

// Render returns every file of the lab.
func Render(l *lab.Lab) ([]File, error) {
	return nil, errors.New("render: not implemented yet")
}
