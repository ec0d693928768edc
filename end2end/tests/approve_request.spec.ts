// Deciding on a request: an approver approves one from the inbox; a rejection needs a comment.

import {
  USERS,
  button,
  expect,
  expectQuorumOfOne,
  field,
  fieldError,
  fileAndSubmitRequest,
  input,
  openRequest,
  signIn,
  signOut,
  stateBadge,
  test,
  waitForHydration,
} from './fixtures';

test('Bob approves a submitted request from his approvals inbox', async ({ page }) => {
  await signIn(page, USERS.alice);
  const { id, siteId } = await fileAndSubmitRequest(page);
  await expectQuorumOfOne(page);
  await signOut(page);

  await signIn(page, USERS.bob);
  await page.goto('/approvals');
  await waitForHydration(page);
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: `#${id}`, exact: true }) });
  await expect(row).toContainText(siteId);
  await expect(row).toContainText(USERS.alice);
  await expect(row).toContainText('Awaiting approval');
  await row.getByRole('link', { name: `#${id}`, exact: true }).click();

  await expect(page).toHaveURL(new RegExp(`/requests/${id}$`));
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'Your decision' })).toBeVisible();
  await button(page, 'Approve').click();

  await expect(stateBadge(page)).toHaveText('Approved');
  // The outcome is said where Bob is looking, and takes the focus; the run, far below the
  // plan, is summed up at the top and one link away; screen readers hear its progress.
  const outcome = page.getByTestId('outcome');
  await expect(outcome).toContainText('Your vote is recorded.');
  await expect(outcome).toBeFocused();
  await expect(page.getByTestId('run-summary')).toContainText(/^Run #\d+: /);
  await expect(page.getByTestId('run-live')).toHaveAttribute('aria-live', 'polite');
  await expect(page.getByTestId('run-live')).toHaveText(/^Run #\d+: succeeded, (\d+) of \1 steps done\.$/, { timeout: 30_000 });
  await expect(page.getByTestId('run-summary')).toContainText(/^Run #\d+: succeeded/);
  await expect(page.locator('#run')).not.toBeInViewport();
  await outcome.getByRole('link', { name: 'Follow the run' }).click();
  await expect(page.locator('#run')).toBeInViewport();
  await expect(page.locator('#run')).toBeFocused();
  // The approval queued a run; the worker inside the portal runs the plan on the lab, and the
  // page follows it live, without a reload.
  await expect(page.getByTestId('run-state')).toHaveAttribute('data-state', 'succeeded', { timeout: 30_000 });
  await expect(page.locator('li.step')).not.toHaveCount(0);
  // The plan now says what the run did with each change, not that it "will change".
  const plan = page.locator('section.plan');
  await expect(plan.getByTestId('plan-summary')).toHaveText(/^ · run #\d+ did (\d+) of its \1 changes$/);
  await expect(plan.getByTestId('step-ran').first()).toHaveText(/^done by run #\d+$/);
  await expect(plan.getByText('will change', { exact: true })).toHaveCount(0);
  // The request now reads as integrated, with when.
  await expect(page.getByTestId('change-status')).toHaveText(/^Integrated · \d{4}-\d\d-\d\d \d\d:\d\d/);
  // Every step done, and the report says what verification found.
  const run = page.getByRole('region', { name: /^Run #\d+$/ });
  const steps = await run.locator('li.step').count();
  await expect(run.locator('.run-progress')).toHaveText(`${steps} of ${steps} steps done`);
  await expect(run.locator('li.step').first()).toContainText(/Started \d\d:\d\d:\d\d UTC, took \d+\.\d s/);
  await expect(page.getByTestId('run-verification')).toContainText('MSExchangeOWAAppPool was recycled by this run.');
  await expect(page.getByTestId('run-verification')).toContainText('Event 112 is not logged yet');
  // What to check next, should it stay missing, with the exact commands.
  const next = page.getByTestId('next-checks');
  await next.locator('summary').click();
  await expect(next).toContainText("Get-ServerHealth -Identity 'atl-mbx-001.litwareinc.com' -HealthSet 'OWA.Protocol.Dep'");
  const transcript = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Transcript' }).click();
  expect((await transcript).suggestedFilename()).toMatch(/^imlink-run-\d+-transcript\.txt$/);
  const votes = page.getByRole('region', { name: 'Approvals', exact: true }).locator('li.vote-item');
  await expect(votes).toHaveCount(1);
  await expect(votes.first()).toContainText(`${USERS.bob} approved revision 1`);
  // Once decided, there is nothing left to vote on.
  await expect(button(page, 'Approve')).toHaveCount(0);
  await expect(button(page, 'Reject')).toHaveCount(0);

  // And it has left Bob's inbox.
  await page.goto('/approvals');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Waiting for my approval');
  await expect(page.getByRole('link', { name: `#${id}`, exact: true })).toHaveCount(0);

  // And in the lab, an eligible user now sees presence in OWA.
  await page.goto('/lab');
  await waitForHydration(page);
  await page.getByLabel('Sign in to OWA as').fill('user0001@litwareinc.com');
  await button(page, 'Sign in').click();
  await expect(page.getByTestId('signin-result').first()).toContainText(
    'user0001@litwareinc.com: presence and IM work in OWA.',
  );
});

test('Carol must give a reason to reject; with one the request is rejected', async ({ page, browserErrors }) => {
  // The reject without a comment is a refused server function call, which Chromium logs.
  browserErrors.expectRefusedApiCalls();
  await signIn(page, USERS.alice);
  const { id } = await fileAndSubmitRequest(page);
  await signOut(page);

  await signIn(page, USERS.carol);
  await openRequest(page, id);
  await button(page, 'Reject').click();

  await expect(fieldError(page, 'Comment')).toContainText('Say why you are rejecting');
  await expect(field(page, 'Comment')).toHaveClass(/\bfield-invalid\b/);
  await expect(stateBadge(page)).toHaveText('Awaiting approval');
  await expect(page.getByRole('region', { name: 'Approvals', exact: true })).toContainText('No votes yet.');

  const reason = 'Port 5199 is already used by another trusted application in this pool.';
  await input(page, 'Comment').fill(reason);
  await button(page, 'Reject').click();

  await expect(stateBadge(page)).toHaveText('Rejected');
  const vote = page.getByRole('region', { name: 'Approvals', exact: true }).locator('li.vote-item');
  await expect(vote).toHaveCount(1);
  await expect(vote).toContainText(`${USERS.carol} rejected revision 1`);
  await expect(vote.locator('blockquote')).toHaveText(reason);
});
