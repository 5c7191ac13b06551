//! The UI's cache of Rust's connection list, kept fresh by the `status` and
//! `connections-changed` events. Rust stays the state of record: this is only what it said last.

import { useEffect, useState } from "preact/hooks";
import * as api from "./api";
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

/** Asks Rust for the list again. */
export async function reload(): Promise<void> {
  try {
    set({ list: await api.listConnections(), error: null });
  } catch (e) {
    set({ ...state, error: api.toApiError(e).message });
  }
}

/** Applies a status Rust reported (event or command result). */
export function patchStatus(id: string, status: ConnectionStatus): void {
  if (!state.list) return;
  set({ ...state, list: state.list.map((c) => (c.profile.id === id ? { ...c, status } : c)) });
}

/** Loads the list and follows Rust's events; returns the function that stops following. */
export function startSync(): () => void {
  const stops = [
    api.onStatus((e) => patchStatus(e.id, e.status)),
    api.onConnectionsChanged(() => void reload()),
  ];
  void reload();
  return () => stops.forEach((p) => p.then((stop) => stop()).catch(() => undefined));
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
