package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/backless/backless/shared/job"
)

const (
	wsWriteWait  = 10 * time.Second
	wsPongWait   = 60 * time.Second
	wsPingPeriod = 25 * time.Second // well under wsPongWait, and under the usual 60 s idle timeout of proxies
	// wsPoll is how often a socket re-reads its unfinished job from the store, in case a pub/sub message was lost
	// (a Redis reconnect): a watcher is never stuck on a finished job.
	wsPoll = 15 * time.Second
	// Clients send nothing but control frames; anything larger than this is not our client.
	wsReadLimit = 1024
)

// serveWS is GET /ws/jobs/{id}. It subscribes to the job's events first, then reads and sends the job's current
// state, then forwards every event: an event published before the socket connected is therefore never lost, since
// it is either in the state read or delivered by the subscription. Messages are api.ts's JobState as JSON.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		writeError(w, r, job.Errorf(job.CodeBadRequest, "this address is a websocket; poll %s instead", StatusPath(id)))
		return
	}
	if !s.origins.originAllowed(r) {
		writeError(w, r, job.Errorf(job.CodeForbidden, "websockets from origin %q are not allowed", r.Header.Get("Origin")))
		return
	}
	if !s.socketStarted() {
		writeError(w, r, job.Errorf(job.CodeUnavailable, "the server is shutting down"))
		return
	}
	defer s.sockets.Done()
	ctx, cancel := context.WithCancel(s.base)
	defer cancel()

	sub, err := s.cfg.Hub.Subscribe(ctx, id)
	if err != nil {
		writeError(w, r, unavailable(err, "live updates are unavailable; poll instead"))
		return
	}
	defer sub.Close()
	j, err := s.cfg.Store.Get(ctx, id)
	if err != nil {
		writeError(w, r, unavailable(err, "the job cannot be read now; try again"))
		return
	}
	up := websocket.Upgrader{
		ReadBufferSize:  wsReadLimit,
		WriteBufferSize: 4096,
		// Checked above with the same policy as the API's state-changing requests.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered the client
	}
	defer conn.Close()
	s.cfg.Metrics.sockets.Inc()
	defer s.cfg.Metrics.sockets.Dec()
	s.reaper.opened(id)
	defer s.reaper.closed(id)

	ws := &socket{conn: conn, log: zerolog.Ctx(r.Context())}
	ws.run(ctx, s, sub, stateOf(j))
}

type socket struct {
	conn *websocket.Conn
	log  *zerolog.Logger
}

func (ws *socket) send(st state) error {
	_ = ws.conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
	return ws.conn.WriteJSON(st)
}

func (ws *socket) close(code int, reason string) {
	_ = ws.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
		time.Now().Add(wsWriteWait))
}

// readLoop reads until the client closes or goes silent (no pong within wsPongWait); gorilla answers pings and
// close frames itself while reading.
func (ws *socket) readLoop(done chan<- struct{}) {
	defer close(done)
	ws.conn.SetReadLimit(wsReadLimit)
	_ = ws.conn.SetReadDeadline(time.Now().Add(wsPongWait))
	ws.conn.SetPongHandler(func(string) error {
		return ws.conn.SetReadDeadline(time.Now().Add(wsPongWait))
	})
	for {
		if _, _, err := ws.conn.NextReader(); err != nil {
			return
		}
	}
}

func (ws *socket) run(ctx context.Context, s *Server, sub job.Subscription, last state) {
	if err := ws.send(last); err != nil {
		return
	}
	s.reaper.announce(ctx, last.ID, last.Status)

	readerDone := make(chan struct{})
	go ws.readLoop(readerDone)
	ping := time.NewTicker(wsPingPeriod)
	defer ping.Stop()
	poll := time.NewTicker(wsPoll)
	defer poll.Stop()
	presence := time.NewTicker(presenceEvery(s.cfg.DeleteGrace))
	defer presence.Stop()

	for {
		var next state
		select {
		case <-readerDone:
			return
		case <-ctx.Done():
			ws.close(websocket.CloseGoingAway, "server shutting down")
			return
		case <-ping.C:
			if err := ws.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)); err != nil {
				return
			}
			continue
		case <-presence.C:
			if last.Status.Terminal() {
				s.reaper.announce(ctx, last.ID, last.Status)
			}
			continue
		case e, ok := <-sub.Events():
			if !ok {
				if ctx.Err() == nil {
					ws.close(websocket.CloseTryAgainLater, "event stream lost; reconnect")
				}
				return
			}
			if rank(e.Status) < rank(last.Status) {
				continue // stale: a job never goes back
			}
			next = last.with(e)
		case <-poll.C:
			if last.Status.Terminal() {
				continue
			}
			j, err := s.cfg.Store.Get(ctx, last.ID)
			switch {
			case job.IsNotFound(err):
				next = last.with(job.Event{Status: job.StatusFailed, Error: job.NotFound("job")})
			case err != nil:
				ws.log.Warn().Err(err).Msg("re-read job for its socket")
				continue
			case rank(j.Status) <= rank(last.Status):
				continue
			default:
				next = stateOf(j)
			}
		}
		if same(next, last) {
			continue
		}
		last = next
		if err := ws.send(last); err != nil {
			return
		}
		if last.Error != nil && last.Error.Code == job.CodeNotFound {
			ws.close(websocket.CloseNormalClosure, "job deleted")
			return
		}
	}
}

// same reports whether sending next after last would tell the client nothing new.
func same(a, b state) bool {
	pa, pb := -1.0, -1.0
	if a.Progress != nil {
		pa = *a.Progress
	}
	if b.Progress != nil {
		pb = *b.Progress
	}
	ea, eb := "", ""
	if a.Error != nil {
		ea = string(a.Error.Code) + a.Error.Message
	}
	if b.Error != nil {
		eb = string(b.Error.Code) + b.Error.Message
	}
	return a.Status == b.Status && a.ResultURL == b.ResultURL && pa == pb && ea == eb
}
