package struere

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
)

// stateLegend explains each state, in the order the legend prints them.
var stateLegend = []struct {
	state State
	text  string
}{
	{StateSynced, "development and production agree"},
	{StateNotInProduction, "in development only: Deploy promotes agents (entity types, roles and triggers stay as they are)"},
	{StateDrifted, "production serves another version: Deploy promotes development"},
	{StateNotInDevelopment, "in production only: Deploy skips it"},
	{StateUnconfigured, "no configuration in any environment: Deploy skips it"},
	{StateNew, "local only: Sync creates it"},
	{StateModified, "local differs from development: Sync updates it"},
	{StateWillBeDeleted, "not in local definitions: Sync deletes it"},
	{StateUnmanaged, "not in local definitions: Sync keeps it (E1), Deploy promotes it"},
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

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}

// String renders the status as aligned tables with a legend of the states
// that appear, like the CLI's status command.
func (s *Status) String() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	header := "AGENT\tDEVELOPMENT\tPRODUCTION\tSTATE"
	if s.WithLocal {
		header = "AGENT\tLOCAL\tDEVELOPMENT\tPRODUCTION\tSTATE"
	}
	fmt.Fprintln(w, header)
	for _, a := range s.Agents {
		if s.WithLocal {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.Slug, presence(a.Local), presence(a.Development), presence(a.Production), a.State)
		} else {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", a.Slug, presence(a.Development), presence(a.Production), a.State)
		}
	}
	if len(s.Agents) == 0 {
		fmt.Fprintln(w, "(none)")
	}
	if len(s.Resources) > 0 {
		fmt.Fprintln(w)
		header = "RESOURCE\tDEVELOPMENT\tPRODUCTION\tSTATE"
		if s.WithLocal {
			header = "RESOURCE\tLOCAL\tDEVELOPMENT\tPRODUCTION\tSTATE"
		}
		fmt.Fprintln(w, header)
		for _, r := range s.Resources {
			name := string(r.Kind) + " " + r.Name
			if s.WithLocal {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", name, yesNo(r.Local), yesNo(r.Development), yesNo(r.Production), r.State)
			} else {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", name, yesNo(r.Development), yesNo(r.Production), r.State)
			}
		}
	}
	_ = w.Flush()
	b.WriteString("\n")
	for _, l := range s.legend() {
		fmt.Fprintf(&b, "  %-18s %s\n", l.state, l.text)
	}
	for _, n := range s.Notes {
		b.WriteString("Note: " + n + "\n")
	}
	return b.String()
}

// legend returns the legend lines for the states present in s.
func (s *Status) legend() []struct {
	state State
	text  string
} {
	used := map[State]bool{}
	for _, a := range s.Agents {
		used[a.State] = true
	}
	for _, r := range s.Resources {
		used[r.State] = true
	}
	var out []struct {
		state State
		text  string
	}
	for _, l := range stateLegend {
		if used[l.state] {
			out = append(out, l)
		}
	}
	return out
}

// Markdown renders the status for a CI job summary (GitHub-flavoured
// Markdown tables).
func (s *Status) Markdown() string {
	var b strings.Builder
	b.WriteString("### Struere status\n\n")
	if s.ProductionMatchesDevelopment() {
		b.WriteString("Production serves every development agent configuration.\n\n")
	} else {
		fmt.Fprintf(&b, "Production differs from development for: %s.\n\n", strings.Join(s.Drifted(), ", "))
	}
	if diff := s.ResourcesDiffer(); len(diff) > 0 {
		fmt.Fprintf(&b, "Resources in one environment only (Deploy does not promote them): %s.\n\n", strings.Join(diff, ", "))
	}
	cols := []string{"Agent", "Development", "Production", "State"}
	if s.WithLocal {
		cols = []string{"Agent", "Local", "Development", "Production", "State"}
	}
	mdRow(&b, cols...)
	mdRow(&b, strings.Split(strings.Repeat("---,", len(cols)-1)+"---", ",")...)
	for _, a := range s.Agents {
		cells := []string{"`" + a.Slug + "`", presence(a.Development), presence(a.Production), string(a.State)}
		if s.WithLocal {
			cells = []string{"`" + a.Slug + "`", presence(a.Local), presence(a.Development), presence(a.Production), string(a.State)}
		}
		mdRow(&b, cells...)
	}
	if len(s.Resources) > 0 {
		b.WriteString("\n")
		cols[0] = "Resource"
		mdRow(&b, cols...)
		mdRow(&b, strings.Split(strings.Repeat("---,", len(cols)-1)+"---", ",")...)
		for _, r := range s.Resources {
			name := string(r.Kind) + " `" + r.Name + "`"
			cells := []string{name, yesNo(r.Development), yesNo(r.Production), string(r.State)}
			if s.WithLocal {
				cells = []string{name, yesNo(r.Local), yesNo(r.Development), yesNo(r.Production), string(r.State)}
			}
			mdRow(&b, cells...)
		}
	}
	for _, n := range s.Notes {
		b.WriteString("\n> " + n + "\n")
	}
	return b.String()
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
		SchemaVersion                int    `json:"schemaVersion"`
		Generation                   string `json:"generation"`
		InSync                       bool   `json:"inSync"`
		ProductionMatchesDevelopment bool   `json:"productionMatchesDevelopment"`
		*plain
	}{StatusSchemaVersion, s.Generation.String(), s.InSync(), s.ProductionMatchesDevelopment(), (*plain)(s)})
}
