package manifests_test

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dockerfile is what the tests read from build/Dockerfile: the go build of the build stage, and
// how the final stage installs and runs its output.
type dockerfile struct {
	buildEnv   []string // VAR=value before `go`, e.g. CGO_ENABLED=0
	buildArgs  []string // after `go`: build, its flags, the package
	output     string   // the -o path
	copyFrom   string   // COPY --from=build SRC DEST
	copyTo     string
	entrypoint []string
}

// readDockerfile parses build/Dockerfile as far as the tests need.
func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	data, err := os.ReadFile("../../build/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var df dockerfile
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		instr, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(instr) {
		case "RUN":
			if env, args, ok := goBuild(shellWords(t, rest)); ok {
				if df.buildArgs != nil {
					t.Fatalf("build/Dockerfile runs go build twice")
				}
				df.buildEnv, df.buildArgs = env, args
			}
		case "COPY":
			if words := strings.Fields(rest); len(words) == 3 && words[0] == "--from=build" {
				df.copyFrom, df.copyTo = words[1], words[2]
			}
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &df.entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s: %v (the exec form is expected)", rest, err)
			}
		}
	}
	if df.buildArgs == nil {
		t.Fatal("build/Dockerfile runs no go build")
	}
	if i := slices.Index(df.buildArgs, "-o"); i >= 0 && i+1 < len(df.buildArgs) {
		df.output = df.buildArgs[i+1]
	}
	return df
}

// goBuild finds `[VAR=value...] go build ...` in a RUN command's words, up to the end of that
// command (&&, ;, ||).
func goBuild(words []string) (env, args []string, ok bool) {
	for i := 0; i+1 < len(words); i++ {
		if words[i] != "go" || words[i+1] != "build" {
			continue
		}
		start := i
		for start > 0 && strings.Contains(words[start-1], "=") && !strings.HasPrefix(words[start-1], "-") {
			start--
		}
		end := len(words)
		for j := i; j < len(words); j++ {
			if words[j] == "&&" || words[j] == ";" || words[j] == "||" {
				end = j
				break
			}
		}
		return words[start:i], words[i+1 : end], true
	}
	return nil, nil, false
}

// shellWords splits a shell-form command into words as /bin/sh would for a plain command:
// whitespace separates, quotes group, a backslash escapes outside single quotes.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var word strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			word.WriteRune(r)
			escaped = false
		case quote == '\'' && r == '\'', quote == '"' && r == '"':
			quote = 0
		case quote == '\'':
			word.WriteRune(r)
		case r == '\\':
			escaped, inWord = true, true
		case quote == '"':
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

// The image's entrypoint is the binary the build stage makes, built without cgo: the agent
// copies it onto the node as the CNI plugin, where the node's libc is not the image's.
func TestDockerfileImageRunsItsBuild(t *testing.T) {
	df := readDockerfile(t)
	if !slices.Contains(df.buildEnv, "CGO_ENABLED=0") {
		t.Errorf("the go build runs with %v, want CGO_ENABLED=0", df.buildEnv)
	}
	if df.output == "" || df.output != df.copyFrom {
		t.Errorf("the go build writes %q, the final stage copies %q from the build stage", df.output, df.copyFrom)
	}
	if len(df.entrypoint) != 1 || df.entrypoint[0] != df.copyTo {
		t.Errorf("ENTRYPOINT %q, want the copied binary %s alone (the DaemonSet's args start with the agent command)", df.entrypoint, df.copyTo)
	}
}

// build/Dockerfile's go build, run for real on this tree (same package, flags and environment;
// only the output lands in a temporary directory): it must make a static binary that runs as
// the agent the DaemonSet starts.
func TestDockerfileBuildsTheAgentBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the knetlab binary as build/Dockerfile does, which takes a while; run without -short")
	}
	df := readDockerfile(t)
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to run the Dockerfile's build: %v", err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(df.output))
	args := slices.Clone(df.buildArgs)
	args[slices.Index(args, "-o")+1] = bin
	build := exec.Command(gobin, args...)
	build.Dir = "../.." // the Dockerfile builds in a copy of the repository root
	build.Env = append(os.Environ(), df.buildEnv...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s go %s: %v\n%s", strings.Join(df.buildEnv, " "), strings.Join(df.buildArgs, " "), err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked (it has an ELF interpreter); the node's libc would have to match")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}

	var stdout, stderr bytes.Buffer
	help := exec.Command(bin, "agent", "--help")
	help.Stdout, help.Stderr = &stdout, &stderr
	if err := help.Run(); err != nil {
		t.Fatalf("%s agent --help: %v\n%s%s", bin, err, stdout.String(), stderr.String())
	}
	for _, flag := range []string{"--datastore", "--install-cni"} {
		if !strings.Contains(stdout.String(), flag) {
			t.Errorf("%s agent --help does not list %s:\n%s", bin, flag, stdout.String())
		}
	}
}
