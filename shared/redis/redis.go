// Package redis is the production job.Hub: job events travel over Redis pub/sub, one channel per job, so a websocket
// held by any server replica hears what any worker publishes.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/backless/backless/shared/job"
)

var _ job.Hub = (*Hub)(nil)

// Options tune a Hub; the zero value is usable.
type Options struct {
	// Prefix starts every channel name (default "backless:job:"), so several deployments can share one Redis.
	Prefix string
	// Timeout bounds each command (default 5 seconds).
	Timeout time.Duration
	// Buffer is the number of events a subscription holds for a slow reader (default 16).
	Buffer int
}

// Hub publishes and subscribes to job events through Redis.
type Hub struct {
	client *goredis.Client
	opts   Options
}

// Open connects to the Redis at url (redis://[user:password@]host:port/db, or rediss:// for TLS) and checks it
// answers. Close the Hub when done.
func Open(ctx context.Context, url string, opts Options) (*Hub, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, errors.New("redis: the Redis URL cannot be parsed")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	o.DialTimeout = opts.Timeout
	h := New(goredis.NewClient(o), opts)
	if err := h.Ping(ctx); err != nil {
		_ = h.client.Close()
		return nil, err
	}
	return h, nil
}

// New wraps an existing client; the Hub's Close closes it.
func New(client *goredis.Client, opts Options) *Hub {
	if opts.Prefix == "" {
		opts.Prefix = "backless:job:"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 16
	}
	return &Hub{client: client, opts: opts}
}

// Close closes the connections.
func (h *Hub) Close() error { return h.client.Close() }

// Ping checks that Redis answers, for readiness probes.
func (h *Hub) Ping(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, h.opts.Timeout)
	defer cancel()
	if err := h.client.Ping(ctx).Err(); err != nil {
		return unavailable(parent, "ping", err)
	}
	return nil
}

func (h *Hub) channel(jobID string) string { return h.opts.Prefix + jobID }

// unavailable marks err as the hub being unavailable, unless the caller's own context ended (parent): then the
// caller's cancellation or deadline is the story. Our per-command timeout firing means Redis did not answer.
func unavailable(parent context.Context, op string, err error) error {
	if parent.Err() != nil {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	return fmt.Errorf("redis: %s: %w", op, job.Wrap(job.CodeUnavailable, err, "the event hub is unavailable"))
}

// Publish sends e to the subscribers of e.JobID's channel. Nobody listening is not an error.
func (h *Hub) Publish(parent context.Context, e job.Event) error {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("redis: encode event: %w", err)
	}
	ctx, cancel := context.WithTimeout(parent, h.opts.Timeout)
	defer cancel()
	if err := h.client.Publish(ctx, h.channel(e.JobID), b).Err(); err != nil {
		return unavailable(parent, "publish", err)
	}
	return nil
}

// Subscribe subscribes to jobID's channel and waits for Redis to confirm the SUBSCRIBE before returning, so every
// event published after Subscribe returns is delivered.
func (h *Hub) Subscribe(ctx context.Context, jobID string) (job.Subscription, error) {
	ps := h.client.Subscribe(ctx)
	sctx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()
	// go-redis's Subscribe(ctx, channel) does not wait for the confirmation; an explicit Subscribe then Receive does.
	if err := ps.Subscribe(sctx, h.channel(jobID)); err != nil {
		_ = ps.Close()
		return nil, unavailable(ctx, "subscribe", err)
	}
	msg, err := ps.Receive(sctx)
	if err != nil {
		_ = ps.Close()
		return nil, unavailable(ctx, "subscribe", err)
	}
	if _, ok := msg.(*goredis.Subscription); !ok {
		_ = ps.Close()
		return nil, fmt.Errorf("redis: subscribe: unexpected first reply %T", msg)
	}
	s := &subscription{ps: ps, events: make(chan job.Event, h.opts.Buffer), done: make(chan struct{})}
	s.wg.Go(func() { s.forward(ctx) })
	return s, nil
}

type subscription struct {
	ps     *goredis.PubSub
	events chan job.Event
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func (s *subscription) Events() <-chan job.Event { return s.events }

// Close ends the subscription and waits for its goroutine, after which Events is closed.
func (s *subscription) Close() error {
	var err error
	s.once.Do(func() {
		close(s.done)
		err = s.ps.Close()
	})
	s.wg.Wait()
	return err
}

// forward decodes messages into events until the subscription is closed or ctx is done. A message that does not
// decode is skipped: one bad publisher must not cut every watcher off.
func (s *subscription) forward(ctx context.Context) {
	defer close(s.events)
	// ps.Channel reconnects and resubscribes by itself if the connection drops.
	msgs := s.ps.Channel()
	for {
		select {
		case <-ctx.Done():
			s.once.Do(func() { close(s.done); _ = s.ps.Close() })
			return
		case <-s.done:
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			var e job.Event
			if err := json.Unmarshal([]byte(m.Payload), &e); err != nil {
				continue
			}
			select {
			case s.events <- e:
			case <-s.done:
				return
			case <-ctx.Done():
				s.once.Do(func() { close(s.done); _ = s.ps.Close() })
				return
			}
		}
	}
}
