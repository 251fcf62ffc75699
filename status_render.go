package struere

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
)

type legendLine struct {
	state string
	text  string
}

// localLegend and productionLegend explain each state, in the order the
// legend prints them.
var localLegend = []legendLine{
	{string(LocalSynced), "local matches development"},
	{string(LocalNew), "local only: Sync creates it"},
	{string(LocalModified), "local differs from development: Sync updates it"},
	{string(LocalWillBeDeleted), "not in local definitions: Sync deletes it"},
	{string(LocalUnmanaged), "not in local definitions: Sync keeps it"},
}

var productionLegend = []legendLine{
	{string(ProductionSynced), "development and production agree"},
	{string(ProductionNotDeployed), "in development only: Deploy promotes agents, and entity types, roles and triggers with PromoteResources"},
	{string(ProductionDrifted), "production serves other content: Deploy promotes an agent's development configuration"},
	{string(ProductionOnly), "in production only: Deploy skips it"},
	{string(ProductionUnconfigured), "no configuration in any environment: Deploy skips it"},
	{string(ProductionUnverified), "configured in both; this backend does not serve production's content to compare"},
}

func presence(p Presence) string {
	switch {
	case !p.Present:
		return "-"
	case p.Version == "":
		return "yes"
	}
	return p.Version
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// rows returns the table of agents and of resources, with the header.
func (s *Status) rows() (agents, resources [][]string) {
	head := func(first string) []string {
		if s.WithLocal {
			return []string{first, "LOCAL", "DEVELOPMENT", "PRODUCTION", "LOCAL VS DEV", "DEV VS PROD"}
		}
		return []string{first, "DEVELOPMENT", "PRODUCTION", "STATE"}
	}
	row := func(name string, l, d, p Presence, ls LocalState, ps ProductionState) []string {
		if s.WithLocal {
			return []string{name, presence(l), presence(d), presence(p), orDash(string(ls)), string(ps)}
		}
		return []string{name, presence(d), presence(p), string(ps)}
	}
	agents = append(agents, head("AGENT"))
	for _, a := range s.Agents {
		agents = append(agents, row(a.Slug, a.Local, a.Development, a.Production, a.LocalState, a.ProductionState))
	}
	if len(s.Resources) > 0 {
		resources = append(resources, head("RESOURCE"))
		for _, r := range s.Resources {
			resources = append(resources, row(string(r.Kind)+" "+r.Name, r.Local, r.Development, r.Production, r.LocalState, r.ProductionState))
		}
	}
	return agents, resources
}

// differences describes every field-level difference, one line each, as
// "agent support: local vs development: systemPrompt".
func (s *Status) differences() []string {
	var out []string
	add := func(what, cmp string, diff []string) {
		if len(diff) > 0 {
			out = append(out, fmt.Sprintf("%s: %s: %s", what, cmp, strings.Join(diff, ", ")))
		}
	}
	for _, a := range s.Agents {
		add("agent "+a.Slug, "local vs development", a.LocalDiff)
		add("agent "+a.Slug, "development vs production", a.ProductionDiff)
	}
	for _, r := range s.Resources {
		add(string(r.Kind)+" "+r.Name, "local vs development", r.LocalDiff)
		add(string(r.Kind)+" "+r.Name, "development vs production", r.ProductionDiff)
	}
	return out
}

// fieldDiffs gathers one comparison's field-by-field differences as Diffs:
// local ↔ development (before: development, after: local) or, with
// production, development ↔ production (before: production, after:
// development). Agents come first, then resources, in Status's order.
func (s *Status) fieldDiffs(production bool) Diffs {
	var out Diffs
	// Only items on both sides carry changes: each is modified.
	add := func(kind ResourceKind, name string, local, prod []FieldDiff) {
		fields := local
		if production {
			fields = prod
		}
		if len(fields) > 0 {
			out = append(out, Diff{Kind: kind, Name: name, Change: ChangeModified, Fields: fields})
		}
	}
	for _, a := range s.Agents {
		add(KindAgent, a.Slug, a.LocalChanges, a.ProductionChanges)
	}
	for _, r := range s.Resources {
		add(r.Kind, r.Name, r.LocalChanges, r.ProductionChanges)
	}
	return out
}

// The headings of the two field-by-field comparisons.
const (
	localChangesTitle      = "Local definitions vs development, field by field (before: development, after: local; what Sync would change)"
	productionChangesTitle = "Development vs production, field by field (before: production, after: development)"
)

// String renders the status as aligned tables, the fields that differ
// (each comparison field by field: the system prompt as a unified diff,
// other fields before -> after), and a legend of the states that appear.
func (s *Status) String() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	agents, resources := s.rows()
	for _, r := range agents {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	if len(s.Agents) == 0 {
		fmt.Fprintln(w, "(none)")
	}
	if len(resources) > 0 {
		fmt.Fprintln(w)
		for _, r := range resources {
			fmt.Fprintln(w, strings.Join(r, "\t"))
		}
	}
	_ = w.Flush()
	if diffs := s.differences(); len(diffs) > 0 {
		b.WriteString("\nDifferences:\n")
		for _, d := range diffs {
			b.WriteString("  " + d + "\n")
		}
	}
	if ds := s.fieldDiffs(false); len(ds) > 0 {
		b.WriteString("\n" + localChangesTitle + ":\n" + ds.String())
	}
	if ds := s.fieldDiffs(true); len(ds) > 0 {
		b.WriteString("\n" + productionChangesTitle + ":\n" + ds.String())
	}
	b.WriteString("\n")
	local, prod := s.legend()
	for _, l := range local {
		fmt.Fprintf(&b, "  local %-18s %s\n", l.state, l.text)
	}
	for _, l := range prod {
		if s.WithLocal {
			fmt.Fprintf(&b, "  prod  %-18s %s\n", l.state, l.text)
		} else {
			fmt.Fprintf(&b, "  %-18s %s\n", l.state, l.text)
		}
	}
	for _, n := range s.Notes {
		b.WriteString("Note: " + n + "\n")
	}
	return b.String()
}

// legend returns the legend lines for the states present in s.
func (s *Status) legend() (local, prod []legendLine) {
	usedL, usedP := map[string]bool{}, map[string]bool{}
	for _, a := range s.Agents {
		usedL[string(a.LocalState)], usedP[string(a.ProductionState)] = true, true
	}
	for _, r := range s.Resources {
		usedL[string(r.LocalState)], usedP[string(r.ProductionState)] = true, true
	}
	for _, l := range localLegend {
		if usedL[l.state] {
			local = append(local, l)
		}
	}
	for _, l := range productionLegend {
		if usedP[l.state] {
			prod = append(prod, l)
		}
	}
	return local, prod
}

// Markdown renders the status for a CI job summary or a pull-request
// comment (GitHub-flavoured Markdown): the tables, the fields that differ,
// and each comparison field by field as Diffs.Markdown renders it (short
// fields in a table, system prompts and schemas as ```diff blocks, folded
// into a collapsed <details> block when long).
func (s *Status) Markdown() string {
	var b strings.Builder
	b.WriteString("### Struere status\n\n")
	if s.ProductionMatchesDevelopment() {
		b.WriteString("Production serves every development agent configuration.\n\n")
	} else {
		fmt.Fprintf(&b, "Production differs from development for: %s.\n\n", strings.Join(s.ProductionDiffers(), ", "))
	}
	if diff := s.LocalDiffers(); len(diff) > 0 {
		fmt.Fprintf(&b, "Local definitions differ from development for: %s.\n\n", strings.Join(diff, ", "))
	}
	if diff := s.ResourcesDiffer(); len(diff) > 0 {
		fmt.Fprintf(&b, "Resources that differ between development and production (Deploy does not promote them): %s.\n\n", strings.Join(diff, ", "))
	}
	agents, resources := s.rows()
	table := func(rows [][]string, code bool) {
		for i, r := range rows {
			cells := append([]string(nil), r...)
			if i == 0 {
				for j, c := range cells {
					cells[j] = mdTitle(c)
				}
				mdRow(&b, cells...)
				mdRow(&b, strings.Split(strings.Repeat("---,", len(cells)-1)+"---", ",")...)
				continue
			}
			if code {
				if kind, name, ok := strings.Cut(cells[0], " "); ok && rows[0][0] == "RESOURCE" {
					cells[0] = kind + " `" + name + "`"
				} else {
					cells[0] = "`" + cells[0] + "`"
				}
			}
			mdRow(&b, cells...)
		}
	}
	table(agents, true)
	if len(resources) > 0 {
		b.WriteString("\n")
		table(resources, true)
	}
	if diffs := s.differences(); len(diffs) > 0 {
		b.WriteString("\n**Differences**\n\n")
		for _, d := range diffs {
			b.WriteString("- " + d + "\n")
		}
	}
	if ds := s.fieldDiffs(false); len(ds) > 0 {
		b.WriteString("\n**" + localChangesTitle + "**\n\n" + ds.Markdown())
	}
	if ds := s.fieldDiffs(true); len(ds) > 0 {
		b.WriteString("\n**" + productionChangesTitle + "**\n\n" + ds.Markdown())
	}
	for _, n := range s.Notes {
		b.WriteString("\n> " + n + "\n")
	}
	return b.String()
}

// mdTitle turns a text column header into a Markdown one: "DEV VS PROD"
// becomes "Dev vs prod".
func mdTitle(h string) string {
	h = strings.ToLower(h)
	return strings.ToUpper(h[:1]) + h[1:]
}

func mdRow(b *strings.Builder, cells ...string) {
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" " + strings.ReplaceAll(c, "|", `\|`) + " |")
	}
	b.WriteString("\n")
}

// MarshalJSON encodes the status with a schema version and the CI gate's
// answers, so tools need not recompute them.
func (s *Status) MarshalJSON() ([]byte, error) {
	type plain Status
	return json.Marshal(struct {
		SchemaVersion                int      `json:"schemaVersion"`
		Generation                   string   `json:"generation"`
		InSync                       bool     `json:"inSync"`
		ProductionMatchesDevelopment bool     `json:"productionMatchesDevelopment"`
		ProductionDiffers            []string `json:"productionDiffers"`
		LocalDiffers                 []string `json:"localDiffers"`
		ResourcesDiffer              []string `json:"resourcesDiffer"`
		*plain
	}{StatusSchemaVersion, s.Generation.String(), s.InSync(), s.ProductionMatchesDevelopment(),
		nonNil(s.ProductionDiffers()), nonNil(s.LocalDiffers()), nonNil(s.ResourcesDiffer()), (*plain)(s)})
}
