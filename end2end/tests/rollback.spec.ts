// Rolling back production is a change too: an admin asks, the page shows the undo plan, and it
// runs only once another approver approves it.

import {
  USERS,
  button,
  confirmAction,
  expect,
  fileAndSubmitRequest,
  openRequest,
  signIn,
  signOut,
  test,
  waitForHydration,
} from './fixtures';

test('Erin asks for a rollback, Bob approves its undo plan, and OWA loses presence again', async ({ page }) => {
  // A fresh lab, so the run below changes something there is to undo.
  await signIn(page, USERS.erin);
  await page.goto('/lab');
  await waitForHydration(page);
  await page.getByLabel('Reset to scenario').selectOption('litware');
  // The page reads the lab again after the reset; wait for it before signing out (the
  // scenario's name is the same before and after, so the text alone does not tell).
  const reread = page.waitForResponse((r) => r.url().endsWith('/api/get_lab'));
  await confirmAction(page, 'Reset…', 'Reset the lab');
  await reread;
  await expect(page.getByTestId('lab-scenario')).toContainText('Scenario litware');
  await signOut(page);

  await signIn(page, USERS.alice);
  const { id } = await fileAndSubmitRequest(page);
  await signOut(page);
  await signIn(page, USERS.bob);
  await openRequest(page, id);
  await button(page, 'Approve').click();
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 30_000 });
  await signOut(page);

  // Erin, an admin, asks for the rollback: it waits, showing exactly what it would undo.
  await signIn(page, USERS.erin);
  await openRequest(page, id);
  await confirmAction(page, 'Roll back…', 'Ask for the rollback');
  const rollback = page.getByRole('region', { name: /^Rollback run #\d+ \(undoes run #\d+\)$/ });
  await expect(rollback).toBeVisible();
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'awaiting_approval');
  await expect(rollback).toContainText('Undo: Create the trusted application pool atl-owa-001.litwareinc.com');
  await expect(rollback).toContainText("Remove-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' -Force");
  // She holds the approver role too, but cannot approve what she asked for.
  await expect(page.getByTestId('rollback-blocked')).toContainText('another approver must approve it');
  await expect(button(page, 'Approve rollback')).toHaveCount(0);
  await signOut(page);

  await signIn(page, USERS.bob);
  await openRequest(page, id);
  await button(page, 'Approve rollback').click();
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 30_000 });
  await expect(rollback).toContainText(`Asked for by ${USERS.erin}; approved by ${USERS.bob}.`);

  await page.goto('/lab');
  await waitForHydration(page);
  await page.getByLabel('Sign in to OWA as').fill('user0001@litwareinc.com');
  await button(page, 'Sign in').click();
  await expect(page.getByTestId('signin-result').first()).toContainText('no presence in OWA');
});
