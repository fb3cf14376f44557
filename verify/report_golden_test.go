package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/knetlab/knetlab/internal/ui"
	"github.com/knetlab/knetlab/verify"
	"github.com/knetlab/knetlab/verify/observed"
	"github.com/knetlab/knetlab/verify/report"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// brokenLesson06 is the report the golden files show: a wrong gateway on k01-worker, two FDB
// entries missing on k01-worker2, no FDB capture for k01-worker3.
func brokenLesson06(t *testing.T) *report.Report {
	t.Helper()
	src := healthyLesson06()
	routeTo(src.nodes["k01-worker"], "192.168.209.64/26").Gateway = addr("192.168.209.65")
	src.nodes["k01-worker2"].FDB = src.nodes["k01-worker2"].FDB[:1]
	delete(src.nodes["k01-worker3"].Tables, observed.TableFDB)
	r, err := verify.Run(context.Background(), src, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Durations are the only thing that changes from run to run.
	r.Started = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	r.Duration = 42 * time.Millisecond
	for _, c := range r.Checks {
		c.Duration = 0
		if c.Status != report.Skipped {
			c.Duration = time.Millisecond
		}
		for _, n := range c.Nodes {
			n.Duration = 0
		}
	}
	return r
}

func TestReportGolden(t *testing.T) {
	r := brokenLesson06(t)
	tests := []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"report.txt", func(b *bytes.Buffer) error {
			report.WriteText(&ui.Streams{Out: b}, r)
			return nil
		}},
		{"report.json", func(b *bytes.Buffer) error { return report.WriteJSON(b, r) }},
		{"report.xml", func(b *bytes.Buffer) error { return report.WriteJUnit(b, r) }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tt.file)
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./verify -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from the golden file (go test ./verify -update after checking the change):\n%s", tt.file, b.String())
			}
		})
	}
}

// The golden files pin the bytes; these pin what a consumer relies on.
func TestReportSchema(t *testing.T) {
	r := brokenLesson06(t)
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SchemaVersion int    `json:"schemaVersion"`
		Status        string `json:"status"`
		Checks        []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Nodes  []struct {
				Node     string `json:"node"`
				Status   string `json:"status"`
				Findings []struct {
					Kind, Entry, Field, Expected, Found, Reason string
				} `json:"findings"`
			} `json:"nodes"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || doc.Status != "failed" {
		t.Fatalf("schemaVersion %d status %s", doc.SchemaVersion, doc.Status)
	}
	var fdbMissing []string
	for _, c := range doc.Checks {
		for _, n := range c.Nodes {
			for _, f := range n.Findings {
				if c.ID == "vxlan.fdb" && f.Kind == "missing" {
					fdbMissing = append(fdbMissing, n.Node+" "+f.Entry)
				}
			}
		}
	}
	if len(fdbMissing) != 2 {
		t.Errorf("missing FDB findings %v, want k01-worker2's two", fdbMissing)
	}

	b.Reset()
	if err := report.WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Cases []struct {
				Classname string    `xml:"classname,attr"`
				Name      string    `xml:"name,attr"`
				Failure   *struct{} `xml:"failure"`
				Skipped   *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &suites); err != nil {
		t.Fatal(err)
	}
	failures := map[string]bool{}
	var skipped string
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				failures[c.Classname+"/"+c.Name] = true
			}
			if c.Classname == "vxlan.fdb" && c.Name == "k01-worker3" && c.Skipped != nil {
				skipped = c.Skipped.Message
			}
		}
	}
	if len(failures) != 2 || !failures["routes.blocks/k01-worker"] || !failures["vxlan.fdb/k01-worker2"] {
		t.Errorf("JUnit failures %v, want routes.blocks/k01-worker and vxlan.fdb/k01-worker2", failures)
	}
	if skipped == "" {
		t.Error("vxlan.fdb/k01-worker3 is not a skipped testcase with a reason")
	}
	if suites.Failures != 2 {
		t.Errorf("testsuites failures=%d, want 2", suites.Failures)
	}
}

func TestJUnitFileIsAtomic(t *testing.T) {
	r := brokenLesson06(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "junit.xml")
	if err := os.WriteFile(file, []byte("previous report"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJUnitFile(file, r); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := report.WriteJUnit(&want, r); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(file)
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("junit file is not the report")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := report.WriteJUnitFile(filepath.Join(dir, "no-such-dir", "junit.xml"), r); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
