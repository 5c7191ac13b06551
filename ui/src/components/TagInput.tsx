//! Tags as removable chips; a comma or Enter (or leaving the box) adds what was typed, so
//! `staging,cache` makes two tags.

import { useState } from "preact/hooks";
import { addTags, typeTags } from "../lib/form";

/** Props of `TagInput`. */
export interface TagInputProps {
  id: string;
  tags: string[];
  onChange: (tags: string[]) => void;
  error?: string;
}

/** The tag editor. */
export function TagInput({ id, tags, onChange, error }: TagInputProps) {
  const [text, setText] = useState("");
  const commit = () => {
    if (text.trim()) onChange(addTags(tags, text));
    setText("");
  };
  const onInput = (value: string) => {
    const typed = typeTags(tags, value);
    if (typed.tags !== tags) onChange(typed.tags);
    setText(typed.text);
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Enter") {
      e.preventDefault();
      commit();
    } else if (e.key === "Backspace" && text === "" && tags.length) {
      onChange(tags.slice(0, -1));
    }
  };
  return (
    <div class={error ? "field has-error" : "field"}>
      <label for={id}>Tags</label>
      <div class="chips">
        {tags.map((t) => (
          <span class="chip" key={t} data-testid="tag-chip">
            {t}
            <button type="button" aria-label={`Remove tag ${t}`} onClick={() => onChange(tags.filter((x) => x !== t))}>
              ×
            </button>
          </span>
        ))}
        <input
          id={id}
          type="text"
          value={text}
          placeholder={tags.length ? "" : "prod, databases…"}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${id}-error ${id}-hint` : `${id}-hint`}
          onInput={(e) => onInput(e.currentTarget.value)}
          onKeyDown={onKey}
          onBlur={commit}
        />
      </div>
      {error && (
        <p class="field-error" id={`${id}-error`} data-testid={`error-${id}`}>
          {error}
        </p>
      )}
      <p class="hint" id={`${id}-hint`}>
        Type a comma or press Enter to add a tag. Connections with a tag share a folder with Connect all.
      </p>
    </div>
  );
}
