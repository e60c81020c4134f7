// Package setting is the vocabulary an exporter uses to own its settings:
// a Var that a command-line flag, an option, an environment variable or a
// default sets, in that order of precedence; the parse functions optel's
// own settings use, so a value is judged the same way wherever it comes
// from; and Error, which names the flag, variable or option at fault and
// what is accepted.
//
// The telemetry package binds every registered exporter's flags through
// telemetry.Flags and calls its Resolve with the environment it was given
// (telemetry.WithEnvironment), so an exporter never reads os.Getenv itself.
// Nothing here is global, and the package imports nothing of optel, so
// exporter packages (optel's and third parties') can use it without
// importing telemetry.
//
// A Var is not safe for concurrent use: it is bound, parsed and resolved
// once, at start-up, before the exporter is built.
package setting
