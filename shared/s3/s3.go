// Package s3 is the production job.Blobs: originals and cutouts in an S3 bucket (AWS, or MinIO and other
// S3-compatible servers through a custom endpoint and path-style addressing), results handed to browsers as presigned
// GET URLs that make them download under the user's file name.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/backless/backless/shared/job"
)

var _ job.Blobs = (*Bucket)(nil)

// Config says where the bucket is and how to reach it.
type Config struct {
	Bucket string
	Region string // default us-east-1
	// Endpoint, e.g. http://127.0.0.1:9000 for MinIO; empty means AWS's own endpoint for the region.
	Endpoint string
	// PathStyle addresses objects as endpoint/bucket/key instead of bucket.endpoint/key; MinIO needs it.
	PathStyle bool
	// PublicEndpoint, when set, is the address browsers reach the store at, if it differs from Endpoint (a MinIO
	// that the programs call minio:9000 but browsers call localhost:9000). Result URLs are presigned for it: the
	// signature covers the host, so a URL cannot simply be rewritten afterwards.
	PublicEndpoint string
	// AccessKey and SecretKey are static credentials. Both empty means the SDK's default chain (environment, shared
	// files, instance role), which is what a deployment on AWS wants.
	AccessKey string
	SecretKey string
	// PresignTTL is how long a result URL stays valid (default 15 minutes).
	PresignTTL time.Duration
	// Timeout bounds each call that moves no payload (default 10 seconds); Put and the first byte of Get get
	// TransferTimeout (default 2 minutes).
	Timeout         time.Duration
	TransferTimeout time.Duration
	// HTTPClient, if set, replaces the SDK's client (tests, proxies).
	HTTPClient *http.Client
}

// Bucket is a job.Blobs in one S3 bucket.
type Bucket struct {
	client  *awss3.Client
	presign *awss3.PresignClient
	cfg     Config
}

// New builds the client. It makes no request; call Check to see that the bucket is reachable.
func New(ctx context.Context, cfg Config) (*Bucket, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3: no bucket configured")
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("s3: set both the access key and the secret key, or neither")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.PresignTTL <= 0 {
		cfg.PresignTTL = 15 * time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.TransferTimeout <= 0 {
		cfg.TransferTimeout = 2 * time.Minute
	}
	opts := awss3.Options{
		Region:       cfg.Region,
		UsePathStyle: cfg.PathStyle,
		// The SDK's defaults since 2025 add CRC checksums to every upload, which some S3-compatible servers reject;
		// only send them where the operation requires one.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	if cfg.AccessKey != "" {
		opts.Credentials = credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		chain, err := defaultCredentials(ctx, cfg.Region)
		if err != nil {
			return nil, err
		}
		opts.Credentials = chain
	}
	client := awss3.New(opts)
	presign := awss3.NewPresignClient(client)
	if cfg.PublicEndpoint != "" {
		presign = awss3.NewPresignClient(client, func(po *awss3.PresignOptions) {
			po.ClientOptions = append(po.ClientOptions, func(o *awss3.Options) { o.BaseEndpoint = aws.String(cfg.PublicEndpoint) })
		})
	}
	return &Bucket{client: client, presign: presign, cfg: cfg}, nil
}

// Check asks for the bucket's metadata, for readiness probes and a clear error at start.
func (b *Bucket) Check(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, b.cfg.Timeout)
	defer cancel()
	_, err := b.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(b.cfg.Bucket)})
	if err != nil {
		return classify(parent, "check bucket "+b.cfg.Bucket, err)
	}
	return nil
}

// CreateBucket creates the bucket if it does not exist, for development set-ups with MinIO.
func (b *Bucket) CreateBucket(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, b.cfg.Timeout)
	defer cancel()
	_, err := b.client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b.cfg.Bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return classify(parent, "create bucket "+b.cfg.Bucket, err)
	}
	return nil
}

// classify wraps an SDK error, turning a missing key into not_found and a failure to reach the server into
// unavailable; the caller's own cancellation stays a context error.
func classify(parent context.Context, op string, err error) error {
	var noKey *types.NoSuchKey
	var notFound *types.NotFound
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &noKey), errors.As(err, &notFound):
		return fmt.Errorf("s3: %s: %w", op, job.NotFound("blob"))
	case parent.Err() != nil:
		return fmt.Errorf("s3: %s: %w", op, err)
	case errors.As(err, &apiErr):
		// The server answered: a configuration or permission problem, not an outage.
		return fmt.Errorf("s3: %s: %w", op, err)
	}
	return fmt.Errorf("s3: %s: %w", op, job.Wrap(job.CodeUnavailable, err, "the blob store is unavailable"))
}

// Put uploads size bytes from r. The SDK must know the length to sign a streamed body, so an unknown size (-1) is
// only accepted when r can seek, letting the SDK measure it.
func (b *Bucket) Put(parent context.Context, key string, r io.Reader, size int64, contentType string) error {
	in := &awss3.PutObjectInput{
		Bucket:      aws.String(b.cfg.Bucket),
		Key:         aws.String(key),
		Body:        r,
		ContentType: aws.String(contentType),
	}
	_, seekable := r.(io.ReadSeeker)
	switch {
	case size >= 0:
		in.ContentLength = aws.Int64(size)
		if !seekable {
			// Hides the reader's type: the SDK sends an *io.PipeReader chunked whatever the length, and S3 wants a
			// Content-Length. The limit also keeps a longer stream from overrunning the declared size.
			in.Body = io.LimitReader(r, size)
		}
	case !seekable:
		return fmt.Errorf("s3: put %s: the size of a non-seekable body must be known", key)
	}
	ctx, cancel := context.WithTimeout(parent, b.cfg.TransferTimeout)
	defer cancel()
	if _, err := b.client.PutObject(ctx, in, putOptions(r)...); err != nil {
		return classify(parent, "put "+key, err)
	}
	return nil
}

// putOptions makes the SDK sign a non-seekable body as UNSIGNED-PAYLOAD: hashing it for the signature would need a
// second pass over the stream, and the alternative (a trailing checksum) is refused over plain HTTP, which is how
// MinIO is reached in development. A seekable body (a file, a bytes.Reader) is hashed and signed as usual.
func putOptions(r io.Reader) []func(*awss3.Options) {
	if _, ok := r.(io.ReadSeeker); ok {
		return nil
	}
	return []func(*awss3.Options){awss3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)}
}

// defaultCredentials is the SDK's usual chain: environment, shared config files, then the instance or task role.
func defaultCredentials(ctx context.Context, region string) (aws.CredentialsProvider, error) {
	c, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("s3: load the default AWS credentials: %w", err)
	}
	return c.Credentials, nil
}

// Get opens the object for reading. The transfer timeout covers the whole read, so a reader that stalls cannot hold
// a connection forever; closing the returned reader releases it early.
func (b *Bucket) Get(parent context.Context, key string) (io.ReadCloser, error) {
	ctx, cancel := context.WithTimeout(parent, b.cfg.TransferTimeout)
	out, err := b.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		cancel()
		return nil, classify(parent, "get "+key, err)
	}
	return &cancelOnClose{ReadCloser: out.Body, cancel: cancel}, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// Delete removes the keys one by one (a job has two), continuing past failures and returning them all.
// S3 reports success for a key that does not exist.
func (b *Bucket) Delete(parent context.Context, keys ...string) error {
	var errs []error
	for _, key := range keys {
		ctx, cancel := context.WithTimeout(parent, b.cfg.Timeout)
		_, err := b.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key)})
		cancel()
		if err != nil {
			errs = append(errs, classify(parent, "delete "+key, err))
		}
	}
	return errors.Join(errs...)
}

// URL returns a presigned GET URL, valid for PresignTTL, whose response carries
// Content-Disposition: attachment; filename="<downloadName>", so the browser saves the file under the user's name
// while the object key stays the random id.
func (b *Bucket) URL(parent context.Context, key, downloadName string) (string, error) {
	in := &awss3.GetObjectInput{Bucket: aws.String(b.cfg.Bucket), Key: aws.String(key)}
	if downloadName != "" {
		in.ResponseContentDisposition = aws.String(job.ContentDisposition(downloadName))
	}
	ctx, cancel := context.WithTimeout(parent, b.cfg.Timeout)
	defer cancel()
	req, err := b.presign.PresignGetObject(ctx, in, awss3.WithPresignExpires(b.cfg.PresignTTL))
	if err != nil {
		return "", fmt.Errorf("s3: presign %s: %w", key, err)
	}
	return req.URL, nil
}
