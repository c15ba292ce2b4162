package ruletest

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// A scalar() of nothing is NaN: the JSON report still writes, with the
// values JSON has no number for as strings.
func TestJSONNonFiniteValues(t *testing.T) {
	res := run(t, `tests:
  - promql_expr_test:
      - expr: scalar(nothing)
        eval_time: 0m
      - expr: vector(1/0)
        eval_time: 0m
        exp_samples: [{labels: '{}', value: 1}]
`, Options{})
	var out bytes.Buffer
	if err := Write(&out, "json", res); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{`"value": "NaN"`, `"value": "+Inf"`, `"value": 1`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %s in\n%s", want, out.String())
		}
	}
	if c := res.Files[0].Groups[0].Checks[0]; c.Passed || len(c.GotSamples) != 1 || !math.IsNaN(c.GotSamples[0].Value) {
		t.Errorf("scalar(nothing) expected empty: want a failed check with one NaN sample, got %+v", c)
	}
}
