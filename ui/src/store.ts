//! The UI's cache of Rust's connection list, kept fresh by the `status` and
//! `connections-changed` events. Rust stays the state of record: this is only what it said last.

import { useEffect, useState } from "preact/hooks";
import * as api from "./api";
import { isActive } from "./lib/status";
import type { ConnectionStatus, ConnectionView } from "./types";

/** What the list screens render. */
export interface ConnectionsState {
  list: ConnectionView[] | null;
  error: string | null;
}

let state: ConnectionsState = { list: null, error: null };
const listeners = new Set<(s: ConnectionsState) => void>();

function set(next: ConnectionsState) {
  state = next;
  for (const l of listeners) l(state);
}

/** Status events in arrival order, so a list fetched before an event cannot undo it. */
let eventSeq = 0;
const latest = new Map<string, { seq: number; status: ConnectionStatus }>();

/** Asks Rust for the list again. */
export async function reload(): Promise<void> {
  const asked = eventSeq;
  try {
    const list = await api.listConnections();
    // A status event that arrived while the list was on its way is newer than the list.
    const merged = list.map((c) => {
      const l = latest.get(c.profile.id);
      return l && l.seq > asked ? { ...c, status: l.status } : c;
    });
    set({ list: merged, error: null });
  } catch (e) {
    set({ ...state, error: api.toApiError(e).message });
  }
}

/** Applies a status Rust reported (event or command result). */
export function patchStatus(id: string, status: ConnectionStatus): void {
  if (!state.list) return;
  set({ ...state, list: state.list.map((c) => (c.profile.id === id ? { ...c, status } : c)) });
}

/**
 * Applies the status a command returned, unless a status event for that connection arrived
 * after `since` (the events are newer than the command's answer).
 */
export function patchFromCommand(id: string, status: ConnectionStatus, since: number): void {
  const l = latest.get(id);
  if (l && l.seq > since) return;
  patchStatus(id, status);
}

/** The position in the event stream, for [`patchFromCommand`]. */
export function eventPosition(): number {
  return eventSeq;
}

/** Loads the list and follows Rust's events; returns the function that stops following. */
export function startSync(): () => void {
  const stops = [
    api.onStatus((e) => {
      latest.set(e.id, { seq: ++eventSeq, status: e.status });
      patchStatus(e.id, e.status);
    }),
    api.onConnectionsChanged(() => void reload()),
  ];
  void reload();
  return () => stops.forEach((p) => p.then((stop) => stop()).catch(() => undefined));
}

/** How many connections are up now (what quitting would drop). */
export function liveCount(): number {
  return (state.list ?? []).filter((c) => isActive(c.status)).length;
}

/** The connection list; re-renders on every change. */
export function useConnections(): ConnectionsState {
  const [s, setS] = useState(state);
  useEffect(() => {
    listeners.add(setS);
    setS(state);
    return () => void listeners.delete(setS);
  }, []);
  return s;
}
