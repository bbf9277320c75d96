package strategy_test

import (
	"fmt"
	"time"

	"github.com/flightdeck-dev/flightdeck/strategy"
)

func ExampleCanary_Compile() {
	canary := strategy.Canary{
		Steps: []strategy.Step{
			strategy.SetWeight(10),
			strategy.Pause(5 * time.Minute),
			strategy.Analyze("error-rate", "latency"),
			strategy.SetWeight(25),
			strategy.SetWeight(50),
			strategy.PauseUntilPromoted(),
		},
		TrafficRouting: &strategy.TrafficRouting{HTTPRoute: "checkout", StableService: "checkout", CanaryService: "checkout-canary"},
		Analysis:       &strategy.BackgroundAnalysis{Analysis: strategy.Templates("success-rate"), StartingStep: new(int32(1))},
	}
	plan, err := canary.Compile("checkout", "prod")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(plan)
	// Output:
	// canary plan for checkout in prod (HTTPRoute checkout, stable checkout, canary checkout-canary)
	// 1/10 setWeight 10%
	// 2/10 background analysis success-rate
	// 3/10 pause 5m0s
	// 4/10 analysis error-rate, latency
	// 5/10 setWeight 25%
	// 6/10 setWeight 50%
	// 7/10 pause until promoted
	// 8/10 setWeight 100% (finish)
	// 9/10 switchActive
	// 10/10 scaleDown after 30s
	// abort: all traffic back to stable, then scale the new release down after 30s
}

func ExampleBlueGreen_Compile() {
	plan, err := strategy.BlueGreen{
		ActiveService:         "checkout",
		PreviewService:        "checkout-preview",
		AutoPromotionEnabled:  new(false),
		PrePromotionAnalysis:  new(strategy.Templates("smoke")),
		PostPromotionAnalysis: new(strategy.Templates("error-rate")),
		PreviewReplicaCount:   new(int32(1)),
	}.Compile("checkout", "prod")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(plan)
	// Output:
	// blueGreen plan for checkout in prod (active checkout, preview checkout-preview)
	// 1/7 setCanaryScale 1 replica
	// 2/7 analysis smoke
	// 3/7 pause until promoted
	// 4/7 setCanaryScale 100% (finish)
	// 5/7 switchActive
	// 6/7 analysis error-rate
	// 7/7 scaleDown after 30s
	// abort: all traffic back to stable, then scale the new release down after 30s
}

func ExampleRolling_Compile() {
	plan, _ := strategy.Rolling{}.Compile("checkout", "dev")
	fmt.Print(plan)
	// Output:
	// rolling plan for checkout in dev (maxSurge 25%, maxUnavailable 25%)
	// 1/1 setWeight 100% (finish)
	// abort: all traffic back to stable, then scale the new release down with its traffic
}

func ExamplePlan_Mermaid() {
	plan, _ := strategy.Canary{Steps: []strategy.Step{
		strategy.SetWeight(20),
		strategy.Analyze("error-rate"),
		strategy.PauseUntilPromoted(),
	}}.Compile("checkout", "prod")
	fmt.Print(plan.Mermaid())
	// Output:
	// flowchart TD
	//     start(["canary plan for checkout in prod"])
	//     s1["1/6 setWeight 20%"]
	//     s2{"2/6 analysis error-rate"}
	//     s2i(["paused: promote or abort"])
	//     s3["3/6 pause until promoted"]
	//     s4["4/6 setWeight 100%"]
	//     s5["5/6 switchActive"]
	//     s6["6/6 scaleDown now"]
	//     done(["done"])
	//     abort(["abort: all traffic back to stable, then scale the new release down with its traffic"])
	//     start --> s1
	//     s1 --> s2
	//     s2 -->|Successful| s3
	//     s2 -->|Failed, Error| abort
	//     s2 -->|Inconclusive| s2i
	//     s2i -->|promote| s3
	//     s2i -->|abort| abort
	//     s3 -->|promote| s4
	//     s4 --> s5
	//     s5 --> s6
	//     s6 --> done
}

func ExampleCanary_Validate() {
	err := strategy.Canary{
		Steps: []strategy.Step{
			strategy.SetWeight(120),
			strategy.ScaleCanary(2),
			{SetWeight: new(int32(10)), Pause: &strategy.PauseStep{}},
		},
		MaxSurge:       &strategy.IntOrPercent{},
		MaxUnavailable: &strategy.IntOrPercent{Percent: true},
	}.Validate()
	fmt.Println(err)
	// Output:
	// steps[0].setWeight: must be between 0 and 100, got 120
	// steps[1].setCanaryScale: requires trafficRouting
	// steps[2]: a step has exactly one kind, this one has setWeight, pause
	// maxSurge: maxSurge and maxUnavailable cannot both be zero
}

func ExamplePlan_Hash() {
	plan, _ := strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(10)}}.Compile("checkout", "prod")
	hash, _ := plan.Hash()
	fmt.Println(hash)
	// Output:
	// 5b205d0c6140727c50c5f4455b50261fd209a11414be723840621ab4f430fedc
}

func ExampleApproximateReplicas() {
	for _, weight := range []int32{10, 25, 41} {
		canary, stable := strategy.ApproximateReplicas(10, weight, 0)
		withSurgeCanary, withSurgeStable := strategy.ApproximateReplicas(10, weight, 1)
		fmt.Printf("%d%%: %d canary / %d stable; with surge %d / %d\n", weight, canary, stable, withSurgeCanary, withSurgeStable)
	}
	// Output:
	// 10%: 1 canary / 9 stable; with surge 1 / 9
	// 25%: 3 canary / 7 stable; with surge 3 / 8
	// 41%: 4 canary / 6 stable; with surge 4 / 6
}

func ExampleHTTPRouteWeights() {
	for _, weight := range []int32{0, 25, 100} {
		w, _ := strategy.HTTPRouteWeights(weight)
		fmt.Printf("%d%%: stable %d, canary %d\n", weight, w.Stable, w.Canary)
	}
	// Output:
	// 0%: stable 100, canary 0
	// 25%: stable 75, canary 25
	// 100%: stable 0, canary 100
}

func ExamplePlan_ReplicaCounts() {
	plan, _ := strategy.Canary{Steps: []strategy.Step{
		strategy.SetWeight(10), strategy.SetWeight(25), strategy.SetWeight(41),
	}}.Compile("checkout", "prod")
	// Ten replicas, all stable; the default maxSurge (25%) allows 3 more.
	stable := &strategy.ReplicaSet{Replicas: 10, Available: 10}
	canary := &strategy.ReplicaSet{}
	for step := range plan.Finish + 1 {
		// Apply the counts until they hold, every pod becoming available.
		for {
			c, s := plan.ReplicaCounts(strategy.CanaryState{Step: step, Replicas: 10, Canary: canary, Stable: stable})
			if c == canary.Replicas && s == stable.Replicas {
				break
			}
			canary = &strategy.ReplicaSet{Replicas: c, Available: c}
			stable = &strategy.ReplicaSet{Replicas: s, Available: s}
		}
		fmt.Printf("%s: %d canary / %d stable\n", plan.Steps[step], canary.Replicas, stable.Replicas)
	}
	// Output:
	// setWeight 10%: 1 canary / 9 stable
	// setWeight 25%: 3 canary / 8 stable
	// setWeight 41%: 4 canary / 6 stable
	// setWeight 100%: 10 canary / 0 stable
}

func ExampleParseStrategy() {
	spec, err := strategy.ParseStrategy([]byte(`{"blueGreen": {"activeService": "shop", "previewService": "shop-preview", "autoPromotionEnabled": false}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, _ := spec.Compile("shop", "prod")
	fmt.Print(plan)
	_, err = strategy.ParseStrategy([]byte(`{"canary": {"steps": [{"setWeight": 20}], "stepz": []}}`))
	fmt.Println(err)
	// Output:
	// blueGreen plan for shop in prod (active shop, preview shop-preview)
	// 1/4 setCanaryScale 100%
	// 2/4 pause until promoted
	// 3/4 switchActive (finish)
	// 4/4 scaleDown after 30s
	// abort: all traffic back to stable, then scale the new release down after 30s
	// decoding strategy: json: unknown field "stepz"
}
