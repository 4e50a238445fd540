package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/pipeline"
)

// Deleting a finished job once its watcher has left, across replicas.
//
// The server holding a job's last socket schedules the job's deletion when that socket closes, if the job is done or
// failed; a reload during processing deletes nothing. The deletion waits DeleteGrace, in case the page is reloaded.
// The reload's socket may open on any replica, so every server announces each socket it holds on a job's presence
// channel of the hub (the job id plus ":watch", beside the job's event channel): once when the socket opens, and
// again every third of the grace period while the job is finished. A server with a deletion pending listens on that
// channel and gives the deletion up when it hears anyone; the server that then holds the socket schedules its own
// when that socket closes. Announcing repeatedly means one lost message (pub/sub delivers at most once) cannot cause
// a deletion under an open socket. If the hub cannot be listened to, nothing is deleted early: the sweeper removes
// the job at its TTL, whatever happens here.

// presenceKey is the hub channel of the sockets open on a job.
func presenceKey(id string) string { return id + ":watch" }

// presenceEvery is how often a socket on a finished job announces itself.
func presenceEvery(grace time.Duration) time.Duration { return max(grace/3, 100*time.Millisecond) }

type reaper struct {
	base   context.Context
	hub    job.Hub
	store  job.Store
	purger *pipeline.Purger
	grace  time.Duration
	log    zerolog.Logger

	mu      sync.Mutex
	open    map[string]int      // sockets open on this server, by job
	pending map[string]*pending // deletions scheduled by this server, by job
	wg      sync.WaitGroup
}

type pending struct{ cancel context.CancelFunc }

func newReaper(base context.Context, hub job.Hub, store job.Store, purger *pipeline.Purger, grace time.Duration,
	log zerolog.Logger) *reaper {
	return &reaper{base: base, hub: hub, store: store, purger: purger, grace: grace, log: log,
		open: map[string]int{}, pending: map[string]*pending{}}
}

// opened records a socket on the job and calls off this server's pending deletion of it.
func (r *reaper) opened(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open[id]++
	if p := r.pending[id]; p != nil {
		p.cancel()
		delete(r.pending, id)
	}
}

// announce tells every server that a socket is open on the job.
func (r *reaper) announce(ctx context.Context, id string, status job.Status) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.hub.Publish(ctx, job.Event{JobID: presenceKey(id), Status: status}); err != nil && ctx.Err() == nil {
		r.log.Warn().Err(err).Str("job_id", id).Msg("announce socket")
	}
}

// closed records that a socket on the job closed; the last one schedules the deletion.
func (r *reaper) closed(id string) {
	r.mu.Lock()
	r.open[id]--
	n := r.open[id]
	if n <= 0 {
		delete(r.open, id)
	}
	r.mu.Unlock()
	if n <= 0 {
		r.schedule(id)
	}
}

// cancel calls off a pending deletion (the job is being deleted now anyway).
func (r *reaper) cancel(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pending[id]; p != nil {
		p.cancel()
		delete(r.pending, id)
	}
}

func (r *reaper) schedule(id string) {
	ctx, cancel := context.WithCancel(r.base)
	p := &pending{cancel: cancel}
	r.mu.Lock()
	if old := r.pending[id]; old != nil {
		old.cancel()
	}
	r.pending[id] = p
	r.mu.Unlock()
	r.wg.Go(func() {
		defer cancel()
		defer r.forget(id, p)
		r.await(ctx, id, p)
	})
}

func (r *reaper) forget(id string, p *pending) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[id] == p {
		delete(r.pending, id)
	}
}

func (r *reaper) await(ctx context.Context, id string, p *pending) {
	log := r.log.With().Str("job_id", id).Logger()
	gctx, gcancel := context.WithTimeout(ctx, backendTimeout)
	j, err := r.store.Get(gctx, id)
	gcancel()
	if err != nil {
		if !job.IsNotFound(err) && ctx.Err() == nil {
			log.Warn().Err(err).Msg("read job before deleting it; the sweeper will")
		}
		return
	}
	if !j.Status.Terminal() {
		return // a reload during processing: nothing is deleted
	}
	sub, err := r.hub.Subscribe(ctx, presenceKey(id))
	if err != nil {
		if ctx.Err() == nil {
			log.Warn().Err(err).Msg("listen for other sockets before deleting the job; the sweeper will delete it")
		}
		return
	}
	defer sub.Close()
	timer := time.NewTimer(r.grace)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return
	case _, ok := <-sub.Events():
		if ok {
			log.Debug().Msg("a socket opened on another server; its server deletes the job when it closes")
		}
		return
	case <-timer.C:
	}
	r.mu.Lock()
	ours := r.pending[id] == p && r.open[id] == 0
	r.mu.Unlock()
	if !ours {
		return
	}
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), backendTimeout)
	defer dcancel()
	if err := r.purger.Purge(dctx, id, "grace"); err != nil && !job.IsNotFound(err) {
		log.Error().Err(err).Msg("delete job after its watcher left; the sweeper will")
	}
}

func (r *reaper) wait() { r.wg.Wait() }
