// The lab page: anyone signed in sees the simulated organization and can ask why a user has no
// presence in OWA; only admins administer the lab.

import { USERS, button, expect, signIn, signOut, test, waitForHydration } from './fixtures';

test('Dave asks why a user has no presence in OWA; only admins see the lab controls', async ({ page }) => {
  await signIn(page, USERS.dave);
  await page.goto('/lab');
  await waitForHydration(page);
  await expect(page.getByTestId('lab-scenario')).toContainText('Scenario litware · 2000 users');
  await expect(page.getByRole('heading', { name: 'Administer the lab' })).toHaveCount(0);
  await page.getByLabel('Sign in to OWA as').fill('user0013@litwareinc.com');
  await button(page, 'Sign in').click();
  const result = page.getByTestId('signin-result').first();
  await expect(result).toContainText('user0013@litwareinc.com: no presence in OWA.');
  await expect(result).toContainText('needs an Exchange 2013 mailbox');
  await signOut(page);

  await signIn(page, USERS.erin);
  await page.goto('/lab');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'Administer the lab' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Lync Server 2013', exact: true })).toContainText('Redmond (SiteId Redmond)');
});

test('without JavaScript the lab still answers whether someone gets presence in OWA', async ({ openPage }) => {
  const page = await openPage('the browser without JavaScript', { javaScriptEnabled: false });
  await signIn(page, USERS.hana);
  await page.goto('/lab');
  await page.getByLabel('Sign in to OWA as').fill('user0013@litwareinc.com');
  await button(page, 'Sign in').click();
  await expect(page).toHaveURL(/\/lab\?tried=user0013@litwareinc\.com#signin-result$/);
  const result = page.locator('#signin-result').getByTestId('signin-result');
  await expect(result).toContainText('user0013@litwareinc.com: no presence in OWA.');
  await expect(result).toContainText('needs an Exchange 2013 mailbox');
  // The person stays in the field, to try again after a change.
  await expect(page.getByLabel('Sign in to OWA as')).toHaveValue('user0013@litwareinc.com');
  await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');
  // Markup in the address is a name like any other, shown as text.
  const hostile = '<img src=x onerror=alert(1)>@litwareinc.com';
  await page.goto(`/lab?tried=${encodeURIComponent(hostile)}`);
  await expect(page.locator('#signin-result').getByTestId('signin-result')).toContainText(`${hostile}: no presence in OWA.`);
  await expect(page.locator('#signin-result img')).toHaveCount(0);
});
