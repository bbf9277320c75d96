package pipeline

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
)

// Key is a typed handle for one result that steps hand each other through
// the run's [State]: a stage that builds an image puts the digest under a
// Key[string], and the deploy stage gets it with the same key. Keys are
// identified by name, so packages declare them once as package-level
// values, for example
//
//	var Digest = pipeline.NewKey[string]("image.digest")
//
// and document them. A Key is an immutable value. The zero Key has no
// name: [Builder.Build] rejects it in Needs and Provides, and stage
// packages use it to mean "not set" in their options.
type Key[T any] struct {
	name string
}

// NewKey returns the key named name for values of type T. Names should be
// namespaced by the declaring package ("image.digest") so that keys from
// different packages do not collide; a graph in which two keys share a
// name but not a type is rejected by [Builder.Build].
func NewKey[T any](name string) Key[T] { return Key[T]{name: name} }

// AnyKey is any [Key], whatever its type; it is what [Step].Needs and
// [Step].Provides list. Only [Key] implements it.
type AnyKey interface {
	// Name returns the key's name.
	Name() string
	valueType() reflect.Type
}

var _ AnyKey = Key[int]{}

// Name returns the key's name.
func (k Key[T]) Name() string { return k.name }

// String returns the key's name and type, for example
// "image.digest (string)".
func (k Key[T]) String() string { return fmt.Sprintf("%s (%s)", k.name, k.valueType()) }

func (k Key[T]) valueType() reflect.Type { return reflect.TypeFor[T]() }

// Put stores v under k in s, replacing any earlier value.
func (k Key[T]) Put(s *State, v T) { s.put(k.name, v) }

// Lookup returns the value stored under k in s, and whether there is one
// of type T.
func (k Key[T]) Lookup(s *State) (T, bool) {
	v, ok := s.get(k.name)
	if !ok {
		var zero T
		return zero, false
	}
	t, ok := v.(T)
	return t, ok
}

// Get returns the value stored under k in s. It returns an error wrapping
// [ErrNoValue] that names the key when there is none, or when the stored
// value is not of type T.
func (k Key[T]) Get(s *State) (T, error) {
	v, ok := s.get(k.name)
	if !ok {
		var zero T
		return zero, fmt.Errorf("key %q: %w in the run's state; list the key in the step's Needs so that the step providing it runs first", k.name, ErrNoValue)
	}
	t, ok := v.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("key %q: %w of type %s in the run's state (it holds %T); two keys share the name, give one another name", k.name, ErrNoValue, k.valueType(), v)
	}
	return t, nil
}

// State holds the results of one pipeline run, keyed by [Key]. Stages read
// their inputs from it and put their results into it. The zero value is
// an empty state ready to use; a caller may pre-fill one (for example
// with the source revision) and pass it to [Engine.Run]. A State is safe
// for concurrent use.
type State struct {
	mu   sync.RWMutex
	vals map[string]any
}

// NewState returns an empty state.
func NewState() *State { return &State{} }

// Has reports whether s holds a value under k.
func (s *State) Has(k AnyKey) bool {
	_, ok := s.get(k.Name())
	return ok
}

// Keys returns the names of the keys that hold a value, sorted.
func (s *State) Keys() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.vals))
	for n := range s.vals {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *State) put(name string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vals == nil {
		s.vals = make(map[string]any)
	}
	s.vals[name] = v
}

func (s *State) get(name string) (any, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.vals[name]
	return v, ok
}
