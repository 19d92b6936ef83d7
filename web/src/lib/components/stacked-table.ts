/**
 * A Svelte action for data tables that must fit a phone: each body cell gets its column's
 * heading as `data-label`, which the `table.stack` rules in app.css show in front of the
 * value once the rows are stacked as cards (narrow screens). Headings that are only for
 * screen readers (visually hidden) label nothing. Rows added later are labelled too.
 */
export function stackedTable(table: HTMLTableElement): { destroy(): void } {
  const label = (): void => {
    const headings = [...(table.tHead?.rows[0]?.cells ?? [])].map((cell) => (cell.querySelector('.visually-hidden') ? '' : (cell.textContent?.trim() ?? '')));
    for (const body of table.tBodies) {
      for (const row of body.rows) {
        [...row.cells].forEach((cell, i) => {
          const heading = headings[i] ?? '';
          if (cell.dataset.label !== heading) cell.dataset.label = heading;
        });
      }
    }
  };
  label();
  const observer = new MutationObserver(label);
  observer.observe(table, { childList: true, subtree: true });
  return { destroy: () => observer.disconnect() };
}
