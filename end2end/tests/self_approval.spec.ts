// Nobody approves their own request: not from the page, and not by posting to the server
// function directly.

import {
  USERS,
  button,
  expect,
  fileAndSubmitRequest,
  requestIdFromUrl,
  signIn,
  stateBadge,
  test,
  waitForHydration,
} from './fixtures';

test('Erin, who holds every role, cannot approve her own request', async ({ page }) => {
  await signIn(page, USERS.erin);
  const { id } = await fileAndSubmitRequest(page);

  // The page offers no vote and says why.
  await expect(page.getByTestId('vote-blocked')).toContainText('cannot approve or reject your own request');
  await expect(page.getByRole('heading', { name: 'Your decision' })).toHaveCount(0);
  await expect(button(page, 'Approve')).toHaveCount(0);
  await expect(button(page, 'Reject')).toHaveCount(0);

  // A forged vote from the same signed-in browser is refused by the server.
  expect(requestIdFromUrl(page)).toBe(id);
  const version = await page.locator('input[type=hidden][name=version]').first().getAttribute('value');
  expect(version, 'the request page carries the version it shows in a hidden input').toMatch(/^\d+$/);
  // The plan the page shows (its full hash is the title of the short one).
  const planHash = await page.getByTestId('plan-hash').getAttribute('title');
  expect(planHash, 'the request page shows the plan hash').toMatch(/^[0-9a-f]{64}$/);
  // It says it comes from the portal's own origin, as the page's own fetch would: the
  // cross-origin guard lets it through, and the vote itself is refused.
  const response = await page.request.post('/api/vote_request', {
    form: { id: String(id), version: version!, plan_hash: planHash!, decision: 'approve', comment: '' },
    headers: { Accept: 'application/json', Origin: new URL(page.url()).origin },
  });
  const body = await response.text();
  expect(response.status(), `POST /api/vote_request answered: ${body}`).toBe(403);
  expect(body).toContain('your own request');

  // Nothing changed, and the refusal is on the request's timeline.
  await page.reload();
  await waitForHydration(page);
  await expect(stateBadge(page)).toHaveText('Awaiting approval');
  await expect(page.getByRole('region', { name: 'Approvals', exact: true })).toContainText('No votes yet.');
  const refused = page
    .getByRole('region', { name: 'Timeline', exact: true })
    .locator('li.event.event-denied[data-action="request.approve"]');
  await expect(refused).toHaveCount(1);
  await expect(refused).toContainText(USERS.erin);
  await expect(refused).toContainText('was refused');
});
