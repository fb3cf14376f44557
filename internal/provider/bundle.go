package provider

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/knetlab/knetlab/internal/lab"
)

// VersionsFile is the bundle's record of what a lab ran with.
const VersionsFile = "versions.txt"

// Bundle is what a capture of l carries beside the lab's facts and tables: versions.txt, whose
// first line is knetlab's own version (given by the command line) on every provider, followed
// by the provider's lines and its other files when it is a Bundler.
func Bundle(ctx context.Context, p Provider, l *lab.Lab, knetlab string) (map[string][]byte, error) {
	commit := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				commit = s.Value
			}
		}
	}
	head := fmt.Sprintf("knetlab: %s (commit %s, %s, %s/%s)\nprovider: %s\nlab: %s (%s)\n",
		knetlab, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, p.Name(), l.Name, l.Source)
	files := map[string][]byte{}
	if b, ok := p.(Bundler); ok {
		extra, err := b.Bundle(ctx, l)
		if err != nil {
			return nil, err
		}
		for name, data := range extra {
			files[name] = data
		}
	}
	files[VersionsFile] = append([]byte(head), files[VersionsFile]...)
	return files, nil
}
