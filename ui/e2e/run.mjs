// UI tests: the built ui/dist in headless Chromium, with Tauri's IPC replaced by an in-page
// fake backend (fake-backend.js). Run: node --test ui/e2e/ (after `npm run ui:build`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readFile, mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, "../dist");
const shots = path.resolve(here, "../test-results/screenshots");
/** The policy the desktop shell really sets: read from src-tauri/tauri.conf.json, not copied. */
const CSP = await tauriCsp();
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png" };

/** `app.security.csp` of src-tauri/tauri.conf.json; fails loudly when it is missing or empty. */
async function tauriCsp() {
  const conf = JSON.parse(await readFile(path.resolve(here, "../../src-tauri/tauri.conf.json"), "utf8"));
  const csp = conf?.app?.security?.csp;
  assert.ok(typeof csp === "string" && csp.includes("default-src"), `tauri.conf.json must set app.security.csp, found ${JSON.stringify(csp)}`);
  return csp;
}

let server, browser, context, page, base;
const problems = [];

/** Serves ui/dist with the CSP the Tauri shell sets, so a CSP break fails these tests. */
function serve() {
  return new Promise((resolve) => {
    const s = http.createServer(async (req, res) => {
      const rel = decodeURIComponent(new URL(req.url, "http://x").pathname);
      const file = path.join(dist, rel === "/" ? "index.html" : rel);
      if (!file.startsWith(dist) || !existsSync(file)) return res.writeHead(404).end();
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", "content-security-policy": CSP });
      res.end(await readFile(file));
    });
    s.listen(0, "127.0.0.1", () => resolve(s));
  });
}

/** Saves a screenshot and checks it is a real picture: big enough, many colours. */
async function screenshot(name) {
  // Notices come and go on timers; clear them so the picture shows the page itself.
  await page.evaluate(() => document.querySelectorAll(".toast button").forEach((b) => b.click()));
  await page.mouse.move(0, 0);
  await page.waitForTimeout(250); // let transitions settle for a steady picture
  const file = path.join(shots, `${name}.png`);
  const png = await page.screenshot({ path: file, fullPage: true });
  assert.ok(png.length > 10_000, `${name}.png is ${png.length} bytes: a blank page compresses to almost nothing`);
  const check = await context.newPage();
  const colours = await check.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    const seen = new Set();
    for (let y = 0; y < img.height; y += 7) {
      for (let x = 0; x < img.width; x += 7) seen.add(g.getImageData(x, y, 1, 1).data.join(","));
    }
    return { w: img.width, h: img.height, n: seen.size };
  }, png.toString("base64"));
  await check.close();
  assert.ok(colours.w >= 1000 && colours.h >= 600, `${name}.png is ${colours.w}x${colours.h}`);
  assert.ok(colours.n >= 12, `${name}.png has only ${colours.n} distinct sampled colours: it looks blank`);
}

const row = (name, group = "All") => page.locator(`[data-group="${group}"] [data-testid=connection-row][data-name="${name}"]`);
const idOf = (name) => page.evaluate((n) => window.__fake.profileId(n), name);

before(async () => {
  assert.ok(existsSync(path.join(dist, "index.html")), "ui/dist is missing: run `npm run ui:build` first");
  await mkdir(shots, { recursive: true });
  server = await serve();
  base = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  context = await browser.newContext({ viewport: { width: 1100, height: 760 }, colorScheme: "light" });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base.slice(0, -1) });
  await context.addInitScript({ path: path.join(here, "fake-backend.js") });
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective}`));
  });
  page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  page.setDefaultTimeout(5000);
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("empty state says what to do", async () => {
  await page.goto(`${base}#/`);
  const empty = page.getByTestId("empty-state");
  await empty.waitFor();
  assert.match(await empty.innerText(), /No connections yet — add one, or import a Pomerium Desktop export/);
});

test("the form shows the backend's field error, then saves", async () => {
  await page.getByRole("button", { name: "New connection" }).first().click();
  await page.getByRole("heading", { name: "New connection" }).waitFor();
  await page.getByLabel("Name").fill("Redis prod");
  await page.getByLabel("Destination").fill("redis prod 6379");
  await page.getByLabel("Local address").fill("127.0.0.1:6379");
  await page.getByLabel("Tags").fill("databases");
  await page.keyboard.press("Enter");
  await page.getByLabel("Open with").fill("redis-cli -h {host} -p {port}");
  await page.getByRole("button", { name: "Save" }).click();
  const error = page.getByTestId("error-destination");
  await error.waitFor();
  assert.match(await error.innerText(), /host:port/);
  assert.equal(await page.getByLabel("Destination").getAttribute("aria-invalid"), "true");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "destination", "the first error has the focus");
  assert.match(page.url(), /#\/new$/, "a rejected save stays on the form");
  await page.getByLabel("Disable TLS verification").check();
  await screenshot("form");
  await page.getByLabel("Disable TLS verification").uncheck();

  await page.getByLabel("Destination").fill("redis.internal:6379");
  await error.waitFor({ state: "detached" }); // cleared by the live check, before any Save
  await page.getByRole("button", { name: "Save" }).click();
  await page.waitForURL(/#\/connection\/p1$/);
  const draft = await page.evaluate(() => window.__fake.calls.filter((c) => c.cmd === "save_connection").at(-1).args.draft);
  assert.deepEqual(
    { ...draft },
    { id: null, name: "Redis prod", destination: "redis.internal:6379", listenAddr: "127.0.0.1:6379", pomeriumUrl: null,
      protocol: "tcp", tags: ["databases"], caFile: null, disableTlsVerification: false, clientCert: null,
      autostart: false, openWith: "redis-cli -h {host} -p {port}" },
    "the draft follows the contract: blanks are null",
  );
});

test("unsaved changes ask before leaving the form", async () => {
  await page.goto(`${base}#/new`);
  await page.getByLabel("Name").fill("half typed");
  await page.getByRole("button", { name: "← Back" }).click();
  const dialog = page.getByRole("dialog", { name: "Discard changes?" });
  await dialog.waitFor();
  await dialog.getByRole("button", { name: "Discard" }).click();
  await page.waitForURL(/#\/$/);
});

test("import adds connections and says how many", async () => {
  const json = JSON.stringify({ records: [
    { tags: ["ssh"], conn: { name: "SSH bastion", remoteAddr: "bastion.internal:22" } },
    { tags: [], conn: { name: "Postgres staging", remoteAddr: "pg.staging:5432" } },
  ] });
  await page.locator("input[type=file]").setInputFiles({ name: "export.json", mimeType: "application/json", buffer: Buffer.from(json) });
  await page.getByText("Imported: 2 added, 0 updated").waitFor();
  await row("SSH bastion").waitFor();
  await row("Postgres staging").waitFor();
  // One folder is open at a time: All lists each connection once; opening a tag closes All.
  assert.equal(await page.getByTestId("connection-row").count(), 3, "3 connections, 3 rows");
  await page.locator('[data-group="databases"] .group-toggle').click();
  await row("Redis prod", "databases").waitFor();
  assert.equal(await row("Redis prod").count(), 0, "All closed while a tag folder is open");
  await page.locator('[data-group="All"] .group-toggle').click();
  await row("Redis prod").waitFor();
});

test("connect shows the listening address; a status event shows the session count", async () => {
  await row("Redis prod").getByRole("switch", { name: "Connect Redis prod" }).click();
  await row("Redis prod").getByTestId("status").getByText("listening on 127.0.0.1:6379").waitFor();
  assert.match(await page.locator('[data-group="All"] .group-count').innerText(), /1 of 3 active/);
  await row("Redis prod").getByRole("button", { name: "Copy address 127.0.0.1:6379" }).click();
  await page.getByText("Copied 127.0.0.1:6379").waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "127.0.0.1:6379");

  const id = await idOf("Redis prod");
  await page.evaluate((id) => {
    window.__fake.addSession(id, { id: 1, peer: "127.0.0.1:53422", sinceMs: Date.now() - 65_000, bytesUp: 1536, bytesDown: 4_500_000 });
    window.__fake.setStatus(id, { state: "connected", addr: "127.0.0.1:6379", sessions: 1 });
    window.__fake.log(id, "info", "Connected to redis.internal:6379", "127.0.0.1:53422");
    const pg = window.__fake.profileId("Postgres staging");
    window.__fake.setStatus(pg, { state: "loginRequired", addr: "127.0.0.1:50001", url: "https://proxy.example.com/login" });
    const ssh = window.__fake.profileId("SSH bastion");
    window.__fake.setStatus(ssh, { state: "error", code: "denied", message: "The proxy denied access (403): ask for the ssh route." });
  }, id);
  await row("Redis prod").getByText("connected · 1 session").waitFor();
  await row("Postgres staging").getByRole("button", { name: "Open login" }).click();
  await page.waitForFunction(() => window.__fake.opened.includes("https://proxy.example.com/login"));
  await page.mouse.move(0, 0);
  await screenshot("list");
});

test("search filters by name, destination and tag", async () => {
  const search = page.getByLabel("Search connections");
  await search.fill("bastion");
  await row("SSH bastion").waitFor();
  assert.equal(await row("Redis prod").count(), 0);
  await search.fill("databases");
  await row("Redis prod").waitFor();
  await search.fill("");
});

test("detail view shows settings, the live session and the log; Disconnect empties sessions", async () => {
  await row("Redis prod").getByRole("link", { name: "Redis prod" }).click();
  await page.getByRole("heading", { name: "Redis prod" }).waitFor();
  const sessions = page.getByTestId("sessions");
  await sessions.getByText("127.0.0.1:53422").waitFor();
  assert.match(await sessions.innerText(), /1\.5 KiB/);
  assert.match(await sessions.innerText(), /4\.3 MiB/);
  await page.getByText("redis-cli -h 127.0.0.1 -p 6379").waitFor();
  const log = page.getByTestId("log");
  await log.getByText("Connected to redis.internal:6379").waitFor();
  const first = await log.locator("li").first().innerText();
  assert.match(first, /Connected to/, "the newest entry comes first");
  await page.mouse.move(0, 0);
  await screenshot("detail");

  await page.getByRole("button", { name: "Disconnect", exact: true }).click();
  await page.getByTestId("no-sessions").waitFor();
  assert.equal(await page.getByTestId("sessions").count(), 0);
  await page.getByTestId("status").first().getByText("idle").waitFor();
});

test("delete asks first, then removes the row", async () => {
  await page.getByRole("button", { name: "← Connections" }).click();
  await row("Redis prod").getByRole("button", { name: "More actions for Redis prod" }).click();
  await page.getByRole("menuitem", { name: "Delete" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete Redis prod?" });
  await dialog.waitFor();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await row("Redis prod").count(), 1, "Cancel keeps the connection");
  await row("Redis prod").getByRole("button", { name: "More actions for Redis prod" }).click();
  await page.getByRole("menuitem", { name: "Delete" }).click();
  await page.getByRole("dialog", { name: "Delete Redis prod?" }).getByRole("button", { name: "Delete" }).click();
  await page.getByText("Deleted Redis prod").waitFor();
  await page.waitForFunction(() => !document.querySelector('[data-name="Redis prod"]'));
  const del = await page.evaluate(() => window.__fake.calls.filter((c) => c.cmd === "delete_connection"));
  assert.equal(del.length, 1);
});

test("settings: dark theme applies at once, sign out removes the proxy", async () => {
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("heading", { name: "Settings" }).waitFor();
  await page.getByLabel("Dark").check();
  await page.waitForFunction(() => document.documentElement.dataset.theme === "dark");
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, "rgb(21, 23, 27)", "the dark palette is in force");
  await page.getByText("https://proxy.example.com").waitFor();
  await screenshot("settings");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByText("Not signed in to any proxy").waitFor();
  await page.getByRole("link", { name: "Connections" }).click();
  await row("SSH bastion").waitFor();
  await screenshot("list-dark");

  // The next launch is dark from its first paint: the theme is set before any module runs
  // (the settings answer comes later; this page's fake backend would even say "system").
  const next = await context.newPage();
  await next.addInitScript(() => {
    document.addEventListener("DOMContentLoaded", () => {
      window.__atLoad = { theme: document.documentElement.dataset.theme, bg: getComputedStyle(document.body).backgroundColor };
    });
  });
  await next.goto(`${base}#/`);
  assert.deepEqual(await next.evaluate(() => window.__atLoad), { theme: "dark", bg: "rgb(21, 23, 27)" });
  await next.close();
});

test("closing with live tunnels asks first; Quit quits", async () => {
  await page.evaluate(() => window.__fake.emit("quit-requested", null));
  const dialog = page.getByRole("dialog", { name: "Quit Porthole?" });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /\d+ connections? (is|are) live\. Quitting disconnects/);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await page.evaluate(() => !!window.__fake.quit), false, "Cancel keeps the app");
  await page.evaluate(() => window.__fake.emit("quit-requested", null));
  await dialog.getByRole("button", { name: "Quit" }).click();
  await page.waitForFunction(() => window.__fake.quit === true);
});

test("a window opened on #/quit asks at once (the tray's Quit while the window was closed)", async () => {
  const next = await page.context().newPage();
  await next.goto(`${base}#/quit`);
  const dialog = next.getByRole("dialog", { name: "Quit Porthole?" });
  await dialog.waitFor();
  assert.match(await dialog.innerText(), /\d+ connections? (is|are) live\. Quitting disconnects/);
  assert.equal(await next.evaluate(() => location.hash), "#/", "the list is under the question");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await next.close();
});

test("load from server: preview, save, then unchanged; the tray opens it too", async () => {
  await page.evaluate(() => {
    window.__fake.portal.routes = [
      { id: "r1", name: "Orders DB", type: "tcp", from: "tcp+https://db.example.com:5432" },
      { id: "r2", name: "Cache", type: "tcp", from: "tcp+https://cache.example.com:6379" },
      { id: "r3", name: "Wiki", type: "http", from: "https://wiki.example.com" },
    ];
  });
  await page.getByRole("button", { name: "Load from server…" }).click();
  let dialog = page.getByRole("dialog", { name: "Load from server" });
  await dialog.waitFor();
  await dialog.getByLabel("Pomerium URL").fill("https://pomerium.example.com");
  await dialog.getByRole("button", { name: "Load" }).click();
  const preview = page.getByRole("dialog", { name: "Routes of https://pomerium.example.com" });
  await preview.waitFor();
  assert.equal(await preview.getByTestId("portal-summary").innerText(), "2 new, 1 skipped");
  assert.match(await preview.getByTestId("portal-new").innerText(), /Orders DB\s+db\.example\.com:5432[\s\S]*Cache/);
  assert.match(await preview.getByTestId("portal-skipped").innerText(), /Wiki — an HTTP route/);
  assert.equal(await row("Orders DB").count(), 0, "nothing is saved before Save");
  await screenshot("load-preview");
  await preview.getByRole("button", { name: "Save" }).click();
  await page.getByText("Loaded from https://pomerium.example.com: 2 added, 0 updated, 0 removed").waitFor();
  await row("Orders DB").waitFor();

  // The tray's entry opens the same dialog (window::show goes to #/load); a second load is all
  // unchanged, and Save is off.
  await page.evaluate(() => {
    location.hash = "#/load";
  });
  dialog = page.getByRole("dialog", { name: "Load from server" });
  await dialog.waitFor();
  await dialog.getByLabel("Pomerium URL").fill("https://pomerium.example.com");
  await dialog.getByRole("button", { name: "Load" }).click();
  await preview.waitFor();
  assert.match(await preview.getByTestId("portal-summary").innerText(), /^2 unchanged, 1 skipped — everything is up to date\.$/);
  assert.equal(await preview.getByRole("button", { name: "Save" }).isDisabled(), true);

  // A rename and a removal: changed shows the field, gone has a box to tick.
  await page.evaluate(() => {
    window.__fake.portal.routes = [{ id: "r1", name: "Orders DB (primary)", type: "tcp", from: "tcp+https://db.example.com:5432" }];
  });
  await preview.getByRole("button", { name: "Back" }).click();
  await dialog.getByRole("button", { name: "Load" }).click();
  await preview.waitFor();
  assert.match(await preview.getByTestId("portal-changed").innerText(), /Name: Orders DB → Orders DB \(primary\)/);
  await preview.getByLabel("Remove Cache").check();
  await preview.getByRole("button", { name: "Save" }).click();
  await page.getByText("1 updated, 1 removed").waitFor();
  await row("Orders DB (primary)").waitFor();
  assert.equal(await row("Cache").count(), 0, "the ticked gone connection is removed");
  const accepts = await page.evaluate(() => window.__fake.calls.filter((c) => c.cmd === "accept_portal").map((c) => c.args.remove.length));
  assert.deepEqual(accepts, [0, 1]);
});

test("no console error and no CSP violation", () => {
  assert.deepEqual(problems, []);
});
