//! A labelled text input with its hint and its error, wired for screen readers.

import type { ComponentChildren } from "preact";

/** Props of `Field`. */
export interface FieldProps {
  id: string;
  label: string;
  value: string;
  onInput: (v: string) => void;
  placeholder?: string;
  hint?: ComponentChildren;
  error?: string;
  required?: boolean;
  mono?: boolean;
}

/** One text field. */
export function Field({ id, label, value, onInput, placeholder, hint, error, required, mono }: FieldProps) {
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class={error ? "field has-error" : "field"}>
      <label for={id}>
        {label}
        {required && <span class="req" aria-hidden="true"> *</span>}
      </label>
      <input
        id={id}
        type="text"
        class={mono ? "mono" : undefined}
        value={value}
        placeholder={placeholder}
        required={required}
        spellcheck={false}
        autoComplete="off"
        aria-invalid={error ? true : undefined}
        aria-describedby={described || undefined}
        onInput={(e) => onInput(e.currentTarget.value)}
      />
      {error && (
        <p class="field-error" id={`${id}-error`} data-testid={`error-${id}`}>
          {error}
        </p>
      )}
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
    </div>
  );
}
