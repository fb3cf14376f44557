package lab

import "testing"

func TestSmoke(t *testing.T) {
	for _, n := range Names() {
		if _, err := Load(n); err != nil {
			t.Fatal(err)
		}
	}
}
