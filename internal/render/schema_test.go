package render_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/knetlab/knetlab/internal/render"
)

// containerlabModule is the containerlab release whose published topology schema the rendered
// topologies must satisfy. It is fetched into the module cache at test time, never into go.mod.
const containerlabModule = "github.com/srl-labs/containerlab@v0.60.0"

var (
	clabSchemaOnce sync.Once
	clabSchema     *jsonschema.Schema
	clabSchemaSkip string
	clabSchemaErr  error
)

// containerlabSchema compiles schemas/clab.schema.json from the containerlab module, which
// `go mod download` fetches from a throwaway module so the project's go.mod stays untouched.
func containerlabSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	clabSchemaOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			clabSchemaSkip = "no go command on PATH to download " + containerlabModule
			return
		}
		dir, err := os.MkdirTemp("", "knetlab-clab-schema")
		if err != nil {
			clabSchemaErr = err
			return
		}
		defer os.RemoveAll(dir)
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module throwaway\n\ngo 1.22\n"), 0o644); err != nil {
			clabSchemaErr = err
			return
		}
		cmd := exec.Command(goTool, "mod", "download", "-json", containerlabModule)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var mod struct{ Dir, Error string }
		_ = json.Unmarshal(out, &mod)
		if err != nil || mod.Dir == "" {
			clabSchemaSkip = "cannot download " + containerlabModule + " (no network or proxy?): " +
				strings.TrimSpace(mod.Error+" "+stderr.String()+" "+errString(err))
			return
		}
		f, err := os.Open(filepath.Join(mod.Dir, "schemas", "clab.schema.json"))
		if err != nil {
			clabSchemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			clabSchemaErr = err
			return
		}
		const url = "https://containerlab.dev/schemas/clab.schema.json"
		c := jsonschema.NewCompiler()
		if err := c.AddResource(url, doc); err != nil {
			clabSchemaErr = err
			return
		}
		clabSchema, clabSchemaErr = c.Compile(url)
	})
	if clabSchemaSkip != "" {
		t.Skip(clabSchemaSkip)
	}
	if clabSchemaErr != nil {
		t.Fatalf("containerlab schema: %v", clabSchemaErr)
	}
	return clabSchema
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// yamlInstance turns a YAML document into the JSON value the schema validator reads.
func yamlInstance(t *testing.T, data []byte) any {
	t.Helper()
	j, err := sigsyaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("YAML to JSON: %v", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatalf("read JSON: %v", err)
	}
	return v
}

// TestTopologiesMatchContainerlabSchema validates every rendered topology against the schema
// containerlab publishes, which is what its own editor integration and `clab` validation use.
func TestTopologiesMatchContainerlabSchema(t *testing.T) {
	sch := containerlabSchema(t)
	for _, name := range []string{"calico-bgp", "calico-overlay", "pod-network"} {
		data := fileOf(t, mustLoad(t, name), render.TopologyPath(name))
		if err := sch.Validate(yamlInstance(t, data)); err != nil {
			t.Errorf("%s does not match containerlab's schema: %v", render.TopologyPath(name), err)
		}
	}
}

// TestContainerlabSchemaRejects shows the schema is a real check: small mistakes in a topology
// like ours are rejected.
func TestContainerlabSchemaRejects(t *testing.T) {
	sch := containerlabSchema(t)
	valid := "name: x\ntopology:\n  nodes:\n    k01:\n      kind: k8s-kind\n"
	if err := sch.Validate(yamlInstance(t, []byte(valid))); err != nil {
		t.Fatalf("baseline topology rejected: %v", err)
	}
	for _, tc := range []struct{ what, topo string }{
		{"no name", "topology:\n  nodes:\n    k01:\n      kind: k8s-kind\n"},
		{"unknown kind", "name: x\ntopology:\n  nodes:\n    k01:\n      kind: k8s_kind\n"},
		{"unknown node field", "name: x\ntopology:\n  nodes:\n    k01:\n      kind: k8s-kind\n      startup_config: a.yaml\n"},
		{"exec not a list", "name: x\ntopology:\n  nodes:\n    k01:\n      kind: ext-container\n      exec: ip addr\n"},
		{"endpoint without interface", "name: x\ntopology:\n  nodes:\n    a:\n      kind: linux\n  links:\n    - endpoints: [\"a\", \"b:eth1\"]\n"},
	} {
		if err := sch.Validate(yamlInstance(t, []byte(tc.topo))); err == nil {
			t.Errorf("%s: accepted", tc.what)
		}
	}
}
