package setting

import (
	"strings"

	"github.com/spf13/pflag"
)

// Lookup reads one environment variable, as os.LookupEnv does. Resolve
// treats a blank value as unset, as the OTel specification does.
type Lookup func(name string) (string, bool)

func (l Lookup) get(name string) (string, bool) {
	if l == nil {
		return "", false
	}
	v, ok := l(name)
	if !ok || strings.TrimSpace(v) == "" {
		return "", false
	}
	return v, true
}

// EnvVar documents one environment variable, for --help-style references
// and docs/configuration.md.
type EnvVar struct {
	Name, Default, Description string
}

// Var is one setting. Its value comes from, in order: a flag given on the
// command line (a flag left at its default does not count, so the
// environment still applies), Set (an option in code), the first variable
// of Env that is set and not blank, then Default. Fill in the exported
// fields before BindFlag and Resolve; Value and Source are valid after
// Resolve.
type Var[T any] struct {
	// Flag is the flag name without dashes; empty binds no flag.
	Flag string
	// Usage is the flag's --help text; FlagType is the type --help shows.
	Usage, FlagType string
	// FlagDefault is the default --help shows.
	FlagDefault string
	// NoOptDefault is the value of the flag given without one (e.g. "true"
	// for a boolean flag); empty requires a value.
	NoOptDefault string
	// Option names Set in errors, e.g. "otlp.Config.Timeout".
	Option string
	// Env lists the variables read, most specific first.
	Env []string
	// Default is the value when nothing else sets it.
	Default T
	// Parse parses a flag's or variable's text; src is the flag ("--name")
	// or variable, for the *Error it returns.
	Parse func(src, s string) (T, error)
	// ParseEnv, if set, parses the variables instead of Parse (the OTel
	// environment spells durations in milliseconds).
	ParseEnv func(src, s string) (T, error)
	// Check, if set, validates the resolved value whatever its source,
	// e.g. a duration given to Set that must be positive.
	Check func(src string, v T) error

	flag, opt         T
	flagRaw           string
	flagGiven, optSet bool
	val               T
	src               string
}

// BindFlag registers the flag on fs (nothing when Flag is empty). The flag
// parses with Parse, so a bad value makes pflag name the flag.
func (v *Var[T]) BindFlag(fs *pflag.FlagSet) {
	if v.Flag == "" {
		return
	}
	v.flagRaw = v.FlagDefault
	fs.Var(flagValue[T]{v}, v.Flag, v.Usage)
	if v.NoOptDefault != "" {
		fs.Lookup(v.Flag).NoOptDefVal = v.NoOptDefault
	}
}

// Set sets the value in code. It wins over the environment; a given flag
// wins over it.
func (v *Var[T]) Set(x T) { v.opt, v.optSet = x, true }

// Resolve settles the value from the flag, Set, lookup and Default, and
// checks it. Errors are *Error naming the source.
func (v *Var[T]) Resolve(lookup Lookup) error {
	switch {
	case v.flagGiven:
		v.val, v.src = v.flag, "--"+v.Flag
	case v.optSet:
		v.val, v.src = v.opt, v.Option
	default:
		v.val, v.src = v.Default, "default"
		parse := v.Parse
		if v.ParseEnv != nil {
			parse = v.ParseEnv
		}
		for _, name := range v.Env {
			if raw, ok := lookup.get(name); ok {
				x, err := parse(name, raw)
				if err != nil {
					return err
				}
				v.val, v.src = x, name
				break
			}
		}
	}
	if v.Check != nil {
		return v.Check(v.src, v.val)
	}
	return nil
}

// Value is the resolved value.
func (v *Var[T]) Value() T { return v.val }

// Source is where the resolved value came from: "--flag", a variable's
// name, the Option name, or "default".
func (v *Var[T]) Source() string { return v.src }

// flagValue is the pflag.Value of a Var.
type flagValue[T any] struct{ v *Var[T] }

func (f flagValue[T]) String() string { return f.v.flagRaw }
func (f flagValue[T]) Type() string   { return f.v.FlagType }

func (f flagValue[T]) Set(s string) error {
	x, err := f.v.Parse("--"+f.v.Flag, s)
	if err != nil {
		return err
	}
	f.v.flag, f.v.flagRaw, f.v.flagGiven = x, s, true
	return nil
}
