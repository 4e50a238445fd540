package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/backless/backless/shared/job"
	"github.com/backless/backless/shared/pipeline"
)

var _ pipeline.Observer = (*Metrics)(nil)

// Metrics are the Prometheus metrics of one process (server or worker), in a registry of their own rather than the
// library's global one. The server and the worker each count what they do; Prometheus sums the replicas.
type Metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec
	requestTime  *prometheus.HistogramVec
	jobs         *prometheus.CounterVec
	outcomes     *prometheus.CounterVec
	stages       *prometheus.HistogramVec
	queueLatency prometheus.Histogram
	processing   prometheus.Histogram
	inFlight     prometheus.Gauge
	sockets      prometheus.Gauge
	deleted      *prometheus.CounterVec
	tasks        *prometheus.CounterVec
}

// NewMetrics registers the metrics, plus the Go runtime's and the process's.
func NewMetrics() *Metrics {
	// Stages run from milliseconds (decode of a small photo) to tens of seconds (a 50 MP image on a small machine).
	stageBuckets := prometheus.ExponentialBuckets(0.005, 2, 14)
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backless_http_requests_total", Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		requestTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "backless_http_request_duration_seconds", Help: "Time to answer HTTP requests, by route " +
				"(websockets excluded).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backless_jobs_total", Help: "Jobs entering each state: queued (created by a server), " +
				"processing (claimed), done, failed.",
		}, []string{"state"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backless_job_deliveries_total", Help: "Deliveries of jobs to the pipeline by outcome: done, " +
				"failed, duplicate, gone, busy, retry.",
		}, []string{"outcome"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "backless_stage_duration_seconds", Help: "Time spent in each stage of processing a job: load, " +
				"decode, preprocess, inference, postprocess, encode, store.",
			Buckets: stageBuckets,
		}, []string{"stage"}),
		queueLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "backless_queue_latency_seconds", Help: "Time from a job's creation to its claim by a worker.",
			Buckets: stageBuckets,
		}),
		processing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "backless_job_processing_seconds", Help: "Time to process a claimed job, end to end.",
			Buckets: stageBuckets,
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "backless_jobs_in_flight", Help: "Jobs being processed by this process now.",
		}),
		sockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "backless_websockets_open", Help: "Websockets open on this server.",
		}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backless_jobs_deleted_total", Help: "Jobs deleted, by reason: user (DELETE), grace (the " +
				"watcher left), ttl (the sweeper), sync (POST /api/remove answered).",
		}, []string{"reason"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backless_worker_tasks_total", Help: "Tasks delivered to the worker endpoint, by HTTP status code.",
		}, []string{"code"}),
	}
	m.reg.MustRegister(m.requests, m.requestTime, m.jobs, m.outcomes, m.stages, m.queueLatency, m.processing,
		m.inFlight, m.sockets, m.deleted, m.tasks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is the registry, for tests and for adding a program's own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Observe records one delivery of a job to the pipeline.
func (m *Metrics) Observe(r pipeline.Report) {
	m.outcomes.WithLabelValues(r.Outcome.String()).Inc()
	switch r.Outcome {
	case pipeline.Done:
		m.jobs.WithLabelValues(string(job.StatusDone)).Inc()
	case pipeline.Failed:
		m.jobs.WithLabelValues(string(job.StatusFailed)).Inc()
	}
	if !r.Claimed {
		return
	}
	m.jobs.WithLabelValues(string(job.StatusProcessing)).Inc()
	m.queueLatency.Observe(r.QueueLatency.Seconds())
	m.processing.Observe(r.Total.Seconds())
	for stage, d := range map[string]time.Duration{
		"load": r.Load, "decode": r.Timings.Decode, "preprocess": r.Timings.Preprocess,
		"inference": r.Timings.Inference, "postprocess": r.Timings.Postprocess, "encode": r.Timings.Encode,
		"store": r.Store,
	} {
		if d > 0 {
			m.stages.WithLabelValues(stage).Observe(d.Seconds())
		}
	}
}

// JobStarted and JobEnded bracket the processing of a job in this process (the in-flight gauge).
func (m *Metrics) JobStarted() { m.inFlight.Inc() }

// JobEnded: see JobStarted.
func (m *Metrics) JobEnded() { m.inFlight.Dec() }

// Deleted counts a job deleted for reason; it is the pipeline.Purger's OnPurge.
func (m *Metrics) Deleted(reason string) { m.deleted.WithLabelValues(reason).Inc() }

func (m *Metrics) created() { m.jobs.WithLabelValues(string(job.StatusQueued)).Inc() }

func (m *Metrics) request(route, method string, code int, d time.Duration, websocket bool) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	if !websocket {
		m.requestTime.WithLabelValues(route).Observe(d.Seconds())
	}
}

func (m *Metrics) task(code int) { m.tasks.WithLabelValues(strconv.Itoa(code)).Inc() }
