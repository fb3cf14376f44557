// Package labs holds the built-in lab catalogue. Each lab is one lab.yaml, the single
// source of truth that the renderers, providers and verify read.
package labs

import "embed"

// FS holds every labs/<lab>/lab.yaml, compiled into the binary.
//
//go:embed */lab.yaml
var FS embed.FS
