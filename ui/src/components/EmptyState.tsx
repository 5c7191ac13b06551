//! What the list says before there is anything in it.

/** "No connections yet" with the two ways to get some. */
export function EmptyState({ onNew, onImport }: { onNew: () => void; onImport: () => void }) {
  return (
    <div class="empty" data-testid="empty-state">
      <div class="empty-icon" aria-hidden="true">
        ⇄
      </div>
      <h2>No connections yet — add one, or import a Pomerium Desktop export</h2>
      <p class="muted">
        A connection opens a local port (say <code>127.0.0.1:6379</code>) that reaches a service behind your
        Pomerium proxy. Point <code>redis-cli</code>, <code>ssh</code> or <code>psql</code> at it.
      </p>
      <div class="empty-actions">
        <button type="button" class="btn btn-primary" onClick={onNew}>
          New connection
        </button>
        <button type="button" class="btn" onClick={onImport}>
          Import…
        </button>
      </div>
    </div>
  );
}
