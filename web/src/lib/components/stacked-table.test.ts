// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { stackedTable } from './stacked-table';

describe('stackedTable', () => {
  it('labels every body cell with its column heading, also rows added later', async () => {
    document.body.innerHTML = `<table><thead><tr><th>Email</th><th>Role</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody><tr><td>a@example.org</td><td>owner</td><td><button>Remove</button></td></tr></tbody></table>`;
    const table = document.querySelector('table')!;
    const action = stackedTable(table);
    expect([...table.tBodies[0]!.rows[0]!.cells].map((c) => c.dataset.label)).toEqual(['Email', 'Role', '']);
    table.tBodies[0]!.insertAdjacentHTML('beforeend', '<tr><td>b@example.org</td><td>member</td><td></td></tr>');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(table.tBodies[0]!.rows[1]!.cells[1]!.dataset.label).toBe('Role');
    action.destroy();
  });
});
