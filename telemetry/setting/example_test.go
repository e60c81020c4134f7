package setting_test

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/optel-dev/optel/telemetry/setting"
)

// A Var takes a given flag over code, code over the environment, and the
// environment over its default; a bad value names its source.
func ExampleVar() {
	brokers := setting.Var[string]{
		Flag: "kafka-brokers", FlagType: "string", Usage: "Kafka brokers.",
		Env: []string{"KAFKA_BROKERS"}, Default: "localhost:9092",
		Parse: func(_, s string) (string, error) { return s, nil },
	}
	fs := pflag.NewFlagSet("op", pflag.ContinueOnError)
	brokers.BindFlag(fs)
	env := func(name string) (string, bool) { return "kafka:9092", name == "KAFKA_BROKERS" }

	_ = brokers.Resolve(env)
	fmt.Println(brokers.Value(), "from", brokers.Source())
	_ = fs.Parse([]string{"--kafka-brokers=k1:9092,k2:9092"})
	_ = brokers.Resolve(env)
	fmt.Println(brokers.Value(), "from", brokers.Source())

	_, err := setting.ParseMillis("KAFKA_TIMEOUT", "10s")
	fmt.Println(err)
	// Output:
	// kafka:9092 from KAFKA_BROKERS
	// k1:9092,k2:9092 from --kafka-brokers
	// invalid value "10s" for KAFKA_TIMEOUT: not an integer number of milliseconds (accepted: a positive integer (milliseconds), e.g. 60000)
}
