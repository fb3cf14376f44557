// Package labrecord remembers, per deployed lab, which provider deployed it and, for a lab
// deployed with --lab-file, a copy of its definition: so that verify, capture, status, exec and
// destroy find the lab where it is without --provider, and a lab from a file is known by name.
//
// The record is provider-neutral and apart from any provider's own state:
// <root>/.labs/<lab>/provider.json and <root>/.labs/<lab>/lab.yaml, where <root> is the state
// root the netns journal uses too (/run/knetlab, $KNETLAB_STATE_DIR overrides it). The netns
// journal keeps <root>/<lab>/; a name starting with "." is no lab's (lab names are DNS labels)
// and the journal skips it, so neither ever reads or removes the other's files.
package labrecord

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/knetlab/knetlab/internal/exitcode"
)

// DefaultRoot is the state root of a root user; /run is a tmpfs, so records go with the labs
// on a reboot.
const DefaultRoot = "/run/knetlab"

// Root is the state root in effect: $KNETLAB_STATE_DIR, else /run/knetlab for root, else
// $XDG_RUNTIME_DIR/knetlab (a user's /run/user/<uid>) for a user allowed to run containerlab.
func Root() string {
	if d := os.Getenv("KNETLAB_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && os.Geteuid() != 0 {
		return filepath.Join(d, "knetlab")
	}
	return DefaultRoot
}

// Record is what knetlab remembers of one deployed lab.
type Record struct {
	Version  int       `json:"version"`
	Lab      string    `json:"lab"`
	Provider string    `json:"provider"`
	LabFile  string    `json:"labFile,omitempty"` // the --lab-file it was deployed from, as given
	Deployed time.Time `json:"deployed"`
	dir      string
}

const version = 1

func dir(labName string) string { return filepath.Join(Root(), ".labs", labName) }

// labName is a lab's name as internal/lab validates it, a DNS label: anything else (a path
// such as "../..", given to destroy) is no lab's and names no record.
var labName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func isLab(name string) bool { return len(name) <= 63 && labName.MatchString(name) }

// Definition is the path of the record's copy of the lab file, "" when the lab came from the
// built-in catalogue.
func (r *Record) Definition() string {
	if r == nil || r.LabFile == "" {
		return ""
	}
	return filepath.Join(r.dir, "lab.yaml")
}

// Load returns the lab's record, nil when there is none.
func Load(labName string) (*Record, error) {
	if !isLab(labName) {
		return nil, nil
	}
	d := dir(labName)
	data, err := os.ReadFile(filepath.Join(d, "provider.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, exitcode.NewEnvironment(fmt.Errorf("read the record of lab %s: %w", labName, err),
			"run as the user who deployed it (or with the same KNETLAB_STATE_DIR)")
	}
	r := &Record{dir: d}
	if err := json.Unmarshal(data, r); err != nil || r.Provider == "" {
		if err == nil {
			err = errors.New("no provider")
		}
		return nil, exitcode.Usagef("the record of lab %s (%s) is damaged: %v; give --provider, and destroy the lab to remove it",
			labName, filepath.Join(d, "provider.json"), err)
	}
	return r, nil
}

// All returns the record of every lab that has one.
func All() ([]*Record, error) {
	entries, err := os.ReadDir(filepath.Join(Root(), ".labs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list lab records: %w", err)
	}
	var out []*Record
	for _, e := range entries {
		r, err := Load(e.Name())
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// Save records that provider deployed labName; labFile and definition are the --lab-file and
// its bytes (both empty for a lab of the catalogue). Files are written atomically.
func Save(labName, provider, labFile string, definition []byte) error {
	if !isLab(labName) {
		return exitcode.Usagef("%q is not a lab name", labName)
	}
	d := dir(labName)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return exitcode.NewEnvironment(fmt.Errorf("record lab %s: %w", labName, err),
			"run as root, or set KNETLAB_STATE_DIR to a directory you can write")
	}
	r := Record{Version: version, Lab: labName, Provider: provider, Deployed: time.Now().UTC(), dir: d}
	if labFile != "" {
		if abs, err := filepath.Abs(labFile); err == nil {
			labFile = abs
		}
		r.LabFile = labFile
		if err := writeAtomic(r.Definition(), definition); err != nil {
			return err
		}
	} else if err := os.Remove(filepath.Join(d, "lab.yaml")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("record lab %s: %w", labName, err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(d, "provider.json"), append(data, '\n'))
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// Remove deletes the lab's record; none is success.
func Remove(labName string) error {
	if !isLab(labName) {
		return nil
	}
	if err := os.RemoveAll(dir(labName)); err != nil {
		return fmt.Errorf("remove the record of lab %s: %w", labName, err)
	}
	_ = os.Remove(filepath.Join(Root(), ".labs")) // fails, as it should, while other labs have records
	if os.Getenv("KNETLAB_STATE_DIR") == "" {
		_ = os.Remove(Root()) // knetlab's own root, when nothing else is left in it; a root the user named stays
	}
	return nil
}

// Provider is the provider a command on labName uses: the one given with --provider (given),
// else the recorded one, else def. A --provider that contradicts the record is bad usage: the
// lab is not where the user says.
func Provider(r *Record, labName, given, def string) (string, error) {
	switch {
	case r == nil && given == "":
		return def, nil
	case r == nil:
		return given, nil
	case given == "" || given == r.Provider:
		return r.Provider, nil
	}
	return "", exitcode.Usagef("lab %s was deployed with --provider %s, not --provider %s (drop --provider, or destroy the lab first)",
		labName, r.Provider, given)
}
