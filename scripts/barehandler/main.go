// Command barehandler is the floor of scripts/bench_serve.sh: a bare Go
// net/http handler that decodes a score request and answers one fixed
// decision, so that the benchmark shows what HTTP and JSON alone cost on
// this machine. It listens on loopback only and has no auth, no policy and
// no audit.
//
//	barehandler -addr 127.0.0.1:18081
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/jitscore/jitscore/models"
)

// answer is the fixed body of every reply, shaped like a real decision.
var answer = []byte(`{"request_id":"fixed","risk":0.05,"decision":"review","policy_decision":"auto_approve",` +
	`"tier":"low","reasons":[{"factor":"peer_used","contribution":-0.4,"detail":"7 of 9 peers used it"}],` +
	`"model_version":"bare","policy_version":"bare"}` + "\n")

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "loopback address to listen on")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "barehandler: -addr %q: want a loopback address\n", *addr)
		os.Exit(2)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet { // readiness, for the bench script
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		var req models.ScoreRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		_, _ = w.Write(answer)
	})
	fmt.Fprintf(os.Stderr, "barehandler: listening on %s\n", *addr)
	if err := http.ListenAndServe(*addr, h); err != nil {
		fmt.Fprintln(os.Stderr, "barehandler:", err)
		os.Exit(1)
	}
}
