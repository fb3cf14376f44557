package parse

import (
	"encoding/json"
	"strings"
)

// NetnsNames reads the namespace names of `ip -j netns list`. A node without named namespaces
// prints nothing at all, which is an empty list, not an error.
func NetnsNames(data []byte) ([]string, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, nil
	}
	var list []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, err
	}
	names := make([]string, len(list))
	for i, ns := range list {
		names[i] = ns.Name
	}
	return names, nil
}
