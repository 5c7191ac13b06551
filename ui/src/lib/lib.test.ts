// Pure helpers: status text, grouping and search, byte and time formatting, form mapping.
import { describe, expect, it } from "vitest";
import type { ConnectionStatus, ConnectionView, Profile } from "../types";
import { activeText, groupByTag, search } from "./groups";
import { exportFileName, formatBytes, formatDuration, importSummary, sentence } from "./format";
import { addTag, draftFromForm, emptyForm, formFromProfile, isDirty, mapFieldErrors } from "./form";
import { fieldLabel, pendingCount, portalReportText, previewSummary } from "./portal";
import { parseRoute, routeHash } from "./routes";
import { fixField, fixLabel, isActive, openWithCommand, statusAddr, statusProblem, statusText, statusTone } from "./status";

const profile = (over: Partial<Profile>): Profile => ({
  id: "x", name: "x", destination: "h:1", listenAddr: null, pomeriumUrl: null, protocol: "tcp", tags: [],
  caFile: null, disableTlsVerification: false, clientCert: null, autostart: false, openWith: null, source: null,
  ...over,
});
const view = (over: Partial<Profile>, status: ConnectionStatus = { state: "idle" }): ConnectionView => ({
  profile: profile(over), status, portInUse: false, reconnectToApply: false, proxyOrigin: null,
});

describe("status", () => {
  it("says each state as the badge shows it", () => {
    expect(statusText({ state: "idle" })).toBe("idle");
    expect(statusText({ state: "listening", addr: "127.0.0.1:6379" })).toBe("listening on 127.0.0.1:6379");
    expect(statusText({ state: "connecting", addr: "a" })).toBe("connecting…");
    expect(statusText({ state: "loginRequired", addr: "a", url: "u" })).toBe("login required");
    expect(statusText({ state: "connected", addr: "a", sessions: 1 })).toBe("connected · 1 session");
    expect(statusText({ state: "connected", addr: "a", sessions: 3 })).toBe("connected · 3 sessions");
    expect(statusText({ state: "error", code: "denied", message: "Access denied (403)." })).toBe("Access denied (403).");
  });
  it("knows active states, tones and addresses", () => {
    expect(isActive({ state: "idle" })).toBe(false);
    expect(isActive({ state: "error", code: "tunnel", message: "m" })).toBe(false);
    expect(isActive({ state: "loginRequired", addr: "a", url: "u" })).toBe(true);
    expect(statusTone({ state: "connected", addr: "a", sessions: 0 })).toBe("active");
    const failing: ConnectionStatus = {
      state: "failing", addr: "127.0.0.1:5432", code: "denied", label: "access denied for bob@example.com",
      message: "Access to db.corp:5432 is denied for bob@example.com by the proxy's policy. Ask for access, or log in as someone else.",
      cause: { kind: "denied", destination: "db.corp:5432", user: "bob@example.com" },
      action: "logInAsSomeoneElse",
    };
    expect(statusText(failing)).toBe("access denied for bob@example.com");
    expect(statusProblem(failing)).toContain("denied for bob@example.com");
    expect(statusTone(failing)).toBe("error");
    expect(isActive(failing)).toBe(true);
    expect(statusAddr(failing)).toBe("127.0.0.1:5432");
    expect(fixLabel("editTls")).toBe("Open TLS settings…");
    expect(fixField("editTls")).toBe("caFile");
    expect(statusAddr({ state: "idle" })).toBeNull();
    expect(statusAddr({ state: "listening", addr: "127.0.0.1:1" })).toBe("127.0.0.1:1");
  });
  it("fills open-with templates, IPv6 too", () => {
    expect(openWithCommand("ssh -p {port} {host}", "127.0.0.1:2222")).toBe("ssh -p 2222 127.0.0.1");
    expect(openWithCommand("psql -h {host} -p {port}", "[::1]:5432")).toBe("psql -h ::1 -p 5432");
  });
});

describe("groups and search", () => {
  const list = [
    view({ id: "1", name: "Redis prod", destination: "redis:6379", tags: ["db", "prod"] }, { state: "listening", addr: "a" }),
    view({ id: "2", name: "SSH", destination: "bastion:22", tags: ["prod"] }),
    view({ id: "3", name: "Scratch", destination: "tmp:1", tags: [] }),
  ];
  it("makes All, tags sorted, then Untagged, with active counts", () => {
    const g = groupByTag(list);
    expect(g.map((x) => [x.label, x.tag, x.items.map((i) => i.profile.id)])).toEqual([
      ["All", null, ["1", "2", "3"]],
      ["db", "db", ["1"]],
      ["prod", "prod", ["1", "2"]],
      ["Untagged", "", ["3"]],
    ]);
    expect(activeText(g[0])).toBe("1 of 3 active");
    expect(activeText(g[2])).toBe("1 of 2 active");
  });
  it("omits Untagged when every connection has a tag", () => {
    expect(groupByTag(list.slice(0, 2)).map((g) => g.label)).toEqual(["All", "db", "prod"]);
  });
  it("searches name, destination and tags, all words, any case", () => {
    expect(search(list, "redis").map((c) => c.profile.id)).toEqual(["1"]);
    expect(search(list, "BASTION").map((c) => c.profile.id)).toEqual(["2"]);
    expect(search(list, "prod").map((c) => c.profile.id)).toEqual(["1", "2"]);
    expect(search(list, "prod ssh").map((c) => c.profile.id)).toEqual(["2"]);
    expect(search(list, "  ").length).toBe(3);
  });
});

describe("format", () => {
  it("formats bytes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1 KiB");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(4_500_000)).toBe("4.3 MiB");
    expect(formatBytes(50 * 1024 * 1024)).toBe("50 MiB");
    expect(formatBytes(-1)).toBe("–");
  });
  it("formats durations", () => {
    expect(formatDuration(5_000)).toBe("5s");
    expect(formatDuration(65_000)).toBe("1m 05s");
    expect(formatDuration(2 * 3600_000 + 4 * 60_000)).toBe("2h 04m");
    expect(formatDuration(-5)).toBe("0s");
  });
  it("summarises imports and names export files", () => {
    expect(importSummary({ added: 2, updated: 1, unchanged: 0 })).toBe("Imported: 2 added, 1 updated");
    expect(importSummary({ added: 0, updated: 0, unchanged: 4 })).toBe("Imported: 0 added, 0 updated, 4 unchanged");
    expect(exportFileName("Redis prod")).toBe("Redis_prod.json");
    expect(exportFileName(null)).toBe("porthole-connections.json");
  });
});

describe("form", () => {
  it("turns blanks into null and builds the client cert draft", () => {
    const f = { ...emptyForm(), name: " r ", destination: " h:1 ", listenAddr: "  ", certMode: "files" as const, certFile: "/c.pem", keyFile: "" };
    const d = draftFromForm(f);
    expect(d).toMatchObject({ name: "r", destination: "h:1", listenAddr: null, openWith: null });
    expect(d.clientCert).toEqual({ kind: "files", certFile: "/c.pem", keyFile: null });
    expect(draftFromForm({ ...f, certMode: "store", issuer: "CN=Corp", subject: "" }).clientCert).toEqual({
      kind: "store", issuer: "CN=Corp", subject: null,
    });
    expect(draftFromForm({ ...f, certMode: "none" }).clientCert).toBeNull();
  });
  it("round-trips a profile and detects changes", () => {
    const p = profile({ id: "p", name: "n", listenAddr: "127.0.0.1:1", tags: ["a"], clientCert: { kind: "files", certFile: "/c", hasKey: true } });
    const f = formFromProfile(p);
    expect(f.hasKey).toBe(true);
    expect(isDirty(f, { ...f })).toBe(false);
    expect(isDirty(f, { ...f, name: "m" })).toBe(true);
    expect(isDirty(f, { ...f, keyFile: "/new.key" })).toBe(true);
    expect(draftFromForm(f)).toMatchObject({ id: "p", listenAddr: "127.0.0.1:1", tags: ["a"] });
  });
  it("adds tags once, trimmed", () => {
    expect(addTag(["a"], "  b   c ")).toEqual(["a", "b c"]);
    expect(addTag(["a"], "a")).toEqual(["a"]);
    expect(addTag(["a"], "A")).toEqual(["a", "A"]);
    expect(addTag(["a"], "  ")).toEqual(["a"]);
  });
  it("maps every server field error to its input, the rest to general", () => {
    const m = mapFieldErrors([
      { field: "destination", message: "bad dest" },
      { field: "listen_addr", message: "bad port" },
      { field: "clientCert.keyFile", message: "unreadable" },
      { field: "clientCert.kind", message: "?" },
      { field: "tags[2]", message: "too long" },
      { field: "name", message: "one" },
      { field: "name", message: "two" },
      { field: "", message: "whole draft" },
      { field: "mystery", message: "m" },
    ]);
    expect(m.byField).toEqual({
      destination: "Bad dest.",
      listenAddr: "Bad port.",
      "clientCert.keyFile": "Unreadable.",
      clientCert: "?",
      tags: "Too long.",
      name: "One. Two.",
    });
    expect(m.general).toEqual(["Whole draft.", "mystery: M."]);
  });
});

describe("routes", () => {
  it("parses and prints every route", () => {
    expect(parseRoute("")).toEqual({ page: "list" });
    expect(parseRoute("#/")).toEqual({ page: "list" });
    expect(parseRoute("#/new")).toEqual({ page: "new" });
    expect(parseRoute("#/quit")).toEqual({ page: "quit" });
    expect(routeHash({ page: "quit" })).toBe("#/quit");
    expect(parseRoute("#/edit/a%2Fb")).toEqual({ page: "edit", id: "a/b" });
    expect(parseRoute("#/connection/p1")).toEqual({ page: "detail", id: "p1" });
    expect(parseRoute("#/settings")).toEqual({ page: "settings" });
    expect(parseRoute("#/nope")).toEqual({ page: "list" });
    expect(routeHash({ page: "edit", id: "a/b" })).toBe("#/edit/a%2Fb");
  });
});

describe("portal", () => {
  const entry = { routeId: "r", from: "tcp+https://h:1", name: "H", destination: "h:1", protocol: "tcp" as const, pomeriumUrl: "https://p",
    caFile: null, disableTlsVerification: false, description: "" };
  const preview = {
    server: "https://p", new: [entry, entry], changed: [{ id: "c", entry, changes: [] }], unchanged: [],
    gone: [profile({ id: "g1" }), profile({ id: "g2" })], skipped: [],
  };
  it("summarizes the preview, leaving zero counts out", () => {
    expect(previewSummary(preview)).toBe("2 new, 1 changed, 2 gone");
    expect(previewSummary({ ...preview, new: [], changed: [], gone: [] })).toBe("no routes");
  });
  it("counts what Save would do: new, changed and only the ticked gone ones", () => {
    expect(pendingCount(preview, new Set())).toBe(3);
    expect(pendingCount(preview, new Set(["g2", "not-gone"]))).toBe(4);
  });
  it("names fields and reports as people read them", () => {
    expect(fieldLabel("pomeriumUrl")).toBe("Pomerium URL");
    expect(fieldLabel("other")).toBe("other");
    expect(portalReportText("https://p", { added: 2, updated: 1, removed: 0 })).toBe(
      "Loaded from https://p: 2 added, 1 updated, 0 removed",
    );
  });
  it("routes #/load to the dialog and back", () => {
    expect(parseRoute("#/load")).toEqual({ page: "load" });
    expect(routeHash({ page: "load" })).toBe("#/load");
  });
});

describe("sentence", () => {
  it("capitalises, ends with a stop, and says OS errors in words", () => {
    expect(sentence("cannot listen on 127.0.0.1:7019: Address already in use (os error 98)")).toBe(
      "Cannot listen on 127.0.0.1:7019: another program is using that address.",
    );
    expect(sentence("could not read /x/ca.pem: No such file or directory (os error 2)")).toBe(
      "Could not read /x/ca.pem: it does not exist.",
    );
    expect(sentence("Access denied (403).")).toBe("Access denied (403).");
    expect(sentence("login required?")).toBe("Login required?");
    expect(sentence("")).toBe("");
  });
});
