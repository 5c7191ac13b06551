// A fake Porthole backend behind a fake Tauri IPC, injected before the page loads.
// It answers every command of docs/desktop-api.md from memory and emits events the way
// src-tauri does; tests drive extra events through `window.__fake`.
(() => {
  const callbacks = new Map();
  const listeners = new Map(); // event -> [{ id, handler }]
  let nextCb = 1;
  let nextId = 1;
  let nextPort = 50000;
  const profiles = new Map();
  const statuses = new Map();
  const sessions = new Map();
  const logs = new Map();
  let settings = { theme: "system", launchAtLogin: false };
  let origins = ["https://proxy.example.com"];
  const calls = [];

  const err = (code, message, fields = []) => ({ code, message, fields });
  const emit = (event, payload) => {
    for (const l of listeners.get(event) || []) {
      const cb = callbacks.get(l.handler);
      if (cb) cb({ event, id: l.id, payload });
    }
  };
  const log = (id, level, message, peer = null) => {
    const entry = { tsMs: Date.now(), level, message, peer };
    (logs.get(id) || logs.set(id, []).get(id)).push(entry);
    emit("log", { id, entry });
  };
  const setStatus = (id, status) => {
    statuses.set(id, status);
    if (status.state === "idle") sessions.set(id, []);
    emit("status", { id, status });
  };
  const view = (p) => ({ profile: p, status: statuses.get(p.id) || { state: "idle" }, portInUse: false });
  const validDest = (d) => /^tcp\+https?:\/\/[^/\s]+\/[^\s:/]+:\d+$/.test(d) || /^[^\s:/]+:\d+$/.test(d);

  function problems(draft) {
    const fields = [];
    if (!draft.name.trim()) fields.push({ field: "name", message: "Give the connection a name." });
    if (!validDest(draft.destination)) {
      fields.push({ field: "destination", message: "Use host:port (like redis.internal:6379) or tcp+https://proxy/host:port." });
    }
    if (draft.listenAddr && !/^[^\s]*:\d+$/.test(draft.listenAddr)) {
      fields.push({ field: "listenAddr", message: "Use host:port, like 127.0.0.1:6379." });
    }
    return fields;
  }

  function save(draft) {
    const fields = problems(draft);
    if (fields.length) throw err("invalid", "Some fields need fixing.", fields);
    const id = draft.id || `p${nextId++}`;
    const { clientCert, ...rest } = draft;
    const cert = clientCert && clientCert.kind === "files"
      ? { kind: "files", certFile: clientCert.certFile, hasKey: !!clientCert.keyFile }
      : clientCert;
    const p = { ...rest, id, clientCert: cert, source: null };
    profiles.set(id, p);
    emit("connections-changed", null);
    return p;
  }

  function connect(id) {
    const p = profiles.get(id);
    if (!p) throw err("not_found", "No such connection.");
    const addr = p.listenAddr || `127.0.0.1:${nextPort++}`;
    const s = { state: "listening", addr };
    setStatus(id, s);
    log(id, "info", `Listening on ${addr}`);
    return s;
  }

  const commands = {
    list_connections: () => [...profiles.values()].sort((a, b) => a.name.localeCompare(b.name)).map(view),
    save_connection: ({ draft }) => save(draft),
    check_connection: ({ draft }) => ({ fields: problems(draft), portInUse: draft.listenAddr === "127.0.0.1:1" }),
    quit: () => { window.__fake.quit = true; },
    delete_connection: ({ id }) => {
      profiles.delete(id);
      statuses.delete(id);
      emit("connections-changed", null);
    },
    duplicate_connection: ({ id }) => {
      const p = profiles.get(id);
      return save({ ...p, id: null, name: `${p.name} (copy)`, listenAddr: null, clientCert: null });
    },
    connect: ({ id }) => connect(id),
    disconnect: ({ id }) => {
      setStatus(id, { state: "idle" });
      log(id, "info", "Disconnected: listener and sessions closed");
    },
    connect_tag: ({ tag }) => {
      for (const p of profiles.values()) {
        if (tag === null || (tag === "" ? p.tags.length === 0 : p.tags.includes(tag))) connect(p.id);
      }
    },
    disconnect_tag: ({ tag }) => {
      for (const p of profiles.values()) {
        if (tag === null || (tag === "" ? p.tags.length === 0 : p.tags.includes(tag))) setStatus(p.id, { state: "idle" });
      }
    },
    sessions: ({ id }) => sessions.get(id) || [],
    close_session: ({ id, sessionId }) => {
      sessions.set(id, (sessions.get(id) || []).filter((s) => s.id !== sessionId));
    },
    logs: ({ id }) => logs.get(id) || [],
    import_connections: ({ json }) => {
      const recs = JSON.parse(json).records || [];
      for (const r of recs) {
        save({ id: null, name: r.conn.name, destination: r.conn.remoteAddr, listenAddr: r.conn.listenAddr || null,
          pomeriumUrl: r.conn.pomeriumUrl || null, protocol: "tcp", tags: r.tags || [], caFile: null,
          disableTlsVerification: false, clientCert: null, autostart: false, openWith: null });
      }
      return { added: recs.length, updated: 0, unchanged: 0 };
    },
    export_connections: ({ ids, includeTags }) => JSON.stringify({
      "@type": "type.googleapis.com/pomerium.cli.Records",
      records: [...profiles.values()].filter((p) => !ids || ids.includes(p.id)).map((p) => ({
        tags: includeTags ? p.tags : [], conn: { name: p.name, remoteAddr: p.destination },
      })),
    }, null, 2),
    signed_in: () => origins.map((origin) => ({ origin, user: "alice@example.com" })),
    sign_out: ({ origin }) => { origins = origins.filter((o) => o !== origin); },
    get_settings: () => settings,
    set_settings: ({ settings: s }) => (settings = s),
    open_url: ({ url }) => { window.__fake.opened.push(url); },
    // The routes portal of one fake server: `window.__fake.portal.routes` ({ id, name, type, from }).
    load_portal: ({ source }) => {
      if (!/^https:\/\/\S+$/.test(source.pomeriumUrl)) throw err("invalid", `invalid pomerium url "${source.pomeriumUrl}"`);
      const server = source.pomeriumUrl.replace(/\/+$/, "");
      const ours = [...profiles.values()].filter((p) => p.source?.startsWith("portal-route-") && p.pomeriumUrl === server);
      const preview = { server, new: [], changed: [], unchanged: [], gone: [], skipped: [] };
      for (const r of window.__fake.portal.routes) {
        if (r.type !== "tcp") {
          preview.skipped.push({ name: r.name, from: r.from, kind: r.type, reason: "an HTTP route is opened in a browser, not tunnelled" });
          continue;
        }
        const entry = { routeId: r.id, from: r.from, name: r.name, destination: r.from.replace(/^tcp\+https:\/\//, ""),
          pomeriumUrl: server, caFile: source.caFile, disableTlsVerification: source.disableTlsVerification, description: "" };
        const saved = ours.find((p) => p.source === `portal-route-${r.id}`);
        if (!saved) preview.new.push(entry);
        else {
          const changes = saved.name === entry.name ? [] : [{ field: "name", old: saved.name, new: entry.name }];
          (changes.length ? preview.changed : preview.unchanged).push({ id: saved.id, entry, changes });
        }
      }
      preview.gone = ours.filter((p) => !window.__fake.portal.routes.some((r) => p.source === `portal-route-${r.id}`));
      window.__fake.portal.last = preview;
      return preview;
    },
    accept_portal: ({ server, remove }) => {
      const p = window.__fake.portal.last;
      if (!p || p.server !== server) throw err("not_found", `no routes were loaded from ${server}; load them again`);
      for (const e of p.new) {
        const id = `p${nextId++}`;
        profiles.set(id, { id, name: e.name, destination: e.destination, listenAddr: null, pomeriumUrl: e.pomeriumUrl,
          protocol: "tcp", tags: [], caFile: e.caFile, disableTlsVerification: e.disableTlsVerification, clientCert: null,
          autostart: false, openWith: null, source: `portal-route-${e.routeId}` });
      }
      for (const c of p.changed) profiles.set(c.id, { ...profiles.get(c.id), name: c.entry.name });
      for (const id of remove) profiles.delete(id);
      window.__fake.portal.last = null;
      emit("connections-changed", null);
      return { added: p.new.length, updated: p.changed.length, removed: remove.length };
    },
    "plugin:event|listen": ({ event, handler }) => {
      const id = nextCb++;
      (listeners.get(event) || listeners.set(event, []).get(event)).push({ id, handler });
      return id;
    },
    "plugin:event|unlisten": ({ event, eventId }) => {
      listeners.set(event, (listeners.get(event) || []).filter((l) => l.id !== eventId));
    },
  };

  window.__TAURI_INTERNALS__ = {
    metadata: { currentWindow: { label: "main" }, currentWebview: { windowLabel: "main", label: "main" } },
    transformCallback(cb, once) {
      const id = nextCb++;
      callbacks.set(id, (data) => {
        if (once) callbacks.delete(id);
        return cb && cb(data);
      });
      return id;
    },
    unregisterCallback(id) { callbacks.delete(id); },
    async invoke(cmd, args = {}) {
      calls.push({ cmd, args });
      const f = commands[cmd];
      if (!f) throw err("unknown_command", `fake backend has no ${cmd}`);
      await new Promise((r) => setTimeout(r, 5));
      return f(args); // a thrown AppError becomes the rejection, as in Tauri
    },
  };
  window.__TAURI_EVENT_PLUGIN_INTERNALS__ = {
    unregisterListener(event, id) {
      listeners.set(event, (listeners.get(event) || []).filter((l) => l.id !== id));
    },
  };
  window.__fake = {
    calls,
    opened: [],
    portal: { routes: [], last: null },
    emit,
    setStatus,
    log,
    addSession(id, s) { (sessions.get(id) || sessions.set(id, []).get(id)).push(s); },
    profileId(name) { return [...profiles.values()].find((p) => p.name === name)?.id; },
  };
})();
