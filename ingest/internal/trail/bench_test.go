package trail

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// deliveryGen writes synthetic S3 delivery documents shaped like the ones
// the ingest benchmark loads: mostly IAM Identity Center AssumedRole
// sessions with a full sessionContext, some IAM users and AWS services,
// requestParameters, a null responseElements and tlsDetails, about 1.3 KB
// per record. The output is deterministic for a seed.
type deliveryGen struct {
	rng     *rand.Rand
	account string
	users   []genUser
}

type genUser struct {
	login, role, addr string
}

func newDeliveryGen(seed uint64) *deliveryGen {
	g := &deliveryGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), account: "111122223333"}
	sets := []string{"AdministratorAccess", "PowerUser", "ReadOnlyAccess", "Data_Engineer", "BillingReadOnly"}
	for n := range 300 {
		g.users = append(g.users, genUser{
			login: "person" + strconv.Itoa(n) + "@corp.example",
			role:  fmt.Sprintf("AWSReservedSSO_%s_%016x", sets[g.rng.IntN(len(sets))], g.rng.Uint64()),
			addr:  "203.0.113." + strconv.Itoa(1+g.rng.IntN(254)),
		})
	}
	return g
}

var genCalls = []struct{ source, name string }{
	{"s3.amazonaws.com", "GetObject"}, {"s3.amazonaws.com", "ListObjectsV2"},
	{"ec2.amazonaws.com", "DescribeSecurityGroups"}, {"kms.amazonaws.com", "GenerateDataKey"},
	{"iam.amazonaws.com", "GetRole"}, {"sts.amazonaws.com", "GetCallerIdentity"},
	{"logs.amazonaws.com", "FilterLogEvents"}, {"dynamodb.amazonaws.com", "Query"},
}

// records returns one {"Records":[...]} document of n events.
func (g *deliveryGen) records(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"Records":[`)
	at := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	for k := range n {
		if k > 0 {
			buf.WriteByte(',')
		}
		g.event(&buf, at.Add(time.Duration(k)*time.Second+time.Duration(g.rng.IntN(1000))*time.Millisecond))
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

func (g *deliveryGen) id() string {
	a, b := g.rng.Uint64(), g.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>52, b&0xffffffffffff)
}

func (g *deliveryGen) event(buf *bytes.Buffer, at time.Time) {
	call := genCalls[g.rng.IntN(len(genCalls))]
	addr := "198.51.100.23"
	var who string
	switch r := g.rng.IntN(10); {
	case r < 7:
		u := g.users[g.rng.IntN(len(g.users))]
		addr = u.addr
		who = `{"type":"AssumedRole","principalId":"AROAEXAMPLEROLEID0001:` + u.login +
			`","arn":"arn:aws:sts::` + g.account + `:assumed-role/` + u.role + `/` + u.login +
			`","accountId":"` + g.account + `","accessKeyId":"ASIAEXAMPLEKEY000001","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLEROLEID0001","arn":"arn:aws:iam::` +
			g.account + `:role/aws-reserved/sso.amazonaws.com/` + u.role + `","accountId":"` + g.account +
			`","userName":"` + u.role + `"},"webIdFederationData":{},"attributes":{"creationDate":"` +
			at.Add(-40*time.Minute).Format(time.RFC3339) + `","mfaAuthenticated":"false"}}}`
	case r < 9:
		name := "svc-batch-" + strconv.Itoa(g.rng.IntN(20))
		who = `{"type":"IAMUser","principalId":"AIDAEXAMPLEUSERID0001","arn":"arn:aws:iam::` + g.account +
			`:user/` + name + `","accountId":"` + g.account + `","accessKeyId":"AKIAEXAMPLEKEY000001","userName":"` + name + `"}`
	default:
		who = `{"type":"AWSService","invokedBy":"logs.amazonaws.com"}`
		addr = "logs.amazonaws.com"
	}
	buf.WriteString(`{"eventVersion":"1.10","userIdentity":`)
	buf.WriteString(who)
	fmt.Fprintf(buf, `,"eventTime":"%s","eventSource":"%s","eventName":"%s","awsRegion":"eu-west-1","sourceIPAddress":"%s",`,
		at.Format(time.RFC3339), call.source, call.name, addr)
	buf.WriteString(`"userAgent":"aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.24.2 md/GOOS#linux md/GOARCH#amd64 api/s3#1.79.2",`)
	if g.rng.IntN(25) == 0 {
		buf.WriteString(`"errorCode":"AccessDenied","errorMessage":"User is not authorized to perform this action on the resource",`)
	}
	fmt.Fprintf(buf, `"requestParameters":{"bucketName":"analytics-%d","prefix":"daily/2026/03/","maxKeys":1000},"responseElements":null,`,
		g.rng.IntN(50))
	fmt.Fprintf(buf, `"requestID":"%s","eventID":"%s","readOnly":%t,"resources":[{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::analytics"}],"eventType":"AwsApiCall","managementEvent":%t,"recipientAccountId":"%s","eventCategory":"Management",`,
		g.id(), g.id(), g.rng.IntN(4) > 0, g.rng.IntN(5) > 0, g.account)
	fmt.Fprintf(buf, `"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"%s"}}`, call.source)
}

// BenchmarkScanRecords measures Scan over an S3 delivery document of 5,000
// generated events (the size of one benchmark ingest file), reporting
// throughput and the cost per event.
func BenchmarkScanRecords(b *testing.B) {
	const n = 5000
	doc := newDeliveryGen(1).records(n)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	var events int
	for b.Loop() {
		events = 0
		res := Scan(doc, func(it *Item) {
			if it.Err == nil {
				events++
			}
		})
		if res.Events != n || res.Problems != 0 {
			b.Fatalf("scan = %+v, want %d events", res, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/event")
	b.ReportMetric(float64(len(doc))/n, "bytes/event")
	_ = events
}
