package testenv

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The guard below reads every test of the module and requires that each one which creates
// network namespaces reaches testenv.RequireLab. It is what keeps `go test -short ./...` as
// root from building labs: a new root test without RequireLab fails here, on any host, before
// it ever runs as root.

const module = "github.com/knetlab/knetlab"

// What creates network namespaces, as a test calls it. Besides these, the guard reads the
// helper packages (names ending in "test", and testbed): their exported functions that create
// namespaces count as creators for the tests that call them.
var creators = map[string][]string{ // package-level functions, by import path
	"github.com/vishvananda/netns": {"New", "NewNamed"},
	"golang.org/x/sys/unix":        {"Unshare"},
	"syscall":                      {"Unshare"},
	"github.com/containernetworking/plugins/pkg/testutils": {"NewNS"},
}

const (
	// deployer's tests, and those of packages that import it, build a netns lab by calling a
	// method Deploy.
	deployer = module + "/internal/provider/netnslab"
	// cliPackage's tests, and those of packages that import it, build a netns lab by running
	// its "deploy" command (without --dry-run).
	cliPackage = module + "/internal/cli"
	// testenvPath is where RequireLab lives.
	testenvPath = module + "/internal/testenv"
)

// exempt are tests that reach a creator yet create nothing, with the reason.
var exempt = map[string]string{
	"internal/provider/netnslab.TestNotRootIsRefusedBeforeAnything": "pretends to be non-root: deploy is refused before anything; then a dry run",
	// The provider-record tests deploy through a registry of recording stand-ins (netns
	// included), which only log the calls they get.
	"internal/cli.TestCommandsUseTheProviderThatDeployedTheLab":    "deploys through recording stand-in providers only",
	"internal/cli.TestAProviderContradictingTheRecordIsRefused":    "deploys through recording stand-in providers only",
	"internal/cli.TestALabFromAFileIsKnownByName":                  "deploys through recording stand-in providers only",
	"internal/cli.TestAnUnknownProviderIsUnknownWhateverTheRecord": "deploys through recording stand-in providers only",
	"internal/cli.TestARefusedDeployLeavesNoRecord":                "deploys through a stand-in provider that refuses every deploy",
}

func TestEveryNamespaceTestRequiresLab(t *testing.T) {
	root := moduleRoot(t)
	pkgs := readPackages(t, root)

	// Helper packages first: their exported creators join the list, until no helper adds
	// one (a helper may build on another's).
	found := maps.Clone(creators)
	for grown := true; grown; {
		grown = false
		for _, p := range pkgs {
			if !p.helper {
				continue
			}
			for _, fn := range p.analyze(found).creating() {
				if ast.IsExported(fn) && !slices.Contains(found[p.importPath], fn) {
					found[p.importPath] = append(found[p.importPath], fn)
					grown = true
				}
			}
		}
	}
	if !slices.Contains(found[module+"/internal/dataplane/testbed"], "NewNS") {
		t.Errorf("the guard does not see testbed.NewNS create a namespace (has it moved?): found %v", found)
	}

	guarded := 0
	exemptSeen := map[string]bool{}
	for _, p := range pkgs {
		if p.helper {
			continue
		}
		a := p.analyze(found)
		for _, fn := range a.roots() {
			if !a.createsNamespaces(fn) {
				continue
			}
			id := p.rel + "." + fn
			if _, ok := exempt[id]; ok {
				exemptSeen[id] = true
				continue
			}
			if !a.guards(fn) {
				t.Errorf("%s creates network namespaces but never calls testenv.RequireLab: `go test -short` as root would run it", id)
				continue
			}
			guarded++
		}
	}
	for id := range exempt {
		if !exemptSeen[id] {
			t.Errorf("exempt %s no longer exists or creates nothing: drop it from the list", id)
		}
	}
	// A guard that matches nothing proves nothing: the tree has dozens of such tests.
	if guarded < 20 {
		t.Errorf("only %d namespace-creating tests found; the guard's patterns have gone stale", guarded)
	}
	t.Logf("%d namespace-creating tests, each guarded by testenv.RequireLab", guarded)
}

// TestGuardCatchesAnUnguardedTest runs the guard's reading over testdata/unguarded, a package
// whose tests create namespaces in the ways the real ones do, some without RequireLab.
func TestGuardCatchesAnUnguardedTest(t *testing.T) {
	p := readPackage(t, "testdata/unguarded", "testdata/unguarded", false)
	a := p.analyze(map[string][]string{
		"github.com/vishvananda/netns":         {"New", "NewNamed"},
		module + "/internal/dataplane/testbed": {"NewNS", "NewUnderlay"},
	})
	var unguarded, guardedFns []string
	for _, fn := range a.roots() {
		switch {
		case !a.createsNamespaces(fn):
		case a.guards(fn):
			guardedFns = append(guardedFns, fn)
		default:
			unguarded = append(unguarded, fn)
		}
	}
	slices.Sort(unguarded)
	slices.Sort(guardedFns)
	wantUnguarded := []string{"BenchmarkUnguarded", "TestCLIDeploy", "TestDeployThroughAHelper", "TestHelperProcess", "TestNamedNamespace", "TestTestbed"}
	wantGuarded := []string{"TestGuardedInAHelper", "TestGuardedTestbed"}
	if !slices.Equal(unguarded, wantUnguarded) {
		t.Errorf("unguarded = %v, want %v", unguarded, wantUnguarded)
	}
	if !slices.Equal(guardedFns, wantGuarded) {
		t.Errorf("guarded = %v, want %v", guardedFns, wantGuarded)
	}
}

// pkg is the files of one directory the guard reads: its test files, or a helper package's
// sources.
type pkg struct {
	rel, importPath string
	helper          bool
	files           []*ast.File
	// deploys: a method Deploy builds a netns lab; cliDeploys: a "deploy" argument does.
	deploys, cliDeploys bool
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func readPackages(t *testing.T, root string) []*pkg {
	t.Helper()
	var out []*pkg
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		helper := strings.HasSuffix(name, "test") || name == "testbed"
		if pk := readPackage(t, p, filepath.ToSlash(rel), false); len(pk.files) > 0 {
			out = append(out, pk)
		}
		if helper {
			if pk := readPackage(t, p, filepath.ToSlash(rel), true); len(pk.files) > 0 {
				out = append(out, pk)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readPackage parses a directory's test files, or for a helper its other Go files.
func readPackage(t *testing.T, dir, rel string, helper bool) *pkg {
	t.Helper()
	p := &pkg{rel: rel, importPath: path.Join(module, rel), helper: helper}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") == helper {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		p.files = append(p.files, f)
	}
	p.deploys = p.importPath == deployer || p.imports(deployer)
	p.cliDeploys = p.importPath == cliPackage || p.imports(cliPackage)
	return p
}

func (p *pkg) imports(path string) bool {
	for _, f := range p.files {
		for _, imp := range f.Imports {
			if s, _ := strconv.Unquote(imp.Path.Value); s == path {
				return true
			}
		}
	}
	return false
}

// facts is what one function does directly.
type facts struct {
	creates, guards bool
	reexec          bool            // runs the test binary again (os.Args[0], os.Executable)
	refs            map[string]bool // package-level functions and methods it names, by name
}

// analysis is a package's functions, by name (methods of different types that share a name
// are taken as one).
type analysis struct {
	decls map[string][]*ast.FuncDecl
	facts map[*ast.FuncDecl]*facts
}

func (p *pkg) analyze(creators map[string][]string) *analysis {
	a := &analysis{decls: map[string][]*ast.FuncDecl{}, facts: map[*ast.FuncDecl]*facts{}}
	for _, f := range p.files {
		imports := importNames(f)
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			a.decls[fn.Name.Name] = append(a.decls[fn.Name.Name], fn)
			a.facts[fn] = p.read(fn.Body, imports, creators)
		}
	}
	return a
}

// importNames maps a file's package names to import paths.
func importNames(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := path.Base(p)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		m[name] = p
	}
	return m
}

func (p *pkg) read(body *ast.BlockStmt, imports map[string]string, creators map[string][]string) *facts {
	fc := &facts{refs: map[string]bool{}}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok {
				if path, ok := imports[x.Name]; ok {
					if path == "os" && (n.Sel.Name == "Args" || n.Sel.Name == "Executable") {
						fc.reexec = true
					}
					if path == testenvPath && n.Sel.Name == "RequireLab" {
						fc.guards = true
					}
					if slices.Contains(creators[path], n.Sel.Name) {
						fc.creates = true
					}
					return false
				}
			}
			if p.deploys && n.Sel.Name == "Deploy" {
				fc.creates = true
			}
			fc.refs[n.Sel.Name] = true
		case *ast.Ident:
			fc.refs[n.Name] = true
		case *ast.CallExpr:
			if p.cliDeploys && deploysThroughTheCLI(n.Args) {
				fc.creates = true
			}
		case *ast.CompositeLit:
			if p.cliDeploys && deploysThroughTheCLI(n.Elts) {
				fc.creates = true
			}
		}
		return true
	})
	return fc
}

// deploysThroughTheCLI: the arguments of a knetlab run hold "deploy" and not "--dry-run".
func deploysThroughTheCLI(args []ast.Expr) bool {
	var deploy, dryRun bool
	for _, e := range args {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, _ := strconv.Unquote(lit.Value)
			deploy = deploy || s == "deploy"
			dryRun = dryRun || s == "--dry-run"
		}
	}
	return deploy && !dryRun
}

// roots are the functions `go test` runs.
func (a *analysis) roots() []string {
	var out []string
	for name, decls := range a.decls {
		for _, d := range decls {
			if d.Recv == nil && name != "TestMain" &&
				(strings.HasPrefix(name, "Test") || strings.HasPrefix(name, "Benchmark") || strings.HasPrefix(name, "Fuzz")) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// createsNamespaces: the test creates namespaces itself, or runs the test binary again in a
// package whose TestMain creates them (a helper process that deploys).
func (a *analysis) createsNamespaces(fn string) bool {
	return a.creates(fn) ||
		(a.creates("TestMain") && a.reaches(fn, func(f *facts) bool { return f.reexec }, map[string]bool{}))
}

// creating lists the functions that create namespaces, directly or through others.
func (a *analysis) creating() []string {
	var out []string
	for name := range a.decls {
		if a.creates(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// creates: some function of that name creates namespaces, itself or through a function it names.
func (a *analysis) creates(name string) bool {
	return a.reaches(name, func(f *facts) bool { return f.creates }, map[string]bool{})
}

// guards: the function calls RequireLab, itself or through a function it names.
func (a *analysis) guards(name string) bool {
	return a.reaches(name, func(f *facts) bool { return f.guards }, map[string]bool{})
}

func (a *analysis) reaches(name string, has func(*facts) bool, seen map[string]bool) bool {
	if seen[name] {
		return false
	}
	seen[name] = true
	for _, d := range a.decls[name] {
		f := a.facts[d]
		if has(f) {
			return true
		}
		for ref := range f.refs {
			if ref != name && a.reaches(ref, has, seen) {
				return true
			}
		}
	}
	return false
}
