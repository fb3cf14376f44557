// Package archtest holds the tests that keep knetlab's package boundaries where
// docs/architecture.md draws them: they read the import graph with `go list`, so a boundary
// crossed in code fails here before a reader finds it.
package archtest

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/knetlab/knetlab"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath string
	Name       string
	Imports    []string
}

// moduleRoot is the directory holding go.mod, two levels up from this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

// packages lists every package of the module with its (non-test) imports.
func packages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = moduleRoot(t)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, module+"/")] = p
	}
	return pkgs
}

// local returns the module's own packages among imports, relative to the module.
func local(imports []string) []string {
	var out []string
	for _, imp := range imports {
		if strings.HasPrefix(imp, module+"/") {
			out = append(out, strings.TrimPrefix(imp, module+"/"))
		}
	}
	return out
}

// The engine packages a command must not reach into: a command is a flag struct plus a call
// into a provider, the verify engine or the agent.
var engine = []string{
	"internal/provider/netnslab", "internal/provider/clab", "internal/datastore", "internal/cni",
	"internal/ipam", "internal/dataplane", "internal/collect",
}

func within(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

func TestCLIImportsNoEnginePackage(t *testing.T) {
	p, ok := packages(t)["internal/cli"]
	if !ok {
		t.Fatal("internal/cli not found")
	}
	for _, imp := range local(p.Imports) {
		for _, e := range engine {
			if within(imp, e) {
				t.Errorf("internal/cli imports %s: commands call providers, the verify engine or agent.Run, never an engine package", imp)
			}
		}
	}
}

// The judge (verify/...) must not depend on what it judges: no provider, agent, dataplane,
// datastore or lab model. internal/safeio is allowed because it knows nothing of the product:
// it is how every file a user hands knetlab (a capture's, a lab file) is read, and the capture
// reader must read its files the same safe way the lab loader does (TestSafeIOIsALeaf keeps it so).
func TestVerifyIsSelfContained(t *testing.T) {
	allowed := []string{"verify", "internal/exitcode", "internal/ui", "internal/calico", "internal/safeio"}
	for path, p := range packages(t) {
		if !within(path, "verify") {
			continue
		}
		for _, imp := range local(p.Imports) {
			ok := false
			for _, a := range allowed {
				ok = ok || within(imp, a)
			}
			if !ok {
				t.Errorf("%s imports %s: the verify engine takes its inputs through verify/source and verify/spec only", path, imp)
			}
		}
	}
}

// verify/source is the leaf that providers implement: it must not pull in the engine.
func TestSourceIsALeaf(t *testing.T) {
	p, ok := packages(t)["verify/source"]
	if !ok {
		t.Fatal("verify/source not found")
	}
	for _, imp := range local(p.Imports) {
		if imp != "verify/facts" && imp != "verify/observed" {
			t.Errorf("verify/source imports %s; it may import only verify/facts and verify/observed", imp)
		}
	}
}

// internal/safeio reads files and knows nothing else: it may import only internal/exitcode, so
// that allowing it to the judge lets nothing of the product in.
func TestSafeIOIsALeaf(t *testing.T) {
	p, ok := packages(t)["internal/safeio"]
	if !ok {
		t.Fatal("internal/safeio not found")
	}
	for _, imp := range local(p.Imports) {
		if imp != "internal/exitcode" {
			t.Errorf("internal/safeio imports %s; it may import only internal/exitcode", imp)
		}
	}
}

// The packages that read files a user hands knetlab read them only through internal/safeio:
// a second way in would be a second place where a FIFO hangs or /dev/zero is read to the end.
func TestUserFilesAreReadThroughSafeIO(t *testing.T) {
	read := regexp.MustCompile(`\bos\.(ReadFile|Open|OpenFile|ReadDir|OpenRoot|OpenInRoot)\(`)
	for _, dir := range []string{"verify/capture", "internal/lab"} {
		files, err := filepath.Glob(filepath.Join(moduleRoot(t), dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range strings.Split(string(data), "\n") {
				if m := read.FindString(line); m != "" {
					t.Errorf("%s/%s:%d calls %s: read a user's file with internal/safeio", dir, filepath.Base(f), i+1, strings.TrimSuffix(m, "("))
				}
			}
		}
	}
}

func TestOneBinary(t *testing.T) {
	var mains []string
	for path, p := range packages(t) {
		if p.Name == "main" && within(path, "cmd") {
			mains = append(mains, path)
		}
	}
	sort.Strings(mains)
	if len(mains) != 1 || mains[0] != "cmd/knetlab" {
		t.Errorf("cmd/ holds %v; want cmd/knetlab only (the CNI plugin and the lab's daemons are the same binary)", mains)
	}
}

// docs/architecture.md names every package of the module, and every package it names exists.
func TestArchitectureDocMatchesPackages(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	pkgs := packages(t)
	for path := range pkgs {
		if !strings.Contains(doc, path) {
			t.Errorf("docs/architecture.md does not mention package %s", path)
		}
	}
	named := regexp.MustCompile("`((?:internal|verify|cmd|deploy|labs|scripts)(?:/[a-z0-9]+)*)/?`")
	for _, m := range named.FindAllStringSubmatch(doc, -1) {
		if _, ok := pkgs[m[1]]; !ok {
			if _, err := os.Stat(filepath.Join(moduleRoot(t), m[1])); err != nil {
				t.Errorf("docs/architecture.md names %s, which is neither a package nor a path of the module", m[1])
			}
		}
	}
}

// privateContract is how the team's own contract is cited (its file name, upper-cased). Users
// do not have it: what they need of it lives in docs/.
var privateContract = strings.ToUpper("spec")

// The product stands on its own: no code, help text or doc cites the team's private contract.
func TestNoPrivateContractCited(t *testing.T) {
	root := moduleRoot(t)
	// Any occurrence, not only a whole word: the file name, a section sign, and an identifier
	// that holds the name (a generated enum's zero value) all read as a citation.
	cite := regexp.MustCompile(privateContract + "|\u00a7")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".sh")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(data), "\n") {
			if cite.MatchString(line) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d cites the private contract %s; cite docs/ instead: %s", rel, i+1, privateContract, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The datastore is the product's: it must not know the judge's model (the facts verify reads
// from it are collected by internal/collect/storefacts).
func TestDatastoreKnowsNothingOfVerify(t *testing.T) {
	for path, p := range packages(t) {
		if !within(path, "internal/datastore") {
			continue
		}
		for _, imp := range local(p.Imports) {
			if within(imp, "verify") {
				t.Errorf("%s imports %s: the datastore knows nothing of verify", path, imp)
			}
		}
	}
}
