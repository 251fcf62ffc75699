package struere_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	struere "github.com/struere/struere-go"
	"github.com/struere/struere-go/strueretest"
)

// TestANilContextIsAnErrorOnEveryMethod calls every exported method of
// Client that takes a context with a nil one (and zero values for the other
// arguments, plus a valid API key and definitions where the zero value
// would be refused before the context is used): each returns an error, none
// panics, and nothing reaches the backend.
func TestANilContextIsAnErrorOnEveryMethod(t *testing.T) {
	srv := strueretest.NewServer(t, strueretest.WithGeneration(struere.GenerationE2Deploy))
	key := chatKey(t, srv, struere.Production, time.Time{})
	for _, gen := range []struere.Generation{struere.GenerationAuto, struere.GenerationE1, struere.GenerationE2, struere.GenerationE2Deploy, struere.GenerationHead} {
		cfg := srv.Config()
		cfg.APIKey, cfg.Generation = key, gen
		c, err := struere.New(cfg)
		require.NoError(t, err)
		srv.ResetRequests()
		t.Run(gen.String(), func(t *testing.T) { requireNilContextErrors(t, c, key) })
		require.Empty(t, srv.Requests(), "a nil context sends nothing")
	}
}

func requireNilContextErrors(t *testing.T, c *struere.Client, key struere.APIKey) {

	ctxType := reflect.TypeOf((*context.Context)(nil)).Elem()
	errType := reflect.TypeOf((*error)(nil)).Elem()
	v := reflect.ValueOf(c)
	n := 0
	for i := 0; i < v.NumMethod(); i++ {
		m := v.Type().Method(i)
		ft := m.Type // receiver first
		if ft.NumIn() < 2 || ft.In(1) != ctxType {
			continue
		}
		n++
		t.Run(m.Name, func(t *testing.T) {
			args := []reflect.Value{reflect.Zero(ctxType)}
			for j := 2; j < ft.NumIn(); j++ {
				if ft.IsVariadic() && j == ft.NumIn()-1 {
					if ft.In(j).Elem() == reflect.TypeOf(struere.SmokeCheck{}) {
						args = append(args, reflect.ValueOf(struere.SmokeCheck{Agent: "support"}))
					}
					break
				}
				args = append(args, argFor(t, ft.In(j), key))
			}
			var out []reflect.Value
			require.NotPanics(t, func() { out = v.Method(i).Call(args) }, "%s(nil, …)", m.Name)
			last := out[len(out)-1]
			require.True(t, last.Type().Implements(errType))
			require.False(t, last.IsNil(), "%s(nil, …) returned no error", m.Name)
			require.Contains(t, last.Interface().(error).Error(), "nil context")
		})
	}
	require.GreaterOrEqual(t, n, 6, "the context-taking methods were found")
}

// argFor returns a value of type typ that passes the checks a method makes
// before it uses its context, so the nil context is what fails.
func argFor(t *testing.T, typ reflect.Type, key struere.APIKey) reflect.Value {
	switch {
	case typ == reflect.TypeOf(key):
		return reflect.ValueOf(key)
	case typ == reflect.TypeOf(&struere.Definitions{}):
		return reflect.ValueOf(sampleDefs(t))
	case typ == reflect.TypeOf(struere.Production):
		return reflect.ValueOf(struere.Development)
	case typ.Kind() == reflect.String:
		return reflect.ValueOf("support").Convert(typ)
	}
	return reflect.Zero(typ)
}
