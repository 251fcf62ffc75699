package struere

import (
	"context"
	"encoding/json"
)

// ProductionContent reads production's content the way a Release records
// it (each configured agent, entity type, role and trigger: the pulled item
// plus the fields the pull state omits), keyed "<kind>/<name>".
func ProductionContent(ctx context.Context, c *Client) (map[string]json.RawMessage, error) {
	gen, err := c.DetectGeneration(ctx)
	if err != nil {
		return nil, err
	}
	s, err := c.readProduction(ctx, "test", gen)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(s.items))
	for k, v := range s.items {
		out[string(k.kind)+"/"+k.name] = v
	}
	return out, nil
}

// ReleaseChecksum is the checksum a release's Checksum must hold, for tests
// that build releases of another organization or generation.
func ReleaseChecksum(rel *Release) string { return releaseChecksum(rel) }
