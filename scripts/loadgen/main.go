// Command loadgen is the closed-loop HTTP load generator of
// scripts/bench_serve.sh: a fixed number of workers, each sending one POST
// after another over a kept-alive connection for a bounded time, with
// every latency recorded so that the percentiles are exact, not estimated
// from buckets.
//
// It only targets loopback addresses (127.0.0.0/8, ::1) and always stops
// by itself: the duration is capped at five minutes.
//
//	loadgen -url http://127.0.0.1:8080/v1/score -bodies reqs.ndjson -c 16 -d 20s -token T -name jitscore
//
// Two helper modes keep the bench script free of other tools: -free-port
// prints a free loopback TCP port, and -wait URL polls a loopback GET URL
// until it answers 200 (at most one minute).
//
// It prints one line per run (or one JSON object with -json): requests
// per second over the measured window, p50, p99, p99.9 and max latency,
// and the errors: transport failures and answers whose status is not 200
// or that lack the -expect text.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

const maxDuration = 5 * time.Minute

// result is what one run measured.
type result struct {
	Name        string  `json:"name"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Requests    int     `json:"requests"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	P999ms      float64 `json:"p999_ms"`
	MaxMs       float64 `json:"max_ms"`
	Errors      int     `json:"errors"`
	// TotalOK counts every successful answer, warm-up included, for
	// checking against what the target recorded.
	TotalOK    int    `json:"total_ok"`
	FirstError string `json:"first_error,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run() error {
	target := flag.String("url", "", "URL to POST to; must be on 127.0.0.1 or ::1")
	bodiesPath := flag.String("bodies", "", "NDJSON file, one request body per line; workers take them in turn")
	conc := flag.Int("c", 16, "concurrent workers, each with its own connection")
	dur := flag.Duration("d", 20*time.Second, "measured duration (at most 5m)")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured load before the measured window")
	token := flag.String("token", "", "bearer token, if the target wants one")
	expect := flag.String("expect", "", "text every answer must contain, else it counts as an error")
	name := flag.String("name", "target", "label of this run in the output")
	asJSON := flag.Bool("json", false, "print the result as one JSON object")
	freePort := flag.Bool("free-port", false, "print a free loopback TCP port and exit")
	wait := flag.String("wait", "", "poll this loopback URL with GET until it answers 200, then exit")
	flag.Parse()

	switch {
	case *freePort:
		return printFreePort()
	case *wait != "":
		return waitReady(*wait)
	}

	if err := checkLoopback(*target); err != nil {
		return err
	}
	if *dur <= 0 || *dur > maxDuration || *warmup < 0 || *warmup > time.Minute {
		return fmt.Errorf("-d must be in (0, %s] and -warmup in [0, 1m]", maxDuration)
	}
	if *conc < 1 || *conc > 1024 {
		return errors.New("-c must be between 1 and 1024")
	}
	bodies, err := readBodies(*bodiesPath)
	if err != nil {
		return err
	}

	tr := &http.Transport{
		MaxIdleConns:        *conc,
		MaxIdleConnsPerHost: *conc,
		MaxConnsPerHost:     *conc,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		Proxy:               nil, // never go through a proxy
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	l := &loader{
		client: client, url: *target, bodies: bodies, token: *token, expect: []byte(*expect),
	}

	warmOK := 0
	if *warmup > 0 {
		wl, _, _ := l.runFor(*conc, *warmup)
		warmOK = len(wl)
	}
	start := time.Now()
	lat, errs, first := l.runFor(*conc, *dur)
	elapsed := time.Since(start)

	r := summarise(*name, *conc, elapsed, lat, errs, first)
	r.TotalOK = warmOK + r.Requests
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	fmt.Printf("%-10s c=%-3d %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms  p99.9 %6.3f ms  max %7.3f ms  errors %d of %d\n",
		r.Name, r.Concurrency, r.RPS, r.P50ms, r.P99ms, r.P999ms, r.MaxMs, r.Errors, r.Requests+r.Errors)
	if r.FirstError != "" {
		fmt.Printf("%-10s first error: %s\n", r.Name, r.FirstError)
	}
	return nil
}

func printFreePort() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

func waitReady(target string) error {
	if err := checkLoopback(target); err != nil {
		return err
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := client.Get(target)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within a minute (last: %v)", target, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkLoopback refuses any target that is not plain HTTP on a loopback
// address given literally, so the generator cannot be pointed elsewhere.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return fmt.Errorf("-url %q: want http://127.0.0.1:PORT/path", raw)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q: only loopback addresses (127.0.0.1, ::1) are allowed", raw)
	}
	return nil
}

func readBodies(path string) ([][]byte, error) {
	if path == "" {
		return nil, errors.New("-bodies is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, bytes.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no request bodies", path)
	}
	return out, nil
}

type loader struct {
	client *http.Client
	url    string
	bodies [][]byte
	token  string
	expect []byte
}

// runFor runs conc workers for d and returns every successful latency,
// the error count and the first error.
func (l *loader) runFor(conc int, d time.Duration) ([]time.Duration, int, string) {
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	first := ""
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 1<<16)
			nerr := 0
			ferr := ""
			buf := make([]byte, 0, 4096)
			for i := w; time.Now().Before(deadline); i += conc {
				t0 := time.Now()
				var err error
				buf, err = l.once(l.bodies[i%len(l.bodies)], buf)
				if err != nil {
					nerr++
					if ferr == "" {
						ferr = err.Error()
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += nerr
			if first == "" {
				first = ferr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return all, errs, first
}

// once sends one request and reads the whole answer into buf.
func (l *loader) once(body, buf []byte) ([]byte, error) {
	req, err := http.NewRequest(http.MethodPost, l.url, bytes.NewReader(body))
	if err != nil {
		return buf, err
	}
	req.Header.Set("Content-Type", "application/json")
	if l.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.token)
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return buf, err
	}
	buf, err = readAll(resp.Body, buf[:0])
	resp.Body.Close()
	if err != nil {
		return buf, err
	}
	if resp.StatusCode != http.StatusOK {
		return buf, fmt.Errorf("status %d: %.200s", resp.StatusCode, buf)
	}
	if len(l.expect) > 0 && !bytes.Contains(buf, l.expect) {
		return buf, fmt.Errorf("answer lacks %q: %.200s", l.expect, buf)
	}
	return buf, nil
}

func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 4096)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// summarise sorts the latencies and takes exact order statistics: the
// p-quantile is the smallest latency with at least p of all at or below it.
func summarise(name string, conc int, elapsed time.Duration, lat []time.Duration, errs int, first string) result {
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		i = min(max(i, 0), len(lat)-1)
		return float64(lat[i]) / float64(time.Millisecond)
	}
	return result{
		Name:        name,
		Concurrency: conc,
		Seconds:     elapsed.Seconds(),
		Requests:    len(lat),
		RPS:         float64(len(lat)) / elapsed.Seconds(),
		P50ms:       q(0.50),
		P99ms:       q(0.99),
		P999ms:      q(0.999),
		MaxMs:       q(1),
		Errors:      errs,
		FirstError:  first,
	}
}
