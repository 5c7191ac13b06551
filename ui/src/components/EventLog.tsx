//! A connection's event log: newest first, Info/Error filter, export as JSON.

import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import { saveText } from "../actions";
import { exportFileName, formatTime } from "../lib/format";
import type { LogEntry } from "../types";

/** The log card of one connection. */
export function EventLog({ id, name }: { id: string; name: string }) {
  const [entries, setEntries] = useState<LogEntry[]>([]);
  const [showInfo, setInfo] = useState(true);
  const [showError, setError] = useState(true);

  useEffect(() => {
    let alive = true;
    const early: LogEntry[] = [];
    let loaded = false;
    const stop = api.onLog((e) => {
      if (e.id !== id) return;
      if (loaded) setEntries((prev) => [...prev, e.entry].slice(-500));
      else early.push(e.entry);
    });
    api
      .logs(id)
      .then((l) => {
        if (!alive) return;
        loaded = true;
        setEntries([...l, ...early.filter((x) => !l.some((y) => y.tsMs === x.tsMs && y.message === x.message))]);
      })
      .catch(() => (loaded = true));
    return () => {
      alive = false;
      stop.then((f) => f()).catch(() => undefined);
    };
  }, [id]);

  const shown = entries.filter((e) => (e.level === "info" ? showInfo : showError));
  const newestFirst = [...shown].reverse();
  return (
    <section class="card" aria-labelledby="log-title">
      <div class="card-head">
        <h2 id="log-title">Event log</h2>
        <div class="card-tools">
          <label class="check">
            <input type="checkbox" checked={showInfo} onChange={(e) => setInfo(e.currentTarget.checked)} />
            Info
          </label>
          <label class="check">
            <input type="checkbox" checked={showError} onChange={(e) => setError(e.currentTarget.checked)} />
            Error
          </label>
          <button
            type="button"
            class="btn btn-small"
            disabled={shown.length === 0}
            onClick={() => void saveText(exportFileName(`${name} logs`), JSON.stringify(shown, null, 2), "Saved the log")}
          >
            Export logs
          </button>
        </div>
      </div>
      {newestFirst.length === 0 ? (
        <p class="muted">Nothing logged yet.</p>
      ) : (
        <ol class="log" data-testid="log">
          {newestFirst.map((e, i) => (
            <li key={`${e.tsMs}-${i}`} class={`log-${e.level}`}>
              <time class="mono">{formatTime(e.tsMs)}</time>
              <span class="log-level">{e.level === "error" ? "Error" : "Info"}</span>
              <span class="log-msg">
                {e.message}
                {e.peer && <span class="muted"> · {e.peer}</span>}
              </span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
