//! Live local connections through a tunnel, refreshed every second while the window is visible.

import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import { formatBytes, formatDuration } from "../lib/format";
import { toast } from "../lib/toast";
import type { Session } from "../types";

/** Props of `SessionsTable`: `live` false = no listener, so no sessions. */
export interface SessionsTableProps {
  id: string;
  live: boolean;
  /** Changes whenever Rust reports a new status, to refresh at once. */
  statusKey: string;
}

/** The sessions card. */
export function SessionsTable({ id, live, statusKey }: SessionsTableProps) {
  const [rows, setRows] = useState<Session[]>([]);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    if (!live) {
      setRows([]);
      return;
    }
    let stopped = false;
    const tick = async () => {
      if (document.visibilityState !== "visible") return;
      try {
        const s = await api.sessions(id);
        if (!stopped) {
          setRows(s);
          setNow(Date.now());
        }
      } catch {
        // The next tick tries again; the status badge already says what is wrong.
      }
    };
    void tick();
    const timer = setInterval(tick, 1000);
    document.addEventListener("visibilitychange", tick);
    return () => {
      stopped = true;
      clearInterval(timer);
      document.removeEventListener("visibilitychange", tick);
    };
  }, [id, live, statusKey]);

  const close = async (s: Session) => {
    try {
      await api.closeSession(id, s.id);
      setRows((r) => r.filter((x) => x.id !== s.id));
      toast(`Closed session from ${s.peer}`);
    } catch (e) {
      toast(api.toApiError(e).message, "error");
    }
  };

  // UDP peers carry datagram counts; TCP connections have none.
  const udp = rows.some((s) => s.datagrams !== null);

  return (
    <section class="card" aria-labelledby="sessions-title">
      <h2 id="sessions-title">
        Sessions <span class="count">{rows.length}</span>
      </h2>
      {rows.length === 0 ? (
        <p class="muted" data-testid="no-sessions">
          {live ? "No client is connected to the local port." : "Not connected."}
        </p>
      ) : (
        <table class="table" data-testid="sessions">
          <thead>
            <tr>
              <th scope="col">Peer</th>
              <th scope="col" class="num">↑ Sent</th>
              <th scope="col" class="num">↓ Received</th>
              {udp && (
                <th scope="col" class="num">
                  Datagrams ↑ / ↓ / dropped
                </th>
              )}
              <th scope="col">Since</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr key={s.id}>
                <td class="mono">{s.peer}</td>
                <td class="num">{formatBytes(s.bytesUp)}</td>
                <td class="num">{formatBytes(s.bytesDown)}</td>
                {udp && (
                  <td class="num" data-testid="datagrams">
                    {s.datagrams ? `${s.datagrams.up} / ${s.datagrams.down} / ${s.datagrams.dropped}` : "–"}
                  </td>
                )}
                <td>{formatDuration(now - s.sinceMs)}</td>
                <td class="num">
                  <button type="button" class="btn btn-small" onClick={() => close(s)} aria-label={`Close session ${s.peer}`}>
                    Close session
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
