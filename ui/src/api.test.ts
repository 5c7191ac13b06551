// The API module calls the contract's command names with its argument names, and turns
// every rejection into an ApiError with code, message and fields.
import { afterEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import * as api from "./api";
import type { ProfileDraft } from "./types";

afterEach(() => clearMocks());

function record() {
  const calls: { cmd: string; args: unknown }[] = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    if (cmd === "export_connections") return "{}";
    if (cmd === "import_connections") return { added: 2, updated: 1, unchanged: 0 };
    return null;
  });
  return calls;
}

const draft: ProfileDraft = {
  id: null, name: "r", destination: "h:1", listenAddr: null, pomeriumUrl: null, protocol: "tcp", tags: [],
  caFile: null, disableTlsVerification: false, clientCert: null, autostart: false, openWith: null,
};

describe("api", () => {
  it("sends each command with the contract's name and args", async () => {
    const calls = record();
    await api.listConnections();
    await api.saveConnection(draft);
    await api.deleteConnection("a");
    await api.duplicateConnection("a");
    await api.connect("a");
    await api.disconnect("a");
    await api.connectTag(null);
    await api.disconnectTag("");
    await api.sessions("a");
    await api.closeSession("a", 7);
    await api.logs("a");
    expect(await api.importConnections("{}")).toEqual({ added: 2, updated: 1, unchanged: 0 });
    expect(await api.exportConnections({ ids: null, includeTags: true, includePrivateKeys: false, includePortholeFields: true })).toBe("{}");
    await api.signedIn();
    await api.signOut("https://p");
    await api.getSettings();
    await api.setSettings({ theme: "dark", launchAtLogin: true });
    await api.openUrl("https://p/login");
    await api.loadPortal({ pomeriumUrl: "https://p", caFile: null, disableTlsVerification: false });
    await api.acceptPortal("https://p", ["g1"]);
    expect(calls).toEqual([
      { cmd: "list_connections", args: {} },
      { cmd: "save_connection", args: { draft } },
      { cmd: "delete_connection", args: { id: "a" } },
      { cmd: "duplicate_connection", args: { id: "a" } },
      { cmd: "connect", args: { id: "a" } },
      { cmd: "disconnect", args: { id: "a" } },
      { cmd: "connect_tag", args: { tag: null } },
      { cmd: "disconnect_tag", args: { tag: "" } },
      { cmd: "sessions", args: { id: "a" } },
      { cmd: "close_session", args: { id: "a", sessionId: 7 } },
      { cmd: "logs", args: { id: "a" } },
      { cmd: "import_connections", args: { json: "{}" } },
      { cmd: "export_connections", args: { ids: null, includeTags: true, includePrivateKeys: false, includePortholeFields: true } },
      { cmd: "signed_in", args: {} },
      { cmd: "sign_out", args: { origin: "https://p" } },
      { cmd: "get_settings", args: {} },
      { cmd: "set_settings", args: { settings: { theme: "dark", launchAtLogin: true } } },
      { cmd: "open_url", args: { url: "https://p/login" } },
      {
        cmd: "load_portal",
        args: { source: { pomeriumUrl: "https://p", caFile: null, disableTlsVerification: false } },
      },
      { cmd: "accept_portal", args: { server: "https://p", remove: ["g1"] } },
    ]);
  });

  it("surfaces an AppError as ApiError with its fields", async () => {
    const appError = { code: "invalid", message: "Fix the fields", fields: [{ field: "destination", message: "bad" }] };
    mockIPC(() => Promise.reject(appError));
    const e = await api.saveConnection(draft).catch((x) => x);
    expect(e).toBeInstanceOf(api.ApiError);
    expect(e).toMatchObject(appError);
  });

  it("turns a bare string rejection into code 'unknown'", async () => {
    mockIPC(() => Promise.reject("boom"));
    await expect(api.connect("a")).rejects.toMatchObject({ code: "unknown", message: "boom", fields: [] });
  });

  it("delivers event payloads", async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const { emit } = await import("@tauri-apps/api/event");
    const got: unknown[] = [];
    const stop = await api.onStatus((e) => got.push(e));
    await emit("status", { id: "a", status: { state: "idle" } });
    stop();
    expect(got).toEqual([{ id: "a", status: { state: "idle" } }]);
  });
});
