// Command bench times paywire.Verify (Go, cgo over libpaywire) on the payment the
// other benchmarks use, and prints one JSON line: µs per call, min and median.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"paywire/go"
)

const payment = "v2-exact-eip3009-skips-unsupported-first-accept"

func main() {
	root := os.Args[1]
	raw, err := os.ReadFile(filepath.Join(root, "x402-core", "tests", "vectors", "official-payments.json"))
	if err != nil {
		panic(err)
	}
	var doc struct {
		Vectors []struct {
			Name                string          `json:"name"`
			X402Version         int             `json:"x402Version"`
			PaymentPayload      json.RawMessage `json:"paymentPayload"`
			PaymentRequirements json.RawMessage `json:"paymentRequirements"`
			Now                 int64           `json:"now"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		panic(err)
	}
	for _, v := range doc.Vectors {
		if v.Name != payment {
			continue
		}
		body, _ := json.Marshal(map[string]interface{}{
			"x402Version": v.X402Version, "paymentPayload": v.PaymentPayload, "paymentRequirements": v.PaymentRequirements,
		})
		now := time.Unix(v.Now, 0)
		r, err := paywire.Verify(body, now)
		if err != nil || !r.IsValid {
			panic(fmt.Sprint(r, err))
		}
		op := func() { _, _ = paywire.Verify(body, now) }
		min, median, n := measure(op, 30, 20*time.Millisecond)
		out, _ := json.Marshal(map[string]interface{}{
			"name": "paywire via Go (cgo)", "what": "Verify (POST /verify body, []byte in, VerifyResponse struct out)",
			"min_us": min, "median_us": median, "calls_per_sample": n, "samples": 30, "body_bytes": len(body),
		})
		fmt.Println(string(out))
		return
	}
	panic("payment not found")
}

func measure(op func(), samples int, minSample time.Duration) (float64, float64, int) {
	for i := 0; i < 3; i++ {
		op()
	}
	n := 1
	for {
		t := time.Now()
		for i := 0; i < n; i++ {
			op()
		}
		if time.Since(t) >= minSample {
			break
		}
		n *= 2
	}
	perOp := make([]float64, samples)
	for s := range perOp {
		t := time.Now()
		for i := 0; i < n; i++ {
			op()
		}
		perOp[s] = float64(time.Since(t).Nanoseconds()) / float64(n) / 1000
	}
	sort.Float64s(perOp)
	return perOp[0], perOp[samples/2], n
}
