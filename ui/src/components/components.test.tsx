// Components in happy-dom with Tauri's IPC mocked: the form focuses its first error and clears
// errors as fields become valid, the port warning follows the typed address, tags split on
// commas, folder buttons act on the rows the search shows, and failures read as sentences.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { render } from "preact";
import { act } from "preact/test-utils";
import { importFile, openLogin } from "../actions";
import { groupByTag } from "../lib/groups";
import { subscribe, type Toast } from "../lib/toast";
import type { ConnectionStatus, ConnectionView, Profile, ProfileDraft } from "../types";
import { CHECK_DEBOUNCE_MS, ConnectForm } from "./ConnectForm";
import { TagGroup } from "./TagGroup";
import { TagInput } from "./TagInput";

let root: HTMLElement;
beforeEach(() => {
  root = document.createElement("div");
  document.body.replaceChildren(root);
});
afterEach(() => {
  render(null, root);
  clearMocks();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Lets IPC promises, renders and effects run. */
async function settle(ms = 0) {
  await act(async () => {
    await pause(ms);
  });
}
/** Waits out the debounce, then lets the check's IPC answer render. */
async function afterCheck() {
  await settle(CHECK_DEBOUNCE_MS + 50);
  await settle();
}
/** Types like a person: an input event, then its render and effects. */
async function typeInto(el: HTMLInputElement, value: string) {
  await act(() => {
    el.value = value;
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
}
const $ = <T extends Element = HTMLElement>(css: string) => root.querySelector<T>(css);

const profile = (over: Partial<Profile>): Profile => ({
  id: "x", name: "x", destination: "h:1", listenAddr: null, pomeriumUrl: null, protocol: "tcp", tags: [],
  caFile: null, disableTlsVerification: false, clientCert: null, autostart: false, openWith: null, source: null,
  ...over,
});
const view = (over: Partial<Profile>, status: ConnectionStatus = { state: "idle" }): ConnectionView => ({
  profile: profile(over), status, portInUse: false, reconnectToApply: false, proxyOrigin: null,
});
const live: ConnectionStatus = { state: "listening", addr: "127.0.0.1:1" };

/** Rust's rules for the fields these tests touch, as `save_connection` / `check_connection` apply them. */
function rules(d: ProfileDraft) {
  const fields = [];
  if (!d.name) fields.push({ field: "name", message: "a name is required" });
  if (d.listenAddr && !/:\d+$/.test(d.listenAddr)) fields.push({ field: "listenAddr", message: "a port is required" });
  return fields;
}

describe("ConnectForm validation", () => {
  it("focuses the first error after a failed save and clears each error once its field is valid", async () => {
    const checks: ProfileDraft[] = [];
    mockIPC((cmd, args) => {
      const draft = (args as { draft: ProfileDraft }).draft;
      if (cmd === "check_connection") {
        checks.push(draft);
        return { fields: rules(draft), portInUse: false };
      }
      if (cmd === "save_connection") {
        const fields = rules(draft);
        throw { code: "invalid", message: `${fields.length} fields need attention`, fields };
      }
      return null;
    });
    render(<ConnectForm id={null} />, root);
    await settle();
    await typeInto($<HTMLInputElement>("#destination")!, "redis:6379");
    await typeInto($<HTMLInputElement>("#listenAddr")!, "127.0.0.1");
    await settle();
    expect($("[data-testid=error-name]"), "no error before a save was tried").toBeNull();

    $<HTMLButtonElement>("button[type=submit]")!.click();
    await settle();
    expect($("[data-testid=error-name]")?.textContent).toBe("A name is required.");
    expect($("[data-testid=error-listenAddr]")?.textContent).toBe("A port is required.");
    expect(document.activeElement?.id, "the first problem in reading order has the focus").toBe("name");

    await typeInto($<HTMLInputElement>("#name")!, "Redis");
    await settle();
    expect($("[data-testid=error-name]"), "not before the debounced check").not.toBeNull();
    await afterCheck();
    expect($("[data-testid=error-name]"), "the fixed field's error is gone").toBeNull();
    expect($("[data-testid=error-listenAddr]")?.textContent, "the other stays").toBe("A port is required.");
    expect(checks.at(-1)?.name).toBe("Redis");


    await typeInto($<HTMLInputElement>("#listenAddr")!, "127.0.0.1:7019");
    await afterCheck();
    expect($("[data-testid=error-listenAddr]")).toBeNull();
  });

  it("ties the port-in-use warning to the address in the box", async () => {
    mockIPC((cmd, args) => {
      if (cmd !== "check_connection") return null;
      const d = (args as { draft: ProfileDraft }).draft;
      return { fields: [], portInUse: d.listenAddr === "127.0.0.1:7019" };
    });
    render(<ConnectForm id={null} />, root);
    await typeInto($<HTMLInputElement>("#listenAddr")!, "127.0.0.1:7019");
    await afterCheck();
    expect($("[data-testid=port-in-use]")?.textContent).toContain("127.0.0.1:7019");
    await typeInto($<HTMLInputElement>("#listenAddr")!, "127.0.0.1:7020");
    await settle();
    expect($("[data-testid=port-in-use]"), "hidden at once: it was about another value").toBeNull();
    await afterCheck();
    expect($("[data-testid=port-in-use]"), "the new address is free").toBeNull();
  });
});

describe("TagInput", () => {
  it("splits on commas as they are typed and on Enter", async () => {
    let tags: string[] = [];
    const show = () => render(<TagInput id="tags" tags={tags} onChange={(t) => ((tags = t), show())} />, root);
    show();
    const input = $<HTMLInputElement>("#tags")!;
    expect(input.placeholder).toContain(",");
    await typeInto(input, "staging,");
    await settle();
    expect(tags).toEqual(["staging"]);
    await typeInto(input, "cache");
    await settle();
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    await settle();
    expect(tags).toEqual(["staging", "cache"]);
    await typeInto(input, "a, b ,a,  c d  ");
    await settle();
    input.dispatchEvent(new Event("blur"));
    await settle();
    expect(tags, "pasted lists split, blanks and repeats dropped, spaces collapsed").toEqual([
      "staging", "cache", "a", "b", "c d",
    ]);
    expect([...root.querySelectorAll("[data-testid=tag-chip]")].map((c) => c.firstChild?.textContent)).toEqual(tags);
  });
});

describe("folder buttons", () => {
  const list = [
    view({ id: "1", name: "Redis staging", tags: ["staging"] }, live),
    view({ id: "2", name: "Postgres staging", tags: ["staging"] }, live),
    view({ id: "3", name: "Redis prod", tags: ["prod"] }, live),
    view({ id: "4", name: "Cache staging", tags: ["staging"] }),
  ];

  it("list each connection once under All and count what the search shows", () => {
    const all = groupByTag(list, "");
    expect(all[0].items.length).toBe(4);
    const filtered = groupByTag(list, "redis");
    expect(filtered.map((g) => [g.label, g.items.map((c) => c.profile.id), g.total])).toEqual([
      ["All", ["1", "3"], 4],
      ["prod", ["3"], 1],
      ["staging", ["1"], 3],
    ]);
  });

  it("Disconnect all and Connect all act only on the shown rows", async () => {
    const calls: string[] = [];
    mockIPC((cmd, args) => {
      calls.push(`${cmd} ${(args as { id?: string }).id ?? ""}`.trim());
      return cmd === "connect" ? live : null;
    });
    const staging = groupByTag(list, "redis").find((g) => g.label === "staging")!;
    const noop = () => undefined;
    render(
      <TagGroup group={staging} collapsed={false} onToggle={noop} onDelete={noop} onExport={noop} onExportGroup={noop} />,
      root,
    );
    expect($(".group-count")?.textContent).toBe("1 of 1 shown active · 2 hidden by search");
    const button = (label: string) =>
      [...root.querySelectorAll<HTMLButtonElement>("button")].find((b) => b.textContent === label)!;
    expect(button("Connect all").disabled, "every shown row is already up").toBe(true);
    button("Disconnect all").click();
    await settle();
    expect(calls).toEqual(["disconnect 1"]);

    const all = groupByTag(list, "staging")[0];
    render(<TagGroup group={all} collapsed onToggle={noop} onDelete={noop} onExport={noop} onExportGroup={noop} />, root);
    calls.length = 0;
    button("Connect all").click();
    await settle();
    expect(calls).toEqual(["connect 4"]);
  });
});

describe("notices", () => {
  let seen: Toast[] = [];
  let stop: () => void = () => undefined;
  beforeEach(() => {
    stop = subscribe((t) => (seen = t));
  });
  afterEach(() => stop());

  it("an import failure is Rust's sentence, unchanged", async () => {
    const message = "The file contains no connections: its \"records\" list is missing or empty.";
    mockIPC(() => {
      throw { code: "import", message, fields: [] };
    });
    await importFile(new File(['{"records": []}'], "empty.json"));
    expect(seen.at(-1)).toMatchObject({ kind: "error", text: message });
  });

  it("Open login without a browser shows the address with a Copy button", async () => {
    mockIPC(() => {
      throw { code: "io", message: "No browser could be opened (it does not exist). Open the address yourself.", fields: [] };
    });
    await openLogin("https://proxy.example.com/.pomerium/sign_in?x=1");
    const t = seen.at(-1)!;
    expect(t.kind).toBe("error");
    expect(t.detail).toBe("https://proxy.example.com/.pomerium/sign_in?x=1");
    expect(t.action?.label).toBe("Copy address");
  });
});
