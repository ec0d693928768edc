// People: a helpdesk user looks someone up (suggestions as they type) and reads why they get no
// presence in OWA, with the evidence and the fix; a bad identifier keeps what was typed; markup
// typed into the search stays text; auditors are not offered the page.

import { USERS, button, expect, signIn, signOut, test, waitForHydration } from './fixtures';

test('Hana looks a user up and reads why OWA shows no presence', async ({ page }) => {
  await signIn(page, USERS.hana);
  await page.getByRole('link', { name: 'People' }).click();
  await waitForHydration(page);
  const person = page.getByLabel('Person');
  // Suggestions as she types: people whose names begin with it.
  await person.pressSequentially('User 001');
  await expect(page.locator('#people-suggestions option')).toHaveCount(10);
  await expect(page.locator('#people-suggestions option').first()).toHaveAttribute('value', 'user0010@litwareinc.com');
  await person.fill('user0019');
  await button(page, 'Check').click();
  await expect(page).toHaveURL(/\/people\/checks\/\d+$/);
  await expect(page.getByRole('heading', { name: 'User 0019', level: 1 })).toBeVisible();
  await expect(page.getByTestId('verdict')).toContainText('Not eligible');
  const mismatch = page.locator('tr[data-code="sip_proxy_mismatch"]');
  await expect(mismatch).toContainText('fail');
  await expect(mismatch).toContainText('SIP:old.user0019@litwareinc.com');
  await expect(page.getByTestId('fixes')).toContainText(
    "Set-Mailbox -Identity 'user0019@litwareinc.com' -EmailAddresses @{Add='sip:user0019@litwareinc.com'}",
  );
  await expect(page.getByText('This is the first check of this person.')).toBeVisible();
  // The lab's OWA agrees.
  await button(page, 'Simulate OWA sign-in (lab)').click();
  await expect(page.getByTestId('signin-result')).toContainText('No SIP proxy address is the user');
  // Checking again keeps the history and says nothing changed.
  await button(page, 'Check again').click();
  await expect(page.getByTestId('changes')).toHaveText('Nothing changed.');
  await expect(page.getByTestId('history').locator('tbody tr')).toHaveCount(2);
});

test('a bad identifier is a field error that keeps what was typed, and markup stays text', async ({
  page,
  browserErrors,
}) => {
  browserErrors.expectRefusedApiCalls();
  await signIn(page, USERS.hana);
  await page.goto('/people');
  await waitForHydration(page);
  const typed = '<img src=x onerror="window.__xss=1">';
  await page.getByLabel('Person').fill(typed);
  await button(page, 'Check').click();
  await expect(page.locator('#f-identity-error')).toContainText('Nobody in the directory is');
  await expect(page.getByLabel('Person')).toHaveValue(typed);
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
});

test('without JavaScript the lookup still works', async ({ openPage }) => {
  const page = await openPage('the browser without JavaScript', { javaScriptEnabled: false });
  await signIn(page, USERS.hana);
  await page.goto('/people');
  await page.getByLabel('Person').fill('user0013@litwareinc.com');
  await button(page, 'Check').click();
  await expect(page).toHaveURL(/\/people\/checks\/\d+$/);
  await expect(page.locator('tr[data-code="mailbox_not_exchange_2013"]')).toContainText('fail');
});

test('the lab links a sample user to their check; auditors are not offered People', async ({ page }) => {
  await signIn(page, USERS.hana);
  await page.goto('/lab');
  await waitForHydration(page);
  await page.getByTestId('signin-result').filter({ hasText: 'user0017@litwareinc.com' }).getByRole('link', { name: 'Check eligibility' }).click();
  await expect(page.getByLabel('Person')).toHaveValue('user0017@litwareinc.com');
  await button(page, 'Check').click();
  await expect(page.locator('tr[data-code="no_sip_proxy_address"]')).toContainText('fail');
  await signOut(page);

  await signIn(page, USERS.dave);
  await expect(page.getByRole('link', { name: 'People' })).toHaveCount(0);
  await page.goto('/lab');
  await waitForHydration(page);
  await expect(page.getByRole('link', { name: 'Check eligibility' })).toHaveCount(0);
  await signOut(page);
});
