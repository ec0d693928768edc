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
