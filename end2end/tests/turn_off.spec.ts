// A request that turns IM in OWA off asks only for what it needs and shows its own plan.

import {
  LABELS,
  USERS,
  button,
  expect,
  input,
  requestValue,
  signIn,
  stateBadge,
  test,
  SITE_ID,
  waitForHydration,
} from './fixtures';

test('Alice asks to turn IM in OWA off: no integration fields, the documented reverse as its plan', async ({
  page,
}) => {
  await signIn(page, USERS.alice);
  await page.goto('/requests/new');
  await waitForHydration(page);
  await page.getByRole('radio', { name: 'Turn IM in OWA off' }).check();
  // What only an integration needs is put away.
  for (const label of [LABELS.registrar, LABELS.owaPool, LABELS.thumbprint, LABELS.port]) {
    await expect(input(page, label)).toBeHidden();
  }
  await input(page, LABELS.siteId).fill(SITE_ID);
  await input(page, LABELS.justification).fill('Redmond does not integrate with Lync <b>yet</b>.');
  const preview = page.getByTestId('plan-preview');
  await expect(preview).toContainText("Turn IM off in OWA's front-end virtual directories");
  await expect(preview).not.toContainText('trusted application pool atl-owa-001');
  await button(page, 'Save draft').click();
  await expect(page).toHaveURL(/\/requests\/\d+(\?done=saved)?$/);
  await expect(requestValue(page, 'Change')).toHaveText('Turn IM in OWA off');
  await expect(page.locator('dl.values')).not.toContainText('Certificate thumbprint');
  // Markup in the justification stays text.
  await expect(requestValue(page, 'Justification')).toHaveText('Redmond does not integrate with Lync <b>yet</b>.');
  await expect(page.locator('.preflight')).not.toContainText('Failed');
  await expect(page.getByText('Get-OwaVirtualDirectory | Set-OwaVirtualDirectory -InstantMessagingEnabled $False')).toBeVisible();
  await button(page, 'Submit for approval').click();
  await expect(stateBadge(page)).toHaveText('Awaiting approval');
  // The requests list says what it is.
  await page.goto('/requests');
  await expect(page.locator('table')).toContainText('Turn IM in OWA off');
});
