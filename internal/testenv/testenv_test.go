package testenv

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
)

// skipRecorder is a testing.TB that records a skip and ends the goroutine that called it,
// as t.Skip does.
type skipRecorder struct {
	testing.TB
	skipped string
}

func (r *skipRecorder) Helper()          {}
func (r *skipRecorder) Skip(args ...any) { r.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (r *skipRecorder) Skipf(f string, args ...any) {
	r.skipped = fmt.Sprintf(f, args...)
	runtime.Goexit()
}

// skipReason runs require as euid with -short set to short, and returns why it skipped ("" if
// it did not).
func skipReason(t *testing.T, short bool, euid int, require func(testing.TB)) string {
	t.Helper()
	was := flag.Lookup("test.short").Value.String()
	if err := flag.Set("test.short", fmt.Sprint(short)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { flag.Set("test.short", was) })
	orig := geteuid
	geteuid = func() int { return euid }
	t.Cleanup(func() { geteuid = orig })

	r := &skipRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		require(r)
	}()
	<-done
	return r.skipped
}

func TestRequireRoot(t *testing.T) {
	if why := skipReason(t, false, 1000, RequireRoot); !strings.Contains(why, "needs root") {
		t.Errorf("not root: skip reason %q, want it to say it needs root", why)
	}
	if why := skipReason(t, true, 0, RequireRoot); why != "" {
		t.Errorf("root under -short: skipped (%q); RequireRoot is not about namespaces", why)
	}
}

func TestRequireLab(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	lab := func(tools ...string) func(testing.TB) {
		return func(tb testing.TB) { RequireLab(tb, tools...) }
	}
	tests := []struct {
		name  string
		short bool
		euid  int
		tools []string
		want  []string // substrings of the skip reason; none: no skip
	}{
		{"-short, even as root", true, 0, nil, []string{"-short", "network namespaces", "without -short, as root"}},
		{"not root", false, 1000, nil, []string{"needs root", "network namespaces"}},
		{"a tool missing", false, 0, []string{self, "knetlab-no-such-tool", "nor-this-one"}, []string{"knetlab-no-such-tool, nor-this-one", "missing"}},
		{"root with every tool", false, 0, []string{self}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why := skipReason(t, tt.short, tt.euid, lab(tt.tools...))
			if len(tt.want) == 0 && why != "" {
				t.Fatalf("skipped: %q", why)
			}
			if len(tt.want) > 0 && why == "" {
				t.Fatal("did not skip")
			}
			for _, w := range tt.want {
				if !strings.Contains(why, w) {
					t.Errorf("skip reason %q lacks %q", why, w)
				}
			}
		})
	}
}
