package pipeline_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline"
)

func TestKeyGetPutLookup(t *testing.T) {
	var st pipeline.State // zero value is usable
	_, err := keyA.Get(&st)
	require.ErrorIs(t, err, pipeline.ErrNoValue)
	assert.EqualError(t, err, `key "test.a": no value in the run's state; list the key in the step's Needs so that the step providing it runs first`)
	_, ok := keyA.Lookup(&st)
	assert.False(t, ok)
	assert.False(t, st.Has(keyA))

	keyA.Put(&st, "x")
	v, err := keyA.Get(&st)
	require.NoError(t, err)
	assert.Equal(t, "x", v)
	assert.True(t, st.Has(keyA))

	wrong := pipeline.NewKey[int]("test.a")
	_, err = wrong.Get(&st)
	require.ErrorIs(t, err, pipeline.ErrNoValue)
	assert.EqualError(t, err, `key "test.a": no value of type int in the run's state (it holds string); two keys share the name, give one another name`)
	_, ok = wrong.Lookup(&st)
	assert.False(t, ok)

	assert.Equal(t, "test.a", keyA.Name())
	assert.Equal(t, "test.a (string)", keyA.String())
}

func TestStateConcurrentUse(t *testing.T) {
	st := pipeline.NewState()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := pipeline.NewKey[int](fmt.Sprintf("k%02d", i))
			k.Put(st, i)
			v, err := k.Get(st)
			assert.NoError(t, err)
			assert.Equal(t, i, v)
		}()
	}
	wg.Wait()
	assert.Len(t, st.Keys(), 16)
	assert.Equal(t, "k00", st.Keys()[0])
}
