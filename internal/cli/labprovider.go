package cli

import (
	"context"
	"errors"
	"io/fs"

	"github.com/knetlab/knetlab/internal/exitcode"
	"github.com/knetlab/knetlab/internal/lab"
	"github.com/knetlab/knetlab/internal/labrecord"
	"github.com/knetlab/knetlab/internal/provider"
	"github.com/knetlab/knetlab/internal/safeio"
)

// deployedLab is a lab a command works on, with the record its deploy left (nil when none).
type deployedLab struct {
	lab    *lab.Lab
	record *labrecord.Record
}

// resolveDeployed resolves a lab as every command on a deployed lab does: --lab-file when
// given, else the copy of the lab file its deploy recorded, else the catalogue.
func resolveDeployed(name, file string) (*deployedLab, error) {
	if file != "" {
		l, err := lab.Resolve(name, file)
		if err != nil {
			return nil, err
		}
		rec, err := labrecord.Load(l.Name)
		if err != nil {
			return nil, err
		}
		return &deployedLab{lab: l, record: rec}, nil
	}
	rec, err := labrecord.Load(name)
	if err != nil {
		return nil, err
	}
	if def := rec.Definition(); def != "" {
		l, err := lab.Resolve(name, def)
		if err != nil {
			return nil, exitcode.Usagef("lab %s: its recorded definition: %v (give --lab-file)", name, err)
		}
		return &deployedLab{lab: l, record: rec}, nil
	}
	l, err := lab.Resolve(name, "")
	if err != nil {
		return nil, err
	}
	return &deployedLab{lab: l, record: rec}, nil
}

// optionalLab resolves the lab a command names (by name, or --lab-file) with its record; nil
// when it names none (a command over a capture).
func optionalLab(name, file string) (*lab.Lab, *labrecord.Record, error) {
	if name == "" && file == "" {
		return nil, nil, nil
	}
	dl, err := resolveDeployed(name, file)
	if err != nil {
		return nil, nil, err
	}
	return dl.lab, dl.record, nil
}

// labProvider is the provider of the lab labName: --provider when given (it must agree with
// the lab's record), else the recorded one, else the default.
func labProvider(reg *provider.Registry, rec *labrecord.Record, labName, given string) (provider.Provider, error) {
	if given != "" && !reg.Has(given) {
		return reg.Get(given) // an unknown provider, whatever the record says
	}
	name, err := labrecord.Provider(rec, labName, given, provider.Default)
	if err != nil {
		return nil, err
	}
	return reg.Get(name)
}

// deployedWithProvider resolves a deployed lab (resolveDeployed) and its provider
// (labProvider), as every command on a deployed lab needs both.
func deployedWithProvider(reg *provider.Registry, name, file, given string) (*deployedLab, provider.Provider, error) {
	dl, err := resolveDeployed(name, file)
	if err != nil {
		return nil, nil, err
	}
	p, err := labProvider(reg, dl.record, dl.lab.Name, given)
	if err != nil {
		return nil, nil, err
	}
	return dl, p, nil
}

// recordDeploy remembers that p deploys the lab, with a copy of its lab file when it came from
// one: file (--lab-file), or the copy an earlier deploy recorded.
func recordDeploy(ctx context.Context, dl *deployedLab, p provider.Provider, file string) error {
	var data []byte
	read := file
	if file == "" && dl.record.Definition() != "" {
		file, read = dl.record.LabFile, dl.record.Definition()
	}
	if read != "" {
		var err error
		data, err = safeio.ReadFile(ctx, "", read, lab.MaxFileSize)
		if errors.Is(err, fs.ErrNotExist) {
			return exitcode.Usagef("lab file %s does not exist", file)
		}
		if err != nil {
			return err
		}
	}
	return labrecord.Save(dl.lab.Name, p.Name(), file, data)
}

// forgetIfNothingBuilt removes the record a failed first deploy wrote when the provider holds
// nothing of the lab (a preflight refused it: no Docker, not root), so that later commands are
// not sent to a provider that never built it. A lab the provider knows, even half-built, keeps
// its record: destroy finds it there.
func forgetIfNothingBuilt(ctx context.Context, dl *deployedLab, p provider.Provider) {
	if dl.record != nil {
		return // deployed before: the record is older than this deploy
	}
	if st, err := p.Status(ctx, dl.lab.Name); err == nil && len(st) > 0 {
		return
	}
	_ = labrecord.Remove(dl.lab.Name)
}
