package ingest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// newS3Client builds an S3 client from the standard credential chain
// (environment, shared config and credentials files, SSO, IMDS, ...). With
// an endpoint URL it talks to that S3-compatible store with path-style
// addressing, which such stores expect.
func newS3Client(ctx context.Context, opts CloudTrailOptions) (*s3.Client, error) {
	var loadOpts []func(*config.LoadOptions) error
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		// Listing and reading need a signing region; a trail bucket
		// answers in any, and us-east-1 is the S3 default.
		cfg.Region = "us-east-1"
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.EndpointURL != "" {
			o.BaseEndpoint = aws.String(opts.EndpointURL)
			o.UsePathStyle = true
		}
	}), nil
}

// s3PageSize, when positive, caps the keys per listing page; tests lower
// it to exercise pagination.
var s3PageSize int32

// listS3 lists the objects under s3://bucket/prefix, walking the key
// hierarchy with a "/" delimiter so that date folders of the CloudTrail
// layout wholly before since are pruned without being listed or read. It
// returns the objects to read and how many listed objects fell before since.
func listS3(ctx context.Context, client *s3.Client, bucket, prefix string, since time.Time) ([]object, int, error) {
	var out []object
	skipped := 0
	var walk func(p string) error
	walk = func(p string) error {
		in := &s3.ListObjectsV2Input{
			Bucket:    aws.String(bucket),
			Prefix:    aws.String(p),
			Delimiter: aws.String("/"),
		}
		if s3PageSize > 0 {
			in.MaxKeys = aws.Int32(s3PageSize)
		}
		pages := s3.NewListObjectsV2Paginator(client, in)
		var sub []string
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list s3://%s/%s: %w", bucket, p, err)
			}
			for _, c := range page.Contents {
				key := aws.ToString(c.Key)
				if strings.HasSuffix(key, "/") {
					continue
				}
				if beforeSince("/"+key, since) {
					skipped++
					continue
				}
				out = append(out, s3Object(client, bucket, key, aws.ToInt64(c.Size), aws.ToString(c.ETag)))
			}
			for _, cp := range page.CommonPrefixes {
				sub = append(sub, aws.ToString(cp.Prefix))
			}
		}
		for _, cp := range sub {
			if beforeSince("/"+cp, since) {
				// TODO(ingest-s3): objects under a pruned folder are never
				// listed, so Summary.BeforeSinceFiles cannot count them;
				// counting would cost the listing that pruning saves.
				continue
			}
			if err := walk(cp); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(prefix); err != nil {
		return nil, 0, err
	}
	return out, skipped, nil
}

func s3Object(client *s3.Client, bucket, key string, size int64, etag string) object {
	return object{
		source:  "s3://" + bucket + "/" + key,
		size:    size,
		version: strings.Trim(etag, `"`),
		open: func(ctx context.Context) (io.ReadCloser, error) {
			res, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
			}
			return res.Body, nil
		},
	}
}
