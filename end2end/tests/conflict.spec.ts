// Two approvers act on the same request at the same moment: exactly one vote counts and the
// other person is told, in words, that someone else acted first.

import type { Page } from '@playwright/test';
import {
  USERS,
  button,
  expect,
  expectQuorumOfOne,
  fileAndSubmitRequest,
  openRequest,
  signIn,
  stateBadge,
  test,
} from './fixtures';

const LOST_RACE = /Someone else acted on request|cannot be approved/;

test('Bob and Carol approve at the same moment: one approval counts, the other is told', async ({
  page,
  openPage,
  browserErrors,
}) => {
  // The losing vote is a refused server function call, which Chromium logs.
  browserErrors.expectRefusedApiCalls();
  await signIn(page, USERS.alice);
  const { id } = await fileAndSubmitRequest(page);
  await expectQuorumOfOne(page);

  const bob = await openPage('Bob’s browser');
  const carol = await openPage('Carol’s browser');
  await signIn(bob, USERS.bob);
  await signIn(carol, USERS.carol);
  await openRequest(bob, id);
  await openRequest(carol, id);
  const approvers: Array<[string, Page]> = [
    [USERS.bob, bob],
    [USERS.carol, carol],
  ];
  for (const [, p] of approvers) {
    await expect(stateBadge(p)).toHaveText('Awaiting approval');
    await expect(button(p, 'Approve')).toBeEnabled();
  }

  await Promise.all(approvers.map(([, p]) => button(p, 'Approve').click()));

  // Both actions finish: the request ends approved on both pages, with no vote left to give.
  for (const [, p] of approvers) {
    await expect(stateBadge(p)).toHaveText('Approved');
    await expect(button(p, 'Approve')).toHaveCount(0);
  }

  // Exactly one of them is told that they lost the race.
  const told: string[] = [];
  for (const [name, p] of approvers) {
    const notice = p.locator('[data-testid="action-error"], [role="alert"]');
    if ((await notice.count()) > 0) {
      await expect(notice.first()).toHaveText(LOST_RACE);
      told.push(name);
    }
  }
  expect(told, 'exactly one approver should see the "someone else acted" notice').toHaveLength(1);

  // And exactly one vote was recorded: the winner's.
  const winner = approvers.find(([name]) => !told.includes(name))!;
  await page.reload();
  const votes = page.getByRole('region', { name: 'Approvals', exact: true }).locator('li.vote-item');
  await expect(votes).toHaveCount(1);
  await expect(votes).toContainText(`${winner[0]} approved`);
  await expect(stateBadge(page)).toHaveText('Approved');
  await expect(page.locator('.page-head + p.meta')).toContainText('1 of 1 approvals');
});
