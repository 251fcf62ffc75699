package struere

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// exampleKey is the example key of protocol §2.2.
const exampleKey = "af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7"

func TestParseAPIKeyAcceptsTheLiveKeyFormat(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		env  Environment
	}{
		{"protocol example for development", exampleKey, Development},
		{"same key declared for production", exampleKey, Production},
		{"eval key of digits only", "af_live_01234567_01234567890123456789012345678901", Eval},
		{"letters only", "af_live_abcdefgh_abcdefghijklmnopqrstuvwxyzabcdef", Development},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Len(t, tt.raw, 49, "test precondition: protocol keys are 49 characters")
			k, err := ParseAPIKey(tt.raw, tt.env)
			require.NoError(t, err)
			require.False(t, k.IsZero())
			require.Equal(t, tt.env, k.Environment())
			require.Equal(t, tt.raw, k.Reveal())
			require.Equal(t, tt.raw[:16], k.Prefix())
		})
	}
}

func TestAPIKeyPrefixIsTheFirstSixteenCharacters(t *testing.T) {
	k, err := ParseAPIKey(exampleKey, Development)
	require.NoError(t, err)
	require.Equal(t, "af_live_k3v9x2qa", k.Prefix())
	require.Empty(t, APIKey{}.Prefix(), "the zero key has no prefix")
	require.True(t, APIKey{}.IsZero())
}

func TestParseAPIKeyRejectsMalformedKeysWithoutEchoingThem(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		hint string // extra text the error must contain
	}{
		{"wrong prefix af_test_", "af_test_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7", ""},
		{"upper-case letters", "af_live_K3V9X2QA_7H2M0C4TQ9W1Z8Y5R6P3N2B1X0V9U8T7", ""},
		{"one upper-case letter in the secret", "af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8tZ", ""},
		{"first part seven characters", "af_live_k3v9x2q_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7a", ""},
		{"first part nine characters", "af_live_k3v9x2qab_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t", ""},
		{"secret part too short", "af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t", ""},
		{"secret part too long", exampleKey + "x", ""},
		{"sk_dev_ key from old documentation", "sk_dev_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7", "sk_dev_"},
		{"sk_prod_ key from old documentation", "sk_prod_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7", "sk_dev_"},
		{"missing underscore between the parts", "af_live_k3v9x2qa7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7", ""},
		{"dash instead of underscore", "af_live_k3v9x2qa-7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t7", ""},
		{"surrounding whitespace", " " + exampleKey[:48], ""},
		{"punctuation in the secret", "af_live_k3v9x2qa_7h2m0c4tq9w1z8y5r6p3n2b1x0v9u8t!", ""},
		{"empty key", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseAPIKey(tt.raw, Development)
			require.Error(t, err)
			require.True(t, k.IsZero(), "no key is returned on error")
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "struere: api key: "), "error %q starts with the operation", msg)
			require.Contains(t, msg, "af_live_", "the error says what a key looks like")
			require.Contains(t, msg, tt.hint)
			if len(tt.raw) > 8 {
				require.NotContains(t, msg, tt.raw, "the error never contains the key")
				require.NotContains(t, msg, tt.raw[8:], "the error never contains the key's secret part")
			}
		})
	}
}

func TestParseAPIKeyRejectsAnInvalidEnvironment(t *testing.T) {
	for _, env := range []Environment{"", "staging", "Production"} {
		t.Run("environment "+string(env), func(t *testing.T) {
			k, err := ParseAPIKey(exampleKey, env)
			require.Error(t, err)
			require.True(t, k.IsZero())
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "struere: api key: "), msg)
			require.Contains(t, msg, "development, production, eval")
			require.NotContains(t, msg, exampleKey[8:])
		})
	}
}
