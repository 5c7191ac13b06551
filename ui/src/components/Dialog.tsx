//! A modal dialog on the native <dialog> element (focus trap and Escape come free).

import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

/** Props of `Dialog`. */
export interface DialogProps {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  actions: ComponentChildren;
}

/** A modal with a title, a body and a row of buttons. */
export function Dialog({ title, onClose, children, actions }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} class="dialog" aria-labelledby="dialog-title" onCancel={(e) => (e.preventDefault(), onClose())}>
      <h2 id="dialog-title">{title}</h2>
      <div class="dialog-body">{children}</div>
      <div class="dialog-actions">{actions}</div>
    </dialog>
  );
}

/** Props of `ConfirmDialog`. */
export interface ConfirmProps {
  title: string;
  message: ComponentChildren;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}

/** "Delete Redis prod?" — Cancel / Delete. Cancel has the focus, so Enter is safe. */
export function ConfirmDialog({ title, message, confirmLabel, danger, onConfirm, onCancel }: ConfirmProps) {
  return (
    <Dialog
      title={title}
      onClose={onCancel}
      actions={
        <>
          <button type="button" class="btn" onClick={onCancel} autoFocus>
            Cancel
          </button>
          <button type="button" class={danger ? "btn btn-danger" : "btn btn-primary"} onClick={onConfirm}>
            {confirmLabel}
          </button>
        </>
      }
    >
      <p>{message}</p>
    </Dialog>
  );
}
