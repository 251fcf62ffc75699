package struere

import (
	"fmt"
	"strings"
)

// Environment names one of a Struere organization's isolated environments.
// Agent configurations, entity types, roles, triggers, threads and API keys
// belong to exactly one environment; agents themselves are shared.
type Environment string

// The environments a Struere backend knows. Eval exists only on the newest
// backends.
const (
	Development Environment = "development"
	Production  Environment = "production"
	Eval        Environment = "eval"
)

// ParseEnvironment returns the Environment named by s. Surrounding spaces are
// ignored and case matters, as on the wire. Any other value ("staging", "prod",
// "") gives an error that lists the valid names.
func ParseEnvironment(s string) (Environment, error) {
	e := Environment(strings.TrimSpace(s))
	if err := e.Validate(); err != nil {
		return "", err
	}
	return e, nil
}

// Validate reports whether e is one of Development, Production or Eval.
func (e Environment) Validate() error {
	switch e {
	case Development, Production, Eval:
		return nil
	}
	return fmt.Errorf("struere: invalid environment %q: use one of development, production, eval", string(e))
}

// String returns the wire name of e.
func (e Environment) String() string { return string(e) }
