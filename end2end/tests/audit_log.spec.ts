// The audit log: an auditor finds every step of a request, and refused access is recorded.

import {
  USERS,
  button,
  expect,
  fileAndSubmitRequest,
  input,
  openRequest,
  signIn,
  signOut,
  stateBadge,
  test,
  waitForHydration,
} from './fixtures';

test('Dave finds the create, submit and approve events of a request by its number', async ({ page }) => {
  await signIn(page, USERS.alice);
  const { id } = await fileAndSubmitRequest(page);
  await signOut(page);

  await signIn(page, USERS.bob);
  await openRequest(page, id);
  await button(page, 'Approve').click();
  await expect(stateBadge(page)).toHaveText('Approved');
  await signOut(page);

  await signIn(page, USERS.dave);
  await page.goto('/audit');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Audit log');
  await input(page, 'Request #').fill(String(id));
  await button(page, 'Filter').click();
  await expect(page).toHaveURL(new RegExp(`[?&]request=${id}(&|$)`));

  // Wait until the filtered list is shown: not empty, and only this request's events.
  const events = page.locator('li.event');
  const thisRequest = page.getByRole('link', { name: `request #${id}`, exact: true });
  await expect(async () => {
    expect(await events.count()).toBeGreaterThan(0);
    expect(await events.filter({ hasNot: thisRequest }).count()).toBe(0);
  }).toPass({ timeout: 10_000 });
  for (const [action, actor] of [
    ['request.create', 'alice'],
    ['request.submit', 'alice'],
    ['request.approve', 'bob'],
  ]) {
    const event = page.locator(`li.event[data-action="${action}"]`);
    await expect(event, `one ${action} event for request #${id}`).toHaveCount(1);
    await expect(event.locator('.event-actor')).toHaveText(actor);
    await expect(event.getByRole('link', { name: `request #${id}`, exact: true })).toBeVisible();
  }
  await expect(input(page, 'Request #')).toHaveValue(String(id));
});

test('Alice may not read the audit log, and Dave sees her refused attempt', async ({ page, browserErrors }) => {
  // The refusal is served with status 403, which Chromium logs.
  browserErrors.expectRefusedPage('/audit');
  await signIn(page, USERS.alice);
  await expect(page.getByRole('link', { name: 'Audit log' })).toHaveCount(0);
  await page.goto('/audit');
  await waitForHydration(page);
  await expect(page.getByRole('alert')).toContainText('needs one of these roles');
  await expect(page.locator('li.event')).toHaveCount(0);
  await signOut(page);

  await signIn(page, USERS.dave);
  await page.goto('/audit');
  await waitForHydration(page);
  await input(page, 'Who').fill('alice');
  await input(page, 'Action').selectOption({ label: 'Audit access' });
  await input(page, 'Outcome').selectOption({ label: 'Refused' });
  await button(page, 'Filter').click();
  await expect(page).toHaveURL(/[?&]outcome=denied(&|$)/);

  // The newest refusal is Alice's attempt just now, and only refusals are listed.
  const newest = page.locator('li.event').first();
  await expect(newest).toHaveAttribute('data-action', 'audit.view');
  await expect(newest.locator('.event-actor')).toHaveText('alice');
  await expect(newest).toHaveClass(/\bevent-denied\b/);
  await expect(newest).toContainText('was refused');
  await expect(newest.locator('.event-detail')).toContainText('needs one of these roles');
  await expect(page.locator('li.event:not(.event-denied)')).toHaveCount(0);
});
