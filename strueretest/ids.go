package strueretest

import (
	"fmt"
	"strings"
)

// Table letters: the first character of every document id names its table,
// so a well-formed id of the wrong table can be told apart from a missing one.
const (
	tableOrganizations = 'j'
	tableUsers         = 'k'
	tableMemberships   = 'n'
	tableAgents        = 'p'
	tableConfigs       = 'q'
	tableEntityTypes   = 'r'
	tableRoles         = 's'
	tablePolicies      = 't'
	tableTriggers      = 'v'
	tableEvalSuites    = 'w'
	tableAPIKeys       = 'x'
	tableThreads       = 'm'
	tablePacks         = 'y'
	tableEvalCases     = 'f'
	tableEvents        = 'g'
	tableUserRoles     = 'h'
	tableEntities      = 'b'
	tableRelations     = 'c'
	tableFixtures      = 'd'
)

// tableLetters maps the tables an id validator (v.id("<table>")) can name
// to their letters.
var tableLetters = map[string]byte{
	"organizations": tableOrganizations, "users": tableUsers, "agents": tableAgents,
	"agentConfigs": tableConfigs, "entityTypes": tableEntityTypes, "roles": tableRoles,
	"triggers": tableTriggers, "evalSuites": tableEvalSuites, "evalCases": tableEvalCases,
	"apiKeys": tableAPIKeys, "threads": tableThreads, "events": tableEvents,
	"userRoles": tableUserRoles, "entities": tableEntities, "entityRelations": tableRelations,
	"fixtures": tableFixtures, "evalRuns": tableEvalRuns, "evalResults": tableEvalResults,
}

const idAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

// splitmix64 is a bijective mixer: it turns a counter into a value that looks
// random but is fully deterministic.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// makeID returns a 32-character Convex-like id: the table letter, 27
// characters derived from the counter, and a 4-character checksum.
func makeID(table byte, counter uint64) string {
	var b strings.Builder
	b.Grow(32)
	b.WriteByte(table)
	x := splitmix64(counter<<8 | uint64(table))
	for i := 0; i < 27; i++ {
		if i%12 == 0 {
			x = splitmix64(x + uint64(i))
		}
		b.WriteByte(idAlphabet[x%36])
		x /= 36
	}
	b.WriteString(idChecksum(b.String()))
	return b.String()
}

func idChecksum(s string) string {
	// FNV-1a, 32 bits (hash/fnv's New32a), inlined to avoid allocating.
	const offset32, prime32 = 2166136261, 16777619
	h := uint32(offset32)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= prime32
	}
	v := h % (36 * 36 * 36 * 36)
	var out [4]byte
	for i := 3; i >= 0; i-- {
		out[i] = idAlphabet[v%36]
		v /= 36
	}
	return string(out[:])
}

// decodeID checks that s is a well-formed id and returns its table letter,
// or the text of Convex's "Unable to decode ID" error.
func decodeID(s string) (table byte, problem string) {
	if len(s) != 32 {
		return 0, fmt.Sprintf("Unable to decode ID: Invalid ID length %d", len(s))
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(idAlphabet, rune(s[i])) {
			return 0, "Unable to decode ID: Invalid ID character"
		}
	}
	if idChecksum(s[:28]) != s[28:] {
		return 0, "Unable to decode ID: Invalid ID checksum"
	}
	return s[0], ""
}

// requestID returns the 16-hex-digit request id for the n-th request.
func requestID(n uint64) string {
	const hex = "0123456789abcdef"
	x := splitmix64(n ^ 0x5bd1e995)
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = hex[x&0xf]
		x >>= 4
	}
	return string(b[:])
}
