// Sign-in with the organization's identity provider: a real OpenID provider (oidc-provider,
// started by the test script) in front of a second imlink whose address is IMLINK_E2E_OIDC_URL.

import { expect, test } from '@playwright/test';

const portal = process.env.IMLINK_E2E_OIDC_URL;

test('Bob signs in with the identity provider, sees his name and roles, and signs out', async ({ page }) => {
  expect(portal, 'IMLINK_E2E_OIDC_URL names the imlink that signs in through the provider').toBeTruthy();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto(`${portal}/requests`);
  // Not signed in: to the sign-in page, which offers the provider and no demo accounts, and
  // comes back to the page afterwards.
  await expect(page).toHaveURL(/\/signin\?return_to=\/requests$/);
  await expect(page.getByRole('button', { name: /Sign in as/ })).toHaveCount(0);
  await page.getByRole('link', { name: 'Sign in with Test Provider' }).click();

  // The provider's own login form (any password).
  await page.locator('input[name="login"]').fill('bob');
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: /sign-?in/i }).click();

  await expect(page).toHaveURL(`${portal}/requests`);
  await expect(page.getByTestId('whoami')).toHaveText('Bob Chen');
  await expect(page.locator('.whoami-roles')).toHaveText('approver');
  await expect(page.getByRole('link', { name: 'Approvals' })).toBeVisible();

  // Signing out ends the session here and at the provider, and comes back to sign-in.
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  const confirm = page.getByRole('button', { name: /yes, sign me out/i });
  await expect(confirm).toBeVisible();
  await confirm.click();
  await expect(page).toHaveURL(new RegExp(`^${portal}/signin`));
  await expect(page.getByTestId('whoami')).toHaveCount(0);
  await page.goto(`${portal}/requests`);
  await expect(page).toHaveURL(/\/signin/);
  expect(errors).toEqual([]);
});

test('Carol, in no imlink group, is told she has no access', async ({ page }) => {
  await page.goto(`${portal}/signin`);
  await page.getByRole('link', { name: 'Sign in with Test Provider' }).click();
  await page.locator('input[name="login"]').fill('carol');
  await page.locator('input[name="password"]').fill('x');
  await page.getByRole('button', { name: /sign-?in/i }).click();
  await expect(page.getByTestId('sign-in-refused')).toContainText('no group that gives a role');
  await expect(page.getByTestId('whoami')).toHaveCount(0);
});
