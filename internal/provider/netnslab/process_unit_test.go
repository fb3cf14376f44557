package netnslab

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A descriptor knetlab inherited (flock's locked one) does not reach a lab daemon.
func TestInheritedDescriptorsAreNotPassedToDaemons(t *testing.T) {
	fd, err := unix.Open(filepath.Join(t.TempDir(), "lock"), unix.O_CREAT|unix.O_RDWR, 0o644) // no O_CLOEXEC, as flock(1) leaves it
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	keepInheritedDescriptors()
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.FD_CLOEXEC == 0 {
		t.Error("an inherited descriptor stays open across exec: a lab daemon would hold it")
	}
}
