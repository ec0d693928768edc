// Pages offer only what the person may do, sign-in returns to the page that asked for it, a
// missing page says what is missing, and a plan that changes nothing says so before submitting.

import type { Page } from '@playwright/test';
import {
  USERS,
  button,
  confirmAction,
  expect,
  fileRequest,
  signIn,
  signOut,
  test,
  waitForHydration,
} from './fixtures';

async function resetLab(page: Page, scenario: string): Promise<void> {
  await signIn(page, USERS.erin);
  await page.goto('/lab');
  await waitForHydration(page);
  await page.getByLabel('Reset to scenario').selectOption(scenario);
  const reread = page.waitForResponse((r) => r.url().endsWith('/api/get_lab'));
  await confirmAction(page, 'Reset…', 'Reset the lab');
  await reread;
  await expect(page.getByTestId('lab-scenario')).toContainText(`Scenario ${scenario}`);
  await signOut(page);
}

test('an auditor is not offered a request form, and is told why at its address', async ({ page }) => {
  await signIn(page, USERS.dave);
  await expect(page.getByRole('link', { name: 'New request' })).toHaveCount(0);
  await page.goto('/requests');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Requests');
  await expect(page.getByRole('link', { name: 'New request' })).toHaveCount(0);
  await page.goto('/requests/new');
  await expect(page.getByTestId('needs-role')).toContainText('Filing a request needs the requester role; you have auditor.');
  await expect(page.getByRole('button', { name: 'Save draft' })).toHaveCount(0);
  // A requester is offered it.
  await signOut(page);
  await signIn(page, USERS.alice);
  await expect(page.getByRole('link', { name: 'New request' }).first()).toBeVisible();
});

test('signing in returns to the page that asked for it, and only to a page of this site', async ({ page }) => {
  await page.goto('/requests?state=approved');
  await expect(page).toHaveURL(/\/signin\?return_to=/);
  await page.getByRole('button', { name: `Sign in as ${USERS.alice}` }).click();
  await expect(page).toHaveURL(/\/requests\?state=approved$/);
  await signOut(page);
  // Another site is never a destination.
  await page.goto('/signin?return_to=%2F%2Fevil.example%2F');
  await page.getByRole('button', { name: `Sign in as ${USERS.alice}` }).click();
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/$/);
});

test('a missing request or page says what is missing and offers a way on', async ({ page, browserErrors }) => {
  browserErrors.expectRefusedPage('/requests/987654');
  browserErrors.expectRefusedPage('/nowhere');
  await signIn(page, USERS.alice);
  const response = await page.goto('/requests/987654');
  expect(response?.status()).toBe(404);
  await expect(page).toHaveTitle('Not found · imlink');
  await expect(page.getByTestId('not-found')).toHaveText('There is no request #987654.');
  await page.goto('/nowhere');
  await expect(page).toHaveTitle('Not found · imlink');
  await expect(page.getByTestId('not-found')).toHaveText('There is no page at /nowhere.');
  await page.getByRole('link', { name: 'Back to the dashboard' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Dashboard');
});

test('resetting the lab says what will happen first, and nothing happens until confirmed', async ({ page }) => {
  await signIn(page, USERS.erin);
  await page.goto('/lab');
  await waitForHydration(page);
  const before = await page.getByTestId('lab-scenario').textContent();
  await page.getByLabel('Reset to scenario').selectOption('duplicate-pool');
  await page.locator('details.confirm > summary', { hasText: 'Reset…' }).click();
  await expect(page.locator('details.confirm[open]')).toContainText('replaces the whole lab with the chosen scenario');
  // Folding it away again changes nothing.
  await page.locator('details.confirm > summary', { hasText: 'Reset…' }).click();
  await page.reload();
  await expect(page.getByTestId('lab-scenario')).toHaveText(before ?? '');
});

test('a request whose plan changes nothing says so before it is submitted', async ({ page }) => {
  await resetLab(page, 'integrated');
  await signIn(page, USERS.alice);
  await fileRequest(page);
  await expect(page.getByTestId('submit-changes-nothing')).toContainText('Its plan changes nothing');
  await expect(page.getByTestId('nothing-to-change')).toContainText('This plan changes nothing');
  await signOut(page);
  await resetLab(page, 'litware');
});
