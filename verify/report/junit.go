package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// JUnit's XML, as CI systems (GitLab, Jenkins, GitHub test reporters) read it: one testsuite
// per check, one testcase per check and node with classname = check ID and name = node.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Time     string `xml:"time,attr"`
	// Properties say whether the check is partial (judged some nodes, skipped others), which
	// the testcase counts alone do not make plain to a CI summary.
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"` // CDATA keeps the findings' lines readable in the file
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// AllNodes is the testcase name of a check that was skipped as a whole.
const AllNodes = "all"

// WriteJUnit writes the report as JUnit XML.
func WriteJUnit(w io.Writer, r *Report) error {
	out := junitSuites{Name: "knetlab verify: " + r.Source, Time: seconds(r.Duration.Seconds())}
	for _, c := range r.Checks {
		s := junitSuite{Name: c.ID, Time: seconds(c.Duration.Seconds()),
			Properties: []junitProperty{{Name: "status", Value: string(c.Status)}, {Name: "partial", Value: fmt.Sprint(c.Partial())}}}
		if len(c.Nodes) == 0 {
			s.Cases = append(s.Cases, junitCase{Classname: c.ID, Name: AllNodes, Time: seconds(0),
				Skipped: &junitSkipped{Message: c.Reason}})
		}
		for _, n := range c.Nodes {
			tc := junitCase{Classname: c.ID, Name: n.Node, Time: seconds(n.Duration.Seconds())}
			switch n.Status {
			case Failed:
				tc.Failure = &junitFailure{Message: failureMessage(n), Type: string(n.Findings[0].Kind), Text: findingsText(n)}
			case Skipped:
				tc.Skipped = &junitSkipped{Message: n.Reason}
			}
			if len(n.Notes) > 0 {
				tc.SystemOut = strings.Join(n.Notes, "\n")
			}
			s.Cases = append(s.Cases, tc)
		}
		for _, tc := range s.Cases {
			s.Tests++
			switch {
			case tc.Failure != nil:
				s.Failures++
			case tc.Skipped != nil:
				s.Skipped++
			}
		}
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Skipped += s.Skipped
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }

func failureMessage(n *Node) string {
	f := n.Findings[0]
	msg := fmt.Sprintf("%s %s", f.Kind, f.Entry)
	if len(n.Findings) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(n.Findings)-1)
	}
	return msg
}

func findingsText(n *Node) string {
	var b strings.Builder
	for _, f := range n.Findings {
		fmt.Fprintf(&b, "%s %s", strings.ToUpper(string(f.Kind)), f.Entry)
		if f.Field != "" {
			fmt.Fprintf(&b, " (%s)", f.Field)
		}
		b.WriteString("\n")
		if f.Expected != "" {
			fmt.Fprintf(&b, "  expected: %s\n", f.Expected)
		}
		if f.Found != "" {
			fmt.Fprintf(&b, "  found:    %s\n", f.Found)
		}
		if f.Reason != "" {
			fmt.Fprintf(&b, "  why:      %s\n", f.Reason)
		}
		if f.Layer != "" {
			fmt.Fprintf(&b, "  layer:    %s\n", f.Layer)
		}
	}
	return b.String()
}

// WriteJUnitFile writes the JUnit report to file atomically: a CI job that reads the file
// while verify runs, or after verify was killed, sees the previous report or the new one,
// never half of one.
func WriteJUnitFile(file string, r *Report) (err error) {
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write junit report %s: %w", file, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = WriteJUnit(tmp, r); err != nil {
		return fmt.Errorf("write junit report %s: %w", file, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write junit report %s: %w", file, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write junit report %s: %w", file, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write junit report %s: %w", file, err)
	}
	if err = os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("write junit report %s: %w", file, err)
	}
	return nil
}
