// Package e2e holds the end-to-end tests of the knetlab command line on real netns labs: each
// runs knetlab's commands in-process, as a person types them (deploy, verify, break, fix,
// capture, pod, exec, status, destroy), against a lab of network namespaces with real daemons,
// the test binary standing in for the knetlab binary. They create network namespaces, so each
// goes through testenv.RequireLab: run them as root without -short (`sudo go test ./e2e/`);
// under -short or without root they skip, saying why. The package has no code besides its
// tests.
package e2e
