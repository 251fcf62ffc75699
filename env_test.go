package struere

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestParseEnvironmentAcceptsTheThreeWireNames(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Environment
	}{
		{"development is Development", "development", Development},
		{"production is Production", "production", Production},
		{"eval is Eval", "eval", Eval},
		{"surrounding spaces are ignored", "  production\n", Production},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnvironment(tt.in)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseEnvironment(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			require.NoError(t, got.Validate())
			require.Equal(t, string(tt.want), got.String())
		})
	}
}

func TestParseEnvironmentRejectsOtherNamesListingTheValidOnes(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"staging is not an environment", "staging"},
		{"prod abbreviation is rejected", "prod"},
		{"empty string is rejected", ""},
		{"blank string is rejected", "   "},
		{"capitalised Production is rejected because case matters", "Production"},
		{"upper case DEVELOPMENT is rejected", "DEVELOPMENT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnvironment(tt.in)
			require.Error(t, err)
			require.Empty(t, got, "no environment is returned on error")
			msg := err.Error()
			require.Regexp(t, `^struere: `, msg)
			for _, valid := range []string{"development", "production", "eval"} {
				require.Contains(t, msg, valid, "the error lists the valid names")
			}
		})
	}
}
