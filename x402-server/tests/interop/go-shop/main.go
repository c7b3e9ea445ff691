// A net/http server behind this project's Go paywall (paywire/go), settling
// through `paywire facilitator` with its API key: the interop test serves it
// on 127.0.0.1 and pays it with the official TypeScript client.
//
// Settings from the environment: PAY_TO, NETWORK, ASSET, PRICE (atomic
// units), TOKEN_NAME, TOKEN_VERSION, FACILITATOR_URL, FACILITATOR_API_KEY,
// PORT. Prints "listening on http://127.0.0.1:PORT" once it serves.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	paywire "paywire/go"
)

func main() {
	paywall, err := paywire.NewPaywall(paywire.PaywallConfig{
		Routes: []paywire.Route{{
			Path:        "/weather",
			Network:     os.Getenv("NETWORK"),
			Asset:       os.Getenv("ASSET"),
			PayTo:       os.Getenv("PAY_TO"),
			Amount:      os.Getenv("PRICE"),
			Extra:       map[string]interface{}{"name": os.Getenv("TOKEN_NAME"), "version": os.Getenv("TOKEN_VERSION")},
			Description: "the weather, paid through paywire facilitator",
			MimeType:    "application/json",
		}},
		Facilitator: &paywire.HTTPFacilitator{URL: os.Getenv("FACILITATOR_URL"), APIKey: os.Getenv("FACILITATOR_API_KEY")},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/weather", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"weather":"sunny","paidThrough":"the Go paywall"}`)
	})
	listener, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", listener.Addr())
	server := &http.Server{Handler: paywall.Middleware(mux), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(server.Serve(listener))
}
