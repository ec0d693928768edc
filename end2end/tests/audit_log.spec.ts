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
  // Signed out only once the run has ended (the page reads the request at each of its steps).
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 30_000 });
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
    ['request.create', USERS.alice],
    ['request.submit', USERS.alice],
    ['request.approve', USERS.bob],
  ]) {
    const event = page.locator(`li.event[data-action="${action}"]`);
    await expect(event, `one ${action} event for request #${id}`).toHaveCount(1);
    await expect(event.locator('.event-actor')).toHaveText(actor);
    await expect(event.getByRole('link', { name: `request #${id}`, exact: true })).toBeVisible();
  }
  await expect(input(page, 'Request #')).toHaveValue(String(id));

  // The run's events read in plain words, by the worker, without a digest of empty output.
  await expect(async () => {
    await page.reload();
    await expect(page.locator('li.event[data-action="run.succeeded"]')).toHaveCount(1, { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await waitForHydration(page);
  const finished = page.locator('li.event[data-action="run.succeeded"]');
  await expect(finished.locator('.event-what')).toHaveText('finished a run: it succeeded');
  await expect(finished.locator('.event-actor')).toHaveText(/^The worker on .+ \(process \d+\)$/);
  await expect(page.locator('li.event', { hasText: 'e3b0c442' })).toHaveCount(0);

  // "Who" finds people by their name or username, in any case.
  for (const who of ['Bob', 'bob chen', 'BOB']) {
    await input(page, 'Who').fill(who);
    await button(page, 'Filter').click();
    await expect(page.locator('li.event[data-action="request.approve"]')).toHaveCount(1);
    await expect(page.locator('li.event .event-actor').filter({ hasNotText: USERS.bob })).toHaveCount(0);
  }
  // Every kind of action can be filtered on, runs and the lab included.
  await input(page, 'Who').fill('');
  const actions = page.getByLabel('Action');
  await expect(actions.locator('option[value="run.rollback_approve"]')).toHaveText('Approved a rollback');
  await expect(actions.locator('option[value="lab.sign_in"]')).toHaveText('Simulated an OWA sign-in in the lab');
  await actions.selectOption('run.');
  await button(page, 'Filter').click();
  await expect(page).toHaveURL(/[?&]action=run\.(&|$)/);
  await expect(page.locator('li.event[data-action="run.succeeded"]')).toHaveCount(1);
  await expect(page.locator('li.event:not([data-action^="run."])')).toHaveCount(0);
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
  await input(page, 'Action').selectOption({ label: 'Opened the audit log' });
  await input(page, 'Outcome').selectOption({ label: 'Refused' });
  await button(page, 'Filter').click();
  await expect(page).toHaveURL(/[?&]outcome=denied(&|$)/);

  // The newest refusal is Alice's attempt just now, and only refusals are listed.
  const newest = page.locator('li.event').first();
  await expect(newest).toHaveAttribute('data-action', 'audit.view');
  await expect(newest.locator('.event-actor')).toHaveText(USERS.alice);
  await expect(newest).toHaveClass(/\bevent-denied\b/);
  await expect(newest).toContainText('was refused');
  await expect(newest.locator('.event-detail')).toContainText('needs one of these roles');
  await expect(page.locator('li.event:not(.event-denied)')).toHaveCount(0);
});
