package cli

// The providers a knetlab binary carries; each registers itself with internal/provider in init.
import (
	_ "github.com/knetlab/knetlab/internal/provider/clab"
	_ "github.com/knetlab/knetlab/internal/provider/netnslab"
)
