// Bulk eligibility checks: a helpdesk user checks a CSV file of people, watches the check finish,
// reads the lines it could not check and exports the results as CSV; a whole-directory check
// shows its counts per reason, filters and pages; a bad scope keeps what was typed.

import * as fs from 'node:fs';

import { USERS, button, expect, signIn, test, waitForHydration } from './fixtures';

test('Hana checks a CSV file of people and exports the results', async ({ page }) => {
  await signIn(page, USERS.hana);
  await page.goto('/people');
  await waitForHydration(page);
  await page.getByLabel('A list of people (pasted, or a CSV file)').check();
  await page.locator('#f-list-file').setInputFiles({
    name: 'people.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('upn,note\nuser0001@litwareinc.com,first\nuser0029@litwareinc.com,no mailbox\nnobody@litwareinc.com\n'),
  });
  await expect(page.getByLabel('People', { exact: true })).toHaveValue(/user0029@litwareinc.com/);
  await button(page, 'Start bulk check').click();
  await expect(page).toHaveURL(/\/people\/scans\/\d+$/);
  // The page follows the check while it runs, then shows its counts.
  const status = page.getByTestId('scan-status');
  await expect(status).toContainText('Finished', { timeout: 30_000 });
  await expect(status).toContainText('2 checked');
  await expect(page.getByTestId('bad-lines')).toContainText('Line 4: Nobody in the directory is');
  await expect(page.locator('tr[data-code="no_mailbox"] td')).toHaveText('1');
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export CSV' }).click();
  const file = await (await download).path();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  expect(lines[0]).toBe('upn,eligible,reasons');
  expect(lines).toHaveLength(3);
  expect(lines.find((l) => l.startsWith('user0029@litwareinc.com,false,'))).toContain('no_mailbox');
});

test('a whole-directory check counts every reason, filters and pages', async ({ page }) => {
  await signIn(page, USERS.hana);
  await page.goto('/people');
  await waitForHydration(page);
  await page.getByLabel('Everyone in the directory').check();
  await button(page, 'Start bulk check').click();
  await expect(page).toHaveURL(/\/people\/scans\/\d+$/);
  const status = page.getByTestId('scan-status');
  await expect(status).toContainText('Finished', { timeout: 30_000 });
  await expect(status).toContainText('2000 checked');
  await expect(page.locator('tr[data-code="no_mailbox"] td')).toHaveText('68');
  await page.locator('tr[data-code="no_mailbox"] a').click();
  await expect(page.getByTestId('matching')).toHaveText('68 people match; page 1 of 2.');
  await expect(page.getByTestId('scan-people').locator('tbody tr')).toHaveCount(50);
  await page.getByRole('link', { name: 'Next' }).click();
  await expect(page.getByTestId('matching')).toHaveText('68 people match; page 2 of 2.');
  await expect(page.getByTestId('scan-people').locator('tbody tr')).toHaveCount(18);
});

test('a bad scope is a field error that keeps what was typed', async ({ page, browserErrors }) => {
  browserErrors.expectRefusedApiCalls();
  await signIn(page, USERS.hana);
  await page.goto('/people');
  await waitForHydration(page);
  await page.getByLabel('Everyone below an organizational unit').check();
  const typed = '<b>Sales</b>';
  await page.getByLabel('Organizational unit', { exact: true }).fill(typed);
  await button(page, 'Start bulk check').click();
  await expect(page.locator('#f-base_dn-error')).toContainText('A distinguished name is a list of NAME=value parts');
  await expect(page.getByLabel('Organizational unit', { exact: true })).toHaveValue(typed);
  await expect(page.locator('b', { hasText: 'Sales' })).toHaveCount(0);
});
