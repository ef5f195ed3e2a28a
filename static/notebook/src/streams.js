// Live output of executions over server-sent events, one EventSource per execution.
//
// A browser opens at most six HTTP/1.1 connections to one server, shared by all its tabs, and each
// EventSource holds one for as long as it is open. "Run all" on a long notebook would otherwise
// open one per cell and starve the page's own requests (autosave would hang). So at most
// MAX_STREAMS executions are followed at once; the rest wait their turn, oldest first (a session
// runs its cells in order, so the ones running are always among those followed). The first
// `execution` event of a stream is the whole execution so far, so starting late loses nothing.

import { paths } from "./api.js";
import { TERMINAL } from "./cell.js";

const MAX_STREAMS = 2;
const MAX_ERRORS = 4;

export class Streams {
  constructor(nb) {
    this.nb = nb;
    this.active = new Map(); // cell -> { es, sid, eid }
    this.waiting = []; // { cell, sid, eid }
  }

  follow(cell, sid, eid) {
    this.cancel(cell);
    this.waiting.push({ cell, sid, eid });
    this.pump();
  }

  cancel(cell) {
    const entry = this.active.get(cell);
    if (entry) {
      entry.closed = true;
      entry.es.close();
      this.active.delete(cell);
    }
    this.waiting = this.waiting.filter((w) => w.cell !== cell);
    this.pump();
  }

  closeAll() {
    for (const entry of this.active.values()) {
      entry.closed = true;
      entry.es.close();
    }
    this.active.clear();
    this.waiting = [];
  }

  pump() {
    while (this.active.size < MAX_STREAMS && this.waiting.length) this.open(this.waiting.shift());
  }

  /** Lowers the queue position of executions waiting for a stream when one ahead of them finished. */
  advanceQueue(sid) {
    for (const w of this.waiting) {
      const ex = w.cell.execution;
      if (w.sid === sid && ex && Number.isInteger(ex.queue_position) && ex.queue_position > 1) {
        w.cell.setQueuePosition(ex.queue_position - 1);
      }
    }
  }

  open(item) {
    const { cell, sid, eid } = item;
    const es = new EventSource(paths.events(sid, eid));
    const entry = { es, sid, eid, closed: false, errors: 0 };
    this.active.set(cell, entry);
    const parse = (ev) => {
      try {
        return JSON.parse(ev.data);
      } catch {
        return null;
      }
    };
    const mine = (data) => data && (data.execution === undefined || data.execution === eid);
    const end = () => {
      if (entry.closed) return;
      entry.closed = true;
      es.close();
      if (this.active.get(cell) === entry) this.active.delete(cell);
      this.pump();
    };
    es.addEventListener("execution", (ev) => {
      const data = parse(ev);
      if (!data || data.id !== eid || entry.closed) return;
      entry.errors = 0;
      cell.applyExecution(data, sid);
      this.nb.onExecutionChanged(cell);
      if (TERMINAL.has(data.status)) {
        end();
        this.advanceQueue(sid);
        this.nb.onExecutionDone(cell);
      }
    });
    es.addEventListener("status", (ev) => {
      const data = parse(ev);
      if (!mine(data) || entry.closed) return;
      entry.errors = 0;
      if (TERMINAL.has(data.status)) return; // `done` follows
      cell.applyStatus(data.status);
      this.nb.onExecutionChanged(cell);
    });
    es.addEventListener("output", (ev) => {
      const data = parse(ev);
      if (!mine(data) || entry.closed || !data.output) return;
      entry.errors = 0;
      cell.appendOutput(data.output);
    });
    es.addEventListener("done", (ev) => {
      const data = parse(ev);
      if (!mine(data) || entry.closed) return;
      // Close before the server ends the stream, so EventSource does not reconnect.
      end();
      cell.finish(data.status, data.elapsed_ms);
      this.advanceQueue(sid);
      this.nb.onExecutionDone(cell);
    });
    es.addEventListener("error", () => {
      if (entry.closed) return;
      entry.errors += 1;
      // CLOSED: the server refused the stream (404: session gone); otherwise EventSource retries
      // by itself, and the `execution` event it starts with catches up. Past a few failures in a
      // row, ask once by plain request how the execution ended.
      if (es.readyState === EventSource.CLOSED || entry.errors >= MAX_ERRORS) {
        end();
        this.nb.recoverExecution(cell, sid, eid);
      }
    });
  }
}
