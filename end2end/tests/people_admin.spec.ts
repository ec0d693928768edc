// Admins manage the people who use imlink: sessions, disabling and enabling, all audited.

import { USERS, expect, signIn, test, waitForHydration } from './fixtures';

test('Erin ends Bob\'s session, disables him, and enables him again', async ({ page, openPage }) => {
  const bob = await openPage('bob');
  await signIn(bob, USERS.bob);

  await signIn(page, USERS.erin);
  await page.getByRole('link', { name: 'Users', exact: true }).click();
  await expect(page).toHaveURL(/\/users$/);
  await waitForHydration(page);
  const row = page.locator('tr[data-username="bob"]');
  await expect(row).toContainText('Bob Chen');
  await expect(row).toContainText('approver');
  await expect(row.getByRole('cell').nth(4)).not.toHaveText('0');
  // Erin cannot disable herself.
  await expect(page.locator('tr[data-username="erin"]')).toContainText('(you)');
  await expect(page.getByRole('button', { name: `Disable ${USERS.erin}` })).toHaveCount(0);

  await row.getByRole('button', { name: `End sessions of ${USERS.bob}` }).click();
  await expect(row.getByRole('cell').nth(4)).toHaveText('0');
  await bob.reload();
  await expect(bob.getByTestId('whoami')).toHaveCount(0);

  await row.getByRole('button', { name: `Disable ${USERS.bob}` }).click();
  await expect(row).toContainText('Disabled');
  await bob.goto('/signin');
  await bob.getByRole('button', { name: `Sign in as ${USERS.bob}` }).click();
  await expect(bob.getByRole('alert')).toContainText('disabled in imlink');
  await expect(bob.getByTestId('whoami')).toHaveCount(0);

  await row.getByRole('button', { name: `Enable ${USERS.bob}` }).click();
  await expect(row).toContainText('Enabled');
  await signIn(bob, USERS.bob);

  await page.goto('/audit');
  await waitForHydration(page);
  await expect(page.locator('li.event .event-what', { hasText: 'disabled a person in imlink' }).first()).toBeVisible();
  await expect(page.locator('li.event .event-what', { hasText: 'enabled a person in imlink again' }).first()).toBeVisible();
});

test('Only admins see the Users page', async ({ page, browserErrors }) => {
  browserErrors.expectRefusedPage('/users');
  await signIn(page, USERS.bob);
  await expect(page.getByRole('link', { name: 'Users', exact: true })).toHaveCount(0);
  await page.goto('/users');
  await expect(page.getByRole('alert')).toContainText('admin');
});
