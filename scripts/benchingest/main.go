// Command benchingest supports scripts/bench_ingest.sh: it writes synthetic
// CloudTrail delivery files and runs the two baselines the ingester is
// measured against.
//
//	benchingest gen DIR EVENTS FILES   write FILES .json.gz Records files
//	benchingest decode DIR             plain encoding/json decode of every file
//	benchingest duckdb DIR DB          DuckDB read_json + unnest into a table
//
// Every mode prints one line "events=N seconds=S events_per_second=R".
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/klauspost/compress/gzip"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchingest:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: benchingest gen DIR EVENTS FILES | decode DIR | duckdb DIR DB")
	}
	switch args[0] {
	case "gen":
		if len(args) != 4 {
			return fmt.Errorf("gen DIR EVENTS FILES")
		}
		n, err1 := strconv.Atoi(args[2])
		files, err2 := strconv.Atoi(args[3])
		if err1 != nil || err2 != nil || n <= 0 || files <= 0 {
			return fmt.Errorf("gen: EVENTS and FILES must be positive integers")
		}
		return generate(args[1], n, files)
	case "decode":
		return decode(args[1])
	case "duckdb":
		if len(args) != 3 {
			return fmt.Errorf("duckdb DIR DB")
		}
		return duck(args[1], args[2])
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

// person is a synthetic human with an Identity Center session.
type person struct {
	name, permSet, suffix, ip string
}

// generate writes n events spread over files gzipped Records files in the
// S3 key layout, deterministic for a fixed seed. Events look like the
// shared cases: Identity Center sessions, IAM users, CI roles and AWS
// services, with request parameters and TLS details, about 1 KB each.
func generate(dir string, n, files int) error {
	rng := rand.New(rand.NewPCG(7, 11))
	const account = "111122223333"
	permSets := []string{"PowerUser", "ReadOnlyAccess", "AdministratorAccess", "DataEngineer", "BillingReadOnly"}
	var people []person
	for i := range 400 {
		people = append(people, person{
			name:    fmt.Sprintf("user%03d@corp.example", i),
			permSet: permSets[rng.IntN(len(permSets))],
			suffix:  fmt.Sprintf("%016x", rng.Uint64()),
			ip:      fmt.Sprintf("203.0.113.%d", rng.IntN(254)+1),
		})
	}
	calls := [][2]string{
		{"ec2.amazonaws.com", "DescribeInstances"}, {"s3.amazonaws.com", "GetObject"},
		{"s3.amazonaws.com", "PutObject"}, {"iam.amazonaws.com", "ListRoles"},
		{"sts.amazonaws.com", "AssumeRole"}, {"kms.amazonaws.com", "Decrypt"},
		{"lambda.amazonaws.com", "Invoke"}, {"dynamodb.amazonaws.com", "GetItem"},
		{"secretsmanager.amazonaws.com", "GetSecretValue"}, {"rds.amazonaws.com", "DescribeDBInstances"},
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	per := (n + files - 1) / files
	written := 0
	for f := 0; f < files && written < n; f++ {
		count := min(per, n-written)
		fileTime := start.Add(time.Duration(f) * 5 * time.Minute)
		region := "us-east-1"
		key := filepath.Join(dir, "AWSLogs", account, "CloudTrail", region, fileTime.Format("2006/01/02"),
			fmt.Sprintf("%s_CloudTrail_%s_%s_%08x.json.gz", account, region, fileTime.Format("20060102T1504Z"), rng.Uint32()))
		if err := os.MkdirAll(filepath.Dir(key), 0o755); err != nil {
			return err
		}
		var buf bytes.Buffer
		buf.WriteString(`{"Records":[`)
		for i := range count {
			if i > 0 {
				buf.WriteByte(',')
			}
			t := fileTime.Add(-time.Duration(rng.IntN(300)) * time.Second)
			c := calls[rng.IntN(len(calls))]
			writeEvent(&buf, rng, people, account, region, t, c[0], c[1], written+i)
		}
		buf.WriteString(`]}`)
		out, err := os.Create(key)
		if err != nil {
			return err
		}
		zw, _ := gzip.NewWriterLevel(out, gzip.DefaultCompression)
		if _, err := zw.Write(buf.Bytes()); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		written += count
	}
	fmt.Printf("events=%d files=%d\n", written, files)
	return nil
}

func uuid(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0x3fff|0x8000, b&0xffffffffffff)
}

func writeEvent(buf *bytes.Buffer, rng *rand.Rand, people []person, account, region string, t time.Time, src, name string, seq int) {
	var ident string
	ip := "198.51.100.14"
	switch r := rng.IntN(10); {
	case r < 7:
		p := people[rng.IntN(len(people))]
		role := "AWSReservedSSO_" + p.permSet + "_" + p.suffix
		ident = fmt.Sprintf(`{"type":"AssumedRole","principalId":"AROAM8W3D6NOS5NV2EQMK:%s","arn":"arn:aws:sts::%s:assumed-role/%s/%s","accountId":"%s","accessKeyId":"ASIAF28XM4UPZ1NE13TN","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAM8W3D6NOS5NV2EQMK","arn":"arn:aws:iam::%s:role/aws-reserved/sso.amazonaws.com/%s","accountId":"%s","userName":"%s"},"webIdFederationData":{},"attributes":{"creationDate":"%s","mfaAuthenticated":"false"}}}`,
			p.name, account, role, p.name, account, account, role, account, role, t.Add(-time.Hour).Format(time.RFC3339))
		ip = p.ip
	case r < 9:
		u := fmt.Sprintf("svc-%02d", rng.IntN(30))
		ident = fmt.Sprintf(`{"type":"IAMUser","principalId":"AIDAUFRJQ3N1H7UPGRLAA","arn":"arn:aws:iam::%s:user/%s","accountId":"%s","accessKeyId":"AKIAZ3CVPR4M98UVBISW","userName":"%s"}`, account, u, account, u)
	default:
		ident = `{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}`
		ip = "cloudtrail.amazonaws.com"
	}
	errPart := ""
	if rng.IntN(20) == 0 {
		errPart = `"errorCode":"AccessDenied","errorMessage":"User is not authorized to perform this operation",`
	}
	fmt.Fprintf(buf, `{"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s","eventSource":"%s","eventName":"%s","awsRegion":"%s","sourceIPAddress":"%s","userAgent":"aws-cli/2.24.10 md/awscrt#0.23.8 ua/2.1 os/macos#24.3.0 md/arch#arm64 lang/python#3.12.9",%s"requestParameters":{"bucketName":"corp-data-%d","key":"reports/2026/%06d.parquet","maxResults":50},"responseElements":null,"requestID":"%s","eventID":"%s","readOnly":%v,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"%s","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"%s"}}`,
		ident, t.Format(time.RFC3339), src, name, region, ip, errPart, rng.IntN(40), seq, uuid(rng), uuid(rng), rng.IntN(3) > 0, account, src)
}

// files lists the .json.gz files under dir.
func files(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".gz" {
			out = append(out, p)
		}
		return err
	})
	return out, err
}

// benchEvent is the plain baseline's record type: the fields jitscore
// normalises, decoded with encoding/json.
type benchEvent struct {
	EventID         string          `json:"eventID"`
	EventTime       time.Time       `json:"eventTime"`
	EventSource     string          `json:"eventSource"`
	EventName       string          `json:"eventName"`
	AWSRegion       string          `json:"awsRegion"`
	SourceIPAddress string          `json:"sourceIPAddress"`
	UserAgent       string          `json:"userAgent"`
	ErrorCode       string          `json:"errorCode"`
	ReadOnly        *bool           `json:"readOnly"`
	EventType       string          `json:"eventType"`
	EventCategory   string          `json:"eventCategory"`
	RecipientAcct   string          `json:"recipientAccountId"`
	RequestParams   json.RawMessage `json:"requestParameters"`
	UserIdentity    struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		UserName    string `json:"userName"`
		InvokedBy   string `json:"invokedBy"`
	} `json:"userIdentity"`
}

// decode is the plain baseline: gunzip and decode each file into a struct
// slice, one file at a time, no database.
func decode(dir string) error {
	paths, err := files(dir)
	if err != nil {
		return err
	}
	start := time.Now()
	total := 0
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			return err
		}
		var doc struct {
			Records []benchEvent `json:"Records"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		total += len(doc.Records)
	}
	report(total, time.Since(start))
	return nil
}

// duck is the DuckDB baseline: read_json over the files and unnest the
// Records into a table, in a fresh database file.
func duck(dir, dbPath string) error {
	db, err := sql.Open("duckdb", dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	glob := filepath.Join(dir, "**", "*.json.gz")
	start := time.Now()
	if _, err := db.ExecContext(ctx, `CREATE TABLE raw_events AS SELECT unnest(Records, recursive := false) AS r FROM read_json(?, maximum_object_size = 67108864)`, glob); err != nil {
		return err
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM raw_events`).Scan(&n); err != nil {
		return err
	}
	report(n, time.Since(start))
	return nil
}

func report(n int, d time.Duration) {
	fmt.Printf("events=%d seconds=%.2f events_per_second=%.0f\n", n, d.Seconds(), float64(n)/d.Seconds())
}
