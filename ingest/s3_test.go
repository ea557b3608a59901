package ingest

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// ctFakeS3 starts an in-memory S3 server on 127.0.0.1 and points the AWS
// credential chain at fake static keys, never at the instance metadata
// service or the user's own configuration.
func ctFakeS3(t *testing.T) (endpoint string, client *s3.Client) {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-for-tests")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_PROFILE", "")
	c, err := newS3Client(context.Background(), CloudTrailOptions{EndpointURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, c
}

func ctPut(t *testing.T, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// TestS3SourceLoadsTrailBucket serves case files from a real S3 protocol
// server under the CloudTrail key layout and checks that the load through
// the SDK equals the local load, that listing pages are followed, that
// --since prunes an older day folder without reading it, and that a second
// run reads nothing new.
func TestS3SourceLoadsTrailBucket(t *testing.T) {
	shared := ctSharedDir(t)
	endpoint, client := ctFakeS3(t)
	ctx := context.Background()
	const bucket = "corp-audit-trail"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	old := s3PageSize
	s3PageSize = 2
	t.Cleanup(func() { s3PageSize = old })

	// a1's tree keeps its layout (log + digest on 2026/03/09); a9's two
	// files go to the same day; a10's file goes to an older day folder.
	cases := filepath.Join(shared, "cases", "cloudtrail")
	a1 := filepath.Join(cases, "a1-digest-mixed", "input")
	err := filepath.WalkDir(a1, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(a1, p)
		ctPut(t, client, bucket, filepath.ToSlash(rel), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	day := "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/09/"
	for _, c := range []string{"a9-duplicate-across-files", "a10-leading-zero-ip"} {
		files, _ := filepath.Glob(filepath.Join(cases, c, "input", "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			key := day + filepath.Base(f)
			if c == "a10-leading-zero-ip" {
				key = strings.Replace(key, "2026/03/09", "2026/03/01", 1)
			}
			ctPut(t, client, bucket, key, b)
		}
	}

	db := ctOpenDB(t)
	opts := CloudTrailOptions{EndpointURL: endpoint, Since: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)}
	sum, err := LoadCloudTrail(ctx, db, []string{"s3://" + bucket + "/AWSLogs/"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	// a1: 3 events + 1 digest; a9: 3 events, 1 duplicate; a10 pruned.
	if sum.EventsLoaded != 6 || sum.Duplicates != 1 || sum.SkippedFiles != 1 || sum.Quarantined != 0 {
		t.Errorf("loaded/dup/skipped/quar = %d/%d/%d/%d, want 6/1/1/0 (%+v)",
			sum.EventsLoaded, sum.Duplicates, sum.SkippedFiles, sum.Quarantined, sum)
	}
	if sum.FilesRead != 4 {
		t.Errorf("files read = %d, want 4 (the 2026/03/01 folder must not be read)", sum.FilesRead)
	}
	var src string
	if err := db.QueryRow(`SELECT source FROM events WHERE event_id = 'b12e21ab-091d-4c37-8fc3-d0b6a2c31b56'`).Scan(&src); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(src, "s3://"+bucket+"/AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/09/") {
		t.Errorf("source = %s, want the object's s3:// address", src)
	}

	again, err := LoadCloudTrail(ctx, db, []string{"s3://" + bucket + "/AWSLogs/"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.EventsLoaded != 0 || again.FilesRead != 0 || again.UnchangedFiles != 4 || again.Duplicates != 7 {
		t.Errorf("second run loaded/read/unchanged/dup = %d/%d/%d/%d, want 0/0/4/7",
			again.EventsLoaded, again.FilesRead, again.UnchangedFiles, again.Duplicates)
	}
}

// TestS3MissingBucketFailsWithClearError checks that a listing failure
// stops the load with the bucket named.
func TestS3MissingBucketFailsWithClearError(t *testing.T) {
	endpoint, _ := ctFakeS3(t)
	db := ctOpenDB(t)
	_, err := LoadCloudTrail(context.Background(), db, []string{"s3://no-such-bucket/x/"}, CloudTrailOptions{EndpointURL: endpoint})
	if err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("err = %v, want a listing error naming the bucket", err)
	}
}
