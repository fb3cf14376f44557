// Package safeio is how knetlab reads a file a user hands it — a lab file (--lab-file), the files
// of a capture directory (verify --from) — so that no such file can hang a command, exhaust its
// memory or make it read what the user did not point at:
//
//   - Only regular files are read. A FIFO, a device (/dev/zero), a socket or a directory is
//     refused from its metadata, before it is opened; the file is then opened with O_NONBLOCK (a
//     FIFO swapped in meanwhile cannot block the open) and checked again on the open descriptor.
//   - Inside a root (a capture directory) a path may pass through symbolic links only when they
//     are relative and stay inside the root; anything else is refused without being opened.
//     The path is walked one component at a time from the root's open directory, never
//     following a link blindly (os.Root), so a link swapped in between check and open cannot
//     escape either. A file named directly by the user (root "")
//     may be a link to any regular file: the user chose it, as with cat.
//   - At most limit bytes are read: a larger file is refused from its size at once, and the read
//     itself is bounded, so a file that grows, or claims a size it does not have, cannot push
//     past the limit.
//   - The read stops when ctx is done, between chunks of ChunkSize.
//
// Every refusal is a usage error (exit 2) naming the file, what it is, and what to do.
package safeio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/knetlab/knetlab/internal/exitcode"
)

// MaxFileSize is the most knetlab reads from one file of a capture: a node's routing table with
// a million routes is ~50 MiB of `ip route` text.
const MaxFileSize int64 = 64 << 20

// ChunkSize is how much is read between two looks at the context.
const ChunkSize = 1 << 20

// Refused is a file knetlab will not read: what it is, and what the user can do.
type Refused struct {
	Path   string
	Reason string // e.g. "is a named pipe (FIFO), not a regular file"
	Fix    string
}

func (e *Refused) Error() string { return fmt.Sprintf("%s %s: %s", e.Path, e.Reason, e.Fix) }

func refuse(path, reason, fix string) error {
	return exitcode.NewUsage(&Refused{Path: path, Reason: reason, Fix: fix})
}

const regularFix = "knetlab reads only regular files; save the output to a file (command > file) and give that"

// ReadFile reads the regular file path, at most limit bytes, stopping when ctx is done. When
// root is not "", path must lie inside root and every link on the way must be relative and stay
// inside it. A file that does not exist gives an error that wraps fs.ErrNotExist.
func ReadFile(ctx context.Context, root, path string, limit int64) ([]byte, error) {
	f, err := open(root, path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat() // the descriptor itself: what was opened is what is judged
	if err != nil {
		return nil, exitcode.Usagef("read %s: %v", path, err)
	}
	if err := check(path, info, limit); err != nil {
		return nil, err
	}
	return read(ctx, path, f, info.Size(), limit)
}

// ReadDir lists the directory path inside root (links as for ReadFile), sorted by name. An
// entry that is a link inside root is listed as what it leads to; a link out of root is refused.
// A directory that does not exist gives an error that wraps fs.ErrNotExist.
func ReadDir(ctx context.Context, root, path string) ([]fs.DirEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, rel, info, err := statInRoot(root, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if !info.IsDir() {
		return nil, refuse(path, "is "+kind(info.Mode())+", not a directory", "the capture layout has a directory here (docs/capture.md)")
	}
	f, err := r.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, statError(root, path, err)
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, exitcode.Usagef("read %s: %v", path, err)
	}
	for i, e := range entries {
		if e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		info, err := r.Stat(filepath.Join(rel, e.Name()))
		switch {
		case err == nil:
			entries[i] = fs.FileInfoToDirEntry(info)
		case !errors.Is(err, fs.ErrNotExist): // a dangling link stays a link, which no layout entry is
			return nil, statError(root, filepath.Join(path, e.Name()), err)
		}
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// open checks path's metadata and opens it without blocking.
func open(root, path string, limit int64) (*os.File, error) {
	const flags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY
	if root == "" {
		info, err := os.Stat(path) // follows links: the user named this file
		if err != nil {
			return nil, statError("", path, err)
		}
		if err := checkNamed(path, info, limit); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, flags, 0)
		if err != nil {
			return nil, statError("", path, err)
		}
		return f, nil
	}
	r, rel, info, err := statInRoot(root, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if err := check(path, info, limit); err != nil {
		return nil, err
	}
	f, err := r.OpenFile(rel, flags, 0)
	if err != nil {
		return nil, statError(root, path, err)
	}
	return f, nil
}

// statInRoot opens root and stats path inside it, following links only inside root. It returns
// the open root (the caller closes it) and path relative to it.
func statInRoot(root, path string) (*os.Root, string, fs.FileInfo, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil || !filepath.IsLocal(rel) {
		return nil, "", nil, refuse(path, "is outside the capture directory "+root, "give a path inside it")
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, "", nil, exitcode.Usagef("open %s: %v", root, err)
	}
	info, err := r.Stat(rel)
	if err != nil {
		r.Close()
		return nil, "", nil, statError(root, path, err)
	}
	return r, rel, info, nil
}

// checkNamed is check for a file the user named, saying where a link led.
func checkNamed(path string, info fs.FileInfo, limit int64) error {
	err := check(path, info, limit)
	var r *Refused
	if errors.As(err, &r) && !info.Mode().IsRegular() {
		if target, lerr := filepath.EvalSymlinks(path); lerr == nil && target != filepath.Clean(path) {
			r.Reason = fmt.Sprintf("is a symlink to %s, %s, not a regular file", target, kind(info.Mode()))
		}
	}
	return err
}

// check refuses what is not a regular file of at most limit bytes.
func check(path string, info fs.FileInfo, limit int64) error {
	if !info.Mode().IsRegular() {
		return refuse(path, "is "+kind(info.Mode())+", not a regular file", regularFix)
	}
	if info.Size() > limit {
		return refuse(path, fmt.Sprintf("is %s, more than the %s knetlab reads from one file", size(info.Size()), size(limit)),
			"check that it is the file you meant (a lab file is a few KiB, a node's tables a few MiB)")
	}
	return nil
}

// kind names a file mode for a person.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsRegular():
		return "a regular file"
	}
	return "not a file knetlab can read (" + m.Type().String() + ")"
}

func size(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// statError turns an error of Stat or Open into what the user needs: absent (wrapping
// fs.ErrNotExist), a link that leaves the root, or the system's own words.
func statError(root, path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return exitcode.NewUsage(fmt.Errorf("%s does not exist: %w", path, fs.ErrNotExist))
	}
	if root != "" && !errors.Is(err, fs.ErrPermission) {
		if r := escape(root, path); r != nil {
			return exitcode.NewUsage(r)
		}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return exitcode.Usagef("read %s: %v", path, err)
}

// escape explains why os.Root refused path: a link that leads out of root, or an absolute one.
func escape(root, path string) *Refused {
	realRoot, err := realPath(root)
	if err != nil {
		return nil
	}
	// The first link on the way is the one to name.
	rel, _ := filepath.Rel(root, path)
	at := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		at = filepath.Join(at, part)
		info, err := os.Lstat(at)
		if err != nil {
			return nil
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		link, _ := os.Readlink(at)
		target, err := realPath(at)
		if err != nil {
			target = link
		}
		if target == realRoot || strings.HasPrefix(target, realRoot+string(filepath.Separator)) {
			return &Refused{Path: at, Reason: "is an absolute symlink (to " + link + ")",
				Fix: "links inside a capture must be relative, so that it reads the same wherever it is unpacked: replace it with ln -sr"}
		}
		return &Refused{Path: at, Reason: "is a symlink to " + target + ", outside the capture directory " + root,
			Fix: "knetlab follows links only inside the capture; copy what it points to into the capture"}
	}
	return nil
}

// realPath is path absolute and with every link resolved.
func realPath(path string) (string, error) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// read reads at most limit bytes of f, whose size is claimed, checking ctx between chunks.
func read(ctx context.Context, path string, f io.Reader, claimed, limit int64) ([]byte, error) {
	buf := make([]byte, 0, min(claimed, limit)+1)
	r := io.LimitReader(f, limit+1)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), len(buf)+ChunkSize)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, refuse(path, fmt.Sprintf("holds more than the %s knetlab reads from one file (its size said %s)", size(limit), size(claimed)),
				"check that it is the file you meant, and that nothing is still writing it")
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, exitcode.Usagef("read %s: %v", path, err)
		}
	}
}
