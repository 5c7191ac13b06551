//! The "⋯" menu of a connection: Edit, Duplicate, Export, Delete.

import { useEffect, useRef, useState } from "preact/hooks";

/** One entry of the menu. */
export interface MenuItem {
  label: string;
  danger?: boolean;
  run: () => void;
}

/** A button that opens a keyboard-friendly menu. */
export function RowMenu({ label, items }: { label: string; items: MenuItem[] }) {
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    box.current?.querySelector<HTMLButtonElement>("[role=menuitem]")?.focus();
    const away = (e: MouseEvent) => {
      if (!box.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", away);
    return () => document.removeEventListener("mousedown", away);
  }, [open]);
  const onKey = (e: KeyboardEvent) => {
    const all = [...(box.current?.querySelectorAll<HTMLButtonElement>("[role=menuitem]") ?? [])];
    const i = all.indexOf(document.activeElement as HTMLButtonElement);
    if (e.key === "Escape") {
      setOpen(false);
      box.current?.querySelector<HTMLButtonElement>("button")?.focus();
    } else if (e.key === "ArrowDown" && all.length) {
      e.preventDefault();
      all[(i + 1) % all.length].focus();
    } else if (e.key === "ArrowUp" && all.length) {
      e.preventDefault();
      all[(i - 1 + all.length) % all.length].focus();
    }
  };
  return (
    <div class="menu" ref={box} onKeyDown={onKey}>
      <button
        type="button"
        class="icon-btn"
        aria-label={label}
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        ⋯
      </button>
      {open && (
        <div class="menu-list" role="menu">
          {items.map((it) => (
            <button
              key={it.label}
              type="button"
              role="menuitem"
              class={it.danger ? "menu-item danger" : "menu-item"}
              onClick={() => {
                setOpen(false);
                it.run();
              }}
            >
              {it.label}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
