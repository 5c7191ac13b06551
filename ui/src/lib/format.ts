//! Numbers and times as people read them.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 0 B, 512 B, 1.5 KiB, 12 MiB, … (one decimal below 10, none above). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "–";
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${v} B`;
  const s = v < 10 ? v.toFixed(1).replace(/\.0$/, "") : Math.round(v).toString();
  return `${s} ${UNITS[i]}`;
}

/** 5s, 3m 07s, 2h 04m, 3d 1h. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** Local wall-clock time of an epoch-milliseconds instant, e.g. 14:03:27. */
export function formatTime(tsMs: number): string {
  const d = new Date(tsMs);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "Imported: 2 added, 1 updated" (and "n unchanged" when any). */
export function importSummary(r: { added: number; updated: number; unchanged: number }): string {
  const parts = [`${r.added} added`, `${r.updated} updated`];
  if (r.unchanged > 0) parts.push(`${r.unchanged} unchanged`);
  return `Imported: ${parts.join(", ")}`;
}

/** A file name from a connection name: "Redis prod" → "Redis_prod.json". */
export function exportFileName(name: string | null): string {
  if (!name) return "porthole-connections.json";
  const base = name.trim().replace(/[^\p{L}\p{N}._-]+/gu, "_").replace(/^_+|_+$/g, "");
  return `${base || "connection"}.json`;
}

/** OS phrases (Linux, macOS, Windows) as a person would say them. */
const OS_WORDS: [RegExp, string][] = [
  [/address already in use|only one usage of each socket address/i, "another program is using that address"],
  [/no such file or directory|cannot find the (file|path) specified/i, "it does not exist"],
  [/permission denied|access is denied/i, "permission denied"],
  [/connection refused|actively refused/i, "nothing is listening there"],
  [/connection reset by peer/i, "the other side closed the connection"],
  [/cannot assign requested address/i, "that address is not one of this computer's"],
];

/**
 * A message as the UI shows it: OS error numbers ("(os error 98)") dropped and their phrases
 * in words, the first letter capitalised, a full stop at the end.
 */
export function sentence(raw: string): string {
  let s = raw.replace(/\s*\((os error|error code:?) -?\d+\)/gi, "").trim();
  for (const [re, words] of OS_WORDS) s = s.replace(re, words);
  if (s === "") return s;
  s = s[0].toUpperCase() + s.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}
